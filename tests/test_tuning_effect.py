"""Tuned against untuned, paired by seed: the flag that says tuning failed for a net."""

import pandas as pd
import pytest

from analysis.tuning_effect import (
    TuningOutcome,
    effect_table,
    failed_nets,
    tuning_effects,
)
from analysis.tuning_section import failed_line


def cells(errors: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """Finished cells with these final training errors (%), seed 0, 1, ... of each net."""
    rows = [
        {"arch": arch, "depth": depth, "seed": seed, "status": "finished", "train_error": e / 100}
        for (arch, depth), values in errors.items()
        for seed, e in enumerate(values)
    ]
    return pd.DataFrame(rows)


UNTUNED = {("plain", 20): [20.0, 21.0, 19.5], ("plain", 56): [36.0, 38.0, 35.0]}


def test_a_net_tuned_into_a_worse_one_is_flagged_and_named():
    tuned = cells({("plain", 20): [18.0, 20.5, 19.0], ("plain", 56): [72.3, 77.8, 62.6]})
    effects = tuning_effects(tuned, cells(UNTUNED))
    by_net = {(e.arch, e.depth): e for e in effects}
    # plain-56: +36.3, +39.8, +27.6 points; its interval lies above 0
    assert by_net["plain", 56].outcome == TuningOutcome.FAILED
    assert by_net["plain", 56].change.estimate == pytest.approx((36.3 + 39.8 + 27.6) / 3)
    assert by_net["plain", 20].outcome == TuningOutcome.NO_CLEAR_CHANGE
    assert failed_nets(effects) == ["plain-56"]
    assert "failed for plain-56" in failed_line(effects)
    table = effect_table(effects)
    assert list(table["outcome"]) == ["no clear change", "tuning failed for this net"]


def test_a_loss_on_some_seeds_within_the_noise_is_not_flagged():
    # +36.3, +39.8, +7.6: the third seed trained about as well tuned, and three seeds this
    # far apart leave the 90 % interval reaching below 0
    tuned = cells({("plain", 56): [72.3, 77.8, 42.6]})
    (effect,) = tuning_effects(tuned, cells(UNTUNED))
    assert effect.interval()[0] < 0 < effect.change.estimate
    assert effect.outcome == TuningOutcome.NO_CLEAR_CHANGE


def test_a_consistent_gain_is_better_and_one_seed_is_untested():
    tuned = cells({("plain", 20): [15.0, 16.2, 14.4], ("plain", 56): [30.0]})
    effects = tuning_effects(tuned, cells(UNTUNED))
    outcomes = {(e.arch, e.depth): e.outcome for e in effects}
    assert outcomes == {
        ("plain", 20): TuningOutcome.BETTER,
        ("plain", 56): TuningOutcome.UNTESTED,  # paired on seed 0 only
    }
    assert failed_line(effects) is None


def test_only_seeds_both_sweeps_finished_are_paired():
    tuned = cells({("plain", 20): [20.0, 25.0, 30.0]})
    untuned = cells({("plain", 20): [20.0, 25.0]})
    (effect,) = tuning_effects(tuned, untuned)
    assert effect.change.n == 2 and effect.change.estimate == 0.0
    assert tuning_effects(tuned, cells({("plain", 56): [1.0]})) == []
