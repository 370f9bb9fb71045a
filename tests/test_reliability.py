"""Fault injection: sweeps killed at random points, interrupted, or left with a corrupt
checkpoint, then rerun. Nothing is lost, nothing is recorded twice, and a resumed run ends
exactly as an uninterrupted one."""

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from mlflow_stores import new_store

from resnet.cli.sweep import main
from resnet.core.presets import build_sweep
from resnet.tracking.store import Store

REPO = Path(__file__).resolve().parents[1]
# The smoke sweep: 60 iterations a cell, a checkpoint every 20, so a signal sent as the first
# checkpoint appears lands in the middle of training.
ARGV = ["--preset", "smoke", "--no-progress", "--no-report"]
CELLS = {"plain-8-s0", "residual-8-s0", "plain-14-s0", "residual-14-s0"}


def sweep_process(workdir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "experiments" / "depth_sweep.py"), *ARGV, *extra],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
    )


def client(workdir: Path) -> MlflowClient:
    return Store(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").client  # as a sweep opens it


def cell_runs(workdir: Path) -> list:
    c = client(workdir)
    ids = [e.experiment_id for e in c.search_experiments()]
    return [r for r in c.search_runs(ids) if r.data.tags.get("kind") == "cell"]


def finished(workdir: Path) -> dict:
    runs = [r for r in cell_runs(workdir) if r.info.status == "FINISHED"]
    assert len(runs) == len({r.info.run_name for r in runs}), "a cell finished twice"
    return {r.info.run_name: r for r in runs}


def weights(workdir: Path, run) -> dict:
    path = client(workdir).download_artifacts(run.info.run_id, "weights.pt", str(workdir))
    return torch.load(path, weights_only=True)


def computed(run) -> dict[str, float]:
    """The run's metrics that training computes, not those that measure the machine."""
    measured = lambda key: key == "images_per_sec" or key.startswith("system/")  # noqa: E731
    return {k: v for k, v in run.data.metrics.items() if not measured(k)}


def assert_same_run(work_a: Path, a, work_b: Path, b) -> None:
    """Same final metrics (timing and the machine's system metrics aside), same steps logged
    once each, same weights."""
    assert computed(a) == computed(b)
    steps_a = [m.step for m in client(work_a).get_metric_history(a.info.run_id, "train_loss")]
    steps_b = [m.step for m in client(work_b).get_metric_history(b.info.run_id, "train_loss")]
    assert steps_a == steps_b == sorted(set(steps_a))
    wa, wb = weights(work_a, a), weights(work_b, b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def wait_for_new_checkpoint(workdir: Path, since: float, process: subprocess.Popen) -> None:
    while process.poll() is None:
        try:
            if any(p.stat().st_mtime > since for p in workdir.glob("mlruns/checkpoints/*/*.pt")):
                return
        except FileNotFoundError:  # a finished cell's folder went while it was being listed
            pass
        time.sleep(0.05)


@pytest.mark.heavy(80)
def test_sigkill_at_random_points_loses_nothing_and_duplicates_nothing(tmp_path, monkeypatch):
    # Longer than the smoke sweep, so that the kills, each at most 2 s after a checkpoint,
    # land in the middle of training; the uninterrupted reference runs meanwhile.
    longer = ("--iterations", "120")
    reference, work = tmp_path / "reference", tmp_path / "killed"
    for folder in (reference, work):
        new_store(folder / "mlruns")
    uninterrupted = sweep_process(reference, *longer)

    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "0")))  # see docs/RELIABILITY.md
    for _ in range(2):  # each kill lands at a random moment after a checkpoint was written
        started = time.time()
        process = sweep_process(work, *longer)
        wait_for_new_checkpoint(work, started, process)
        time.sleep(rng.uniform(0, 2))
        process.send_signal(signal.SIGKILL)
        process.wait()
    monkeypatch.chdir(work)  # the rerun, here: the process start-up is what the kills already had
    assert main([*ARGV, *longer]) == 0
    _, err = uninterrupted.communicate(timeout=600)
    assert uninterrupted.returncode == 0, err
    expected = finished(reference)

    done = finished(work)
    assert set(done) == CELLS  # exactly one FINISHED run per cell
    assert not [r for r in cell_runs(work) if r.info.status == "RUNNING"]
    resumed = [name for name, run in done.items() if run.data.tags.get("resumed") == "true"]
    assert resumed, "no kill landed after a checkpoint; the test proved nothing"
    for name in done:
        assert_same_run(work, done[name], reference, expected[name])


@pytest.mark.heavy(30)
def test_sigterm_saves_a_checkpoint_and_the_rerun_resumes_it(tmp_path):
    new_store(tmp_path / "mlruns")
    process = sweep_process(tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "mlruns").glob("checkpoints/*/*.pt")):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "saving a checkpoint after this iteration" in err
    killed = [r for r in cell_runs(tmp_path) if r.info.status == "KILLED"]
    assert len(killed) == 1

    assert sweep_process(tmp_path).wait(timeout=600) == 0
    done = finished(tmp_path)
    assert set(done) == CELLS
    assert done[killed[0].info.run_name].info.run_id == killed[0].info.run_id  # the same run


