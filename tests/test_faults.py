"""Faults of the stores themselves: an artifacts folder that turns read-only in the middle of a
sweep, and a journal lock left behind by a killed writer.

The trained net is kept in its checkpoint, the failure is one line, the sweep's run is closed
FAILED with the reason, and the rerun logs what is missing without training the net again."""

import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import optuna
import pytest
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

import resnet.core.checkpoint as checkpoint_module
import resnet.core.train as train_module
import resnet.runner.storage as storage_module
from analysis.report import main as report_main
from resnet.cli.sweep import main
from resnet.core.checkpoint import load
from resnet.runner.journal_lock import HolderNamingLock, look, take_over
from resnet.tracking.database import schema_problem
from resnet.tracking.liveness import owner_of
from resnet.tracking.store import Store

REPO = Path(__file__).resolve().parents[1]

# Two cells of 20 iterations, with a checkpoint every 20: no checkpoint is saved during
# training, only the one after the last iteration that keeps the trained net.
ARGV = ["--preset", "smoke", "--no-progress", "--no-report", "--depths", "8", "--iterations", "20"]
ITERATIONS = 20
MESSAGE = "cannot write artifacts to "


def chmod_stops_writes() -> bool:
    """False for root (it writes into read-only folders), unless it lacks that capability."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o555)
        try:
            (Path(tmp) / "probe").touch()
        except PermissionError:
            return True
        finally:
            Path(tmp).chmod(0o755)
    return False


class ReadOnlyAfterFirstArtifact:
    """Turns mlruns/artifacts read-only once the first artifact (a net's weights) is in it: by
    chmod where that stops writes, else (as root) by refusing writes as the OS would. Notes
    every artifact written, as (run id, file name)."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch):
        self.folder, self.read_only, self.tripped, self.written = folder, False, False, []
        self.refuse = not chmod_stops_writes()
        real = LocalArtifactRepository.log_artifact

        def log_artifact(repo, local_file, artifact_path=None):
            if self.read_only and self.refuse:
                denied = errno.EACCES
                raise PermissionError(denied, os.strerror(denied), repo.artifact_dir)
            real(repo, local_file, artifact_path)
            self.written.append((Path(repo.artifact_dir).parent.name, Path(local_file).name))
            if not self.tripped:  # once: the rerun finds the folder writable again
                self.tripped = True
                self.set_read_only(True)

        monkeypatch.setattr(LocalArtifactRepository, "log_artifact", log_artifact)

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        for folder in [self.folder, *(p for p in self.folder.rglob("*") if p.is_dir())]:
            folder.chmod(0o555 if read_only else 0o755)


def runs_of(workdir: Path) -> tuple:
    """(the store's client, the sweep run, {cell run name: run})."""
    client = Store(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").client
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids)
    (sweep,) = [r for r in runs if r.data.tags.get("kind") == "sweep"]
    cells = [r for r in runs if r.data.tags.get("kind") == "cell"]
    assert len(cells) == len({r.info.run_name for r in cells}), "a cell got a second run"
    return client, sweep, {r.info.run_name: r for r in cells}


def checkpoint_files(workdir: Path) -> list[Path]:
    return [p for p in (workdir / "mlruns" / "checkpoints").rglob("*") if p.is_file()]


def count_training_steps(monkeypatch: pytest.MonkeyPatch) -> list:
    steps = []
    real = train_module.train_step

    def counted(*args, **kwargs):
        steps.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", counted)
    return steps


def test_a_read_only_artifacts_folder_stops_the_sweep_and_the_rerun_only_logs(
    store_workdir, monkeypatch, capsys
):
    workdir = store_workdir
    fault = ReadOnlyAfterFirstArtifact(workdir / "mlruns" / "artifacts", monkeypatch)
    try:
        assert main(ARGV) == 1
    finally:
        fault.set_read_only(False)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if MESSAGE in line]
    assert str(workdir / "mlruns" / "artifacts") in line and "Permission denied" in line
    assert "kept in its checkpoint" in line and "rerun the same command" in line

    client, sweep, cells = runs_of(workdir)
    assert sweep.info.status == "FAILED" and MESSAGE in sweep.data.tags["failure_reason"]
    (trained,) = cells.values()  # the sweep stopped before the other cell
    assert trained.info.status == "KILLED" and MESSAGE in trained.data.tags["failure_reason"]
    run_id = trained.info.run_id
    (checkpoint,) = checkpoint_files(workdir)
    assert checkpoint.parent.name == run_id and load(checkpoint)["iteration"] == ITERATIONS
    assert fault.written == [(run_id, "weights.pt")]  # its responses were refused

    steps = count_training_steps(monkeypatch)
    assert main(ARGV) == 0
    assert f"resuming run {run_id} from its checkpoint" in capsys.readouterr().err
    assert len(steps) == ITERATIONS  # the other cell's; the trained one was not trained again
    assert (run_id, "layer_responses.csv") in fault.written
    assert (run_id, "weights.pt") not in fault.written[1:]  # only what it lacked

    client, sweep, cells = runs_of(workdir)
    assert sweep.info.status == "FINISHED" and "failure_reason" not in sweep.data.tags
    assert {r.info.status for r in cells.values()} == {"FINISHED"}
    resumed = cells[trained.info.run_name]
    assert resumed.info.run_id == run_id and resumed.data.tags["resumed"] == "true"
    assert "failure_reason" not in resumed.data.tags
    history = [m.step for m in client.get_metric_history(run_id, "train_loss")]
    assert history == [10, 20]  # logged once, in the first attempt
    for run in cells.values():
        logged = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"weights.pt", "layer_responses.csv"} <= logged
    assert checkpoint_files(workdir) == []


