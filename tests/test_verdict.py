"""The verdict by effect size and the plain-vs-residual contrast, on measured and constructed
runs, against computations written out here independently of statsmodels."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.effects import DEFAULT_MARGIN, ContrastOutcome, Outcome, fit_penalty
from analysis.stats import contrast, degradation_verdict, figure6_halves
from resnet.core.config import SweepConfig

DATA = Path(__file__).parent / "data" / "measured"
FOUR_DEPTH_RUNS = Path(__file__).parents[1] / "docs" / "quick-study-four-depths" / "cells.csv"
NINE_SEEDS = FOUR_DEPTH_RUNS.with_name("cells-seeds-0-8.csv")
MEASURED = [
    DATA / "quick-bf16-xeon-amx-seeds012.csv",
    DATA / "quick-fp32-xeon-amx-seed0.csv",
    DATA / "quick-fp32-epyc-zen3-seed0.csv",
]


def cells_of(finals: dict) -> pd.DataFrame:
    """Finished cells with the given final train errors (fractions) per (arch, depth)."""
    rows = [
        {"arch": arch, "depth": depth, "seed": seed, "status": "finished", "train_error": error}
        for (arch, depth), errors in finals.items()
        for seed, error in enumerate(errors)
    ]
    return pd.DataFrame(rows)


def measured_runs(path: Path, seeds: str) -> pd.DataFrame:
    runs = pd.read_csv(path)
    runs = (
        runs[runs["status"] == "finished"] if "status" in runs else runs.assign(status="finished")
    )
    return runs[runs["seed"] == runs["seed"].min()] if seeds == "first" else runs


# The verdict each set of measured runs gets. One seed tests nothing, however large the
# penalty; with seeds as blocks the three-seed sets differ (docs/ANALYSIS.md has each).
ONE_SEED = (Outcome.UNTESTED, Outcome.UNTESTED, ContrastOutcome.UNTESTED)
MEASURED_OUTCOMES = [
    (MEASURED[0], "first", ONE_SEED),
    (MEASURED[0], "all", (Outcome.DEGRADATION, Outcome.SMALL_PENALTY, ContrastOutcome.LARGER)),
    (MEASURED[1], "first", ONE_SEED),
    (MEASURED[2], "first", ONE_SEED),
    (FOUR_DEPTH_RUNS, "first", ONE_SEED),
    (FOUR_DEPTH_RUNS, "all", (Outcome.DEGRADATION, Outcome.INCONCLUSIVE, ContrastOutcome.LARGER)),
    (NINE_SEEDS, "all", (Outcome.DEGRADATION, Outcome.NO_DEGRADATION, ContrastOutcome.LARGER)),
]


@pytest.mark.parametrize(
    ("path", "seeds", "outcomes"),
    MEASURED_OUTCOMES,
    ids=[f"{p.parent.name}/{p.stem}-{s}" for p, s, _ in MEASURED_OUTCOMES],
)
def test_measured_runs_get_their_verdicts(path, seeds, outcomes):
    runs = measured_runs(path, seeds)
    plain, residual = (degradation_verdict(runs, arch) for arch in ("plain", "residual"))
    found = contrast(runs)
    assert (plain.outcome, residual.outcome, found.outcome) == outcomes, residual.sentence
    assert plain.penalty.estimate > 15 and abs(residual.penalty.estimate) < 1.5
    assert "margin 2 points" in residual.details


def test_the_margin_default_is_one_number():
    assert SweepConfig.margin == DEFAULT_MARGIN


def reference_penalty(runs: pd.DataFrame) -> tuple[float, float, int]:
    """(mean per-seed penalty, its standard error, degrees of freedom), written out: each
    seed's penalty is its errors' covariance with depth over depth's variance, times the span."""
    span = runs["depth"].max() - runs["depth"].min()
    per_seed = [
        np.cov(seed["depth"], 100 * seed["train_error"])[0, 1] / np.var(seed["depth"], ddof=1)
        for _, seed in runs.groupby("seed")
    ]
    values = np.array(per_seed) * span
    return values.mean(), values.std(ddof=1) / np.sqrt(len(values)), len(values) - 1


