"""`--launcher slurm` on a real one-node SLURM cluster (Debian's slurmctld, slurmd and munge,
started by a fixture), with the stores a cluster has: PostgreSQL for Optuna and an MLflow server
with basic auth, their passwords in the environment only.

One followed launch of the smoke sweep with 2 array tasks, one of them cancelled mid-cell, is
checked for everything a cluster launch promises: each cell one FINISHED run under the sweep,
the cancelled task's cell resumed from its checkpoint to the same metrics as an uninterrupted
run, the lost task named by its SLURM state, the report, and no password in the job's files.
"""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient
from slurm_cluster import PARTITION, SlurmCluster, missing_programs

from resnet.cli.sweep import main
from resnet.core.launcher_config import LauncherConfig
from resnet.runner import slurm as launcher

# One process runs this module's tests one after another, so that its cluster, PostgreSQL and
# MLflow server (module fixtures) start once, not once per test process.
pytestmark = pytest.mark.xdist_group("slurm")

REPO = Path(__file__).resolve().parents[1]
CELLS = {"plain-8-s0", "residual-8-s0", "plain-14-s0", "residual-14-s0"}
SWEEP = [sys.executable, str(REPO / "experiments" / "depth_sweep.py"), "--preset", "smoke"]
FINAL = ("train_error", "val_error", "test_error", "train_loss")
# Cells longer than the smoke preset's 60 iterations: a task is caught well before a cell's end
LONGER = ["--iterations=120"]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = missing_programs()
    if missing:
        pytest.skip(
            f"SLURM is not installed here ({', '.join(missing)} missing); scripts/setup.sh "
            "installs Debian's slurmctld, slurmd and munge"
        )
    with SlurmCluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


@pytest.fixture
def cluster_env(slurm, postgres, mlflow_server, monkeypatch):
    """As on a login node: the cluster's commands work, and the stores' passwords are in the
    environment (as docs/WORKERS.md sets them), on no command line."""
    for name, value in {**slurm.environment(), **postgres.env(), **mlflow_server.env()}.items():
        monkeypatch.setenv(name, value)
    return {**os.environ}


def squeue(*args: str) -> str:
    return subprocess.run(["squeue", "--noheader", *args], capture_output=True, text=True).stdout


def running_tasks() -> list[str]:
    return squeue("--array", "--states=RUNNING", "--format=%i").split()


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} never happened")


def task_of_a_cell_in_progress(checkpoints: Path, client: MlflowClient) -> tuple[str, str]:
    """(SLURM task, cell) of a cell that has just saved its first checkpoint: the owner of its
    run is a process of that task, whose environment names it."""
    for folder in checkpoints.glob("*") if checkpoints.exists() else []:
        run = client.get_run(folder.name)
        pid = run.data.tags["owner"].split(":")[1]
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        env = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}", run.info.run_name
    return None


def task_logs(workdir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted((workdir / "mlruns" / "slurm").rglob("*_log.*")))


def sweep_runs(client: MlflowClient, experiment: str):
    (exp,) = [e for e in client.search_experiments() if e.name == experiment]
    runs = client.search_runs([exp.experiment_id])
    (sweep,) = [r for r in runs if r.data.tags.get("kind") == "sweep"]
    cells = [r for r in runs if r.data.tags.get("kind") != "sweep"]
    return sweep, cells


def final_metrics(run) -> dict[str, float]:
    return {k: run.data.metrics[k] for k in FINAL}


def uninterrupted_metrics(cell: str, folder: Path, capsys) -> dict[str, float]:
    """The cell trained in one go, here, with the launch's settings."""
    arch, depth, _ = cell.split("-")
    argv = ["--preset", "smoke", *LONGER, f"--archs={arch}", f"--depths={depth}", "--seeds=0"]
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    argv += [f"--tracking-uri={uri}", "--experiment=one-go", "--no-progress", "--no-report"]
    assert main(argv) == 0, capsys.readouterr().err
    _, (run,) = sweep_runs(MlflowClient(uri), "one-go")
    return final_metrics(run)