@pytest.mark.parametrize("leftover", ["file", "dangling symlink"])
def test_a_journal_lock_left_by_a_killed_writer_is_taken_over(tmp_path, monkeypatch, leftover):
    """A SIGKILLed writer leaves the journal's lock behind; the next process must take it over
    after the grace period instead of waiting (or spinning) forever."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(storage_module, "JOURNAL_LOCK_GRACE", 3)
    Path("mlruns").mkdir()
    lock = Path("mlruns/optuna-journal.log.lock")
    if leftover == "file":
        lock.touch()
    else:
        lock.symlink_to("mlruns/optuna-journal.log")  # what Optuna's default lock left
    created = []
    writer = threading.Thread(
        target=lambda: created.append(
            optuna.create_study(storage=storage_module.open_storage("mlruns/optuna-journal.log"))
        ),
        daemon=True,
    )
    writer.start()
    writer.join(timeout=60)
    assert created, "the study was not written within 60 s: the stale lock was never taken over"
    assert not lock.exists() and not lock.is_symlink()


def test_a_journal_lock_of_a_process_killed_here_is_taken_over_at_once(tmp_path, monkeypatch):
    """A lock naming a live process of this host is waited for; once that process is killed,
    the waiting writer takes the lock over at once, not after the grace period (30 s)."""
    monkeypatch.chdir(tmp_path)
    Path("mlruns").mkdir()
    lock = Path("mlruns/optuna-journal.log.lock")
    holder = subprocess.Popen(["sleep", "120"])
    lock.write_text(owner_of(holder.pid))
    created = []
    writer = threading.Thread(
        target=lambda: created.append(
            optuna.create_study(storage=storage_module.open_storage("mlruns/optuna-journal.log"))
        ),
        daemon=True,
    )
    try:
        writer.start()
        writer.join(timeout=2)
        assert not created, "a live holder's lock was taken"
    finally:
        holder.kill()
        holder.wait()
    killed = time.time()
    writer.join(timeout=60)
    assert created and time.time() - killed < storage_module.JOURNAL_LOCK_GRACE / 3
    assert list(Path("mlruns").iterdir()) == [Path("mlruns/optuna-journal.log")]  # none aside


def test_a_lock_taken_over_and_taken_again_meanwhile_is_left_to_its_new_holder(tmp_path):
    """Two waiters see the same dead holder; the first takes its lock over and a live writer
    takes the lock: the second waiter's take-over finds another lock and leaves it alone."""
    lock = tmp_path / "journal.log.lock"
    lock.write_text("host:1:dead")
    seen_by_both = look(str(lock))
    assert take_over(str(lock), seen_by_both, 30)
    lock.write_text("host:2:live")  # the live writer's new lock
    assert not take_over(str(lock), seen_by_both, 30)
    assert lock.read_text() == "host:2:live"
    assert list(tmp_path.iterdir()) == [lock]  # no second lock left behind


