"""Workers by throughput on a CPU (resnet/runner/layout.py): one worker of every thread, or
one per core where that trains clearly faster, timed before a sweep that left it open."""

import contextlib
import math

import pytest
import torch

import resnet.runner.layout as layout
from resnet.cli.sweep import main
from resnet.core.presets import build_sweep
from resnet.tracking.schema import Tag
from resnet.tracking.store import Store


@contextlib.contextmanager
def threads(count: int):
    """This process with `count` threads (the tests run with one), as a user's would have."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def smoke_net():
    return build_sweep("smoke", {"depths": [8]}, {"device": "cpu"}).cells()[-1]


def test_one_thread_or_one_job_leaves_nothing_to_choose(synthetic16, monkeypatch):
    monkeypatch.setattr(layout, "per_core_speedup", lambda *args: pytest.fail("timed"))
    with threads(1):
        assert layout.choose_layout(smoke_net(), synthetic16, jobs=8) is None
    with threads(2):
        assert layout.choose_layout(smoke_net(), synthetic16, jobs=1) is None


@pytest.mark.parametrize(
    ("all_threads", "jobs", "workers", "each"), [(2, 8, 2, 1), (8, 3, 3, 2), (4, 4, 4, 1)]
)
def test_the_per_core_layout_splits_the_threads_over_at_most_one_worker_a_job(
    synthetic16, monkeypatch, all_threads, jobs, workers, each
):
    asked = []
    monkeypatch.setattr(layout, "per_core_speedup", lambda *args: asked.append(args[2:]) or 2.0)
    with threads(all_threads):
        chosen = layout.choose_layout(smoke_net(), synthetic16, jobs)
    assert asked == [(workers, each)]
    assert (chosen.workers, chosen.candidate, chosen.threads) == (workers, workers, each)


def test_one_worker_stays_unless_the_others_are_at_least_the_margin_faster(
    synthetic16, monkeypatch
):
    net = smoke_net()
    monkeypatch.setattr(layout, "per_core_speedup", lambda *args: layout.MARGIN - 0.01)
    with threads(2):
        kept = layout.choose_layout(net, synthetic16, jobs=4)
    assert kept.workers == 1
    assert kept.line() == (
        f"Workers: one worker of 2 threads; 2 workers of 1 thread each trained "
        f"{layout.MARGIN - 0.01:.2f}x the throughput of one worker of 2 threads here (timed on "
        f"{net.arch}-8), short of the {layout.MARGIN:.2f}x that changes it; --workers 2 uses "
        "them anyway."
    )
    monkeypatch.setattr(layout, "per_core_speedup", lambda *args: layout.MARGIN)
    with threads(2):
        chosen = layout.choose_layout(net, synthetic16, jobs=4)
    assert chosen.workers == 2
    assert chosen.line().startswith("Workers: 2 workers of 1 thread each, which trained")
    assert chosen.line().endswith("--workers 1 keeps one.")


def test_timing_both_layouts_gives_a_ratio_and_gives_the_threads_back(synthetic16):
    with threads(2):
        speedup = layout.per_core_speedup(smoke_net(), synthetic16, workers=2, threads=1)
        assert torch.get_num_threads() == 2
    assert math.isfinite(speedup) and 0.2 < speedup < 10


def test_at_once_reports_the_slowest_stepper():
    class Sleeper:
        def __init__(self, seconds):
            self.value = seconds

        def seconds(self, start):
            start.wait()  # every stepper starts together, or this never returns
            return self.value

    assert layout.at_once([Sleeper(0.1), Sleeper(0.3), Sleeper(0.2)]) == 0.3


def test_a_stepper_that_fails_stops_the_others_and_its_error_is_raised():
    class Failing:
        def seconds(self, start):
            raise MemoryError("no room for a second model")

    class Waiting:
        def seconds(self, start):
            start.wait(timeout=30)  # set free by the failure, not by this timeout
            return 0.1

    with pytest.raises(MemoryError, match="no room"):
        layout.at_once([Waiting(), Failing(), Waiting()])


SMOKE = ["--preset", "smoke", "--depths", "8", "--device", "cpu", "--no-progress", "--no-report"]


def cell_threads(workdir) -> dict[str, str]:
    client = Store(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").client
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    cells = [r for r in runs if r.data.tags.get(Tag.KIND) == "cell"]
    return {r.info.run_name: r.data.tags[Tag.CPU_THREADS] for r in cells}


@pytest.mark.heavy(20)
def test_a_sweep_that_left_the_workers_open_runs_one_per_core_where_faster(
    workdir, capsys, monkeypatch
):
    monkeypatch.delenv("DEPTH_SWEEP_NO_PROJECTION", raising=False)
    monkeypatch.setattr(layout, "per_core_speedup", lambda *args: 2.0)
    with threads(2):
        assert main(SMOKE) == 0
    err = capsys.readouterr().err
    assert "Workers: 2 workers of 1 thread each, which trained 2.00x" in err
    assert "worker 2" in err  # the launcher's workers trained the cells
    assert set(cell_threads(workdir).values()) == {"1"}  # each net ran on one thread


def test_workers_given_by_the_user_are_not_timed(workdir, capsys, monkeypatch):
    monkeypatch.delenv("DEPTH_SWEEP_NO_PROJECTION", raising=False)
    monkeypatch.setattr(layout, "per_core_speedup", lambda *args: pytest.fail("timed"))
    with threads(2):
        assert main([*SMOKE, "--workers", "1"]) == 0
    assert "Workers:" not in capsys.readouterr().err
    assert set(cell_threads(workdir).values()) == {"2"}  # this process's threads
