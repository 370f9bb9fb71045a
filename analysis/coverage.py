"""How often the verdict's 90 % interval covers a known penalty, on simulated runs with
seed-level and run-level noise sized like the quick study's measured ones; and, beside it, the
interval of one least-squares line through every run (the seeds ignored), which it replaced."""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm
from scipy import stats

from analysis.effects import fit_penalty

DEPTHS = np.array([20, 32, 44, 56])
SPAN = 36
TRUE_PENALTY = 0.5  # points, residual-like
# Standard deviations (points) that reproduce the nine measured seeds of the four-depth quick
# preset's residual nets: per-seed penalties spread by about 1 point, and a seed's depths
# scatter about its own line.
SEED_LEVEL = 0.5  # what a seed does to all its depths
SEED_SLOPE = 0.9  # what a seed does to the penalty
RUN_LEVEL = 0.45  # each run on its own
REPEATS = 2000
NOMINAL = 0.90


def simulated_runs(rng: np.random.Generator, seeds: int):
    """(depths, errors %, seeds) of one simulated sweep."""
    level = rng.normal(0, SEED_LEVEL, seeds)[:, None]
    slope = (TRUE_PENALTY + rng.normal(0, SEED_SLOPE, seeds))[:, None] / SPAN
    errors = 10 + level + slope * (DEPTHS - 20) + rng.normal(0, RUN_LEVEL, (seeds, len(DEPTHS)))
    seed_ids = np.repeat(np.arange(seeds), len(DEPTHS))
    return np.tile(DEPTHS, seeds), errors.ravel(), seed_ids


def per_seed_interval(depths, errors, seeds) -> tuple[float, float] | None:
    return fit_penalty(depths, errors, seeds).interval()


def pooled_line_interval(depths, errors, seeds) -> tuple[float, float]:
    """The former interval: one least-squares line through every run, seeds ignored."""
    fit = sm.OLS(errors, sm.add_constant(depths.astype(float))).fit()
    half = stats.t.ppf(0.95, fit.df_resid) * fit.bse[1] * SPAN
    return fit.params[1] * SPAN - half, fit.params[1] * SPAN + half


def coverage(seeds: int, interval) -> float:
    """The share of REPEATS simulated sweeps of `seeds` seeds whose interval holds the truth."""
    rng = np.random.default_rng(seeds)
    hits = 0
    for _ in range(REPEATS):
        low, high = interval(*simulated_runs(rng, seeds))
        hits += low <= TRUE_PENALTY <= high
    return hits / REPEATS
