"""The verdict's 90 % interval covers the true penalty about 90 % of the time, on runs simulated
with seed-level and run-level noise like the quick study's measured ones; the interval that
ignored the seeds (one line through every run) does not, which shows the check can fail."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.effects import fit_penalty

DEPTHS = np.array([20, 32, 44, 56])
SPAN = 36
TRUE_PENALTY = 0.5  # points, residual-like
# Standard deviations (points) that reproduce the nine measured seeds of the quick preset's
# residual nets: per-seed penalties spread by 1.02 and a seed's depths scatter about its line.
SEED_LEVEL = 0.5  # what a seed does to all its depths
SEED_SLOPE = 0.9  # what a seed does to the penalty
RUN_LEVEL = 0.45  # each run on its own
REPEATS = 2000
NOMINAL, TOLERANCE = 0.90, 0.025  # 3.7 binomial standard errors at 2000 repeats


def simulated_runs(rng: np.random.Generator, seeds: int):
    """(depths, errors %, seeds) of one simulated sweep."""
    level = rng.normal(0, SEED_LEVEL, seeds)[:, None]
    slope = (TRUE_PENALTY + rng.normal(0, SEED_SLOPE, seeds))[:, None] / SPAN
    errors = 10 + level + slope * (DEPTHS - 20) + rng.normal(0, RUN_LEVEL, (seeds, len(DEPTHS)))
    seed_ids = np.repeat(np.arange(seeds), len(DEPTHS))
    return np.tile(DEPTHS, seeds), errors.ravel(), seed_ids


def pooled_line_interval(depths, errors) -> tuple[float, float]:
    """The former interval: one least-squares line through every run, seeds ignored."""
    fit = sm.OLS(errors, sm.add_constant(depths.astype(float))).fit()
    half = stats.t.ppf(0.95, fit.df_resid) * fit.bse[1] * SPAN
    return fit.params[1] * SPAN - half, fit.params[1] * SPAN + half


def coverage(seeds: int, interval) -> float:
    rng = np.random.default_rng(seeds)
    hits = 0
    for _ in range(REPEATS):
        low, high = interval(*simulated_runs(rng, seeds))
        hits += low <= TRUE_PENALTY <= high
    return hits / REPEATS


@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_the_seed_blocked_interval_covers_as_promised(seeds):
    found = coverage(seeds, lambda d, e, s: fit_penalty(d, e, s).interval())
    assert abs(found - NOMINAL) < TOLERANCE, found


@pytest.mark.parametrize("seeds", [1, 2])
def test_the_interval_that_ignores_seeds_covers_too_rarely(seeds):
    found = coverage(seeds, lambda d, e, s: pooled_line_interval(d, e))
    assert found < NOMINAL - TOLERANCE, found  # 0.75 with one seed, 0.85 with two


def test_one_seed_carries_no_interval():
    depths, errors, seeds = simulated_runs(np.random.default_rng(0), 1)
    assert fit_penalty(depths, errors, seeds).interval() is None