def test_the_penalty_is_the_mean_of_per_seed_penalties_with_seeds_minus_one_dof():
    runs = measured_runs(NINE_SEEDS, "all")
    for arch in ("plain", "residual"):
        mine = runs[runs["arch"] == arch]
        fitted = fit_penalty(mine["depth"], 100 * mine["train_error"], mine["seed"])
        estimate, se, dof = reference_penalty(mine)
        assert (fitted.estimate, fitted.se, fitted.dof) == pytest.approx((estimate, se, dof))
        t = stats.t.ppf(0.95, dof)
        assert fitted.interval() == pytest.approx((estimate - t * se, estimate + t * se))
        assert fitted.seeds == tuple(range(9)) and fitted.runs == 36


def test_the_seed_blocked_fit_agrees_with_a_random_slope_model_where_it_is_exact():
    """Balanced seeds: the per-seed slopes' mean equals the fixed slope of OLS with seed
    intercepts, and its variance that of a model with seed x depth as the error stratum."""
    import statsmodels.formula.api as smf

    runs = measured_runs(NINE_SEEDS, "all")
    runs = runs[runs["arch"] == "residual"].assign(error=lambda r: 100 * r["train_error"])
    fitted = fit_penalty(runs["depth"], runs["error"], runs["seed"])
    ols = smf.ols("error ~ C(seed) + depth", data=runs).fit()
    assert fitted.estimate == pytest.approx(ols.params["depth"] * 36)
    # The slope's error stratum: seed x depth interaction, (seeds - 1) degrees of freedom.
    strata = smf.ols("error ~ C(seed) * depth", data=runs).fit()
    slopes = [strata.params["depth"]] + [
        strata.params["depth"] + strata.params[f"C(seed)[T.{s}]:depth"] for s in range(1, 9)
    ]
    assert fitted.sd == pytest.approx(np.std(slopes, ddof=1) * 36)


def verdict(finals: dict, arch: str = "plain", margin: float = DEFAULT_MARGIN):
    return degradation_verdict(cells_of(finals), arch, margin)


def test_one_seed_reports_the_penalty_and_its_direction_and_never_says_no_degradation():
    level = {("residual", d): [e] for d, e in ((20, 0.108), (32, 0.111), (44, 0.115), (56, 0.117))}
    found = verdict(level, "residual")
    assert found.outcome == Outcome.UNTESTED and found.interval is None
    assert found.headline.startswith("untested with one seed, +0.9 points from depth 20 to 56")
    assert "(deeper worse)" in found.headline and "2 or more seeds" in found.headline
    assert "no degradation" not in found.sentence
    assert found.trend_p == pytest.approx(1 / 24)  # a perfect order, yet under a point in all
    assert found.paired_p is None and "paired" not in found.details


def interval_finals(center: float, half_spread: float, arch: str = "residual") -> dict:
    """Three seeds whose per-seed penalties are center - s, center, center + s (points)."""
    penalties = [center - half_spread, center, center + half_spread]
    return {
        (arch, 20): [0.10, 0.10, 0.10],
        (arch, 56): [0.10 + p / 100 for p in penalties],
    }


# (mean penalty, spread) -> the words: the interval is mean ± 2.92 x spread / sqrt(3).
WORDS = [
    (5.0, 1.0, Outcome.DEGRADATION),  # +3.3 to +6.7
    (1.0, 0.3, Outcome.SMALL_PENALTY),  # +0.5 to +1.5
    (0.3, 0.6, Outcome.NO_DEGRADATION),  # -0.7 to +1.3
    (-1.0, 0.3, Outcome.DEEPER_IS_BETTER),  # -1.5 to -0.5
    (1.5, 1.0, Outcome.INCONCLUSIVE),  # -0.2 to +3.2
]


@pytest.mark.parametrize(("center", "spread", "words"), WORDS, ids=[w.name for *_, w in WORDS])
def test_the_interval_decides_the_words(center, spread, words):
    found = verdict(interval_finals(center, spread), "residual")
    assert found.outcome == words, found.headline
    assert found.headline.startswith(f"{words}, {center:+.1f} points from depth 20 to 56")
    assert "3 seeds)" in found.headline and len(found.headline) < 220