@pytest.mark.heavy(20)
def test_a_corrupt_checkpoint_is_one_line_and_the_cell_starts_again(store_workdir, capsys):
    workdir = store_workdir
    process = sweep_process(workdir)
    while not list((workdir / "mlruns").glob("checkpoints/*/*.pt")):
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for path in (workdir / "mlruns").glob("checkpoints/*/*.pt"):
        path.write_bytes(b"not a checkpoint")

    assert main(ARGV) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "unreadable" in line]
    assert len(lines) >= 1 and "starting it again" in lines[0]
    assert set(finished(workdir)) == CELLS
    failed = [r for r in cell_runs(workdir) if r.info.status == "FAILED"]
    assert all(r.data.tags["failure_reason"].startswith("abandoned: ") for r in failed)


def test_a_run_whose_owner_is_alive_is_left_alone(store_workdir, capsys):
    workdir = store_workdir
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        short = ("--iterations", "20")  # what is trained here matters not
        cell = build_sweep("smoke", {}, {"iterations": 20}).cells()[0]
        assert main([*ARGV, *short, "--depths", "14"]) == 0  # creates the experiment
        c = client(workdir)
        experiment = c.get_experiment_by_name("depth-smoke-synthetic").experiment_id
        busy = c.create_run(
            experiment,
            run_name=cell.name,
            tags={
                "kind": "cell",
                "run_identity": cell.identity(),
                "owner": f"{socket.gethostname()}:{sleeper.pid}",
            },
        )
        assert main([*ARGV, *short, "--depths", "8"]) == 1  # not all cells have a result
        assert "running elsewhere" in capsys.readouterr().out
        assert c.get_run(busy.info.run_id).info.status == "RUNNING"  # untouched
        names = [r.info.run_name for r in cell_runs(workdir)]
        assert names.count(cell.name) == 1  # no second run for it
    finally:
        sleeper.kill()


def stopped_after_a_checkpoint(processes: dict[str, subprocess.Popen], folders: dict) -> None:
    """SIGTERM to each process once it has saved a checkpoint in its folder: its run is KILLED
    and keeps it."""
    waiting, deadline = dict(processes), time.time() + 120
    while waiting and time.time() < deadline:
        for name, process in list(waiting.items()):
            assert process.poll() is None, process.communicate()[1]
            if list(folders[name].glob("*/checkpoint.pt")):
                process.send_signal(signal.SIGTERM)
                del waiting[name]
        time.sleep(0.02)
    for process in processes.values():
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err


@pytest.mark.heavy(25)
def test_a_checkpoint_of_another_cell_is_refused_and_the_cell_starts_again(store_workdir, capsys):
    """plain-8's checkpoint copied over residual-8's (their states fit each other's nets
    exactly): the rerun refuses it in one line, closes residual-8's old run FAILED saying why,
    and trains the cell from scratch to one FINISHED run; plain-8's run is left as it was."""
    workdir = store_workdir
    early = ("--depths", "8", "--checkpoint-every", "5")  # a checkpoint early in the cell
    folders = {arch: workdir / f"checkpoints-{arch}" for arch in ("plain", "residual")}
    processes = {
        arch: sweep_process(workdir, *early, "--archs", arch, "--checkpoint-dir", str(folder))
        for arch, folder in folders.items()
    }
    stopped_after_a_checkpoint(processes, folders)
    runs = {r.info.run_name: r for r in cell_runs(workdir)}
    assert {name: r.info.status for name, r in runs.items()} == {
        "plain-8-s0": "KILLED",
        "residual-8-s0": "KILLED",
    }
    (plain,) = folders["plain"].glob("*/checkpoint.pt")
    (foreign,) = folders["residual"].glob("*/checkpoint.pt")
    plain_bytes = plain.read_bytes()
    foreign.write_bytes(plain_bytes)
    capsys.readouterr()

    rerun = [*ARGV, "--depths", "8", "--archs", "residual", "--checkpoint-dir"]
    assert main([*rerun, str(folders["residual"])]) == 0
    err = capsys.readouterr().err
    refused = [line for line in err.splitlines() if "is not this cell's" in line]
    assert len(refused) == 1 and "starting it again" in refused[0], err
    assert "plain-8-s0" in refused[0] and "pickle" not in err, err
    residual = [r for r in cell_runs(workdir) if r.info.run_name == "residual-8-s0"]
    by_status = {r.info.status: r for r in residual}
    assert sorted(r.info.status for r in residual) == ["FAILED", "FINISHED"]
    old = by_status["FAILED"]
    assert old.info.run_id == runs["residual-8-s0"].info.run_id
    reason = old.data.tags["failure_reason"]
    assert reason.startswith("abandoned: checkpoint ") and "plain-8-s0" in reason, reason
    assert by_status["FINISHED"].data.tags.get("resumed") is None  # trained from scratch
    assert client(workdir).get_run(runs["plain-8-s0"].info.run_id).info.status == "KILLED"
    assert plain.read_bytes() == plain_bytes  # plain-8 still resumes from its own
