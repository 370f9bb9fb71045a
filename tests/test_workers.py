"""Several workers on one sweep: the queue of cells in Optuna, the launcher's placements, and
workers killed mid-run, on the embedded storage and on a real PostgreSQL with an MLflow server.
Every cell must end with exactly one FINISHED MLflow run and one COMPLETE trial."""

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from services import refused

from resnet.cli.sweep import main
from resnet.core.presets import build_sweep
from resnet.runner import workers
from resnet.runner.cell_queue import CellQueue
from resnet.runner.storage import Claim, open_storage, requeue_dead_owners
from resnet.runner.workers import PlacementError, plan
from resnet.tracking.store import Store

REPO = Path(__file__).resolve().parents[1]
CELLS = {"plain-8-s0", "residual-8-s0", "plain-14-s0", "residual-14-s0"}
# The smoke sweep: 60 iterations a cell and a checkpoint every 20, so that a worker is caught
# with a checkpoint, mid-cell, for most of each cell.
SMOKE = ["--preset", "smoke", "--no-progress", "--no-report"]


# --- the queue --------------------------------------------------------------------------


def smoke_cells():
    return build_sweep("smoke", {}, {}).cells()


def test_a_cell_is_enqueued_once_and_popped_by_one_worker(tmp_path):
    storage = open_storage(str(tmp_path / "journal.log"))
    first = CellQueue(storage, "sweep")
    second = CellQueue(open_storage(str(tmp_path / "journal.log")), "sweep")
    assert first.created and not second.created  # exactly one process sets the sweep up
    assert first.enqueue(smoke_cells()) == 4
    assert second.enqueue(smoke_cells()) == 0  # nothing missing
    popped = [first.pop(), second.pop(), first.pop(), second.pop()]
    assert first.pop() is None and second.pop() is None
    names = [t.user_attrs["cell"] for t in popped]
    assert sorted(names) == sorted(CELLS)
    assert first.busy()  # they run


def test_simultaneous_enqueues_are_found_as_duplicates(tmp_path):
    queue = CellQueue(open_storage(str(tmp_path / "journal.log")), "sweep")
    cell = smoke_cells()[:1]
    queue.enqueue(cell)
    queue.study.enqueue_trial({"arch": "plain"}, user_attrs={"cell": cell[0].name, "batch": ""})
    first, second = queue.pop(), queue.pop()
    assert queue.duplicate_of(first) is None
    assert queue.duplicate_of(second) == first.number
    # The later copy popped first still yields to the earlier one, which waits.
    queue.enqueue(smoke_cells()[1:2])
    queue.study.enqueue_trial({"arch": "x"}, user_attrs={"cell": "residual-8-s0", "batch": ""})
    waiting = queue.trials((TrialState.WAITING,))
    storage = queue.storage
    storage.set_trial_state_values(waiting[1]._trial_id, TrialState.RUNNING)
    later = optuna.Trial(queue.study, waiting[1]._trial_id)
    assert queue.duplicate_of(later) == waiting[0].number


def test_a_tuned_sweeps_rerun_trains_its_cells_again_not_as_duplicates(tmp_path):
    """A rerun of a tuned sweep enqueues its done cells again (their tuned values may have
    changed): those copies are not duplicates of the cells trained before, but two copies of
    one rerun are."""
    queue = CellQueue(open_storage(str(tmp_path / "journal.log")), "sweep")
    cell = smoke_cells()[:1]
    queue.enqueue(cell)
    done = queue.pop()
    queue.tell(done, {"status": "finished", "train_error": 0.1})
    assert queue.enqueue(cell, again=True) == 1
    assert queue.enqueue(cell, again=True) == 0  # waiting already
    rerun = queue.pop()
    assert queue.duplicate_of(rerun) is None  # trained (or found FINISHED with its values)
    copy = dict(rerun.user_attrs)
    queue.study.enqueue_trial({"arch": "plain"}, user_attrs=copy)
    assert queue.duplicate_of(queue.pop()) == rerun.number


