"""The summary table and the statistical verdict: is deeper worse, and by how much?

The verdict judges each arch by the size of its depth penalty (analysis/effects.py): the mean
of per-seed penalties (each seed's runs are a block), with a confidence interval, against a
margin fixed in the preset. The degradation problem is about fitting the training set, so the
final *training* errors are judged. A paired t-test between the shallowest and the deepest net
and Kendall's trend over every depth stay beside it as supporting figures.

The contrast is the paper's point: do plain nets lose more with depth than residual nets? The
difference of the two archs' penalties, paired seed by seed, tested and bounded two-sided and
judged against the same margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.effects import (
    ALPHA,
    DEFAULT_MARGIN,
    MOST_SEEDS,
    ContrastOutcome,
    Outcome,
    Penalty,
    fit_penalty,
    judge,
    judge_difference,
    outcome_at,
    paired_difference,
    seeds_to_decide,
)
from analysis.frames import arch_order
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
    penalty: Penalty | None = None  # per-seed penalties over the seeds with both ends
    outcome: Outcome | None = None
    seeds_needed: int | None = None  # seeds that would decide an inconclusive one
    headline: str = ""  # outcome, penalty and interval, in one short line
    details: str = ""  # the means, the per-seed penalties and the supporting tests
    paired_p: float | None = None  # supporting, one-sided: deepest worse than shallowest
    trend_tau: float | None = None  # supporting: Kendall's tau-b of error on depth
    trend_p: float | None = None  # one-sided: error rises with depth

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.penalty is None else self.penalty.interval()

    @property
    def sentence(self) -> str:
        return f"{self.headline}. {self.details}" if self.details else f"{self.headline}."


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


def runs_of(done: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depths, training errors in %, seeds) of finished runs."""
    depths = done["depth"].astype(int).to_numpy()
    seeds = done["seed"].astype(int).to_numpy()
    return depths, 100 * done[Metric.TRAIN_ERROR].astype(float).to_numpy(), seeds


def degradation_verdict(
    cells: pd.DataFrame, arch: str, margin: float = DEFAULT_MARGIN, earlier_look: str = ""
) -> Verdict | None:
    """The verdict for one arch, or None when fewer than two of its depths have a finished seed.
    `earlier_look`: the seeds ('0,1,2') of an inconclusive verdict on fewer of these runs, which
    makes this one a second look."""
    mine = cells[cells["arch"] == arch]
    done = finished_runs(mine)
    depths = sorted(int(d) for d in done["depth"].unique())
    if len(depths) < 2:
        return None
    depth, error, seed = runs_of(done)
    errors = {d: list(error[depth == d]) for d in depths}
    ends = errors[depths[0]], errors[depths[-1]]
    verdict = Verdict(arch, depths[0], depths[-1], depths, *ends, margin=margin)
    described = (
        f"{arch}-{depths[-1]} train error {mean_std(errors[depths[-1]])} vs {arch}-{depths[0]} "
        f"{mean_std(errors[depths[0]])}{unfinished_note(mine, done, depths)}"
    )
    lost = lost_ends(mine, depths)
    penalty = None if lost else fit_penalty(depth, error, seed)
    if penalty is None:
        # The penalty would span other depths or seeds than those asked for: conclude nothing.
        verdict.outcome = Outcome.INCONCLUSIVE
        why = f"no seed of {lost} finished" if lost else "no seed finished both ends"
        verdict.headline = f"inconclusive, {why}"
        verdict.details = f"{described}; the shallowest and the deepest net cannot be compared."
        return verdict
    verdict.penalty = penalty
    verdict.outcome = judge(penalty, margin)
    if verdict.outcome == Outcome.INCONCLUSIVE:
        verdict.seeds_needed = seeds_to_decide(penalty, margin)
    add_supporting_tests(verdict, done, depth, error)
    verdict.headline = headline(verdict)
    if earlier_look:
        verdict.headline += f"; a second look, after an inconclusive one at seeds {earlier_look}"
    verdict.details = (
        f"{described}; per-seed penalties {per_seed_text(penalty)}, margin {margin:g} points. "
        f"Supporting: {paired_text(verdict)}{trend_text(verdict, depth)}."
    )
    return verdict


