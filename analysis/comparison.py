"""Several sweeps side by side: each one's verdict, its penalties with their intervals, and
which sweeps agree (its command line: `analysis.compare`).

A sweep is its finished cells: read from MLflow (an experiment's newest sweep, or a given sweep
run) or from a CSV export of them (a report's `cells.csv`, the committed runs under docs/).
Each is judged exactly as its own report judges it (analysis/stats.py). Two sweeps *agree* on an
arch when their 90 % intervals of its depth penalty overlap, and on the contrast when their
95 % intervals overlap; with one seed a sweep has no interval and agrees or differs with none.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis.collect import CollectError, collect
from analysis.effects import DEFAULT_MARGIN
from analysis.frames import arch_order
from analysis.markdown import markdown_table
from analysis.net_change import net_changes
from analysis.sources import parse_source
from analysis.stats import CONTRAST_PAIR, Contrast, Verdict, contrast, signed, verdicts
from resnet.tracking.address import resolve_tracking_uri
from resnet.tracking.schema import Metric

CSV_COLUMNS = {"arch", "depth", "seed", Metric.TRAIN_ERROR}


@dataclass(frozen=True)
class Sweep:
    label: str
    cells: pd.DataFrame  # finished cells: arch, depth, seed, train_error (a fraction), ...
    source: str  # where it was read from, as the user gave it

    @property
    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.cells["seed"].unique())


@dataclass(frozen=True)
class Judged:
    sweep: Sweep
    verdicts: dict[str, Verdict]  # by arch
    contrast: Contrast | None


def read_csv_sweep(path: Path, label: str | None) -> Sweep:
    """A CSV export of a sweep's cells; its finished ones (a file without a status column
    holds finished runs only)."""
    try:
        cells = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CollectError(f"{path}: cannot be read as CSV ({exc})") from None
    missing = CSV_COLUMNS - set(cells.columns)
    if missing:
        raise CollectError(
            f"{path}: not a sweep's cells (no {', '.join(sorted(missing))} column; a report's "
            "cells.csv has them)"
        )
    if "status" not in cells:
        cells = cells.assign(status="finished")
    cells = cells[cells["status"] == "finished"]
    return Sweep(label or path.parent.name or path.stem, cells.reset_index(drop=True), str(path))


def read_mlflow_sweep(spec: str, uri: str | None, label: str | None) -> Sweep:
    """EXPERIMENT (its newest sweep) or EXPERIMENT@SWEEP_RUN_ID, from the MLflow store."""
    experiment, _, run_id = spec.partition("@")
    study = collect(experiment, resolve_tracking_uri(uri), run_id or None)
    return Sweep(label or spec, study.finished.reset_index(drop=True), spec)


def read_sweep(text: str, uri: str | None) -> Sweep:
    """[LABEL=]SOURCE[#SEEDS], where SOURCE is a .csv file or an MLflow experiment."""
    source = parse_source(text)
    label = source.label or None
    if source.is_csv:
        sweep = read_csv_sweep(Path(source.spec), label)
    else:
        sweep = read_mlflow_sweep(source.spec, uri, label)
    return only_seeds(sweep, source.seeds, text) if source.seeds else sweep


def only_seeds(sweep: Sweep, seeds: tuple[int, ...], text: str) -> Sweep:
    kept = sweep.cells[sweep.cells["seed"].astype(int).isin(seeds)]
    missing = sorted(set(seeds) - {int(s) for s in kept["seed"]})
    if missing:
        raise CollectError(f"{text}: no finished run of seed {', '.join(map(str, missing))}")
    return Sweep(sweep.label, kept.reset_index(drop=True), text)


def judge(sweep: Sweep, margin: float) -> Judged:
    found = {v.arch: v for v in verdicts(sweep.cells, margin)}
    return Judged(sweep, found, contrast(sweep.cells, margin=margin))


def verdict_text(v: Verdict | None) -> str:
    if v is None or v.penalty is None:
        return "no verdict"
    if v.interval is None:
        return f"{signed(v.penalty.estimate)}: {v.outcome}"
    low, high = v.interval
    return f"{signed(v.penalty.estimate)} ({signed(low)} to {signed(high)}): {v.outcome}"


def contrast_text(c: Contrast | None) -> str:
    if c is None or c.difference is None:
        return "no contrast"
    if c.low is None:
        return f"{signed(c.difference)}: {c.outcome}"
    return f"{signed(c.difference)} ({signed(c.low)} to {signed(c.high)}): {c.outcome}"


def verdict_table(judged: list[Judged]) -> pd.DataFrame:
    rows = []
    for j in judged:
        row = {
            "sweep": j.sweep.label,
            "seeds": seeds_text(j.sweep.seeds),
            "runs": len(j.sweep.cells),
            **machine_columns(j.sweep.cells),
        }
        for arch in CONTRAST_PAIR:
            row[arch] = verdict_text(j.verdicts.get(arch))
        row["plain - residual (95 % CI)"] = contrast_text(j.contrast)
        rows.append(row)
    return pd.DataFrame(rows)


def net_change_table(judged: list[Judged]) -> pd.DataFrame:
    """Each net of every later sweep against the same net of the first, on the seeds both ran:
    the later minus the first final training error, seed by seed (a seed fixes the batch order
    and the initial weights of both), with a two-sided 90 % interval."""
    first = judged[0].sweep
    rows = []
    for j in judged[1:]:
        for change in net_changes(j.sweep.cells, first.cells):
            bounds = change.interval()
            rows.append(
                {
                    "sweep": j.sweep.label,
                    "net": f"{change.arch}-{change.depth}",
                    "paired seeds": change.change.n,
                    "first %": f"{change.first:.2f}",
                    "this %": f"{change.later:.2f}",
                    "change (points)": f"{change.change.estimate:+.2f}",
                    "90 % CI": f"{signed(bounds[0])} to {signed(bounds[1])}" if bounds else "",
                }
            )
    return pd.DataFrame(rows)


def machine_columns(cells: pd.DataFrame) -> dict[str, str]:
    """Where the sweep trained, as its runs recorded it (a CSV from before these columns, or
    written by hand, leaves them blank): the devices, the precisions and the nets' minutes."""

    def values(column: str) -> str:
        if column not in cells:
            return ""
        return ", ".join(sorted({str(v) for v in cells[column].dropna() if str(v)}))

    minutes = (
        pd.to_numeric(cells["run_minutes"], errors="coerce") if "run_minutes" in cells else None
    )
    total = "" if minutes is None or minutes.isna().all() else f"{minutes.sum():.1f}"
    return {"machine": values("device"), "precision": values("precision"), "net minutes": total}


def seeds_text(seeds: list[int]) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]} to {seeds[-1]}"
    return ", ".join(map(str, seeds))