def test_a_dead_local_worker_is_retried_at_once(tmp_path):
    queue = CellQueue(open_storage(str(tmp_path / "journal.log")), "sweep")
    queue.enqueue(smoke_cells()[:1])
    trial = queue.pop()
    dead = subprocess.Popen(["true"])
    dead.wait()
    trial.set_user_attr("owner", f"{socket.gethostname()}:{dead.pid}:")
    trial.set_user_attr("mlflow_run_id", "abc")
    requeue_dead_owners(queue.study)
    states = [t.state for t in queue.trials()]
    assert states == [TrialState.FAIL, TrialState.WAITING]
    retry = queue.trials()[1]
    assert retry.user_attrs["cell"] == "plain-8-s0" and retry.user_attrs["mlflow_run_id"] == "abc"
    assert retry.system_attrs["failed_trial"] == trial.number
    # The copy is not the dead worker's: it must not look dead while a worker claims it.
    assert "owner" not in retry.user_attrs and retry.user_attrs["previous_owner"].endswith(":")
    requeue_dead_owners(queue.study)
    assert len(queue.trials()) == 2


def test_an_interrupted_cell_is_enqueued_again_at_once(tmp_path):
    queue = CellQueue(open_storage(str(tmp_path / "journal.log")), "sweep")
    queue.enqueue(smoke_cells()[:1])
    trial = queue.pop()
    queue.tell(trial, {"status": "interrupted"}, again=True)
    assert [t.state for t in queue.trials()] == [TrialState.FAIL, TrialState.WAITING]
    assert queue.pop().user_attrs["cell"] == "plain-8-s0"


def test_a_worker_whose_trial_was_taken_over_learns_it(tmp_path):
    storage = open_storage(str(tmp_path / "journal.log"), heartbeat_interval=1)
    queue = CellQueue(storage, "sweep")
    queue.enqueue(smoke_cells()[:1])
    trial = queue.pop()
    with Claim(storage, trial._trial_id) as claim:
        assert not claim.lost()
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # found stale
        deadline = time.time() + 5
        while not claim.lost() and time.time() < deadline:
            time.sleep(0.1)
        assert claim.lost()
    queue.tell(trial, {"status": "finished", "train_error": 0.1})  # too late: no error
    assert queue.trials()[0].state == TrialState.FAIL


def test_a_worker_stuck_between_steps_lets_its_cell_go(tmp_path, capsys):
    storage = open_storage(str(tmp_path / "journal.log"), heartbeat_interval=1, grace_period=2)
    queue = CellQueue(storage, "sweep")
    queue.enqueue(smoke_cells()[:1])
    trial = queue.pop()
    trial.set_user_attr("owner", "another-host:1234:99")  # alive for all this host can tell
    storage.record_heartbeat(trial._trial_id)
    exits = []
    with Claim(
        storage,
        trial._trial_id,
        "plain-8-s0",
        stall_limit=1.5,
        on_stuck=lambda: exits.append("exit"),
    ) as claim:
        for _ in range(15):  # steps past the grace period: the claim holds
            assert not claim.lost()
            time.sleep(0.2)
        requeue_dead_owners(queue.study)
        assert [t.state for t in queue.trials()] == [TrialState.RUNNING]
        time.sleep(4)  # no step: the heartbeat stops, and the grace period passes
        requeue_dead_owners(queue.study)  # another worker's look at the queue
        assert [t.state for t in queue.trials()] == [TrialState.FAIL, TrialState.WAITING]
        claim.thread.join(timeout=5)  # the heartbeat learns it, still with no step taken
        assert exits == ["exit"]  # so the stuck worker exits
        assert claim.lost()  # had it woken up instead, it would stop without touching the run
    err = capsys.readouterr().err
    assert "plain-8-s0: no training step in 2 s" in err and "it exits (3)" in err