def test_noisy_seeds_near_the_margin_are_inconclusive_with_the_seeds_that_would_decide():
    noisy = {("plain", 20): [0.10, 0.14, 0.12], ("plain", 56): [0.12, 0.20, 0.15]}
    found = verdict(noisy)
    assert found.outcome == Outcome.INCONCLUSIVE
    assert f"about {found.seeds_needed} seeds in all would settle it (degradation," in (
        found.headline
    )
    assert "it straddles the 2-point margin" in found.headline
    # At that many seeds, with the same mean and spread, the lower bound clears the margin;
    # one seed fewer, it does not.
    penalties = [2.0, 6.0, 3.0]
    mean, sd = np.mean(penalties), np.std(penalties, ddof=1)
    for seeds, clears in ((found.seeds_needed, True), (found.seeds_needed - 1, False)):
        low = mean - stats.t.ppf(0.95, seeds - 1) * sd / np.sqrt(seeds)
        assert (low > 2) == clears
    noisier = {("plain", 20): [0.10, 0.20, 0.15], ("plain", 56): [0.12, 0.09, 0.30]}
    assert "not even 50 seeds would decide it" in verdict(noisier).headline


def test_the_margin_decides_what_an_interval_means():
    runs = {("plain", 20): [0.10, 0.11, 0.105], ("plain", 56): [0.14, 0.15, 0.145]}  # +4 points
    assert verdict(runs, margin=2.0).outcome == Outcome.DEGRADATION
    assert verdict(runs, margin=8.0).outcome == Outcome.SMALL_PENALTY
    assert "margin 8 points" in verdict(runs, margin=8.0).details
    runs[("plain", 56)] = [0.13, 0.16, 0.145]
    assert verdict(runs, margin=4.0).outcome == Outcome.INCONCLUSIVE


def test_a_seed_without_both_ends_is_left_out_of_the_penalty():
    cells = cells_of({("plain", 20): [0.10, 0.11, 0.12], ("plain", 56): [0.30, 0.31, 0.32]})
    cells = cells[~((cells["seed"] == 2) & (cells["depth"] == 56))]
    found = degradation_verdict(cells, "plain")
    assert found.penalty.seeds == (0, 1) and found.penalty.runs == 4


def paired_reference(cells: pd.DataFrame) -> tuple[float, float, float, float]:
    """(difference, lower, upper 95 % bound, two-sided p) of the per-seed differences of the
    two archs' penalties, by scipy's paired t-test."""
    span = cells["depth"].max() - cells["depth"].min()
    by_arch = {
        arch: [seed_penalty_of(seed, span) for _, seed in runs.groupby("seed")]
        for arch, runs in cells.groupby("arch")
    }
    test = stats.ttest_rel(by_arch["plain"], by_arch["residual"])
    low, high = test.confidence_interval(0.95)
    return float(np.mean(by_arch["plain"]) - np.mean(by_arch["residual"])), low, high, test.pvalue


def seed_penalty_of(runs: pd.DataFrame, span: float) -> float:
    slope = np.polyfit(runs["depth"], 100 * runs["train_error"], 1)[0]
    return float(slope * span)


def test_the_contrast_pairs_seeds_as_scipys_paired_t_test_does():
    cells = measured_runs(NINE_SEEDS, "all")
    found = contrast(cells)
    difference, low, high, p = paired_reference(cells)
    assert (found.difference, found.low, found.high, found.p) == pytest.approx(
        (difference, low, high, p)
    )
    assert found.seeds == 9 and found.dof == 8
    assert found.outcome == ContrastOutcome.LARGER
    # Pairing removes what a seed does to both archs: narrower than the unpaired interval.
    unpaired = stats.ttest_ind(
        *[
            [seed_penalty_of(s, 36) for _, s in cells[cells["arch"] == a].groupby("seed")]
            for a in ("plain", "residual")
        ],
        equal_var=False,
    ).confidence_interval(0.95)
    assert found.high - found.low < unpaired.high - unpaired.low


def contrast_of(plain_penalties: list[float], residual_penalties: list[float]):
    finals = {
        ("plain", 20): [0.10] * len(plain_penalties),
        ("plain", 56): [0.10 + p / 100 for p in plain_penalties],
        ("residual", 20): [0.10] * len(residual_penalties),
        ("residual", 56): [0.10 + p / 100 for p in residual_penalties],
    }
    return contrast(cells_of(finals))


