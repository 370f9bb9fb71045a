from resnet.cli import print_estimate
from resnet.estimate import estimate_seconds, human_duration
from resnet.presets import build_sweep


def paper_on(dataset_name, **run):
    overrides = {"dataset": dataset_name, "batch_size": 4, "device": "cpu", **run}
    return build_sweep("paper", {"depths": [20, 32]}, overrides)


def test_estimate_scales_with_iterations_and_cells(synthetic16):
    sweep = paper_on("synthetic")
    seconds = estimate_seconds(sweep.cells(), synthetic16)
    assert seconds > 0
    per_iteration = seconds / sweep.cells()[0].iterations
    assert per_iteration < 60  # a few 4-image steps of small nets


def test_paper_preset_on_cpu_prints_its_estimate_first(synthetic16, capsys):
    print_estimate(paper_on("synthetic"), synthetic16)
    err = capsys.readouterr().err
    assert err.startswith("No GPU: training these 4 runs on this CPU will take about ")


def test_other_presets_print_no_estimate(synthetic16, capsys):
    print_estimate(build_sweep("smoke", {}, {"device": "cpu"}), synthetic16)
    assert capsys.readouterr().err == ""


def test_human_duration():
    assert human_duration(30) == "30 s"
    assert human_duration(600) == "10 min"
    assert human_duration(5 * 3600) == "5.0 h"
