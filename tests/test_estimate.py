import dataclasses

import pytest
import torch

from resnet.cli.sweep import main
from resnet.cli.sweep_job import print_projection
from resnet.core.presets import build_sweep
from resnet.runner.estimate import LOOP_OVERHEAD, human_duration, project, run_seconds
from resnet.runner.forecast import advice
from resnet.runner.launch import Ready, SweepJob
from resnet.runner.worker import Stores
from resnet.runner.workers import plan
from resnet.tracking.store import Store


def ready(sweep, dataset, workers: int = 1) -> Ready:
    """A checked job of `sweep` on the store in the working folder, `workers` processes."""
    store = Store("sqlite:///mlruns/mlflow.db")
    job = SweepJob(sweep, Stores(store.uri, "journal"))
    placements = plan(workers, "cpu", [], 2, None) if workers > 1 else None
    return Ready(job, dataset, store, placements)


def paper_on(dataset_name, **run):
    overrides = {"dataset": dataset_name, "batch_size": 4, "device": "cpu", **run}
    return build_sweep("paper", {"depths": [20, 32]}, overrides)


def test_a_run_is_its_steps_plus_its_evaluations(synthetic16):
    config = dataclasses.replace(
        paper_on("synthetic").cells()[0],
        iterations=100,
        milestones=(),
        eval_every=50,
        batch_size=10,
    )
    images = len(synthetic16.val) + len(synthetic16.test)
    evaluation = 2 * images / 10 * 0.5 / 3  # 2 evaluations, forward only: a third of a step
    assert run_seconds(config, synthetic16, 0.5) == pytest.approx(
        LOOP_OVERHEAD * 100 * 0.5 + evaluation
    )
    val_only = 2 * len(synthetic16.val) / 10 * 0.5 / 3
    assert run_seconds(config, synthetic16, 0.5, splits=1) == pytest.approx(
        LOOP_OVERHEAD * 100 * 0.5 + val_only
    )


def test_projection_calibrates_each_net_and_adds_up(synthetic16):
    cells = paper_on("synthetic").cells()
    projection = project(cells, cells[:1], synthetic16)
    assert projection.runs == len(cells) and projection.trials == 1
    assert projection.training > projection.tuning > 0


def test_the_sweep_prints_its_projection_first(workdir, capsys):
    sweep = build_sweep("smoke", {}, {"device": "cpu"})
    from resnet.core.data import load

    print_projection(ready(sweep, load("synthetic", image_size=16)))
    err = capsys.readouterr().err
    assert "Projected on cpu" in err and "for 4 runs in one process" in err
    assert "workers share it" not in err
    print_projection(ready(sweep, load("synthetic", image_size=16), workers=2))
    assert "; 2 workers share it: at best" in capsys.readouterr().err


def test_finished_cells_are_not_projected(workdir, capsys, monkeypatch):
    monkeypatch.delenv("DEPTH_SWEEP_NO_PROJECTION", raising=False)
    argv = ["--preset", "smoke", "--depths", "8", "--no-progress", "--no-report"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "for 2 runs" in err
    # Which nets compile, and why: none, as none trains long enough here to pay it back.
    assert "Training eager: compiling can pay back here only for a net that trains for" in err
    assert main(argv) == 0
    assert "Projected" not in capsys.readouterr().err  # nothing left to run


def test_paper_preset_on_a_cpu_says_it_is_long(workdir, synthetic16, capsys):
    sweep = paper_on("synthetic", batch_size=128)
    print_projection(ready(sweep, synthetic16))
    err = capsys.readouterr().err
    assert "That is long for cpu" in err and "a GPU (--device cuda)" in err
    assert "the short study (--preset quick)" in err


def test_the_advice_never_names_the_running_preset_nor_what_it_already_has():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    quick = build_sweep("quick", {"depths": [20, 32, 44, 56]}, {"device": "cpu"})
    said = advice(quick, cpu, 5 * 3600, workers=1)
    assert "--preset quick" not in said
    assert "a GPU (--device cuda)" in said and "fewer seeds (--seeds)" in said
    assert "fewer depths (--depths 20,56)" in said
    assert advice(quick, cpu, 600, workers=1) is None  # not long: no advice
    one = build_sweep("quick", {"seeds": [0]}, {"device": "cpu"})
    assert advice(one, gpu, 5 * 3600, workers=4) is None  # nothing left to suggest


def test_human_duration():
    assert human_duration(30) == "30 s"
    assert human_duration(600) == "10 min"
    assert human_duration(5 * 3600) == "5.0 h"


def test_compiled_runs_are_timed_compiled_and_reuse_that_compilation(synthetic16):
    from torch._dynamo.utils import counters

    from resnet.core.train import train

    cell = dataclasses.replace(
        paper_on("synthetic").cells()[0],
        depth=14,
        iterations=3,
        milestones=(),
        eval_every=3,
        log_every=3,
        compile=True,
    )
    before = counters["stats"]["unique_graphs"]
    assert project([cell], [], synthetic16).training > 0
    assert counters["stats"]["unique_graphs"] == before + 1  # timed compiled
    assert train(cell, synthetic16, progress=False, eval_splits=()).finished
    assert counters["stats"]["unique_graphs"] == before + 1  # trained without compiling again


def test_compiling_is_worth_timing_on_a_cpu_for_nets_that_train_for_20_minutes():
    from resnet.runner.estimate import COMPILE_PAYS_BACK_SECONDS, Projection
    from resnet.runner.estimate import compile_may_pay_back as compile_pays_back

    long = Projection(2 * 3600, 0, 2, 0, longest=COMPILE_PAYS_BACK_SECONDS)
    assert compile_pays_back(long, torch.device("cpu"))
    short = dataclasses.replace(long, longest=COMPILE_PAYS_BACK_SECONDS - 1)
    assert not compile_pays_back(short, torch.device("cpu"))
    assert not compile_pays_back(long, torch.device("cuda"))  # CUDA graphs: the user's choice


def test_the_projection_sums_each_nets_seeds_which_share_one_compilation(synthetic16, monkeypatch):
    import resnet.runner.estimate

    monkeypatch.setattr(resnet.runner.estimate, "seconds_per_step", lambda config, data: 0.01)
    sweep = build_sweep("smoke", {"seeds": [0, 1, 2]}, {"device": "cpu"})
    projection = project(sweep.cells(), [], synthetic16)
    one_seed = project(build_sweep("smoke", {}, {"device": "cpu"}).cells(), [], synthetic16)
    assert projection.longest == pytest.approx(3 * one_seed.longest)
    assert projection.longest < projection.training == pytest.approx(3 * one_seed.training)


def test_no_projection_starts_at_once(workdir, capsys, monkeypatch):
    import resnet.cli.sweep_job

    monkeypatch.delenv("DEPTH_SWEEP_NO_PROJECTION", raising=False)
    timed = []
    monkeypatch.setattr(resnet.cli.sweep_job, "project", lambda *args: timed.append(args))
    argv = ["--preset", "smoke", "--depths", "8", "--no-progress", "--no-report"]
    assert main([*argv, "--no-projection"]) == 0
    assert timed == [] and "Projected" not in capsys.readouterr().err
    monkeypatch.setenv("DEPTH_SWEEP_NO_PROJECTION", "1")  # the same, for scripts
    assert main([*argv, "--force"]) == 0 and timed == []
