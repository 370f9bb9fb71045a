"""The summary table and the statistical verdict: is deeper worse?

The verdict tests the seeds' final *training* errors (the degradation problem is about fitting
the training set): Welch's t-test between the shallowest and the deepest net, one-sided (deeper
is worse), and Kendall's tau between depth and error over every run, a monotonic trend test
across all depths (tau-b, so runs of equal depth count as ties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
# He et al. 2016, Table 6: CIFAR-10 test error (%) of the residual nets (best of 5 runs).
PAPER_TABLE6 = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}
PAPER_DATASET = "cifar10"


def summary_table(cells: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Per (arch, depth): n finished seeds, final train and test error (%) mean and std, and
    how many cells are not finished; with the paper's Table 6 beside it on CIFAR-10."""
    rows = []
    for (arch, depth), group in cells.groupby(["arch", "depth"], sort=False):
        done = group[group["status"] == "finished"]
        row = {"arch": arch, "depth": int(depth), "n": len(done)}
        for metric in ("train_error", "test_error"):
            values = 100 * done[metric].astype(float)
            row[f"{metric}_mean"] = values.mean() if len(values) else np.nan
            row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
        row["not_finished"] = len(group) - len(done)
        if dataset == PAPER_DATASET:
            paper = PAPER_TABLE6.get(int(depth)) if arch == "residual" else None
            row["paper_test_error"] = paper if paper is not None else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["arch", "depth"], key=arch_order).reset_index(drop=True)


def arch_order(values: pd.Series) -> pd.Series:
    """Plain nets before residual ones; other columns sort as they are."""
    if values.name == "arch":
        return values.map(lambda a: (0 if "plain" in a else 1, a))
    return values


@dataclass
class Verdict:
    arch: str
    shallow: int
    deep: int
    shallow_errors: list[float]  # final train errors, %
    deep_errors: list[float]
    welch_p: float | None  # one-sided: deeper is worse
    better_p: float | None  # one-sided: deeper is better
    trend_tau: float | None
    trend_p: float | None  # one-sided: error rises with depth
    depths: list[int]
    conclusion: str
    sentence: str


def mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.1f} %" if values else "n/a"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f} %"


def format_p(p: float | None) -> str:
    if p is None or np.isnan(p):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.2g}"


def degradation_verdict(cells: pd.DataFrame, arch: str) -> Verdict | None:
    """The verdict for one arch, or None when it has fewer than two depths finished."""
    done = cells[(cells["arch"] == arch) & (cells["status"] == "finished")]
    depths = sorted(int(d) for d in done["depth"].unique())
    if len(depths) < 2:
        return None
    errors = {d: list(100 * done[done["depth"] == d]["train_error"].astype(float)) for d in depths}
    shallow, deep = depths[0], depths[-1]
    described = (
        f"{arch}-{deep} train error {mean_std(errors[deep])} vs {arch}-{shallow} "
        f"{mean_std(errors[shallow])}"
    )
    verdict = Verdict(arch, shallow, deep, errors[shallow], errors[deep], None, None, None, None,
                      depths, "", "")  # fmt: skip
    n_shallow, n_deep = len(errors[shallow]), len(errors[deep])
    if min(n_shallow, n_deep) < 2:
        verdict.conclusion = "no test possible"
        verdict.sentence = (
            f"{described}, with {min(n_shallow, n_deep)} seed at a depth: no test is possible "
            "(run more seeds, e.g. --seeds 0,1,2)."
        )
        return verdict
    return test_degradation(verdict, done, described, n_shallow, n_deep)


def test_degradation(verdict: Verdict, done: pd.DataFrame, described: str, n_a, n_b) -> Verdict:
    deep, shallow = verdict.deep_errors, verdict.shallow_errors
    verdict.welch_p = one_sided_welch(deep, shallow, "greater")
    verdict.better_p = one_sided_welch(deep, shallow, "less")
    trend = stats.kendalltau(done["depth"].astype(int), done["train_error"].astype(float),
                             alternative="greater")  # fmt: skip
    verdict.trend_tau, verdict.trend_p = float(trend.statistic), float(trend.pvalue)
    worse = verdict.welch_p < ALPHA and verdict.trend_p < ALPHA
    if worse:
        verdict.conclusion = "degradation reproduced"
    elif verdict.better_p < ALPHA:
        verdict.conclusion = "no degradation: the deeper net trains better"
    elif verdict.welch_p < ALPHA or verdict.trend_p < ALPHA:
        verdict.conclusion = "inconclusive: only one of the two tests finds degradation"
    else:
        verdict.conclusion = "no degradation detected"
    n = f"n = {n_a}" if n_a == n_b else f"n = {n_b} and {n_a}"
    depth_span = f"{verdict.depths[0]} to {verdict.depths[-1]}"
    verdict.sentence = (
        f"{described}, {n} seeds; Welch's t-test (one-sided, deeper worse) "
        f"p = {format_p(verdict.welch_p)}; Kendall's trend over depths {depth_span} "
        f"τ = {verdict.trend_tau:.2f}, p = {format_p(verdict.trend_p)}: {verdict.conclusion}."
    )
    return verdict


def one_sided_welch(a: list[float], b: list[float], alternative: str) -> float:
    """p of Welch's t-test that mean(a) is greater (or less) than mean(b). Two sets without any
    spread have no t statistic: then p is 0 or 1 by the sign of the difference."""
    if np.var(a) == 0 and np.var(b) == 0:
        diff = np.mean(a) - np.mean(b)
        return 0.0 if (diff > 0 if alternative == "greater" else diff < 0) else 1.0
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def verdicts(cells: pd.DataFrame) -> list[Verdict]:
    archs = sorted(cells["arch"].unique(), key=lambda a: (0 if "plain" in a else 1, a))
    return [v for arch in archs if (v := degradation_verdict(cells, arch)) is not None]