def interval_of(j: Judged, what: str) -> tuple[float, float] | None:
    """A sweep's interval of an arch's penalty (90 %) or of the contrast (95 %)."""
    if what == "contrast":
        c = j.contrast
        return None if c is None or c.low is None else (c.low, c.high)
    v = j.verdicts.get(what)
    return None if v is None else v.interval


def agreement_lines(judged: list[Judged]) -> list[str]:
    """For each arch and the contrast: which pairs of sweeps agree (intervals overlap)."""
    lines = []
    for what in (*CONTRAST_PAIR, "contrast"):
        agree, differ, untested = [], [], []
        for a, b in combinations(judged, 2):
            first, second = interval_of(a, what), interval_of(b, what)
            pair = f"{a.sweep.label} and {b.sweep.label}"
            if first is None or second is None:
                untested.append(pair)
            elif first[0] <= second[1] and second[0] <= first[1]:
                agree.append(pair)
            else:
                differ.append(pair)
        name = "the plain - residual contrast" if what == "contrast" else f"{what} nets"
        parts = []
        if differ:
            parts.append(f"**differ** (intervals apart): {'; '.join(differ)}")
        if agree:
            parts.append(pairs_text("agree within their intervals", agree, bool(differ)))
        if untested:
            parts.append(pairs_text("cannot be compared (one seed, no interval)", untested, True))
        lines.append(f"- {name}: " + ". ".join(parts) + ".")
    return lines


LISTED_PAIRS = 6  # beyond this, pairs that agree or cannot be compared are counted, not named


