"""The summary table and the statistical verdict: is deeper worse?

The verdict tests the seeds' final *training* errors (the degradation problem is about fitting
the training set): Welch's t-test between the shallowest and the deepest net, one-sided (deeper
is worse), and Kendall's tau between depth and error over every run, a monotonic trend test
across all depths (tau-b, so runs of equal depth count as ties). With one seed per depth only
the trend test is possible, and it is said so.

The contrast is the paper's point: do plain nets lose more with depth than residual nets? A
least-squares fit of training error on depth, with its own line for each arch, over every run;
the difference of the two slopes times the depth range is how many points more the plain nets'
depth penalty (deepest - shallowest) is, tested one-sided with its t statistic (the scatter
around the lines is the noise, so one seed per depth gives a test too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.collect import arch_key
from resnet.tracking.schema import Metric

ALPHA = 0.05
# He et al. 2016, Table 6: CIFAR-10 test error (%) of the residual nets. ResNet-110 is the best
# of 5 runs (mean 6.61 ± 0.16); the others are single runs.
PAPER_TABLE6 = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}
PAPER_DATASET = "cifar10"


def summary_table(cells: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Per (arch, depth): n finished seeds, final train and test error (%) mean and std, and
    how many cells are not finished; with the paper's Table 6 beside it on CIFAR-10."""
    rows = []
    for (arch, depth), group in cells.groupby(["arch", "depth"], sort=False):
        done = group[group["status"] == "finished"]
        row = {"arch": arch, "depth": int(depth), "n": len(done)}
        for metric in (Metric.TRAIN_ERROR, Metric.TEST_ERROR):
            values = 100 * done[metric].astype(float)
            row[f"{metric}_mean"] = values.mean() if len(values) else np.nan
            row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
        row["not_finished"] = len(group) - len(done)
        if dataset == PAPER_DATASET:
            paper = PAPER_TABLE6.get(int(depth)) if arch == "residual" else None
            row["paper_test_error"] = paper if paper is not None else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    order = sorted(range(len(table)), key=lambda i: (arch_key(rows[i]["arch"]), rows[i]["depth"]))
    return table.iloc[order].reset_index(drop=True)


@dataclass
class Verdict:
    arch: str
    shallow: int
    deep: int
    depths: list[int]
    shallow_errors: list[float]  # final train errors of the finished seeds, %
    deep_errors: list[float]
    conclusion: str = ""
    sentence: str = ""
    welch_p: float | None = None  # one-sided: deeper is worse
    better_p: float | None = None  # one-sided: deeper is better
    trend_tau: float | None = None
    trend_p: float | None = None  # one-sided: error rises with depth


def mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.1f} %" if values else "n/a"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f} %"


def format_p(p: float | None) -> str:
    """'p = 0.031', 'p < 0.0001' or 'p n/a'."""
    if p is None or np.isnan(p):
        return "p n/a"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"


