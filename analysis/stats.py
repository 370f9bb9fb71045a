"""The summary table and the statistical verdict: is deeper worse, and by how much?

The verdict judges each arch by the size of its depth penalty (analysis/effects.py): the
fitted loss of training error from the shallowest to the deepest net, with a confidence
interval, against a margin fixed in the preset. The degradation problem is about fitting the
training set, so the final *training* errors are judged. Welch's t-test between the shallowest
and the deepest net and Kendall's trend over every depth stay beside it as supporting figures,
each said to be out of reach where the runs cannot give it (one seed, or too few depths).

The contrast is the paper's point: do plain nets lose more with depth than residual nets? The
difference of the two archs' fitted penalties, each with its own scatter (Welch-Satterthwaite),
tested and bounded two-sided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.collect import arch_order
from analysis.effects import (
    ALPHA,
    DEFAULT_MARGIN,
    MOST_SEEDS,
    Outcome,
    Penalty,
    fit_penalty,
    judge,
    penalty_difference,
    seeds_to_decide,
)
from resnet.tracking.schema import Metric

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
    rank = {arch: i for i, arch in enumerate(arch_order(cells))}
    order = sorted(range(len(table)), key=lambda i: (rank[rows[i]["arch"]], rows[i]["depth"]))
    return table.iloc[order].reset_index(drop=True)


@dataclass
class Verdict:
    arch: str
    shallow: int
    deep: int
    depths: list[int]
    shallow_errors: list[float]  # final train errors of the finished seeds, %
    deep_errors: list[float]
    margin: float = DEFAULT_MARGIN  # points of training error
    penalty: Penalty | None = None  # fitted over every finished run
    outcome: Outcome | None = None
    seeds_needed: int | None = None  # seeds a depth that would decide an inconclusive one
    conclusion: str = ""
    sentence: str = ""
    welch_p: float | None = None  # supporting, one-sided: deeper is worse
    trend_tau: float | None = None  # supporting: Kendall's tau-b of error on depth
    trend_p: float | None = None  # one-sided: error rises with depth

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.penalty is None else self.penalty.interval()


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


def runs_of(done: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(depths, training errors in %) of finished runs."""
    depths = done["depth"].astype(int).to_numpy()
    return depths, 100 * done[Metric.TRAIN_ERROR].astype(float).to_numpy()


def degradation_verdict(
    cells: pd.DataFrame, arch: str, margin: float = DEFAULT_MARGIN
) -> Verdict | None:
    """The verdict for one arch, or None when fewer than two of its depths have a finished seed."""
    mine = cells[cells["arch"] == arch]
    done = finished_runs(mine)
    depths = sorted(int(d) for d in done["depth"].unique())
    if len(depths) < 2:
        return None
    depth, error = runs_of(done)
    errors = {d: list(error[depth == d]) for d in depths}
    ends = errors[depths[0]], errors[depths[-1]]
    verdict = Verdict(arch, depths[0], depths[-1], depths, *ends, margin=margin)
    described = (
        f"{arch}-{depths[-1]} train error {mean_std(errors[depths[-1]])} vs {arch}-{depths[0]} "
        f"{mean_std(errors[depths[0]])}{unfinished_note(mine, done, depths)}"
    )
    lost = lost_ends(mine, depths)
    if lost:
        # The fit would span other depths than those asked for: say so, conclude nothing.
        verdict.outcome = Outcome.INCONCLUSIVE
        verdict.conclusion = f"inconclusive: no seed of {lost} finished"
        verdict.sentence = (
            f"{described}; {verdict.conclusion}, so the shallowest and the deepest net asked for "
            "cannot be compared."
        )
        return verdict
    verdict.penalty = fit_penalty(depth, error)
    verdict.outcome = judge(verdict.penalty, margin)
    if verdict.outcome == Outcome.INCONCLUSIVE:
        verdict.seeds_needed = seeds_to_decide(verdict.penalty, margin)
    add_supporting_tests(verdict, depth, error)
    verdict.conclusion = conclusion(verdict)
    verdict.sentence = (
        f"{described}, {seeds_text(errors)}; {penalty_text(verdict)}: {verdict.conclusion}. "
        f"Supporting tests: {welch_text(verdict)}; {trend_text(verdict, depth)}."
    )
    return verdict


