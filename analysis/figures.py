"""The paper's figures, each a function from tidy frames to a matplotlib Figure.

Errors are drawn in %, iterations on the x-axis as in He et al. 2016. Where a cell has several
seeds, lines are the mean and the band spans the lowest to the highest seed.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.frames import arch_order, kinds
from analysis.stats import format_p, signed
from resnet.tracking.schema import Metric, best_metric

TRAIN_STYLE = {"linestyle": "--", "linewidth": 1.2}
EVAL_STYLE = {"linestyle": "-", "linewidth": 2.0}
BAND_ALPHA = 0.18


def depth_colours(depths) -> dict[int, tuple]:
    """One colour per depth, the same in every panel and figure (darker is deeper)."""
    depths = sorted({int(d) for d in depths})
    cmap = mpl.colormaps["viridis"]
    if len(depths) == 1:
        return {depths[0]: cmap(0.35)}
    return {d: cmap(0.85 * (len(depths) - 1 - i) / (len(depths) - 1)) for i, d in enumerate(depths)}


def legend(ax, **options) -> None:
    """A legend when the panel has labelled lines; else say that it has none."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", **options)
    else:
        ax.text(0.5, 0.5, "no finished runs", transform=ax.transAxes, ha="center", color="grey")


def spread(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max over seeds of each (arch, depth, metric, step), in %."""
    grouped = curves.groupby(["arch", "depth", "metric", "step"])["value"]
    return (100 * grouped.agg(["mean", "min", "max"])).reset_index()


def draw_curve(ax, points: pd.DataFrame, colour, style: dict, label: str | None) -> None:
    points = points.sort_values("step")
    ax.plot(points["step"], points["mean"], color=colour, label=label, **style)
    if (points["max"] > points["min"]).any():
        ax.fill_between(
            points["step"],
            points["min"],
            points["max"],
            color=colour,
            alpha=BAND_ALPHA,
            linewidth=0,
        )


def curves_figure(curves: pd.DataFrame, eval_metric: str = Metric.TEST_ERROR) -> Figure:
    """Figure 6: training error (dashed) and `eval_metric` (solid) against iterations, one panel
    per arch (plain left, residual right), one colour per depth, shared y-axis."""
    curves = curves[curves["status"] == "finished"]
    archs = arch_order(curves) or ["(no finished runs)"]
    fig = Figure(figsize=(5.2 * len(archs), 4.2), layout="constrained")
    axes = fig.subplots(1, len(archs), sharey=True, squeeze=False)[0]
    colours = depth_colours(curves["depth"]) if len(curves) else {}
    points = spread(curves)
    for ax, arch in zip(axes, archs, strict=True):
        for depth in sorted(colours):
            mine = points[(points["arch"] == arch) & (points["depth"] == depth)]
            if mine.empty:
                continue
            evaluated = mine[mine["metric"] == eval_metric]
            label = f"{arch}-{depth}"  # on the solid curve, or the dashed one when it is alone
            draw_curve(
                ax,
                mine[mine["metric"] == Metric.TRAIN_ERROR],
                colours[depth],
                TRAIN_STYLE,
                None if len(evaluated) else label,
            )
            draw_curve(ax, evaluated, colours[depth], EVAL_STYLE, label)
        ax.set_title(f"{arch} nets")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        legend(ax, loc="upper right")
    axes[0].set_ylabel(f"error (%)  — dashed: training, solid: {eval_label(eval_metric)}")
    return fig


def eval_label(metric: str) -> str:
    return {Metric.TEST_ERROR: "test", Metric.VAL_ERROR: "validation"}.get(metric, metric)


def shallow_deep_figure(curves: pd.DataFrame, arch: str = "plain", eval_metric=Metric.TEST_ERROR):
    """Figure 1: 20 against 56 layers of `arch` (else its shallowest against its deepest net),
    training error left, `eval_metric` right."""
    curves = curves[(curves["status"] == "finished") & (curves["arch"] == arch)]
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    depths = sorted(int(d) for d in curves["depth"].unique())
    chosen = [20, 56] if {20, 56} <= set(depths) else [depths[0], depths[-1]]
    colours = dict(zip(chosen, ["tab:orange", "tab:red"], strict=False))
    points = spread(curves)
    for ax, metric, title in zip(
        axes,
        (Metric.TRAIN_ERROR, eval_metric),
        ("training error", f"{eval_label(eval_metric)} error"),
        strict=True,
    ):
        for depth in chosen:
            mine = points[(points["depth"] == depth) & (points["metric"] == metric)]
            draw_curve(ax, mine, colours[depth], EVAL_STYLE, f"{depth}-layer")
        ax.set_title(f"{arch} nets: {title}")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        legend(ax)
    axes[0].set_ylabel("error (%)")
    return fig


def depth_figure(cells: pd.DataFrame, contrasted=None) -> Figure:
    """Final training and test error against depth, mean ± std over seeds: the deeper-is-worse
    curve of the plain nets against the residual nets, titled with the contrast's conclusion."""
    done = cells[cells["status"] == "finished"]
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    if contrasted is not None:
        fig.suptitle(contrast_title(contrasted), fontsize=10)
    axes = fig.subplots(1, 2)
    styles = {"plain": ("tab:red", "o"), "residual": ("tab:blue", "s")}
    for ax, metric, title in zip(
        axes,
        (Metric.TRAIN_ERROR, Metric.TEST_ERROR),
        ("final training error", "final test error"),
        strict=True,
    ):
        for arch in arch_order(done):
            values = 100 * done[done["arch"] == arch].groupby("depth")[metric].agg(["mean", "std"])
            colour, marker = styles.get(arch, (None, "^"))
            # A depth with one seed has no std: no bar, rather than a bar of zero width.
            ax.errorbar(
                values.index,
                values["mean"],
                yerr=values["std"],
                label=arch,
                color=colour,
                marker=marker,
                capsize=4,
            )
        ax.set_title(title)
        ax.set_xlabel("depth (layers)")
        ax.set_xticks(sorted(done["depth"].unique()))
        ax.grid(alpha=0.3)
        legend(ax)
    axes[0].set_ylabel("error (%), mean ± std over seeds")
    return fig


def tuning_figure(tuning: pd.DataFrame, trials: pd.DataFrame, params: dict[str, bool]) -> Figure:
    """One column per tuned param (`params`: sampled on a log scale?): its best value per
    (arch, depth) above, every trial's validation error against it below (failed and pruned
    trials left out)."""
    fig = Figure(figsize=(6 * len(params), 7.5), layout="constrained")
    axes = fig.subplots(2, len(params), squeeze=False)
    complete = trials[(trials["state"] == "COMPLETE") & trials[Metric.VAL_ERROR].notna()]
    colours = depth_colours(complete["depth"].dropna()) if len(complete) else {}
    for column, (name, log) in enumerate(params.items()):
        draw_best(axes[0, column], tuning, name, log)
        draw_trials(axes[1, column], complete, name, log, colours)
    if len(complete):
        axes[1, -1].legend(fontsize="x-small", ncol=2)
    return fig


def param_label(name: str) -> str:
    return name.replace("_", " ")


def draw_best(ax, tuning: pd.DataFrame, name: str, log: bool) -> None:
    """The best value of a param against depth, one line per arch."""
    for arch in arch_order(tuning):
        mine = tuning[tuning["arch"] == arch].sort_values("depth")
        ax.plot(mine["depth"], mine[best_metric(name)], marker="o", label=arch)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("depth (layers)")
    ax.set_title(f"best {param_label(name)}")
    ax.grid(alpha=0.3, which="both")
    legend(ax)


def draw_trials(ax, complete: pd.DataFrame, name: str, log: bool, colours: dict) -> None:
    """Each completed trial's validation error against its value of a param."""
    markers = {"plain": "o", "residual": "s"}
    for (arch, depth), mine in complete.groupby(["arch", "depth"]):
        ax.scatter(
            mine[name],
            100 * mine[Metric.VAL_ERROR],
            color=colours[int(depth)],
            marker=markers.get(arch, "^"),
            label=f"{arch}-{int(depth)}",
        )
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(param_label(name))
    ax.set_ylabel("trial validation error (%)")
    ax.grid(alpha=0.3, which="both")


def responses_figure(responses: pd.DataFrame) -> Figure:
    """Figure 7: the std of each 3x3 layer's response (after BN, before addition and ReLU),
    in layer order (top) and sorted by magnitude (bottom); mean over seeds."""
    fig = Figure(figsize=(9, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    colours = depth_colours(responses["depth"])
    nets = responses.groupby(["arch", "depth"], sort=False)
    residual = kinds(responses)
    for (arch, depth), mine in sorted(nets, key=lambda item: (residual[item[0][0]], item[0])):
        per_layer = mine.groupby("index")["std"].mean()
        style = "-" if residual[arch] else "--"  # plain nets dashed
        label = f"{arch}-{int(depth)}"
        colour = colours[int(depth)]
        top.plot(per_layer.index, per_layer.values, style, color=colour, label=label)
        ranked = np.sort(per_layer.values)[::-1]
        bottom.plot(np.arange(1, len(ranked) + 1), ranked, style, color=colour, label=label)
    top.set_xlabel("layer index (original order)")
    bottom.set_xlabel("layer index (sorted by magnitude)")
    for ax in (top, bottom):
        ax.set_ylabel("std of response")
        ax.grid(alpha=0.3)
    legend(top, ncol=2)
    return fig


def contrast_title(c) -> str:
    """Two lines: each arch's depth penalty, then the contrast's conclusion and p."""
    p = "" if c.p is None else f" ({format_p(c.p)}, two-sided)"
    return (
        f"training error from depth {c.shallow} to {c.deep}: {c.plain} {signed(c.plain_penalty)}"
        f", {c.residual} {signed(c.residual_penalty)} points\n{c.conclusion}{p}"
    )