def finished_runs(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[(cells["status"] == "finished") & cells[Metric.TRAIN_ERROR].notna()]


def degradation_verdict(cells: pd.DataFrame, arch: str) -> Verdict | None:
    """The verdict for one arch, or None when fewer than two of its depths have a finished seed."""
    mine = cells[cells["arch"] == arch]
    done = finished_runs(mine)
    depths = sorted(int(d) for d in done["depth"].unique())
    if len(depths) < 2:
        return None
    train_errors = 100 * done[Metric.TRAIN_ERROR].astype(float)
    errors = {d: list(train_errors[done["depth"] == d]) for d in depths}
    shallow, deep = depths[0], depths[-1]
    verdict = Verdict(
        arch=arch,
        shallow=shallow,
        deep=deep,
        depths=depths,
        shallow_errors=errors[shallow],
        deep_errors=errors[deep],
    )
    described = (
        f"{arch}-{deep} train error {mean_std(errors[deep])} vs {arch}-{shallow} "
        f"{mean_std(errors[shallow])}{unfinished_note(mine, done, depths)}"
    )
    lost = lost_ends(mine, depths)
    if lost:
        # The tests would compare other depths than those asked for: say so, conclude nothing.
        verdict.conclusion = f"inconclusive: no seed of {lost} finished"
        verdict.sentence = (
            f"{described}; {verdict.conclusion}, so the shallowest and the deepest net asked for "
            "cannot be compared."
        )
        return verdict
    fewest = min(len(errors[shallow]), len(errors[deep]))
    if fewest < 2:
        return with_trend_only(verdict, done, described)
    return with_tests(verdict, done, described)


def with_trend_only(verdict: Verdict, done: pd.DataFrame, described: str) -> Verdict:
    """One seed at the shallowest or deepest depth: no t-test, the trend over depths alone.
    Four depths of one seed each can reach p = 1/24 when every step in depth is worse."""
    depth, error = done["depth"].astype(int), done[Metric.TRAIN_ERROR].astype(float)
    rises = stats.kendalltau(depth, error, alternative="greater")
    falls = stats.kendalltau(depth, error, alternative="less")
    verdict.trend_tau, verdict.trend_p = float(rises.statistic), float(rises.pvalue)
    if verdict.trend_p < ALPHA:
        verdict.conclusion = "degradation shown by the trend over depths (one seed)"
    elif float(falls.pvalue) < ALPHA:
        verdict.conclusion = "no degradation: the deeper nets train better (one seed)"
    else:
        verdict.conclusion = "no degradation shown (one seed)"
    verdict.sentence = (
        f"{described}, one seed; Kendall's trend over depths {verdict.depths[0]} to "
        f"{verdict.depths[-1]} {trend_text(verdict)} (Welch's t-test needs 2 seeds a depth): "
        f"{verdict.conclusion}."
    )
    return verdict


def lost_ends(mine: pd.DataFrame, finished_depths: list[int]) -> str:
    """'plain-56' (or 'plain-20 and plain-56') when the shallowest or the deepest depth asked
    for has no finished seed, else ''."""
    asked = sorted(int(d) for d in mine["depth"].dropna().unique())
    ends = sorted({asked[0], asked[-1]} - set(finished_depths))
    return " and ".join(f"{mine['arch'].iloc[0]}-{d}" for d in ends)


def unfinished_note(mine: pd.DataFrame, done: pd.DataFrame, depths: list[int]) -> str:
    """' (plain-56: 2 of 3 seeds finished)' for depths with unfinished seeds, else ''."""
    parts = []
    for depth in depths:
        asked, finished = (mine["depth"] == depth).sum(), (done["depth"] == depth).sum()
        if finished < asked:
            parts.append(f"{mine['arch'].iloc[0]}-{depth}: {finished} of {asked} seeds finished")
    missing = sorted(set(int(d) for d in mine["depth"].dropna()) - set(depths))
    parts += [f"{mine['arch'].iloc[0]}-{d}: no seed finished" for d in missing]
    return f" ({'; '.join(parts)})" if parts else ""


def with_tests(verdict: Verdict, done: pd.DataFrame, described: str) -> Verdict:
    """The two tests, the conclusion and the sentence, for at least 2 seeds at either end."""
    deep, shallow = verdict.deep_errors, verdict.shallow_errors
    verdict.welch_p = one_sided_welch(deep, shallow, "greater")
    verdict.better_p = one_sided_welch(deep, shallow, "less")
    trend = stats.kendalltau(
        done["depth"].astype(int), done[Metric.TRAIN_ERROR].astype(float), alternative="greater"
    )
    verdict.trend_tau, verdict.trend_p = float(trend.statistic), float(trend.pvalue)
    verdict.conclusion = conclusion(verdict)
    n_deep, n_shallow = len(deep), len(shallow)
    n = f"n = {n_deep}" if n_deep == n_shallow else f"n = {n_deep} and {n_shallow}"
    verdict.sentence = (
        f"{described}, {n} seeds; Welch's t-test (one-sided, deeper worse) "
        f"{format_p(verdict.welch_p)}; Kendall's trend over depths {verdict.depths[0]} to "
        f"{verdict.depths[-1]} {trend_text(verdict)}: {verdict.conclusion}."
    )
    return verdict


def trend_text(verdict: Verdict) -> str:
    if np.isnan(verdict.trend_tau):
        return "no trend test (every error is equal)"
    return f"τ = {verdict.trend_tau:.2f}, {format_p(verdict.trend_p)}"


def conclusion(v: Verdict) -> str:
    trend_p = 1.0 if v.trend_p is None or np.isnan(v.trend_p) else v.trend_p
    if v.welch_p < ALPHA and trend_p < ALPHA:
        return "degradation reproduced"
    if v.better_p < ALPHA:
        p = format_p(v.better_p)
        return f"no degradation: the deeper net trains better (one-sided {p})"
    if v.welch_p < ALPHA or trend_p < ALPHA:
        return "inconclusive: only one of the two tests finds degradation"
    return "no degradation detected"


def one_sided_welch(a: list[float], b: list[float], alternative: str) -> float:
    """p of Welch's t-test that mean(a) is greater (or less) than mean(b). Two sets without any
    spread have no t statistic: then p is 0 or 1 by the sign of the difference."""
    if np.var(a) == 0 and np.var(b) == 0:
        diff = np.mean(a) - np.mean(b)
        return 0.0 if (diff > 0 if alternative == "greater" else diff < 0) else 1.0
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def verdicts(cells: pd.DataFrame) -> list[Verdict]:
    archs = sorted(cells["arch"].unique(), key=arch_key)
    return [v for arch in archs if (v := degradation_verdict(cells, arch)) is not None]


@dataclass
class Contrast:
    """How much more the plain nets' training error grows with depth than the residual nets'."""

    plain: str
    residual: str
    shallow: int
    deep: int
    runs: int
    plain_penalty: float  # mean at the deepest - mean at the shallowest depth, points
    residual_penalty: float
    difference: float | None = None  # fitted: slope difference x depth range, points
    low: float | None = None  # 95 % confidence interval of `difference`
    high: float | None = None
    p: float | None = None  # one-sided: the plain nets' penalty is larger
    conclusion: str = ""
    sentence: str = ""


CONTRAST_PAIR = ("plain", "residual")


def contrast(cells: pd.DataFrame, pair: tuple[str, str] = CONTRAST_PAIR) -> Contrast | None:
    """The plain-vs-residual contrast over the depths both archs have a finished run at, or
    None when there are fewer than two such depths."""
    done = finished_runs(cells)
    done = done[done["arch"].isin(pair)]
    common = set.intersection(*(set(done[done["arch"] == a]["depth"].astype(int)) for a in pair))
    if len(common) < 2:
        return None
    done = done[done["depth"].astype(int).isin(common)]
    shallow, deep = min(common), max(common)
    penalties = [depth_penalty(done[done["arch"] == arch], shallow, deep) for arch in pair]
    result = Contrast(*pair, shallow, deep, len(done), *penalties)
    fit = slope_difference(done, pair)
    if fit is not None:
        estimate, error, dof = fit
        span = deep - shallow
        half_width = stats.t.ppf(1 - ALPHA / 2, dof) * error * span
        result.difference, result.p = estimate * span, float(stats.t.sf(estimate / error, dof))
        result.low, result.high = result.difference - half_width, result.difference + half_width
    return worded(result)


def depth_penalty(runs: pd.DataFrame, shallow: int, deep: int) -> float:
    """Mean training error (%) at the deepest depth minus that at the shallowest."""
    mean = 100 * runs.groupby(runs["depth"].astype(int))[Metric.TRAIN_ERROR].mean()
    return float(mean[deep] - mean[shallow])


def slope_difference(runs: pd.DataFrame, pair: tuple[str, str]):
    """(slope of the first arch - slope of the second, its standard error, degrees of
    freedom) of training error (%) on depth, one line per arch; None without spare runs.
    Perfectly straight lines (no scatter) give no test either."""
    slopes, inverse_sxx, squares = [], 0.0, 0.0
    for arch in pair:
        mine = runs[runs["arch"] == arch]
        x = mine["depth"].astype(float).to_numpy()
        y = 100 * mine[Metric.TRAIN_ERROR].astype(float).to_numpy()
        sxx = float(np.sum((x - x.mean()) ** 2))
        slope = float(np.sum((x - x.mean()) * (y - y.mean())) / sxx)
        slopes.append(slope)
        inverse_sxx += 1 / sxx
        squares += float(np.sum((y - y.mean() - slope * (x - x.mean())) ** 2))
    dof = len(runs) - 2 * len(pair)
    if dof < 1 or squares == 0:
        return None
    return slopes[0] - slopes[1], float(np.sqrt(squares / dof * inverse_sxx)), dof


def worded(c: Contrast) -> Contrast:
    span = f"from depth {c.shallow} to {c.deep}"
    measured = (
        f"{c.plain} training error {signed(c.plain_penalty)} points {span}, {c.residual} "
        f"{signed(c.residual_penalty)}"
    )
    if c.p is None:
        c.conclusion = "no test possible"
        c.sentence = (
            f"{measured}; with {c.runs} runs no test is possible (it needs more runs than the "
            "two lines' four parameters, and some scatter around them)."
        )
        return c
    if c.p < ALPHA:
        c.conclusion = (
            f"deeper {c.plain} nets degrade by {c.difference:.1f} points more than deeper "
            f"{c.residual} nets"
        )
    else:
        c.conclusion = f"no difference shown between the {c.plain} and {c.residual} nets"
    c.sentence = (
        f"{measured}; fitted over every depth and run, the {c.plain} nets' penalty is "
        f"{c.difference:.1f} points larger (95 % CI {c.low:.1f} to {c.high:.1f}, one-sided "
        f"{format_p(c.p)}, {c.runs} runs): {c.conclusion}."
    )
    return c


def signed(points: float) -> str:
    """'+19.3', '-2.0'; never '-0.0' (adding 0.0 turns a rounded -0.0 into 0.0)."""
    return f"{round(points, 1) + 0.0:+.1f}"
