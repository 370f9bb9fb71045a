"""The picture of each tuning search: where its trials went, how they scored, which one won.

One panel per (arch, depth) study: the first tuned field across, the second up (with one tuned
field, the validation error up), both over the whole searched range, each completed trial a dot
coloured by its validation error (one scale for every panel), pruned or failed trials a grey
cross, the preset's own (untuned) values ringed and the chosen trial starred.
"""

from __future__ import annotations

import math

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure

from analysis.frames import arch_order
from resnet.tracking.schema import Metric

PANELS_PER_ROW = 4


def search_figure(
    trials: pd.DataFrame,
    tuning: pd.DataFrame,
    params: dict[str, bool],
    space: dict[str, tuple[float, float]],
) -> Figure:
    studies = ordered_studies(tuning)
    rows = math.ceil(len(studies) / PANELS_PER_ROW)
    columns = min(len(studies), PANELS_PER_ROW)
    fig = Figure(figsize=(4.2 * columns + 1, 3.8 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).flat
    scored = trials[trials[Metric.VAL_ERROR].notna()]
    norm = mpl.colors.Normalize(*error_range(scored))
    names = list(params)
    dots = None
    for ax, study in zip(axes, studies.itertuples(), strict=False):
        mine = trials[trials["study"] == study.study]
        dots = draw_study(ax, mine, study, names, norm) or dots
        scale_axes(ax, names, params, space)
    for ax in list(axes)[len(studies) :]:
        ax.set_visible(False)
    if dots is not None:
        fig.colorbar(dots, ax=fig.axes, label="trial validation error (%)", shrink=0.8)
    return fig


def ordered_studies(tuning: pd.DataFrame) -> pd.DataFrame:
    order = {arch: i for i, arch in enumerate(arch_order(tuning))}
    return tuning.assign(_order=tuning["arch"].map(order)).sort_values(["_order", "depth"])


def error_range(scored: pd.DataFrame) -> tuple[float, float]:
    if scored.empty:
        return 0.0, 100.0
    errors = 100 * scored[Metric.VAL_ERROR]
    return float(errors.min()), float(max(errors.max(), errors.min() + 1e-6))


def coordinates(frame: pd.DataFrame, names: list[str]) -> tuple[pd.Series, pd.Series]:
    """A trial's place: its first two tuned fields, or its one field and its error."""
    y = frame[names[1]] if len(names) >= 2 else 100 * frame[Metric.VAL_ERROR]
    return frame[names[0]], y


def draw_study(ax, mine: pd.DataFrame, study, names: list[str], norm):
    """One study's trials; the scatter of completed trials (for the colour bar), if any."""
    complete = mine[(mine["state"] == "COMPLETE") & mine[Metric.VAL_ERROR].notna()]
    other = mine[mine["state"] != "COMPLETE"]
    dots = None
    if len(complete):
        dots = ax.scatter(
            *coordinates(complete, names),
            c=100 * complete[Metric.VAL_ERROR],
            cmap="viridis",
            norm=norm,
            s=36,
            edgecolors="none",
            zorder=2,
        )
    if len(other) and (len(names) >= 2 or other[Metric.VAL_ERROR].notna().any()):
        ax.scatter(*coordinates(other, names), marker="x", color="grey", label="pruned or failed")
    untuned = mine[mine["untuned"]]
    if len(untuned):
        ax.scatter(
            *coordinates(untuned, names),
            s=160,
            facecolors="none",
            edgecolors="tab:red",
            linewidths=1.5,
            label="untuned (preset)",
            zorder=3,
        )
    chosen = mine[mine["number"] == study.best_trial]
    if len(chosen):
        ax.scatter(
            *coordinates(chosen, names),
            marker="*",
            s=260,
            color="tab:red",
            edgecolors="black",
            label="chosen",
            zorder=4,
        )
    ax.set_title(f"{study.arch}-{int(study.depth)}: {len(complete)} of {len(mine)} completed")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small", loc="best")
    return dots


def scale_axes(ax, names, params: dict[str, bool], space) -> None:
    """Log axes where the field was sampled on a log scale, spanning the searched range."""
    y_name = names[1] if len(names) >= 2 else None
    for name, axis in ((names[0], "x"), (y_name, "y")):
        if name is None:
            ax.set_ylabel("trial validation error (%)")
            continue
        if params[name]:
            getattr(ax, f"set_{axis}scale")("log")
        if name in space:
            low, high = space[name]
            pad = (high / low) ** 0.04 if params[name] else None
            margin = 0.04 * (high - low)
            limits = (low / pad, high * pad) if pad else (low - margin, high + margin)
            getattr(ax, f"set_{axis}lim")(*limits)
        getattr(ax, f"set_{axis}label")(name.replace("_", " "))
    ax.grid(alpha=0.3, which="both")
