"""depth_sweep.py's training flags are made from RunConfig's fields: every field has its flag,
a flag's value reaches the run config typed, and a new field needs no edit of the command line."""

import argparse
import dataclasses

import pytest

from resnet.cli.flags import (
    add_flags,
    add_run_flags,
    overrides,
    run_fields,
    run_overrides,
)
from resnet.cli.sweep import launcher_from_args, make_parser, sweep_from_args, tune_from_args
from resnet.core.bounds import Bounds
from resnet.core.config import CELL_FIELDS, ConfigError, RunConfig, SweepConfig, setting
from resnet.core.launcher_config import LauncherConfig
from resnet.core.settings import key_types
from resnet.core.tune_config import ParamRange, TuneConfig


def test_every_training_field_has_its_flag():
    flags = make_parser()._option_string_actions
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    assert {f.name for f in run_fields()} == fields - set(CELL_FIELDS)
    assert all("--" + name.replace("_", "-") in flags for name in fields - set(CELL_FIELDS))
    assert "--flip" in flags and "--no-flip" in flags  # a bool field: a pair


def test_untuned_fields_reach_the_runs_typed():
    argv = ["--preset", "smoke", "--divergence-factor", "20", "--eval-subset", "7"]
    argv += ["--no-channels-last", "--schedule", "step", "--milestones", "10,40"]
    cells = sweep_from_args(make_parser().parse_args(argv)).cells()
    assert {c.divergence_factor for c in cells} == {20.0}
    assert {c.eval_subset for c in cells} == {7}
    assert {c.channels_last for c in cells} == {False}
    assert {c.milestones for c in cells} == {(10, 40)}  # a tuple, as the field's type says
    untouched = sweep_from_args(make_parser().parse_args(["--preset", "smoke"])).cells()
    assert {c.divergence_factor for c in untouched} == {RunConfig.divergence_factor}


def test_a_new_field_gets_its_flag_and_its_range_with_no_other_edit():
    label_smoothing = setting("train", 0.0, "a new setting", Bounds(low=0, high=1))
    Extended = dataclasses.make_dataclass(
        "Extended", [("label_smoothing", float, label_smoothing)], bases=(RunConfig,), frozen=True
    )
    parser = argparse.ArgumentParser()
    add_run_flags(parser, Extended)
    args = parser.parse_args(["--label-smoothing", "0.1", "--lr", "0.2"])
    overrides = run_overrides(args, Extended)
    assert overrides == {"label_smoothing": 0.1, "lr": 0.2}
    assert Extended(**overrides).label_smoothing == 0.1
    assert "a new setting; in [0, 1]" in parser.format_help()
    with pytest.raises(ConfigError, match=r"label_smoothing must be in \[0, 1\], got 2.0"):
        Extended(label_smoothing=2.0)


@pytest.mark.parametrize(
    ("bounds", "value", "ok", "real", "described"),
    [
        (Bounds(low=0, low_open=True), 0.0, False, True, "positive and finite"),
        (Bounds(low=0, low_open=True), float("inf"), False, True, "positive and finite"),
        (Bounds(low=0), 0, True, False, "zero or positive"),
        (Bounds(low=8), 7, False, False, "at least 8"),
        (Bounds(low=1, low_open=True), 1.5, True, True, "above 1 and finite"),
        (Bounds(low=0, high=1, high_open=True), 1.0, False, True, "in [0, 1)"),
        (Bounds(low=1, high=10_000_000), 10_000_000, True, False, "in [1, 10000000]"),
        (Bounds(high=5), 6, False, False, "at most 5"),
    ],
)
def test_a_range_checks_and_words_itself(bounds, value, ok, real, described):
    assert bounds.allows(value) is ok
    assert bounds.describe(real) == described


def valid(config_class: type) -> dict:
    """What an instance of `config_class` needs beyond its defaults."""
    return {"space": (ParamRange("lr", 0.01, 0.1),)} if config_class is TuneConfig else {}


@pytest.mark.parametrize(
    ("config_class", "section", "prefix"),
    [
        (RunConfig, "train", ""),
        (SweepConfig, "sweep", ""),
        (TuneConfig, "tune", "tune."),
        (LauncherConfig, "launcher", ""),
    ],
)
def test_a_new_setting_of_any_section_is_one_edit(config_class, section, prefix):
    knob = setting(section, 0.5, "a new setting", Bounds(low=0, high=1))
    Extended = dataclasses.make_dataclass(
        "Extended", [("new_knob", float, knob)], bases=(config_class,), frozen=True
    )
    assert key_types(Extended, section)["new_knob"] is float  # its preset key
    parser = argparse.ArgumentParser()
    add_flags(parser, Extended)
    assert "a new setting; in [0, 1]" in parser.format_help()  # its flag, help and range
    given = overrides(parser.parse_args(["--new-knob", "0.25"]), Extended)
    assert given == {"new_knob": 0.25}
    assert Extended(**given, **valid(config_class)).new_knob == 0.25  # its value
    with pytest.raises(ConfigError, match=rf"^{prefix}new_knob must be in \[0, 1\], got 2.0$"):
        Extended(new_knob=2.0, **valid(config_class))  # its range check


def test_the_sweep_the_tuning_and_the_launcher_take_their_flags():
    argv = ["--preset", "smoke", "--margin", "3", "--exclude", "plain-8"]
    sweep = sweep_from_args(make_parser().parse_args(argv))
    assert sweep.margin == 3.0 and sweep.exclude == ("plain-8",)
    assert {c.name for c in sweep.cells()} == {"residual-8-s0", "plain-14-s0", "residual-14-s0"}
    tune = tune_from_args(make_parser().parse_args(["--tune", "--pruner", "none", "--trials", "3"]))
    assert (tune.pruner, tune.trials) == ("none", 3)
    argv = ["--launcher", "slurm", "--sbatch", "qos=high", "--sbatch", "constraint=a,b"]
    launcher = launcher_from_args(make_parser().parse_args(argv))
    assert launcher.sbatch == ("qos=high", "constraint=a,b")  # one value a flag, commas kept