def span_text(p: Penalty) -> str:
    return f"from depth {p.shallow} to {p.deep}"


def seeds_count(n: int, paired: bool = False) -> str:
    return f"{n} {'paired ' if paired else ''}seed" + ("s" if n != 1 else "")


def headline(v: Verdict) -> str:
    """'degradation, +21.7 points from depth 20 to 56 (90 % CI +20.3 to +23.1, 9 seeds)'."""
    p, margin = v.penalty, f"the {v.margin:g}-point margin"
    measured = f"{signed(p.estimate)} points {span_text(p)}"
    if v.outcome == Outcome.UNTESTED:
        direction = {1: "deeper worse", -1: "deeper better", 0: "level"}[int(np.sign(p.estimate))]
        return (
            f"untested with one seed, {measured} ({direction}); one seed has no seed-to-seed "
            "spread to test it with, 2 or more seeds (e.g. --seeds 0,1,2,3,4) test it"
        )
    low, high = v.interval
    interval = f"90 % CI {signed(low)} to {signed(high)}, {seeds_count(p.n)}"
    line = f"{v.outcome}, {measured} ({interval})"
    if v.outcome == Outcome.INCONCLUSIVE:
        more = f"not even {MOST_SEEDS} seeds would decide it at this spread"
        if v.seeds_needed is not None:
            leaning = outcome_at(p, v.seeds_needed, v.margin)
            more = f"about {v.seeds_needed} seeds in all would settle it ({leaning}, even odds)"
        return f"{line}: it straddles {margin}; {more}"
    return line


def per_seed_text(p: Penalty) -> str:
    values = ", ".join(signed(value) for value in p.per_seed)
    spread = "" if p.sd is None else f" (SD {p.sd:.2f})"
    return f"{values}{spread} over {seeds_count(p.n)}, {p.runs} runs"


def add_supporting_tests(
    verdict: Verdict, done: pd.DataFrame, depth: np.ndarray, error: np.ndarray
) -> None:
    """The paired t-test deepest vs shallowest (seeds with both) and Kendall's trend."""
    deep, shallow = ends_by_seed(done, verdict.deep), ends_by_seed(done, verdict.shallow)
    both = sorted(set(deep) & set(shallow))
    if len(both) >= 2:
        differences = [deep[s] - shallow[s] for s in both]
        verdict.paired_p = one_sided_p(differences)
    trend = stats.kendalltau(depth, error, alternative="greater")
    verdict.trend_tau, verdict.trend_p = float(trend.statistic), float(trend.pvalue)


def ends_by_seed(done: pd.DataFrame, depth: int) -> dict[int, float]:
    at = done[done["depth"].astype(int) == depth]
    errors = 100 * at[Metric.TRAIN_ERROR].astype(float)
    return dict(zip(at["seed"].astype(int), errors, strict=True))


def one_sided_p(differences: list[float]) -> float:
    """p of the paired t-test that the differences' mean is above 0; differences without any
    spread have no t statistic: then p is 0 or 1 by their sign."""
    mean = float(np.mean(differences))
    if np.ptp(differences) <= 1e-12 * (1 + abs(mean)):  # rounding apart: no spread
        return 0.0 if mean > 0 else 1.0
    return float(stats.ttest_1samp(differences, 0.0, alternative="greater").pvalue)


def paired_text(v: Verdict) -> str:
    if v.paired_p is None:
        return ""
    return f"paired t-test deepest vs shallowest (one-sided, deeper worse) {format_p(v.paired_p)}; "


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