def seeds_text(errors: dict[int, list[float]]) -> str:
    counts = sorted({len(values) for values in errors.values()})
    if counts == [1]:
        return "one seed"
    if len(counts) == 1:
        return f"n = {counts[0]} seeds"
    return f"n = {counts[0]} to {counts[-1]} seeds"


def penalty_text(v: Verdict) -> str:
    """'depth penalty +27.1 points fitted over depths 20 to 56 (90 % CI +22.0 to +32.1, 12
    runs), margin 2 points'."""
    p, bounds = v.penalty, v.interval
    spread = "no interval: the runs leave no scatter to measure"
    if bounds is not None:
        spread = f"90 % CI {signed(bounds[0])} to {signed(bounds[1])}"
    return (
        f"depth penalty {signed(p.estimate)} points fitted over depths {p.shallow} to {p.deep} "
        f"({spread}, {p.runs} runs), margin {v.margin:g} points"
    )


def conclusion(v: Verdict) -> str:
    margin = f"the {v.margin:g}-point margin"
    if v.outcome == Outcome.DEGRADATION:
        return f"degradation: deeper nets train worse by more than {margin}"
    if v.outcome == Outcome.DEEPER_IS_BETTER:
        return f"deeper is better: deeper nets train better by more than {margin}"
    if v.outcome == Outcome.NO_DEGRADATION:
        return f"no degradation: the fitted depth penalty stays below {margin}"
    if v.outcome == Outcome.UNTESTED:
        return (
            f"untested: one run at each of two depths leaves no spread to test the "
            f"{signed(v.penalty.estimate)}-point penalty with; 2 or more seeds a depth (e.g. "
            "--seeds 0,1,2) or a third depth would test it"
        )
    if v.seeds_needed is None:
        more = f"not even {MOST_SEEDS} seeds a depth would decide it at the measured scatter"
    else:
        more = (
            f"about {v.seeds_needed} seeds a depth would decide it if the penalty and scatter "
            "held as measured"
        )
    return f"inconclusive: the interval straddles {margin}; {more}"


def add_supporting_tests(verdict: Verdict, depth: np.ndarray, error: np.ndarray) -> None:
    """Welch's t-test (deepest vs shallowest) and Kendall's trend, where each is possible."""
    deep, shallow = verdict.deep_errors, verdict.shallow_errors
    if min(len(deep), len(shallow)) >= 2:
        verdict.welch_p = one_sided_welch(deep, shallow, "greater")
    trend = stats.kendalltau(depth, error, alternative="greater")
    verdict.trend_tau, verdict.trend_p = float(trend.statistic), float(trend.pvalue)


def welch_text(v: Verdict) -> str:
    if v.welch_p is None:
        return "Welch's t-test needs 2 seeds at the shallowest and the deepest depth"
    return f"Welch's t-test, deepest vs shallowest (one-sided, deeper worse) {format_p(v.welch_p)}"


def trend_text(v: Verdict, depth: np.ndarray) -> str:
    if np.isnan(v.trend_tau):
        return "no Kendall trend test (every error is equal)"
    text = f"Kendall's trend over depths τ = {v.trend_tau:.2f}, {format_p(v.trend_p)}"
    if smallest_trend_p(depth) >= ALPHA:
        text += (
            f" (it cannot reach p < {ALPHA:g} with {len(depth)} runs at {len(set(depth))} depths)"
        )
    return text


def smallest_trend_p(depth: np.ndarray) -> float:
    """Kendall's one-sided p when every deeper run is worse: the best these depths can do."""
    ordered = np.sort(depth)
    return float(stats.kendalltau(ordered, np.arange(len(ordered)), alternative="greater").pvalue)


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


