"""The rule that chose the crossing preset's length (scripts/choose_crossing_budget.py), on
constructed final errors and on the errors its candidates recorded."""

from __future__ import annotations

import pytest
from script_modules import load_script

from resnet.core.presets import preset_path


@pytest.fixture(scope="module")
def rule():
    return load_script("choose_crossing_budget")


def errors(plain20, plain56, residual20, residual56) -> dict:
    found = {
        ("plain", 20): plain20,
        ("plain", 56): plain56,
        ("residual", 20): residual20,
        ("residual", 56): residual56,
    }
    return {net: value for net, value in found.items() if value is not None}


@pytest.mark.parametrize(
    ("final", "verdict"),
    [
        (errors(7.0, 11.0, 6.5, 5.9), "yes"),
        (errors(7.0, 7.31, 6.5, 6.19), "yes"),
        (errors(7.0, 11.0, 6.5, 6.3), "no: residual-56 not 0.3 points below residual-20"),
        (errors(7.0, 11.0, 6.5, 6.9), "no: residual-56 not 0.3 points below residual-20"),
        (errors(7.0, 7.2, 6.5, 5.0), "no: plain-56 not 0.3 points above plain-20"),
        (errors(7.0, 6.0, 6.5, 5.0), "no: plain-56 not 0.3 points above plain-20"),
        (errors(None, None, 6.5, 6.5), "no: residual-56 not 0.3 points below residual-20"),
        (errors(None, None, 6.5, 5.0), "cannot judge: a plain net not finished stably"),
        (errors(7.0, 11.0, 6.5, None), "cannot judge: a residual net not finished stably"),
    ],
)
def test_a_candidate_shows_the_crossing_only_when_both_halves_clear_the_tie_margin(
    rule, final, verdict
):
    assert rule.judge(5760, final)["shows the crossing"] == verdict


def test_the_shortest_candidate_that_shows_it_is_chosen(rule):
    rows = [
        rule.judge(2880, errors(7.0, 11.0, 6.5, 6.5)),
        rule.judge(11520, errors(7.0, 11.0, 6.5, 5.0)),
        rule.judge(5760, errors(7.0, 11.0, 6.5, 5.5)),
    ]
    assert rule.choose(rows) == 5760
    assert rule.choose(rows[:1]) is None


def test_the_recorded_candidates_choose_the_crossing_presets_length(rule):
    rows = [rule.judge(i, rule.recorded_errors(i)) for i in rule.PRESETS]
    assert [row["shows the crossing"] == "yes" for row in rows] == [False, False, True]
    chosen = rule.choose(rows)
    assert f"iterations = {chosen}\n" in preset_path("crossing").read_text()