def test_another_hosts_worker_is_retried_when_its_heartbeat_is_stale(tmp_path):
    storage = open_storage(str(tmp_path / "journal.log"), heartbeat_interval=1, grace_period=2)
    queue = CellQueue(storage, "sweep")
    queue.enqueue(smoke_cells()[:1])
    trial = queue.pop()
    trial.set_user_attr("owner", "another-host:1234:99")
    storage.record_heartbeat(trial._trial_id)
    requeue_dead_owners(queue.study)
    assert [t.state for t in queue.trials()] == [TrialState.RUNNING]  # its heartbeat is fresh
    time.sleep(2.5)
    requeue_dead_owners(queue.study)  # Optuna's fail_stale_trials and retry callback
    assert [t.state for t in queue.trials()] == [TrialState.FAIL, TrialState.WAITING]


# --- placements ---------------------------------------------------------------------------


def test_workers_are_spread_over_gpus_and_cores():
    gpu = plan(4, "cuda", [0, 1], cores=16, jobs_per_gpu=2)
    assert [p.env["CUDA_VISIBLE_DEVICES"] for p in gpu] == ["0", "1", "0", "1"]
    assert all(p.device == "cuda" and p.env["OMP_NUM_THREADS"] == "4" for p in gpu)
    cpu = plan(2, "cpu", [], cores=8, jobs_per_gpu=None)
    assert [p.env["OMP_NUM_THREADS"] for p in cpu] == ["4", "4"]
    with pytest.raises(PlacementError, match="exceeds 2 GPU"):
        plan(5, "cuda", [0, 1], cores=16, jobs_per_gpu=2)
    with pytest.raises(PlacementError, match="needs GPUs"):
        plan(2, "cpu", [], cores=8, jobs_per_gpu=2)


def test_a_worker_reads_its_job_from_its_environment_and_leaves_it_to_no_child(monkeypatch):
    from resnet.runner.launch import SweepJob, worker_specs
    from resnet.runner.sweep import SweepOptions
    from resnet.runner.worker import SPEC_ENV, Stores, read_spec

    stores = Stores("http://user:secret-1@host:5000", "postgresql://u:secret-2@db/optuna")
    job = SweepJob(build_sweep("smoke", {}, {}), stores, SweepOptions(force=True))
    gpus = plan(2, "cuda", [0, 1], cores=4, jobs_per_gpu=1)
    (first, env), (_, second_env) = worker_specs(job, gpus)
    assert first.env["CUDA_VISIBLE_DEVICES"] == "0" and set(env) == {SPEC_ENV}
    monkeypatch.setenv(SPEC_ENV, second_env[SPEC_ENV])
    spec = read_spec()
    assert SPEC_ENV not in os.environ  # taken out: the worker's own children never see it
    assert spec.number == 2 and spec.stores == stores
    assert spec.sweep.cells()[0].device == "cuda"  # its GPU, seen as the only one
    assert [c.identity() for c in spec.sweep.cells()] == [c.identity() for c in job.sweep.cells()]
    # It joins the launcher's sweep, quietly, without rerunning what the launcher enqueued.
    assert spec.options.join and not spec.options.progress and not spec.options.force
    assert spec.options.worker.endswith("worker 2")


class FakeQueue:
    def __init__(self, busy: bool, until: tuple[Path, ...] = ()):
        self.is_busy, self.until = busy, until

    def busy(self) -> bool:
        """As given; or busy until those files exist (workers that have started up)."""
        return self.is_busy or not all(path.exists() for path in self.until)

    def done_count(self) -> int:
        return 0