@pytest.mark.heavy(90)
def test_a_slurm_launch_survives_a_cancelled_task(
    workdir, cluster_env, postgres, mlflow_server, capsys
):
    checkpoints = workdir / "shared" / "checkpoints"
    argv = [
        *SWEEP,
        *LONGER,
        "--launcher=slurm",
        "--workers=2",
        f"--partition={PARTITION}",
        f"--storage={postgres.url}/optuna",
        f"--tracking-uri={mlflow_server.url}",
        f"--checkpoint-dir={checkpoints}",
        "--experiment=on-slurm",
        "--no-progress",
    ]
    launch = subprocess.Popen(
        argv, cwd=workdir, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    client = MlflowClient(mlflow_server.url)
    try:
        wait_for(lambda: len(running_tasks()) == 2, launch, "two tasks running at once")
        cancelled, cell = wait_for(
            lambda: task_of_a_cell_in_progress(checkpoints, client), launch, "a cell mid-way"
        )
        subprocess.run(["scancel", cancelled], check=True)
        out, err = launch.communicate(timeout=600)
    except BaseException:
        launch.kill()
        subprocess.run(["scancel", "--name=depth-sweep"])
        out, err = launch.communicate()
        print(out, err, task_logs(workdir), sep="\n")  # shown by pytest for the failure
        raise
    assert launch.returncode == 0, err
    assert f"task {cancelled}: CANCELLED" in err
    assert "Report (figures, table, verdict)" in out
    assert list((workdir / "reports").glob("on-slurm*"))

    sweep, cells = sweep_runs(client, "on-slurm")
    assert sweep.info.status == "FINISHED"
    finished = [r for r in cells if r.info.status == "FINISHED"]
    assert Counter(r.info.run_name for r in finished) == Counter(CELLS)  # each exactly once
    assert all(r.data.tags["mlflow.parentRunId"] == sweep.info.run_id for r in finished)

    # The cancelled task's cell resumed from its checkpoint in another task, to the metrics of
    # a run that was never interrupted.
    assert "from its checkpoint" in task_logs(workdir)
    (resumed,) = [r for r in finished if r.info.run_name == cell]
    assert final_metrics(resumed) == uninterrupted_metrics(cell, workdir / "one-go", capsys)

    # Neither password is in anything the launch wrote: its logs, job scripts, pickles.
    written = b"".join(p.read_bytes() for p in workdir.rglob("*") if p.is_file())
    for password in (postgres.password, mlflow_server.password):
        assert password.encode() not in written
        assert password not in out + err


def test_an_unknown_partition_is_one_line_before_anything_is_submitted(
    workdir, cluster_env, postgres, mlflow_server, capsys
):
    argv = ["--launcher=slurm", "--partition=gpu-huge", f"--storage={postgres.url}/optuna"]
    argv += [f"--tracking-uri={mlflow_server.url}", "--no-report"]
    assert main(["--preset", "smoke", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"depth_sweep.py: error: --partition gpu-huge: SLURM has no such partition (it has: "
        f"{PARTITION})"
    ]
    assert not squeue("--format=%i").strip()
    assert not list(workdir.iterdir())


@pytest.mark.heavy(40)
def test_a_detached_launch_closes_its_sweep_and_writes_its_report(
    workdir, cluster_env, postgres, mlflow_server
):
    argv = [*SWEEP, "--archs=residual", "--depths=8", "--launcher=slurm", "--detach"]
    argv += [f"--storage={postgres.url}/optuna", f"--tracking-uri={mlflow_server.url}"]
    argv += ["--experiment=detached", "--no-progress"]
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Detached. SLURM job" in done.stdout
    deadline = time.monotonic() + 300
    while squeue("--format=%i").strip() and time.monotonic() < deadline:
        time.sleep(0.5)
    sweep, cells = sweep_runs(MlflowClient(mlflow_server.url), "detached")
    assert sweep.info.status == "FINISHED", task_logs(workdir)
    assert [(r.info.run_name, r.info.status) for r in cells] == [("residual-8-s0", "FINISHED")]
    assert (workdir / "reports" / "detached" / "report.md").exists(), task_logs(workdir)


def test_task_states_read_from_squeue_and_sacct():
    assert launcher.parse_states("7_0 RUNNING\n7_1 CANCELLED+\n") == {
        "7_0": "RUNNING",
        "7_1": "CANCELLED",
    }
    sacct = "7_0|COMPLETED\n7_1|CANCELLED by 0\n".replace("|", " ")
    assert launcher.parse_states(sacct) == {"7_0": "COMPLETED", "7_1": "CANCELLED"}


def test_a_task_that_slurm_forgets_has_ended(monkeypatch, capsys):
    """squeue forgets ended jobs after a while; without accounting, sacct knows none: a task
    seen before and now unknown has ended, and a follow never waits forever for it."""
    answers = iter([{"7_0": "RUNNING", "7_1": "PREEMPTED"}, {"7_0": "UNKNOWN", "7_1": "UNKNOWN"}])
    monkeypatch.setattr(launcher, "task_states", lambda job: next(answers))
    follow = launcher.Follow(None, LauncherConfig(kind="slurm"), Path("logs"), None)
    follow.jobs = [launcher.ArrayJob(["7_0", "7_1"])]
    assert not follow.all_ended()
    assert follow.all_ended()
    assert follow.lost == {"7_1": "PREEMPTED"}
    assert "task 7_1: PREEMPTED" in capsys.readouterr().err
