"""The verdict's 90 % interval covers the true penalty about 90 % of the time on simulated
runs (analysis/coverage.py); the interval that ignored the seeds does not, which shows the
check can fail."""

import numpy as np
import pytest

from analysis.coverage import (
    NOMINAL,
    coverage,
    per_seed_interval,
    pooled_line_interval,
    simulated_runs,
)

TOLERANCE = 0.025  # 3.7 binomial standard errors at 2000 repeats


@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_the_seed_blocked_interval_covers_as_promised(seeds):
    found = coverage(seeds, per_seed_interval)
    assert abs(found - NOMINAL) < TOLERANCE, found


@pytest.mark.parametrize("seeds", [1, 2])
def test_the_interval_that_ignores_seeds_covers_too_rarely(seeds):
    found = coverage(seeds, pooled_line_interval)
    assert found < NOMINAL - TOLERANCE, found


def test_one_seed_carries_no_interval():
    assert per_seed_interval(*simulated_runs(np.random.default_rng(0), 1)) is None