def test_one_waiter_at_a_time_takes_a_lock_over(tmp_path):
    """While another waiter holds the take-over lock, a waiter leaves the dead lock to it; a
    take-over lock left by a waiter killed inside its take-over goes after the grace period."""
    lock = tmp_path / "journal.log.lock"
    lock.write_text("host:1:dead")
    guard = tmp_path / "journal.log.lock.takeover"
    guard.touch()
    assert not take_over(str(lock), look(str(lock)), 30)
    assert lock.exists() and guard.exists()
    os.utime(guard, (time.time() - 31, time.time() - 31))  # its waiter was killed 31 s ago
    assert not take_over(str(lock), look(str(lock)), 30)
    assert not guard.exists()
    assert take_over(str(lock), look(str(lock)), 30)
    assert list(tmp_path.iterdir()) == []

    # One left by a waiter of this host that was killed goes at once.
    waiter = subprocess.Popen(["sleep", "60"])
    guard.write_text(owner_of(waiter.pid))
    waiter.kill()
    waiter.wait()
    lock.write_text("host:1:dead")
    assert not take_over(str(lock), look(str(lock)), 30)
    assert take_over(str(lock), look(str(lock)), 30)
    assert list(tmp_path.iterdir()) == []


# A writer that adds 1 to a counter file under the journal's lock, `n` times; with "hold", it
# stops halfway while holding the lock (to be killed there).
COUNTING_WRITER = """
import sys, time
from resnet.runner.journal_lock import HolderNamingLock
journal, n, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "hold"
lock = HolderNamingLock(journal, 30)
for i in range(n):
    lock.acquire()
    count = int(open(journal + ".count").read())
    if hold and i == n // 2:
        print("holding", flush=True)
        time.sleep(600)
    open(journal + ".count", "w").write(str(count + 1))
    lock.release()
"""


