"""Depth penalties with confidence intervals, judged against a margin.

An arch's *depth penalty* is how many points of training error its deepest net loses against
its shallowest. It is estimated as the slope of a least-squares line of training error (%) on
depth, over every finished run of every depth, times the depth range. The line uses all depths,
so one seed a depth still gives an interval (the scatter around the line is the noise) from
three depths on; with several seeds the runs of each depth add to it. Where the error curves
(plain nets climb faster at the deep end), the scatter around the line grows and the interval
widens with it: a degradation call gets more cautious. A penalty that sits at the deepest net
alone is fitted a little low (0.9 of it with four even depths), which makes a no-degradation
call slightly bolder than the end-to-end difference would.

The verdict compares the interval with a margin δ (points) fixed before the runs:
degradation when the whole one-sided 95 % interval lies above +δ, *deeper is better* when it
lies below -δ, *no degradation* when the equivalence test (the upper one of two one-sided tests
at 5 %) puts it below +δ, and *inconclusive* otherwise. The interval shown, [low, high], is the
90 % two-sided one whose ends those one-sided tests use.

The contrast (plain penalty - residual penalty) adds the two penalties' variances, each from
its own arch's scatter (plain nets scatter far more across seeds than residual ones), with
Welch-Satterthwaite degrees of freedom; its p-value and its 95 % interval are both two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import statsmodels.api as sm
from scipy import stats

ALPHA = 0.05
# Points of training error. The paper's plain-56 trains several points worse than plain-20 and
# the quick study's plain nets lose 20-27 points, while one residual net's seeds spread by a
# point or two (std 0.3-1.7 in the quick study): a penalty below 2 points is the size of that
# noise, one above it a real loss of depth.
DEFAULT_MARGIN = 2.0
TINY = 1e-9  # a standard error this small (relative) is rounding: the runs lie on the line
MOST_SEEDS = 50  # the seeds-needed estimate gives up beyond this


class Outcome(StrEnum):
    DEGRADATION = "degradation"
    NO_DEGRADATION = "no degradation"
    DEEPER_IS_BETTER = "deeper is better"
    INCONCLUSIVE = "inconclusive"
    UNTESTED = "untested"


@dataclass(frozen=True)
class Penalty:
    """A fitted depth penalty: slope x (deepest - shallowest depth), in points."""

    estimate: float
    se: float | None  # its standard error; None without runs to spare for the scatter
    dof: int  # residual degrees of freedom of the fit
    runs: int
    depths: tuple[int, ...]

    @property
    def shallow(self) -> int:
        return self.depths[0]

    @property
    def deep(self) -> int:
        return self.depths[-1]

    def interval(self, alpha: float = ALPHA) -> tuple[float, float] | None:
        """The two-sided (1 - 2 alpha) interval, whose ends are one-sided (1 - alpha) bounds."""
        if self.se is None:
            return None
        half = float(stats.t.ppf(1 - alpha, self.dof)) * self.se
        return self.estimate - half, self.estimate + half


def fit_penalty(depths, errors) -> Penalty:
    """The least-squares depth penalty of runs at `depths` with training `errors` (%)."""
    x, y = np.asarray(depths, float), np.asarray(errors, float)
    levels = tuple(sorted(int(d) for d in set(x)))
    span = levels[-1] - levels[0]
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    dof = round(fit.df_resid)
    estimate = float(fit.params[1]) * span
    se = float(fit.bse[1]) * span if dof >= 1 else None
    if se is not None and se < TINY * (1 + abs(estimate)):
        se = 0.0
    return Penalty(estimate, se, dof, len(y), levels)


def judge(penalty: Penalty, margin: float, alpha: float = ALPHA) -> Outcome:
    bounds = penalty.interval(alpha)
    if bounds is None:
        return Outcome.UNTESTED
    low, high = bounds
    if low > margin:
        return Outcome.DEGRADATION
    if high < -margin:
        return Outcome.DEEPER_IS_BETTER
    if high < margin:
        return Outcome.NO_DEGRADATION
    return Outcome.INCONCLUSIVE


def seeds_to_decide(penalty: Penalty, margin: float, alpha: float = ALPHA) -> int | None:
    """How many seeds a depth would decide an inconclusive penalty if its estimate and the
    runs' scatter held as measured (about even odds, then: the estimate is as likely to come
    out lower as higher). The standard error shrinks as 1/sqrt(runs); None beyond MOST_SEEDS
    or without a standard error."""
    if penalty.se is None:
        return None
    depths = len(penalty.depths)
    for seeds in range(penalty.runs // depths + 1, MOST_SEEDS + 1):
        se = penalty.se * math.sqrt(penalty.runs / (seeds * depths))
        scaled = Penalty(penalty.estimate, se, seeds * depths - 2, seeds * depths, penalty.depths)
        if judge(scaled, margin, alpha) not in (Outcome.INCONCLUSIVE, Outcome.UNTESTED):
            return seeds
    return None


@dataclass(frozen=True)
class Difference:
    """Plain penalty - residual penalty, with a two-sided test and interval."""

    estimate: float
    se: float
    dof: float
    p: float  # two-sided: the penalties differ
    low: float  # two-sided 95 % interval
    high: float


def penalty_difference(first: Penalty, second: Penalty, alpha: float = ALPHA) -> Difference | None:
    """The difference of two independent penalties, each with its own variance, and Welch-
    Satterthwaite degrees of freedom; None when either has no standard error."""
    if first.se is None or second.se is None:
        return None
    estimate = first.estimate - second.estimate
    variance = first.se**2 + second.se**2
    if variance == 0:  # two perfectly straight lines: the difference is exact
        return Difference(estimate, 0.0, math.inf, float(estimate == 0), estimate, estimate)
    dof = variance**2 / (first.se**4 / first.dof + second.se**4 / second.dof)
    se = math.sqrt(variance)
    p = float(2 * stats.t.sf(abs(estimate) / se, dof))
    half = float(stats.t.ppf(1 - alpha / 2, dof)) * se
    return Difference(estimate, se, dof, p, estimate - half, estimate + half)
