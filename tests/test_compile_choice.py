"""Compile where it pays, timed: the rule, a real timing of a compiled net against eager, and
the sweep's use of it (each way, said in one line)."""

import dataclasses

import pytest

from resnet.core.presets import build_sweep
from resnet.runner.compile_choice import MARGIN, CompileChoice, choose_compile, pays_back


def test_compiling_pays_where_the_step_is_faster_by_the_margin_and_saves_more_than_it_costs():
    assert pays_back(speedup=1.5, compile_seconds=60, net_seconds=3600)
    assert not pays_back(speedup=MARGIN - 0.01, compile_seconds=1, net_seconds=3600)  # too close
    assert not pays_back(speedup=0.9, compile_seconds=1, net_seconds=3600)  # slower compiled
    # 1.2x saves a sixth of the net's time: 100 s of 600, less than a 120 s compilation.
    assert not pays_back(speedup=1.2, compile_seconds=120, net_seconds=600)
    assert pays_back(speedup=1.2, compile_seconds=90, net_seconds=600)


@pytest.mark.heavy(15)
def test_the_deepest_net_is_timed_compiled_against_eager(synthetic16):
    """A real timing: a tiny net compiled and eager; the choice follows its own numbers."""
    config = dataclasses.replace(
        build_sweep("smoke", {}, {"device": "cpu"}).cells()[0], batch_size=8
    )
    choice = choose_compile(config, synthetic16, net_seconds=3600)
    assert choice.speedup > 0 and choice.compile_seconds > 0
    assert choice.compile == pays_back(choice.speedup, choice.compile_seconds, 3600)
    assert choice.net == f"{config.arch}-{config.depth}"
    assert f"{choice.speedup:.2f}x" in choice.line()


def test_the_line_says_which_way_and_how_to_change_it():
    faster = CompileChoice(True, 1.52, 41.0, 3600, "residual-56")
    assert faster.line() == (
        "Compiling each net (torch.compile): compiled, residual-56 stepped 1.52x as fast as "
        "eager here (compiling it took 41 s); --no-compile trains eager."
    )
    slower = dataclasses.replace(faster, compile=False, speedup=0.97)
    assert slower.line().startswith("Training eager: compiled, residual-56 stepped 0.97x")
    assert slower.line().endswith("on 60 min of its training; --compile compiles anyway.")


@pytest.mark.parametrize("speedup,compiled", [(1.5, True), (0.97, False)])
def test_a_sweep_whose_nets_train_for_hours_on_a_cpu_compiles_where_the_timing_says(
    store_workdir, monkeypatch, capsys, speedup, compiled
):
    import resnet.cli.sweep as cli
    import resnet.cli.sweep_job
    import resnet.runner.launch
    from resnet.runner.estimate import Projection

    def long_nets(cells, trials, dataset):
        deepest = max(cells, key=lambda cell: cell.depth)
        return Projection(7200 * len(cells), 0, len(cells), 0, longest=7200, deepest=deepest)

    timed = []

    def timing(config, dataset, net_seconds):
        timed.append((config.depth, net_seconds))
        return CompileChoice(pays_back(speedup, 40, net_seconds), speedup, 40, net_seconds, "n")

    trained = []

    def stop_before_training(sweep, *args):
        trained.append(sweep)
        raise KeyboardInterrupt

    monkeypatch.delenv("DEPTH_SWEEP_NO_PROJECTION", raising=False)
    monkeypatch.setattr(resnet.cli.sweep_job, "project", long_nets)
    monkeypatch.setattr(resnet.cli.sweep_job, "choose_compile", timing)
    monkeypatch.setattr(resnet.runner.launch, "run_sweep", stop_before_training)
    smoke = ["--preset", "smoke", "--device", "cpu", "--no-progress", "--workers", "1"]
    assert cli.main(smoke) == 130
    deepest = max(cell.depth for cell in trained[-1].cells())
    assert timed == [(deepest, 7200)]  # the deepest net, with its projected training time
    assert all(cell.compile is compiled for cell in trained[-1].cells())
    said = capsys.readouterr().err
    assert ("--no-compile trains eager" in said) is compiled
    assert ("--compile compiles anyway" in said) is not compiled
    assert cli.main([*smoke, "--no-compile"]) == 130  # the user's word: no timing
    assert len(timed) == 1 and not any(cell.compile for cell in trained[-1].cells())