def one_sided_welch(a: list[float], b: list[float], alternative: str) -> float:
    """p of Welch's t-test that mean(a) is greater (or less) than mean(b). Two sets without any
    spread have no t statistic: then p is 0 or 1 by the sign of the difference."""
    if np.var(a) == 0 and np.var(b) == 0:
        diff = np.mean(a) - np.mean(b)
        return 0.0 if (diff > 0 if alternative == "greater" else diff < 0) else 1.0
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def verdicts(cells: pd.DataFrame, margin: float = DEFAULT_MARGIN) -> list[Verdict]:
    archs = arch_order(cells)
    return [v for arch in archs if (v := degradation_verdict(cells, arch, margin)) is not None]


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
    difference: float | None = None  # fitted penalties' difference, points
    low: float | None = None  # its two-sided 95 % confidence interval
    high: float | None = None
    p: float | None = None  # two-sided: the two penalties differ
    dof: float | None = None  # Welch-Satterthwaite degrees of freedom
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
    fitted = [fit_penalty(*runs_of(done[done["arch"] == arch])) for arch in pair]
    difference = penalty_difference(*fitted)
    if difference is not None:
        result.difference, result.p, result.dof = difference.estimate, difference.p, difference.dof
        result.low, result.high = difference.low, difference.high
    return worded(result)


def depth_penalty(runs: pd.DataFrame, shallow: int, deep: int) -> float:
    """Mean training error (%) at the deepest depth minus that at the shallowest."""
    mean = 100 * runs.groupby(runs["depth"].astype(int))[Metric.TRAIN_ERROR].mean()
    return float(mean[deep] - mean[shallow])


def worded(c: Contrast) -> Contrast:
    span = f"from depth {c.shallow} to {c.deep}"
    measured = (
        f"{c.plain} training error {signed(c.plain_penalty)} points {span}, {c.residual} "
        f"{signed(c.residual_penalty)}"
    )
    if c.p is None:
        c.conclusion = "no test possible"
        c.sentence = (
            f"{measured}; with {c.runs} runs no test is possible (each arch's line needs a "
            "third run, at another depth or seed, to measure its scatter)."
        )
        return c
    if c.p < ALPHA:
        more, less = (c.plain, c.residual) if c.difference > 0 else (c.residual, c.plain)
        c.conclusion = (
            f"the {more} nets' fitted depth penalty exceeds the {less} nets' by "
            f"{abs(c.difference):.1f} points"
        )
    else:
        c.conclusion = f"no difference shown between the {c.plain} and {c.residual} nets"
    c.sentence = (
        f"{measured}; fitted over every depth and run, the {c.plain} nets' penalty is "
        f"{signed(c.difference)} points against the {c.residual} nets' (95 % CI "
        f"{signed(c.low)} to {signed(c.high)}, two-sided {format_p(c.p)}, {c.runs} runs): "
        f"{c.conclusion}."
    )
    return c


def signed(points: float) -> str:
    """'+19.3', '-2.0'; never '-0.0' (adding 0.0 turns a rounded -0.0 into 0.0)."""
    return f"{round(points, 1) + 0.0:+.1f}"


def figure6_halves(found: list[Verdict], pair: tuple[str, str] = CONTRAST_PAIR) -> str | None:
    """Which of the two panels of He et al.'s Figure 6 that compare depths the verdicts show:
    the left one, deeper plain nets train worse (degradation); the middle one, deeper residual
    nets train better. None without both archs."""
    judged = {v.arch: v for v in found if v.outcome is not None}
    if not all(arch in judged for arch in pair):
        return None
    plain, residual = (judged[arch] for arch in pair)
    left = plain.outcome == Outcome.DEGRADATION
    middle = residual.outcome == Outcome.DEEPER_IS_BETTER
    shown = {(True, True): "shows both", (True, False): "shows the left panel's result only"}
    shown |= {(False, True): "shows the middle panel's result only"}
    shown |= {(False, False): "does not (yet) show either"}
    return (
        f"He et al.'s Figure 6 (left panel: deeper {plain.arch} nets train worse; middle "
        f"panel: deeper {residual.arch} nets train better): this sweep {shown[left, middle]}. "
        f"{plain.arch}: {plain.outcome}; {residual.arch}: {residual.outcome}."
    )
