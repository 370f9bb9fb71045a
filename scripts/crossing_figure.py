"""Where residual-56's training error drops below residual-20's for good, from one sweep's
curves: the iteration (of the mean over seeds, and of each seed), the plain nets' gap there, and
a figure of the four curves with it marked: the mean over seeds with the seeds' range shaded,
each seed's gap a thin line and its crossing a dotted one.

    python scripts/crossing_figure.py --experiment crossing-long --out docs/crossing

The curves are the logged training error (each point the mean over the iterations since the
last one), smoothed by a centred rolling mean of `--window` points before they are compared, so
that one noisy point does not make or break a crossing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.collect import collect
from resnet.tracking.schema import Metric

SHALLOW, DEEP = 20, 56


def smoothed(
    curves: pd.DataFrame, arch: str, depth: int, window: int, seed: int | None = None
) -> pd.Series:
    """The net's training error (%) by iteration, mean over its seeds (or one seed's), smoothed."""
    mine = curves[
        (curves["arch"] == arch)
        & (curves["depth"] == depth)
        & (curves["metric"] == Metric.TRAIN_ERROR)
        & ((curves["seed"] == seed) if seed is not None else True)
    ]
    by_step = mine.groupby("step")["value"].mean().sort_index() * 100
    return by_step.rolling(window, center=True, min_periods=1).mean()


def seed_band(
    curves: pd.DataFrame, arch: str, depth: int, window: int
) -> tuple[pd.Series, pd.Series]:
    """The lowest and the highest of the net's seeds' smoothed curves, iteration by iteration:
    the spread over seeds drawn around the mean."""
    seeds = sorted(curves.loc[curves["arch"] == arch, "seed"].dropna().unique())
    each = pd.DataFrame({int(s): smoothed(curves, arch, depth, window, int(s)) for s in seeds})
    return each.min(axis=1), each.max(axis=1)


def crossing(shallow: pd.Series, deep: pd.Series) -> int | None:
    """The first iteration from which the deep net stays below the shallow one to the end."""
    shallow, deep = shallow.align(deep, join="inner")  # the iterations both nets have logged
    below = deep < shallow
    if not below.iloc[-1]:
        return None
    above = below[~below]
    later = below.index[below.index > above.index[-1]] if len(above) else below.index
    return int(later[0])


def seed_rows(curves: pd.DataFrame, window: int) -> pd.DataFrame:
    """Per seed with all four nets: its crossing iteration (None: none) and both end gaps."""
    rows = []
    for seed in sorted(curves["seed"].dropna().unique()):
        nets = {
            (arch, depth): smoothed(curves, arch, depth, window, int(seed))
            for arch in ("plain", "residual")
            for depth in (SHALLOW, DEEP)
        }
        if any(curve.empty for curve in nets.values()):
            continue
        gap = {arch: nets[arch, DEEP] - nets[arch, SHALLOW] for arch in ("plain", "residual")}
        rows.append(
            {
                "seed": int(seed),
                "crossing": crossing(nets["residual", SHALLOW], nets["residual", DEEP]),
                "plain_gap_at_end": round(float(gap["plain"].iloc[-1]), 2),
                "residual_gap_at_end": round(float(gap["residual"].iloc[-1]), 2),
            }
        )
    return pd.DataFrame(rows)


def arch_gaps(curves: pd.DataFrame, arch: str, seeds, window: int) -> list[pd.Series]:
    """Each seed's smoothed deep-minus-shallow training error of `arch`, in points."""
    return [
        smoothed(curves, arch, DEEP, window, int(seed))
        - smoothed(curves, arch, SHALLOW, window, int(seed))
        for seed in seeds
    ]