CONTRASTS = [
    ([20.0, 22.0, 21.0], [0.0, 1.0, 0.5], ContrastOutcome.LARGER, "beyond the 2-point margin"),
    ([0.3, 0.5, 0.4], [0.1, 0.2, 0.1], ContrastOutcome.WITHIN, "no difference beyond"),
    ([1.0, 3.0, 2.0], [0.0, 0.1, 0.2], ContrastOutcome.INCONCLUSIVE, "straddles the 2-point"),
    ([0.0, 0.1, 0.2], [5.0, 6.0, 5.5], ContrastOutcome.SMALLER, "residual nets lose 5.4 points"),
    ([20.0], [0.4], ContrastOutcome.UNTESTED, "untested with one seed"),
]


@pytest.mark.parametrize(
    ("plain", "residual", "outcome", "words"), CONTRASTS, ids=[c[2].name for c in CONTRASTS]
)
def test_a_small_contrast_never_reads_like_a_large_one(plain, residual, outcome, words):
    found = contrast_of(plain, residual)
    assert found.outcome == outcome, found.sentence
    assert words in found.sentence


@pytest.mark.parametrize(
    ("residual_deep", "shown"),
    [(0.060, "shows both"), (0.100, "shows the left panel's result only")],
    ids=["deeper-residual-better", "residual-level"],
)
def test_the_verdict_says_which_half_of_figure_6_a_sweep_shows(residual_deep, shown):
    finals = {
        ("plain", 20): [0.10, 0.11, 0.105],
        ("plain", 56): [0.30, 0.31, 0.29],
        ("residual", 20): [0.100, 0.101, 0.099],
        ("residual", 56): [residual_deep, residual_deep + 0.001, residual_deep - 0.001],
    }
    found = [degradation_verdict(cells_of(finals), arch) for arch in ("plain", "residual")]
    line = figure6_halves(found)
    assert f"this sweep {shown}." in line
    assert "plain: degradation;" in line
    assert figure6_halves(found[:1]) is None  # one arch alone shows no half of the comparison


def test_figure_6_draws_plain_left_and_residual_right_training_dashed_and_test_solid():
    from analysis.figures import curves_figure

    rows = [
        {"arch": a, "depth": d, "seed": 0, "status": "finished", "run_id": f"{a}{d}", "step": s}
        | {"metric": m, "value": 0.5 / s}
        for a in ("residual", "plain")
        for d in (20, 56)
        for s in (10, 20)
        for m in ("train_error", "test_error")
    ]
    fig = curves_figure(pd.DataFrame(rows))
    left, right = fig.axes
    assert (left.get_title(), right.get_title()) == ("plain nets", "residual nets")
    for ax in (left, right):
        styles = sorted(line.get_linestyle() for line in ax.get_lines())
        assert styles == ["-", "-", "--", "--"]  # per depth: test solid, training dashed


DEFAULT_DESIGN_RUNS = [
    Path(__file__).parents[1] / "docs" / "quick-study" / "cells.csv",  # seeds 0-4
    Path(__file__).parents[1] / "docs" / "quick-study" / "seeds-20-24" / "cells.csv",
]


def test_the_default_designs_seed_sets_get_the_same_words():
    """The README's command on seeds 0-4 and on never-reported 20-24, and the nine measured
    seeds' one disjoint set of the design's size, cut to its two depths."""
    nine = measured_runs(NINE_SEEDS, "all")
    sets = [pd.read_csv(path) for path in DEFAULT_DESIGN_RUNS]
    sets.append(nine[nine["depth"].isin([20, 56]) & nine["seed"].isin(range(5))])
    words = []
    for runs in sets:
        plain, residual = (degradation_verdict(runs, arch) for arch in ("plain", "residual"))
        words.append((plain.outcome, residual.outcome, contrast(runs).outcome))
    assert (
        words[0]
        == words[1]
        == (
            Outcome.DEGRADATION,
            Outcome.INCONCLUSIVE,
            ContrastOutcome.LARGER,
        )
    )
    # At 360 iterations the same design decides on the first five of the nine seeds.
    assert words[2] == (Outcome.DEGRADATION, Outcome.NO_DEGRADATION, ContrastOutcome.LARGER)
