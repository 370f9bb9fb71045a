"""A crossing study's report on its plan's seeds, made in one command from the sweep's store, so
that every number in it comes from the runs:

    .venv/bin/python scripts/crossing_report.py --study crossing-study
    .venv/bin/python scripts/crossing_report.py --study crossing-short-study

(their plans: docs/crossing/PLAN.md and docs/crossing/short/PLAN.md, as STUDIES names them)

1. `analysis.report` on the sweep: report.md, cells.csv, table.csv and figures in
   docs/<study>/ (the plan's seeds, its pre-registered verdicts);
2. scripts/crossing_figure.py on the same runs: the four nets over the seeds with each seed's
   crossing (crossing.png, crossings.csv, curves.csv);
3. seeds.md: every seed's final training and test errors and penalties, the pre-registered
   verdicts and whether each shows its half of the figure by the plan's test, and beside them,
   marked as not pre-registered, the verdicts with the study's earlier runs (if any) added;
4. net-times.csv: each net's training time, from its logged steps' timestamps (pauses of over
   PAUSE_SECONDS between two log points, a stopped and resumed run's, left out), with the CPU,
   the precision, the threads and whether it was compiled.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlflow import MlflowClient  # noqa: E402

from analysis.comparison import contrast_text, verdict_text  # noqa: E402
from analysis.effects import Outcome  # noqa: E402
from analysis.markdown import markdown_table  # noqa: E402
from analysis.stats import contrast, degradation_verdict  # noqa: E402
from resnet.tracking.schema import Metric, Param, Tag  # noqa: E402

MARGIN = 2.0
PAUSE_SECONDS = 300  # log points are seconds apart; a gap this long is a stop, not training
SHALLOW, DEEP = 20, 56
EPOCH = 55_000 / 128  # iterations an epoch: 55k training images, batch 128


@dataclass(frozen=True)
class Study:
    """A crossing study as its plan fixed it, before its runs."""

    title: str
    plan: str  # the plan's path in the repository
    seeds: tuple[int, ...]  # the plan's seeds: the only ones its test judges
    plain_shown: frozenset[Outcome]  # the plain verdicts that show the left panel
    earlier: str | None = None  # cells.csv of runs reported beside, never tested
    earlier_why: str = ""
    times: str | None = None  # the sweep commands' wall times (scripts/timed_sweep.py)
    budget_minutes: float | None = None  # the plan's time test: wall minutes a seed
    # The residual verdict that shows the middle panel; both plans: the interval below zero.
    residual_shown: frozenset[Outcome] = frozenset({Outcome.DEEPER_IS_BETTER})

    def __post_init__(self) -> None:
        if (self.times is None) != (self.budget_minutes is None):
            raise ValueError(f"{self.title}: a time test needs both its times and its budget")


STUDIES = {
    "crossing-study": Study(
        title="The crossing preset",
        plan="docs/crossing/PLAN.md",
        seeds=(1, 2, 3, 4),
        plain_shown=frozenset({Outcome.DEGRADATION}),
        earlier="docs/crossing-study-seed-0/cells.csv",
        earlier_why="Seed 0 was seen before the preset's length was chosen; these lines add it.",
    ),
    "crossing-short-study": Study(
        title="The short crossing",
        plan="docs/crossing/short/PLAN.md",
        seeds=(5, 6, 7, 8, 9),
        plain_shown=frozenset({Outcome.DEGRADATION, Outcome.SMALL_PENALTY}),
        times="docs/crossing/short/times.csv",
        budget_minutes=20.0,
    ),
}


def run(command: list[str]) -> None:
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def seed_table(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per seed: the four nets' final training and test errors and both penalties."""
    done = cells[cells["status"] == "finished"]
    rows = []
    for seed in sorted(done["seed"].unique()):
        mine = done[done["seed"] == seed].set_index(["arch", "depth"])
        row: dict = {"seed": int(seed)}
        for arch in ("plain", "residual"):
            for depth in (SHALLOW, DEEP):
                found = (arch, depth) in mine.index
                train = 100 * mine.loc[(arch, depth), Metric.TRAIN_ERROR] if found else None
                test = 100 * mine.loc[(arch, depth), Metric.TEST_ERROR] if found else None
                row[f"{arch}-{depth} train %"] = train
                row[f"{arch}-{depth} test %"] = test
            ends = [row[f"{arch}-{d} train %"] for d in (DEEP, SHALLOW)]
            row[f"{arch} {DEEP}-{SHALLOW}"] = None if None in ends else ends[0] - ends[1]
        rows.append(row)
    return pd.DataFrame(rows).round(2)


def verdict_lines(cells: pd.DataFrame) -> list[str]:
    said = [
        f"- **{arch}**: {verdict_text(degradation_verdict(cells, arch, MARGIN))}"
        for arch in ("plain", "residual")
    ]
    return [*said, f"- **plain vs residual**: {contrast_text(contrast(cells, margin=MARGIN))}"]


