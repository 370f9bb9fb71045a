from pathlib import Path

import pytest

import resnet.core.precision
from resnet.core.config import ConfigError, RunConfig
from resnet.core.presets import build_sweep, preset_names, read_preset

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return str(path)


def test_the_three_presets_load():
    assert {"smoke", "quick", "paper"} <= set(preset_names())
    paper = build_sweep("paper", {}, {})
    assert [c.name for c in paper.cells() if c.arch == "plain"] == [
        f"plain-{d}-s0" for d in (20, 32, 44, 56)
    ]
    assert [c.depth for c in paper.cells() if c.arch == "residual"] == [20, 32, 44, 56, 110]
    cell = paper.cells()[0]
    assert (cell.iterations, cell.milestones, cell.lr, cell.weight_decay) == (
        64000,
        (32000, 48000),
        0.1,
        1e-4,
    )
    assert (cell.val_size, cell.bn_group, cell.normalization) == (0, 64, "pixel")  # §4.2
    assert [c.uses_error_warmup for c in paper.cells()][-1] is True
    assert not any(c.uses_error_warmup for c in paper.cells()[:-1])


def test_quick_uses_fashion_mnist_and_both_archs():
    quick = build_sweep("quick", {}, {})
    assert quick.dataset == "fashion-mnist"
    assert {c.arch for c in quick.cells()} == {"plain", "residual"}
    assert quick.depths == (20, 56) and quick.seeds == (0, 1, 2, 3, 4)


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'train.lrr'"):
        build_sweep(write(tmp_path, "[train]\nlrr = 0.1\n"), {}, {})
    with pytest.raises(ConfigError, match=r"unknown key 'optimizer'"):
        build_sweep(write(tmp_path, "[optimizer]\nlr = 0.1\n"), {}, {})


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"train.batch_size must be an integer, got '128'"):
        build_sweep(write(tmp_path, '[train]\nbatch_size = "128"\n'), {}, {})
    with pytest.raises(ConfigError, match=r"sweep.depths must be a list of an integer"):
        build_sweep(write(tmp_path, "[sweep]\ndepths = 20\n"), {}, {})


def test_integers_are_accepted_for_floats(tmp_path):
    sweep = build_sweep(write(tmp_path, "[train]\nlr = 1\n"), {}, {})
    assert sweep.cells()[0].lr == 1.0


def test_overrides_win_over_the_preset():
    sweep = build_sweep("smoke", {"depths": [20]}, {"lr": 0.3, "iterations": None})
    assert [c.depth for c in sweep.cells()] == [20, 20]
    assert sweep.cells()[0].lr == 0.3 and sweep.cells()[0].iterations == 60


def test_milestones_past_the_end_are_refused():
    with pytest.raises(ConfigError, match="milestones"):
        build_sweep("paper", {}, {"iterations": 1000})


def test_identity_ignores_where_a_run_computes_but_not_what():
    a = RunConfig()
    assert a.identity() == RunConfig(device="cpu", data_dir="elsewhere").identity()
    assert a.identity() != RunConfig(lr=0.2).identity()
    assert a.identity() != RunConfig(seed=1).identity()


def test_plain_nets_have_no_shortcut_so_b_reruns_only_residual_nets():
    a = {c.name: c for c in build_sweep("smoke", {}, {"shortcut": "A"}).cells()}
    b = {c.name: c for c in build_sweep("smoke", {}, {"shortcut": "B"}).cells()}
    assert a["plain-8-s0"].shortcut == "none"
    assert a["plain-8-s0"].identity() == b["plain-8-s0"].identity()
    assert a["residual-8-s0"].identity() != b["residual-8-s0"].identity()


def test_fixed_depth_archs_get_one_cell_per_seed():
    sweep = build_sweep("smoke", {"archs": ["plain18", "resnet18"], "seeds": [0, 1]}, {})
    assert [c.name for c in sweep.cells()] == [
        "plain18-18-s0",
        "resnet18-18-s0",
        "plain18-18-s1",
        "resnet18-18-s1",
    ]


@pytest.mark.parametrize("native", ["bf16", "fp32"])
def test_precision_auto_becomes_the_devices_native_one(monkeypatch, native):
    monkeypatch.setattr(
        resnet.core.precision, "native_precision", lambda device: (native, "because")
    )
    sweep = build_sweep("smoke", {}, {"precision": "auto"})
    assert {c.precision for c in sweep.cells()} == {native}  # runs record what they used
    assert build_sweep("quick", {}, {}).cells()[0].precision == native  # quick asks for auto


def test_precision_auto_with_an_unknown_device_names_the_device():
    with pytest.raises(ConfigError, match=r"unknown device 'gpu' \(allowed: auto, cpu"):
        build_sweep("smoke", {}, {"precision": "auto", "device": "gpu"})


def test_flip_and_margin_come_from_the_preset_and_the_command_line(tmp_path):
    from resnet.cli.sweep import make_parser, sweep_from_args

    quick = sweep_from_args(make_parser().parse_args(["--preset", "quick"]))
    assert quick.margin == 2.0 and not quick.cells()[0].flip  # the rule's choice
    flipped = sweep_from_args(make_parser().parse_args(["--preset", "quick", "--flip"]))
    assert all(c.flip for c in flipped.cells())
    assert build_sweep(write(tmp_path, "[sweep]\nmargin = 5\n"), {}, {}).margin == 5.0
    with pytest.raises(ConfigError, match=r"margin must be in \(0, 100\), got 0"):
        build_sweep(write(tmp_path, "[sweep]\nmargin = 0\n"), {}, {})


def test_the_short_crossing_trains_the_candidate_the_search_chose():
    """crossing-short is docs/crossing/cheaper/nocrop-lr005.toml on its own seeds: any other
    difference would test a design the search never chose."""
    chosen = REPO / "docs" / "crossing" / "cheaper" / "nocrop-lr005.toml"
    _, chosen_sweep, chosen_run, _ = read_preset(str(chosen))
    _, sweep, run, _ = read_preset("crossing-short")
    assert run == chosen_run and run["iterations"] == 4000
    assert {k: v for k, v in sweep.items() if k != "seeds"} == {
        k: v for k, v in chosen_sweep.items() if k != "seeds"
    }
    assert not set(sweep["seeds"]) & set(range(100, 105))  # the seeds that chose it
