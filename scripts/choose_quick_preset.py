"""The rule that chose the quick preset's learning rate and flips, run again by anyone.

    .venv/bin/python scripts/choose_quick_preset.py            # train what is missing, then judge
    .venv/bin/python scripts/choose_quick_preset.py --judge-only

The rule, fixed before any of its runs were seen:

1. Candidates: lr 0.05 and 0.1 (the paper's), each with and without random horizontal flips;
   everything else is the quick preset's.
2. Each candidate trains plain and residual nets of depth 20 and 56 (the comparison's two ends)
   on seeds 100, 101 and 102, which no report uses.
3. A candidate qualifies when every one of its runs finished and trained stably (no logged
   training loss above the first one: the run's `stable` tag).
4. Of those, the one with the lowest mean final *validation* error over its 12 runs wins: both
   archs and both depths weigh the same, so the choice favours neither arch, and if anything it
   helps plain-56, the net whose degradation the study reports. The test set chooses nothing.

Each candidate is an ordinary sweep (`experiments/depth_sweep.py`) in its own MLflow experiment,
`quick-rule-lr<lr>-flip-<on|off>`, so every run can be browsed in the MLflow UI, and a rerun
trains only the runs that are missing.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.collect import CollectError, collect  # noqa: E402
from analysis.markdown import markdown_table  # noqa: E402
from resnet.tracking.schema import DEFAULT_TRACKING_URI, Metric, Tag  # noqa: E402

LRS = (0.05, 0.1)
FLIPS = (True, False)
SEEDS = (100, 101, 102)
DEPTHS = (20, 56)


def experiment_name(lr: float, flip: bool) -> str:
    return f"quick-rule-lr{lr:g}-flip-{'on' if flip else 'off'}"


def train(lr: float, flip: bool, uri: str) -> None:
    """One candidate's sweep; finished runs of an earlier call are reused."""
    command = [
        sys.executable,
        str(ROOT / "experiments" / "depth_sweep.py"),
        "--preset=quick",
        f"--seeds={','.join(map(str, SEEDS))}",
        f"--depths={','.join(map(str, DEPTHS))}",
        f"--lr={lr:g}",
        "--flip" if flip else "--no-flip",
        f"--experiment={experiment_name(lr, flip)}",
        f"--tracking-uri={uri}",
        "--no-report",
    ]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def judge(lr: float, flip: bool, uri: str) -> dict:
    """The candidate's row: its mean validation error and whether every run qualifies."""
    row = {"lr": f"{lr:g}", "flips": "on" if flip else "off"}
    try:
        cells = collect(experiment_name(lr, flip), uri).cells
    except CollectError as exc:
        return {**row, "runs": 0, "qualifies": f"no: {exc}"}
    done = cells[cells["status"] == "finished"]
    unstable = done[done.get(Tag.STABLE, pd.Series(dtype=str)) != "true"]
    for (arch, depth), group in done.groupby(["arch", "depth"]):
        row[f"{arch}-{depth} val %"] = f"{100 * group[Metric.VAL_ERROR].mean():.2f}"
    row["mean val error %"] = 100 * done[Metric.VAL_ERROR].mean()
    row["runs"] = f"{len(done)} of {len(SEEDS) * len(DEPTHS) * 2}"
    complete = len(done) == len(SEEDS) * len(DEPTHS) * 2
    row["qualifies"] = "yes" if complete and unstable.empty else "no: unfinished or unstable runs"
    return row


def choose(rows: list[dict]) -> dict | None:
    qualified = [r for r in rows if r["qualifies"] == "yes"]
    return min(qualified, key=lambda r: r["mean val error %"]) if qualified else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    p.add_argument("--judge-only", action="store_true", help="train nothing; judge what is there")
    args = p.parse_args()
    candidates = list(itertools.product(LRS, FLIPS))
    if not args.judge_only:
        for lr, flip in candidates:
            train(lr, flip, args.tracking_uri)
    rows = [judge(lr, flip, args.tracking_uri) for lr, flip in candidates]
    table = pd.DataFrame(rows)
    table["mean val error %"] = table["mean val error %"].map(lambda v: f"{v:.2f}")
    print(markdown_table(table))
    winner = choose(rows)
    if winner is None:
        print("No candidate qualifies: no choice.")
        return 1
    print(f"Chosen: lr {winner['lr']}, flips {winner['flips']} (lowest mean validation error).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