def pairs_text(what: str, pairs: list[str], others_named: bool) -> str:
    if len(pairs) <= LISTED_PAIRS:
        return f"{what}: {'; '.join(pairs)}"
    rest = "the other " if others_named else ""
    return f"{rest}{len(pairs)} pairs {what}"


def forest_figure(judged: list[Judged]) -> Figure:
    """Each sweep's penalty per arch (90 %) and its contrast (95 %), with their intervals."""
    panels = (*CONTRAST_PAIR, "contrast")
    fig = Figure(figsize=(4 * len(panels), 0.5 * len(judged) + 2), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True)
    for ax, what in zip(axes, panels, strict=True):
        for row, j in enumerate(reversed(judged)):
            estimate = point_of(j, what)
            if estimate is None:
                continue
            bounds = interval_of(j, what)
            if bounds is not None:
                ax.plot(bounds, [row, row], color="tab:blue", lw=2)
            ax.plot([estimate], [row], "o", color="black" if bounds else "grey")
        ax.axvline(0, color="grey", lw=0.8)
        level = "95 %" if what == "contrast" else "90 %"
        ax.set_title(f"{'plain - residual' if what == 'contrast' else what} ({level})")
        ax.set_xlabel("points of training error, depth shallowest to deepest")
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(range(len(judged)), [j.sweep.label for j in reversed(judged)])
    return fig


def point_of(j: Judged, what: str) -> float | None:
    if what == "contrast":
        return None if j.contrast is None else j.contrast.difference
    v = j.verdicts.get(what)
    return None if v is None or v.penalty is None else v.penalty.estimate


def depth_figure(judged: list[Judged]) -> Figure:
    """Every sweep's mean final training error against depth, plain dashed, residual solid."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    colours = mpl_colours(len(judged))
    for j, colour in zip(judged, colours, strict=True):
        cells = j.sweep.cells
        for arch in arch_order(cells):
            mean = 100 * cells[cells["arch"] == arch].groupby("depth")[Metric.TRAIN_ERROR].mean()
            style = "--" if arch == "plain" else "-"
            ax.plot(
                mean.index,
                mean.values,
                style,
                marker="o",
                color=colour,
                label=f"{j.sweep.label}: {arch}",
            )
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("final training error (%), mean over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    return fig


def net_change_section(first: Judged, nets: pd.DataFrame) -> list[str]:
    if nets.empty:
        return []
    return [
        f"## Each net against {first.sweep.label}, paired by seed",
        "",
        f"Each later sweep's final training error minus {first.sweep.label}'s, on the seeds both "
        "ran, seed by seed, with a two-sided 90 % interval (one paired seed has none).",
        "",
        markdown_table(nets),
        "",
    ]


def mpl_colours(n: int) -> list:
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def compare(sources: list[str], uri: str | None, margin: float = DEFAULT_MARGIN) -> list[Judged]:
    return [judge(read_sweep(source, uri), margin) for source in sources]


def write_comparison(judged: list[Judged], out: Path, margin: float) -> Path:
    """report.md, table.csv and figures/ under `out`; the report's path."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    table, nets = verdict_table(judged), net_change_table(judged)
    table.to_csv(out / "table.csv", index=False)
    if not nets.empty:
        nets.to_csv(out / "nets.csv", index=False)
    forest_figure(judged).savefig(out / "figures" / "penalties.png", dpi=150)
    depth_figure(judged).savefig(out / "figures" / "error_vs_depth.png", dpi=150)
    sources = [f"- **{j.sweep.label}**: `{j.sweep.source}`" for j in judged]
    text = [
        "# Sweeps compared",
        "",
        *sources,
        "",
        f"Each judged as its own report judges it (margin {margin:g} points): the depth penalty "
        "per arch with its 90 % interval, the plain - residual contrast with its 95 % interval "
        "(docs/ANALYSIS.md).",
        "",
        markdown_table(table),
        "",
        "## Do they agree?",
        "",
        *agreement_lines(judged),
        "",
        *net_change_section(judged[0], nets),
        "## Figures",
        "",
        "![penalties](figures/penalties.png)",
        "",
        "![error against depth](figures/error_vs_depth.png)",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(text), encoding="utf-8")
    return path