def test_a_worker_still_running_long_after_the_last_cell_is_stopped(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(workers, "LINGER_SECONDS", 1.0)
    monkeypatch.setattr(workers, "KILL_AFTER_SECONDS", 1.0)
    monkeypatch.setattr(workers, "POLL_SECONDS", 0.1)
    # Stuck where SIGTERM cannot reach it (a hung system call, say): only SIGKILL ends it, and
    # its child with it. The queue runs dry once it is so, however slowly it starts.
    ready = (tmp_path / "stuck-ready", tmp_path / "done-ready")
    stuck = (
        "import pathlib, signal, subprocess, sys, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "child = subprocess.Popen(['sleep', '60']); print('child', child.pid, flush=True); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    done = "import pathlib, sys; pathlib.Path(sys.argv[1]).touch()"
    launch = workers.Launch(
        [
            ([sys.executable, "-c", stuck, str(ready[0])], {}),
            ([sys.executable, "-c", done, str(ready[1])], {}),
        ]
    )
    started = time.monotonic()
    codes = launch.wait(FakeQueue(busy=False, until=ready), total=1, progress=False)
    assert codes == [-signal.SIGKILL, 0]
    assert launch.stopped == [1]
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert "worker 1: still running 1 s after the last cell ended; stopping it" in err
    assert_child_gone(err)


def test_children_left_behind_by_an_exited_worker_are_stopped(monkeypatch, capsys):
    monkeypatch.setattr(workers, "LEFTOVER_SECONDS", 1.0)
    monkeypatch.setattr(workers, "POLL_SECONDS", 0.1)
    # As a worker that exits at once (os._exit) while a child it started still runs: the
    # child holds the worker's output open.
    leaves = (
        "import os, subprocess; child = subprocess.Popen(['sleep', '60']); "
        "print('child', child.pid, flush=True); os._exit(3)"
    )
    launch = workers.Launch([([sys.executable, "-c", leaves], {})])
    started = time.monotonic()
    assert launch.wait(FakeQueue(busy=True), total=1, progress=False) == [3]
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert "worker 1: exited, but processes it started still hold its output" in err
    assert_child_gone(err)


def assert_child_gone(err: str) -> None:
    """The child whose pid worker 1 printed ("child <pid>") is gone, within 5 s."""
    child = int(err.split("[worker 1] child ")[1].split()[0])
    deadline = time.monotonic() + 5
    while process_exists(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_exists(child)


def process_exists(pid: int) -> bool:
    """Running or sleeping; not gone, and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_is_left_alone_while_cells_wait_or_run(monkeypatch):
    monkeypatch.setattr(workers, "LINGER_SECONDS", 0.5)
    monkeypatch.setattr(workers, "POLL_SECONDS", 0.1)
    launch = workers.Launch([([sys.executable, "-c", "import time; time.sleep(2)"], {})])
    assert launch.wait(FakeQueue(busy=True), total=1, progress=False) == [0]
    assert launch.stopped == []


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--workers", "0"], "--workers must be in [1, 256], got 0"),
        (["--checkpoint-dir", "a-file"], "a-file: is a file, not a folder; a writable folder"),
        (["--jobs-per-gpu", "2", "--device", "cpu"], "--jobs-per-gpu needs GPUs"),
        (["--jobs-per-gpu", "0"], "--jobs-per-gpu must be at least 1"),
        (["--storage", "postgresql://nobody@127.0.0.1:1/none"], "nobody@127.0.0.1"),
        (["--use-tuned", "--storage", "postgresql://nobody@127.0.0.1:1/none"], "cannot be opened"),
    ],
)
def test_bad_worker_options_are_one_line_and_exit_2(argv, expected, workdir, capsys):
    (workdir / "a-file").write_text("not a folder")
    assert main(["--preset", "smoke", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]
    assert not (workdir / "mlruns").exists()


# --- whole sweeps, as users run them ------------------------------------------------------


def sweep_process(workdir: Path, *argv: str, threads: int | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.Popen(
        [sys.executable, str(REPO / "experiments" / "depth_sweep.py"), *SMOKE, *argv],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def kill_a_worker_mid_cell(folder: Path, processes, client: MlflowClient, run_status=None) -> int:
    """SIGKILL the worker of a cell that has a checkpoint in this folder and is still running;
    returns its pid. The worker is frozen (SIGSTOP) while that is checked, so that on a busy
    machine it cannot finish the cell between the check and the kill. `run_status(run_id)` reads
    a run's status, or None when it cannot tell at once."""
    run_status = run_status or (lambda run_id: client.get_run(run_id).info.status)
    deadline = time.time() + 300
    while time.time() < deadline and any(p.poll() is None for p in processes):
        for checkpoint in folder.glob("*/checkpoint.pt"):
            run_id = checkpoint.parent.name
            pid = int(client.get_run(run_id).data.tags["owner"].split(":")[1])
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:  # a worker that has just exited
                continue
            try:
                mid_cell = checkpoint.exists() and run_status(run_id) == "RUNNING"
            except BaseException:
                os.kill(pid, signal.SIGCONT)  # never leave a worker frozen
                raise
            if mid_cell:
                os.kill(pid, signal.SIGKILL)
                return pid
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    ended = [p.communicate()[0] for p in processes if p.poll() is not None]
    raise AssertionError(f"no worker was caught mid-cell; output of those that ended: {ended}")


def sqlite_run_status(db: Path):
    """A run's status read from the SQLite store itself, None at once when the store is locked:
    a worker frozen while it commits holds the lock, and MLflow's client would wait 20 s for it,
    then fail."""

    def status(run_id: str) -> str | None:
        query = "SELECT status FROM runs WHERE run_uuid = ?"
        try:
            connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)
            with contextlib.closing(connection):
                row = connection.execute(query, (run_id,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    return status


def assert_each_cell_exactly_once(client: MlflowClient, storage) -> None:
    """One FINISHED run and one COMPLETE trial per cell; nothing left running; the killed
    worker's cell was retried and resumed."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = [r for r in client.search_runs(experiments) if r.data.tags.get("kind") == "cell"]
    finished = Counter(r.info.run_name for r in runs if r.info.status == "FINISHED")
    assert finished == Counter(CELLS)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    assert any(r.data.tags.get("resumed") == "true" for r in runs)  # continued, not restarted
    (name,) = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    trials = optuna.load_study(study_name=name, storage=storage).trials
    complete = Counter(t.user_attrs["cell"] for t in trials if t.state == TrialState.COMPLETE)
    assert complete == Counter(CELLS)
    assert [t for t in trials if "failed_trial" in t.system_attrs]  # Optuna's retry of it
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


OPEN_STORE_ON_GO = """
import sys
from resnet.tracking.store import Store
print("ready", flush=True)
sys.stdin.readline()
Store(sys.argv[1]).check()
"""


@pytest.mark.heavy(15)
def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path):
    """A launcher and the workers joining it may create the same SQLite store together; without
    a lock one of them failed ("duplicate column name") while the other created its tables."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE_ON_GO, uri],
            cwd=REPO,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for process in processes:  # all imported, so they start creating within milliseconds
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors


@pytest.mark.heavy(40)
def test_two_local_workers_survive_one_being_killed(store_workdir):
    workdir = store_workdir
    launcher = sweep_process(workdir, "--workers", "2")
    client = Store(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").client  # as the launcher does
    mlruns = workdir / "mlruns"
    kill_a_worker_mid_cell(
        mlruns / "checkpoints", [launcher], client, sqlite_run_status(mlruns / "mlflow.db")
    )
    out, _ = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, out
    assert "its cell went back to the queue" in out
    storage = open_storage(str(workdir / "mlruns" / "optuna-journal.log"))
    assert_each_cell_exactly_once(client, storage)
    (sweep,) = [r for r in client.search_runs(["1"]) if r.data.tags.get("kind") == "sweep"]
    assert sweep.info.status == "FINISHED"


# --- PostgreSQL and an MLflow server, as on several machines --------------------------------


def assert_no_password_anywhere(passwords, outputs, client: MlflowClient, storage) -> None:
    """None of the passwords in the workers' outputs, in the MLflow store (every run's name,
    params, tags and metric names) or in the Optuna storage (the studies' names and attrs, the
    trials' params and attrs)."""
    experiments = client.search_experiments()
    recorded = [repr([(e.name, e.tags) for e in experiments])]
    for run in client.search_runs([e.experiment_id for e in experiments]):
        data = run.data
        recorded.append(repr((run.info.run_name, data.params, data.tags, sorted(data.metrics))))
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        system_attrs = storage.get_study_system_attrs(study._study_id)
        recorded.append(repr((study.study_name, study.user_attrs, system_attrs)))
        recorded += [repr((t.params, t.user_attrs, t.system_attrs)) for t in study.trials]
    places = {f"worker {i}'s output": out for i, out in enumerate(outputs, 1)}
    places |= {"the MLflow store and the Optuna storage": "\n".join(recorded)}
    leaks = [(n, where) for n, p in enumerate(passwords) for where in places if p in places[where]]
    assert not leaks  # (the password's index, where it was found)


@pytest.mark.heavy(80)
@pytest.mark.xdist_group("postgres")
def test_three_workers_on_postgresql_survive_one_being_killed(
    workdir, postgres, mlflow_server, monkeypatch
):
    # As if on three machines (here, three processes sharing two cores) with a shared folder
    # for checkpoints, so that the killed worker's cell resumes elsewhere. Each machine has the
    # passwords in its environment, as docs/WORKERS.md sets them: none is on a command line.
    assert refused(mlflow_server.url) and refused(mlflow_server.url, "worker", "not-it")
    for name, value in {**postgres.env(), **mlflow_server.env()}.items():
        monkeypatch.setenv(name, value)  # for the workers, and for this test's own clients
    checkpoints = workdir / "shared" / "checkpoints"
    shared = [
        "--storage",
        f"{postgres.url}/optuna",
        "--tracking-uri",
        mlflow_server.url,
        "--checkpoint-dir",
        str(checkpoints),
    ]
    workers = [sweep_process(workdir, *shared, threads=1) for _ in range(3)]
    client = MlflowClient(mlflow_server.url)
    killed = kill_a_worker_mid_cell(checkpoints, workers, client)
    outputs = []
    for worker in workers:
        out, _ = worker.communicate(timeout=600)
        outputs.append(out)
        assert worker.returncode == (-signal.SIGKILL if worker.pid == killed else 0), out
    storage = open_storage(f"{postgres.url}/optuna")
    assert_each_cell_exactly_once(client, storage)
    passwords = [postgres.password, mlflow_server.password, mlflow_server.admin_password]
    assert_no_password_anywhere([p for p in passwords if p], outputs, client, storage)


def test_workers_tuning_together_draw_different_values():
    from resnet.runner.tuning import sampler_seed

    alone = sampler_seed(0, "depth-smoke/plain-8", 5, "")
    assert alone == sampler_seed(0, "depth-smoke/plain-8", 5, "")  # a process alone: reproducible
    seeds = {sampler_seed(0, "depth-smoke/plain-8", 0, f"worker {n}") for n in range(1, 9)}
    assert len(seeds) == 8


def test_a_trial_popped_by_a_worker_killed_before_claiming_it_is_retried(tmp_path):
    # A database storage: Optuna never finds a trial stale that has no heartbeat at all.
    storage = open_storage(
        f"sqlite:///{tmp_path / 'optuna.db'}", heartbeat_interval=1, grace_period=1
    )
    queue = CellQueue(storage, "sweep")
    queue.enqueue(smoke_cells()[:1])
    (waiting,) = queue.trials()
    storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)  # then killed
    time.sleep(1.5)
    requeue_dead_owners(queue.study)
    assert [t.state for t in queue.trials()] == [TrialState.FAIL, TrialState.WAITING]


def test_a_worker_awake_after_a_stall_learns_at_once_that_its_cell_was_taken_over(tmp_path):
    # The heartbeat thread beats once, then sleeps past the test: only the direct look can tell.
    storage = open_storage(str(tmp_path / "journal.log"), heartbeat_interval=60, grace_period=1)
    queue = CellQueue(storage, "sweep")
    queue.enqueue(smoke_cells()[:1])
    trial = queue.pop()
    trial.set_user_attr("owner", "another-host:1234:99")  # alive for all this host can tell
    with Claim(storage, trial._trial_id, "plain-8-s0", stall_limit=0.5) as claim:
        assert not claim.lost()
        time.sleep(1.5)  # stalled: past the stall limit and the grace period
        requeue_dead_owners(queue.study)  # another worker takes the cell over
        assert claim.lost()  # the first step after waking up stops the cell