def figure(
    nets: dict[tuple[str, int], pd.Series],
    at: int | None,
    epoch: float,
    seed_crossings: list[int] = (),
    bands: dict[tuple[str, int], tuple[pd.Series, pd.Series]] | None = None,
    seed_gaps: dict[str, list[pd.Series]] | None = None,
) -> Figure:
    """The four curves above (the mean over seeds, with the seeds' range shaded where there
    are several); below, each arch's deep-minus-shallow gap (each seed's thin), where a crossing
    is a sign change that the top panel's scale hides."""
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax, gaps = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    draw_curves(ax, nets, at, epoch, bands or {})
    for arch, each in (seed_gaps or {}).items():
        for gap in each:
            style = "--" if arch == "plain" else "-"
            gaps.plot(gap.index, gap.values, style, color="grey", lw=0.5, alpha=0.7)
    for i, seed_at in enumerate(seed_crossings):
        label = "a seed's crossing" if i == 0 else None
        gaps.axvline(seed_at, color="tab:blue", lw=0.8, ls=":", label=label)
    mean_gaps = []
    for arch, style in (("plain", "--"), ("residual", "-")):
        gap = nets[arch, DEEP] - nets[arch, SHALLOW]
        gaps.plot(gap.index, gap.values, style, color="black", label=f"{arch}: {DEEP} - {SHALLOW}")
        mean_gaps.append(gap)
    gaps.axhline(0, color="grey", lw=0.8)
    if at is not None:
        gaps.axvline(at, color="grey", lw=0.8)
    gaps.set_ylim(-3, gap_panel_top(mean_gaps))
    gaps.set_xlabel("iteration")
    gaps.set_ylabel("gap (points)")
    gaps.grid(alpha=0.3)
    gaps.legend(fontsize=8)
    return fig


def gap_panel_top(mean_gaps: list[pd.Series]) -> float:
    """Room for both mean gaps after their first quarter (the early transient would squash the
    residual gap's sign changes), and at least 8 points."""
    settled = [gap.iloc[len(gap) // 4 :].max() for gap in mean_gaps if len(gap)]
    return max(8.0, *(float(value) + 2 for value in settled if pd.notna(value)))


def draw_curves(
    ax,
    nets: dict[tuple[str, int], pd.Series],
    at: int | None,
    epoch: float,
    bands: dict[tuple[str, int], tuple[pd.Series, pd.Series]],
) -> None:
    colours = {SHALLOW: "tab:orange", DEEP: "tab:red"}
    for (arch, depth), curve in nets.items():
        style = "--" if arch == "plain" else "-"
        ax.plot(curve.index, curve.values, style, color=colours[depth], label=f"{arch}-{depth}")
        if (arch, depth) in bands:
            low, high = bands[arch, depth]
            ax.fill_between(low.index, low.values, high.values, color=colours[depth], alpha=0.15)
    if at is not None:
        ax.axvline(at, color="grey", lw=0.8)
        ax.annotate(
            f"residual-56 below residual-20\nfrom iteration {at} ({at / epoch:.1f} epochs)",
            (at, ax.get_ylim()[1] * 0.9),
            fontsize=8,
        )
    ax.set_ylabel("training error (%)")
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.legend()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", required=True)
    p.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    p.add_argument("--window", type=int, default=5, help="log points per rolling mean")
    p.add_argument("--epoch", type=float, default=10000 / 128, help="iterations per epoch")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    curves = collect(args.experiment, args.tracking_uri).curves
    nets = {
        (arch, depth): smoothed(curves, arch, depth, args.window)
        for arch in ("plain", "residual")
        for depth in (SHALLOW, DEEP)
    }
    at = crossing(nets["residual", SHALLOW], nets["residual", DEEP])
    seeds = seed_rows(curves, args.window)
    args.out.mkdir(parents=True, exist_ok=True)
    several = len(seeds) > 1
    seed_crossings = [int(c) for c in seeds["crossing"].dropna()] if several else []
    bands = {net: seed_band(curves, *net, args.window) for net in nets} if several else {}
    seed_gaps = (
        {
            arch: arch_gaps(curves, arch, seeds["seed"], args.window)
            for arch in ("plain", "residual")
        }
        if several
        else {}
    )
    drawn = figure(nets, at, args.epoch, seed_crossings, bands, seed_gaps)
    drawn.savefig(args.out / "crossing.png", dpi=120)
    seeds.to_csv(args.out / "crossings.csv", index=False)
    for row in seeds.itertuples():
        where = "none" if pd.isna(row.crossing) else f"iteration {int(row.crossing)}"
        print(f"seed {row.seed}: residual-56 below residual-20 for good from {where}")
    table = pd.DataFrame({f"{a}-{d}": c for (a, d), c in nets.items()}).round(2)
    table.to_csv(args.out / "curves.csv", index_label="iteration")
    plain_gap = nets["plain", DEEP] - nets["plain", SHALLOW]
    where = "never" if at is None else f"at iteration {at} ({at / args.epoch:.1f} epochs)"
    print(f"residual-56 below residual-20 for good: {where}")
    if at is not None:
        print(f"plain-56 - plain-20 there: {plain_gap.loc[at]:+.1f} points")
    print(
        f"at the end: plain {plain_gap.iloc[-1]:+.1f} points, residual "
        f"{(nets['residual', DEEP] - nets['residual', SHALLOW]).iloc[-1]:+.1f} points"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