def shown_lines(cells: pd.DataFrame, study: Study) -> list[str]:
    """Whether each half of Figure 6 is shown, by the plan's own test."""
    halves = (
        ("plain", "the left panel (plain nets degrade)", study.plain_shown),
        ("residual", "the middle panel (deeper residual nets train better)", study.residual_shown),
    )
    lines = []
    for arch, half, shown in halves:
        verdict = degradation_verdict(cells, arch, MARGIN)
        said = "yes" if verdict is not None and verdict.outcome in shown else "no"
        lines.append(f"- {half} shown by the plan's test: **{said}**")
    return lines


def seeds_text(seeds) -> str:
    return ", ".join(str(int(s)) for s in sorted(seeds))


def active_minutes(client: MlflowClient, run_id: str) -> float:
    """Minutes between the run's training-error log points, gaps over PAUSE_SECONDS left out."""
    history = client.get_metric_history(run_id, Metric.TRAIN_ERROR)
    stamps = sorted(point.timestamp / 1000 for point in history)
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    return sum(step for step in steps if step <= PAUSE_SECONDS) / 60


def net_times(uri: str, cells: pd.DataFrame) -> pd.DataFrame:
    client = MlflowClient(uri)
    rows = []
    for cell in cells[cells["status"] == "finished"].itertuples():
        found = client.get_run(cell.run_id)
        params, tags = found.data.params, found.data.tags
        rows.append(
            {
                "cell": cell.cell,
                "seed": int(cell.seed),
                "training minutes": round(active_minutes(client, cell.run_id), 1),
                "cpu": tags.get(Tag.DEVICE_NAME, ""),
                "threads": tags.get(Tag.CPU_THREADS, ""),
                "precision": params.get(Param.PRECISION, ""),
                # A resumed run keeps the param of the attempt that compiled it.
                "compiled (at some point)": Param.COMPILE_SECONDS in params,
            }
        )
    return pd.DataFrame(rows)


def seed_minutes(times: pd.DataFrame) -> pd.Series:
    """Training minutes a seed: its nets' net-times.csv minutes, summed."""
    return times.groupby("seed")["training minutes"].sum().round(1)


def wall_time_lines(study: Study, root: Path = ROOT) -> list[str]:
    """The plan's time test: every sweep command's wall time (stopped ones too), over the
    plan's seeds, against its budget; nothing for a study whose plan has none."""
    if study.times is None:
        return []
    commands = pd.read_csv(root / study.times)
    minutes = commands["seconds"].sum() / 60
    a_seed = minutes / len(study.seeds)
    within = "within" if a_seed <= study.budget_minutes else "over"
    return [
        f"- wall time of the sweep commands ({study.times}, {len(commands)} commands, stopped "
        f"ones included): {minutes:.1f} minutes, {a_seed:.1f} a seed: {within} the plan's "
        f"{study.budget_minutes:g} minutes a seed"
    ]


def seeds_markdown(
    study: Study, plan: pd.DataFrame, earlier: pd.DataFrame | None, times: pd.DataFrame
) -> str:
    both = plan if earlier is None else pd.concat([earlier, plan], ignore_index=True)
    parts = [
        f"# {study.title}, seed by seed",
        "",
        "Generated by `scripts/crossing_report.py` from the sweep's runs; do not edit.",
        "",
        f"## Pre-registered ({study.plan}): seeds {seeds_text(plan['seed'].unique())}",
        "",
        *verdict_lines(plan),
        "",
        *shown_lines(plan, study),
        "",
    ]
    if earlier is not None:
        parts += [
            f"## Not pre-registered: seeds {seeds_text(both['seed'].unique())}",
            "",
            study.earlier_why,
            "",
            *verdict_lines(both),
            "",
        ]
    parts += ["## Every seed", "", markdown_table(seed_table(both).astype(object).fillna("")), ""]
    per_seed = seed_minutes(times)
    parts += [
        "## Training time",
        "",
        "Each net's minutes between its log points (stops left out), summed per seed; "
        "nets that trained at the same time on different workers each count in full.",
        "",
        markdown_table(per_seed.reset_index()),
        "",
    ]
    wall = wall_time_lines(study)
    parts += [*wall, ""] if wall else []
    return "\n".join(parts)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--study", choices=sorted(STUDIES), default="crossing-study")
    p.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    args = p.parse_args()
    study = STUDIES[args.study]
    out = ROOT / "docs" / args.study  # where analysis.report writes the experiment's report
    python = sys.executable
    report = [python, "-m", "analysis.report", f"--experiment={args.study}"]
    report += [f"--tracking-uri={args.tracking_uri}", f"--out={out.parent}", "--no-log"]
    run(report)
    figure = [python, str(ROOT / "scripts" / "crossing_figure.py")]
    figure += [f"--experiment={args.study}", f"--tracking-uri={args.tracking_uri}"]
    run([*figure, f"--out={out}", f"--epoch={EPOCH}"])
    cells = pd.read_csv(out / "cells.csv")
    plan = cells[cells["seed"].isin(study.seeds)]
    earlier = pd.read_csv(ROOT / study.earlier) if study.earlier else None
    times = net_times(args.tracking_uri, plan)
    times.to_csv(out / "net-times.csv", index=False)
    (out / "seeds.md").write_text(seeds_markdown(study, plan, earlier, times))
    print(f"Written: {out / 'seeds.md'}, {out / 'net-times.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