def test_writers_lose_no_update_when_one_is_killed_holding_the_lock(tmp_path):
    """Read-modify-write under the lock by four processes, one killed while it holds it: the
    three waiting take it over at once, one at a time, and no increment is lost."""
    journal, n = str(tmp_path / "journal.log"), 200
    Path(journal + ".count").write_text("0")

    def writer(mode: str) -> subprocess.Popen:
        argv = [sys.executable, "-c", COUNTING_WRITER, journal, str(n), mode]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=REPO)

    holder = writer("hold")
    others = [writer("count") for _ in range(3)]
    try:
        assert holder.stdout.readline() == "holding\n"
    finally:
        holder.kill()
        holder.wait()
    killed = time.time()
    assert [other.wait(timeout=120) for other in others] == [0, 0, 0]
    assert time.time() - killed < storage_module.JOURNAL_LOCK_GRACE / 3
    assert Path(journal + ".count").read_text() == str(3 * n + n // 2)


def test_the_journal_lock_names_its_holder_while_held(tmp_path):
    journal = tmp_path / "journal.log"
    lock = HolderNamingLock(str(journal), grace_period=30)
    assert lock.acquire()
    assert journal.with_name("journal.log.lock").read_text() == owner_of(os.getpid())
    lock.release()
    assert list(tmp_path.iterdir()) == []


def test_a_journal_whose_last_record_was_cut_is_repaired_and_nothing_is_lost(workdir, capsys):
    """A kill or a full disk in the middle of a journal write leaves a last line cut short;
    the next command cuts it off (one line saying so) and goes on: the rerun trains nothing
    again and every cell keeps exactly one FINISHED run."""
    assert main(ARGV) == 0
    journal = workdir / "mlruns" / "optuna-journal.log"
    size = journal.stat().st_size
    os.truncate(journal, size - 9)  # as `truncate -s -9`
    capsys.readouterr()
    assert main(ARGV) == 0
    err = capsys.readouterr().err
    assert "its last record was cut short" in err, err
    assert "resuming" not in err and "starting it again" not in err
    with journal.open("rb") as repaired:
        assert all(line.endswith(b"\n") for line in repaired)
    runs = Store(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").client.search_runs(["1"])
    finished = sorted(r.info.run_name for r in runs if r.info.status == "FINISHED")
    assert finished == ["plain-8-s0", "residual-8-s0", "sweep-smoke"]
    assert len(runs) == 3
    assert main(ARGV) == 0  # and the folder stays usable


# Three checkpoints a cell (every 20 of 60 iterations), of about 660 kB each: a 1 MiB disk takes
# the first, and runs full while writing the second beside it.
FULL_DISK_ARGV = [*ARGV[:-1], "60"]
SMALL_DISK = "1m"


class SmallDisk:
    """A 1 MiB tmpfs for the checkpoints, where the machine lets us mount one; else the same
    failure injected: the second checkpoint's write ends in ENOSPC. `grow` frees the disk."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch):
        self.folder, self.mounted = folder, False
        folder.mkdir()
        mount = ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(folder)]
        if os.geteuid() == 0:
            self.mounted = subprocess.run(mount, capture_output=True).returncode == 0
        if not self.mounted:
            self.inject(monkeypatch)

    def inject(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real, self.full = checkpoint_module.save_atomic, True

        def save_atomic(path, state):
            if self.full and path.exists():
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real(path, state)

        monkeypatch.setattr(checkpoint_module, "save_atomic", save_atomic)

    def grow(self) -> None:
        if self.mounted:
            remount = ["mount", "-o", "remount,size=64m", str(self.folder)]
            subprocess.run(remount, check=True)
        self.full = False

    def remove(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.folder)], check=True)


def test_a_disk_that_fills_mid_cell_stops_in_one_line_and_the_rerun_resumes(
    store_workdir, monkeypatch, capsys
):
    disk = SmallDisk(store_workdir / "small-disk", monkeypatch)
    argv = [*FULL_DISK_ARGV, "--checkpoint-dir", str(disk.folder)]
    try:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err
        (line,) = [line for line in err.splitlines() if "the disk refused a write" in line]
        assert "No space left on device" in line and "rerun the same command" in line
        client, sweep, cells = runs_of(store_workdir)
        assert sweep.info.status == "FAILED"
        assert "No space left" in sweep.data.tags["failure_reason"]
        (stopped,) = cells.values()  # the first cell: the sweep stopped at once
        assert stopped.info.status == "KILLED"
        (checkpoint,) = [p for p in disk.folder.rglob("*") if p.is_file()]  # no partial left
        assert load(checkpoint)["iteration"] == 20

        disk.grow()
        assert main(argv) == 0
        resumed = f"resuming run {stopped.info.run_id} from its checkpoint"
        assert resumed in capsys.readouterr().err
        client, sweep, cells = runs_of(store_workdir)
        assert sweep.info.status == "FINISHED"
        assert {r.info.status for r in cells.values()} == {"FINISHED"}
        steps = [m.step for m in client.get_metric_history(stopped.info.run_id, "train_loss")]
        assert steps == sorted(set(steps)) and steps[-1] == 60  # each step logged once
    finally:
        disk.remove()


# SIGINT this long after a first sweep's store appears (its temporary file, while MLflow's tables
# and migrations are made in it; then the store itself): None, as soon as the store is in place.
STORE_SIGINT_DELAYS = (0.0, 0.6, None)


def first_store_sweep(workdir: Path) -> subprocess.Popen:
    workdir.mkdir()
    return subprocess.Popen(
        [sys.executable, str(REPO / "experiments" / "depth_sweep.py"), *ARGV, "--archs", "plain"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
        # Ctrl-C's own disposition, even where the tests run in the background (which ignores it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def partial_stores(workdir: Path) -> list[Path]:
    return list((workdir / "mlruns").glob(".mlflow.db.*"))


@pytest.mark.heavy(30)
def test_sigint_while_the_first_store_is_made_leaves_none_or_a_whole_one(tmp_path, monkeypatch):
    """Ctrl-C at several moments of a first sweep's store creation: one line, no traceback, no
    store or a whole one (never one that later commands call older or half-made), and the rerun
    works."""
    folders = [tmp_path / str(i) for i in range(len(STORE_SIGINT_DELAYS))]
    processes = [first_store_sweep(folder) for folder in folders]
    due: dict[int, float] = {}
    in_creation = {}  # whether the signal found the store being made
    deadline = time.monotonic() + 120
    while len(in_creation) < len(processes) and time.monotonic() < deadline:
        for i, (folder, process, delay) in enumerate(
            zip(folders, processes, STORE_SIGINT_DELAYS, strict=True)
        ):
            if i in in_creation or process.poll() is not None:
                continue
            made = (folder / "mlruns" / "mlflow.db").exists()
            if i not in due and (partial_stores(folder) if delay is not None else made):
                due[i] = time.monotonic() + (delay or 0.0)
            if i in due and time.monotonic() >= due[i]:
                in_creation[i] = bool(partial_stores(folder)) and not made
                process.send_signal(signal.SIGINT)
        time.sleep(0.01)
    assert len(in_creation) == len(processes), "a sweep never began to make its store"
    assert any(in_creation.values()), "no signal landed while a store was made"
    for folder, process in zip(folders, processes, strict=True):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err
        assert "Traceback" not in err and len([x for x in err.splitlines() if x.strip()]) <= 1, err
        assert not partial_stores(folder)
        db = folder / "mlruns" / "mlflow.db"
        assert not db.exists() or schema_problem(db, new_ok=False) is None
    interrupted = folders[next(i for i, hit in in_creation.items() if hit)]
    monkeypatch.chdir(interrupted)
    assert main([*ARGV, "--archs", "plain"]) == 0  # the rerun makes or opens the store
    _, _, cells = runs_of(interrupted)
    assert [run.info.status for run in cells.values()] == ["FINISHED"]


def half_made_store(db: Path, revision: str | None, run: bool = False) -> None:
    """A store as an earlier version left it when its creation was cut short: MLflow's first
    tables, and the revision its migrations had reached (or none); with `run`, an experiment and
    a run in it all the same."""
    db.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        for table in ("experiments", "runs", "tags", "metrics", "params"):
            connection.execute(f"CREATE TABLE {table} (id INTEGER)")
        if revision is not None:
            connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
            connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
        if run:
            connection.execute("INSERT INTO experiments VALUES (0)")
            connection.execute("INSERT INTO runs VALUES (1)")


@pytest.mark.parametrize("revision", [None, "451aebb31d03"], ids=["no-revision", "older"])
def test_a_half_made_store_is_made_anew_and_one_holding_a_run_is_kept(workdir, capsys, revision):
    db = workdir / "mlruns" / "mlflow.db"
    half_made_store(db, revision)
    assert report_main(["--no-log", "--experiment", "depth-smoke-synthetic"]) == 2
    assert "is a half-made MLflow store" in capsys.readouterr().err  # named, with the fix
    assert main([*ARGV, "--archs", "plain"]) == 0
    assert "was half-made" in capsys.readouterr().err
    _, _, cells = runs_of(workdir)
    assert [run.info.status for run in cells.values()] == ["FINISHED"]

    kept = workdir / "kept" / "mlflow.db"
    half_made_store(kept, revision, run=True)
    before = kept.read_bytes()
    assert main([*ARGV, "--tracking-uri", f"sqlite:///{kept}"]) == 2
    assert "half-made" not in capsys.readouterr().err
    assert kept.read_bytes() == before


# A writer killed mid-transaction: enough rows to spill SQLite's (tiny) page cache, so the
# journal holds pages and is hot once its writer is gone.
KILLED_WRITER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size = 8")
db.execute("BEGIN")
db.execute("CREATE TABLE never_committed (x)")
db.executemany("INSERT INTO never_committed VALUES (?)", [("x" * 200,)] * 5000)
print("mid-transaction", flush=True)
time.sleep(600)
"""


def kill_a_writer_mid_transaction(db: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline() == "mid-transaction\n"
    finally:
        writer.kill()
        writer.wait()


def test_a_write_cut_short_in_a_store_the_user_may_not_write_is_one_line(store_workdir):
    """The report of another user's store (read, not written) that holds a hot journal: this
    user cannot roll it back, and is told so in one line, the store left as it was."""
    workdir = store_workdir
    db = workdir / "mlruns" / "mlflow.db"
    kill_a_writer_mid_transaction(db)
    journal = db.with_name("mlflow.db-journal")
    before = (db.read_bytes(), journal.read_bytes())
    command = [sys.executable, "-m", "analysis.report", "--no-log", "--experiment", "any"]
    if os.geteuid() == 0:  # root writes anything: without that power, as a user would be
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    for path, mode in ((db, 0o444), (journal, 0o444), (db.parent, 0o555)):
        path.chmod(mode)  # another user's store: readable, not writable
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=120)
    finally:
        for path, mode in ((db.parent, 0o755), (db, 0o644), (journal, 0o644)):
            path.chmod(mode)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "holds a write that was cut short (mlflow.db-journal is left beside it)" in done.stderr
    assert (db.read_bytes(), journal.read_bytes()) == before
    assert schema_problem(db, new_ok=False) is None  # one who may write rolls it back


def test_a_write_cut_by_sigkill_is_rolled_back_and_the_sweep_and_report_go_on(workdir, capsys):
    """A process killed inside a write leaves a hot journal, which the read-only look at a store
    cannot roll back ("attempt to write a readonly database"): it is rolled back, the rerun
    resumes and the report reads the store; the killed write is gone, the finished runs kept."""
    assert main([*ARGV, "--archs", "plain"]) == 0
    db = workdir / "mlruns" / "mlflow.db"
    kill_a_writer_mid_transaction(db)
    assert db.with_name("mlflow.db-journal").stat().st_size > 0

    assert schema_problem(db, new_ok=False) is None
    assert main(ARGV) == 0
    assert report_main(["--no-log", "--experiment", "depth-smoke-synthetic"]) == 0
    capsys.readouterr()
    client = Store(f"sqlite:///{db}").client
    ids = [e.experiment_id for e in client.search_experiments()]
    cells = [r for r in client.search_runs(ids) if r.data.tags.get("kind") == "cell"]
    assert sorted(r.info.run_name for r in cells) == ["plain-8-s0", "residual-8-s0"]
    assert {r.info.status for r in cells} == {"FINISHED"}
    with contextlib.closing(sqlite3.connect(db)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "never_committed" not in tables


def test_ctrl_c_inside_a_database_call_stays_ctrl_c_not_a_store_error(tmp_path, monkeypatch):
    """SQLAlchemy closes an interrupted session in a `finally`, and that close raises "Can't
    reconnect until invalid transaction is rolled back" in the interrupt's stead: the sweep
    still stops as Ctrl-C stops it (exit 130), not with a line calling the store broken."""
    import resnet.runner.checks as checks_module

    class InterruptedStore:
        def __init__(self, *args):
            try:
                raise KeyboardInterrupt
            finally:
                raise RuntimeError("Can't reconnect until invalid transaction is rolled back")

    monkeypatch.setattr(checks_module, "Store", InterruptedStore)
    with pytest.raises(KeyboardInterrupt):
        checks_module.open_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