def verdicts(
    cells: pd.DataFrame, margin: float = DEFAULT_MARGIN, earlier_looks: dict[str, str] | None = None
) -> list[Verdict]:
    looks = earlier_looks or {}
    found = [
        degradation_verdict(cells, arch, margin, looks.get(arch, "")) for arch in arch_order(cells)
    ]
    return [v for v in found if v is not None]


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
    margin: float = DEFAULT_MARGIN
    seeds: int = 0  # the seeds paired
    difference: float | None = None  # mean of the per-seed differences of penalties, points
    low: float | None = None  # its two-sided 95 % confidence interval
    high: float | None = None
    p: float | None = None  # two-sided: the two penalties differ
    dof: int | None = None
    outcome: ContrastOutcome | None = None
    conclusion: str = ""  # the outcome in words, for a figure's title
    sentence: str = ""  # outcome, difference and interval, in one short line


CONTRAST_PAIR = ("plain", "residual")


def contrast(
    cells: pd.DataFrame, pair: tuple[str, str] = CONTRAST_PAIR, margin: float = DEFAULT_MARGIN
) -> Contrast | None:
    """The plain-vs-residual contrast over the depths both archs have a finished run at, paired
    by seed, or None when there are fewer than two such depths or no seed has both archs' ends."""
    done = finished_runs(cells)
    done = done[done["arch"].isin(pair)]
    common = set.intersection(*(set(done[done["arch"] == a]["depth"].astype(int)) for a in pair))
    if len(common) < 2:
        return None
    done = done[done["depth"].astype(int).isin(common)]
    shallow, deep = min(common), max(common)
    fitted = [fit_penalty(*runs_of(done[done["arch"] == arch])) for arch in pair]
    if None in fitted:
        return None
    difference = paired_difference(*fitted)
    if difference is None:
        return None
    penalties = [depth_penalty(done[done["arch"] == arch], shallow, deep) for arch in pair]
    result = Contrast(*pair, shallow, deep, len(done), *penalties, margin=margin)
    result.seeds, result.difference = difference.n, difference.estimate
    result.outcome = judge_difference(difference, margin)
    if difference.se is not None:
        result.p, result.dof = difference.p, difference.dof
        result.low, result.high = difference.interval()
    return worded(result)


def depth_penalty(runs: pd.DataFrame, shallow: int, deep: int) -> float:
    """Mean training error (%) at the deepest depth minus that at the shallowest."""
    mean = 100 * runs.groupby(runs["depth"].astype(int))[Metric.TRAIN_ERROR].mean()
    return float(mean[deep] - mean[shallow])


def worded(c: Contrast) -> Contrast:
    more, less = (c.plain, c.residual) if c.difference >= 0 else (c.residual, c.plain)
    size = f"{abs(c.difference):.1f} points"
    margin = f"the {c.margin:g}-point margin"
    loses = f"{more} nets lose {size} more than {less} nets from depth {c.shallow} to {c.deep}"
    if c.outcome == ContrastOutcome.UNTESTED:
        c.conclusion = f"{more} nets lose {size} more (untested: one seed)"
        c.sentence = f"untested with one seed, {loses}; 2 or more seeds test it"
        return c
    interval = (
        f"95 % CI {signed(c.low)} to {signed(c.high)}, {format_p(c.p)}, "
        f"{seeds_count(c.seeds, paired=True)}"
    )
    if c.outcome in (ContrastOutcome.LARGER, ContrastOutcome.SMALLER):
        c.conclusion = f"{more} nets lose {size} more with depth, beyond {margin}"
        c.sentence = f"{loses} ({interval}), beyond {margin}"
    elif c.outcome == ContrastOutcome.WITHIN:
        c.conclusion = f"no difference beyond {margin}"
        c.sentence = (
            f"no difference beyond {margin}, {c.plain} {signed(c.difference)} points against "
            f"{c.residual} ({interval})"
        )
    else:
        c.conclusion = f"inconclusive: {signed(c.difference)} points, straddling {margin}"
        c.sentence = (
            f"inconclusive, {c.plain} {signed(c.difference)} points against {c.residual} "
            f"({interval}): the interval straddles {margin}"
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
