"""The cheaper-crossing search (docs/crossing/cheaper/PLAN.md, committed before its runs): a
design that shows both halves of Figure 6 in 20 minutes a seed or less on a 2-core CPU with
native bf16, judged on seeds 100-104, which no report uses. Run again by anyone:

    .venv/bin/python scripts/cheaper_crossing.py             # train what the rule asks next, judge
    .venv/bin/python scripts/cheaper_crossing.py --recorded  # judge the committed records only

The rule, as PLAN.md fixes it:

1. Candidates, tried one after another in CANDIDATES' order (docs/crossing/cheaper/*.toml); the
   first that passes is chosen and the ones after it are not run.
2. Screen: the candidate trains seeds 100 and 101. It goes on only if its time a seed is within
   the budget and, at both seeds, plain-56 ends above plain-20 and residual-56 below
   residual-20 (final training error).
3. Test: it then trains seeds 102 to 104 and passes when, over the five seeds, the verdict
   (margin 2 points, seeds as blocks, 90 % intervals) says *degradation* or *a small penalty
   below the margin* for plain nets (plain-56 worse, the interval above 0) and *deeper is
   better* for residual nets (the interval below 0), and its time a seed is within the budget.
4. Time a seed: the wall time of every sweep command that trained the candidate (an
   interrupted one included: its time was spent), over the seeds trained, with nothing else
   running on the machine.

Each sweep command's time is appended to docs/crossing/cheaper/times.csv; the runs' records
(analysis.report's cells.csv, report and figures) go under docs/crossing/cheaper/runs/, and the
judgement of every candidate tried to docs/crossing/cheaper/candidates.csv.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timed_sweep import append_row, timed_sweep  # noqa: E402

from analysis.comparison import verdict_text  # noqa: E402
from analysis.effects import Outcome  # noqa: E402
from analysis.markdown import markdown_table  # noqa: E402
from analysis.stats import degradation_verdict  # noqa: E402
from resnet.tracking.schema import DEFAULT_TRACKING_URI, Metric  # noqa: E402

FOLDER = ROOT / "docs" / "crossing" / "cheaper"
CANDIDATES = ("nocrop-lr005", "nocrop-lr01", "crops-lr01")  # in the order they are tried
SCREEN_SEEDS = (100, 101)
ALL_SEEDS = (100, 101, 102, 103, 104)
BUDGET_MINUTES = 20.0
MARGIN = 2.0
PLAIN_SHOWN = {Outcome.DEGRADATION, Outcome.SMALL_PENALTY}
SHALLOW, DEEP = 20, 56
TIMES = FOLDER / "times.csv"
JUDGED = FOLDER / "candidates.csv"
PASSED = "yes"


def experiment(name: str) -> str:
    return f"crossing-cheaper-{name}"


def preset(name: str) -> Path:
    return FOLDER / f"{name}.toml"


def cells_path(name: str) -> Path:
    return FOLDER / "runs" / experiment(name) / "cells.csv"


def seeds_text(seeds: tuple[int, ...]) -> str:
    return ",".join(map(str, seeds))


def train(name: str, seeds: tuple[int, ...], uri: str) -> None:
    """One sweep command over `seeds` (finished runs of an earlier command are reused), its wall
    time appended to TIMES whatever its end; then its runs' record under FOLDER/runs."""
    timed = timed_sweep(
        [
            f"--preset={preset(name)}",
            f"--seeds={seeds_text(seeds)}",
            f"--experiment={experiment(name)}",
            f"--tracking-uri={uri}",
            "--no-report",
            "--no-progress",
        ]
    )
    row = {"candidate": name, "seeds": seeds_text(seeds), **vars(timed)}
    append_row(TIMES, row)
    code = timed.exit_code
    if code != 0:
        raise SystemExit(f"the sweep of {name} ended with exit code {code}; run this again")
    report = [sys.executable, "-m", "analysis.report", f"--experiment={experiment(name)}"]
    report += [f"--tracking-uri={uri}", f"--out={FOLDER / 'runs'}", "--no-log"]
    subprocess.run(report, cwd=ROOT, check=True)


def recorded_cells(name: str) -> pd.DataFrame | None:
    path = cells_path(name)
    return pd.read_csv(path) if path.exists() else None


def recorded_times() -> pd.DataFrame:
    return pd.read_csv(TIMES) if TIMES.exists() else pd.DataFrame(columns=["candidate", "seconds"])


def minutes_a_seed(times: pd.DataFrame, name: str, seeds: int) -> float:
    """Every sweep command of the candidate's wall time, in minutes, over `seeds`."""
    return times.loc[times["candidate"] == name, "seconds"].sum() / 60 / seeds


def gaps(cells: pd.DataFrame, arch: str) -> dict[int, float]:
    """Per seed with both nets finished: depth 56's final training error minus depth 20's,
    in points."""
    done = cells[(cells["arch"] == arch) & (cells["status"] == "finished")]
    error = done.set_index(["seed", "depth"])[Metric.TRAIN_ERROR] * 100
    seeds = sorted({seed for seed, _ in error.index})
    return {
        int(seed): float(error[seed, DEEP] - error[seed, SHALLOW])
        for seed in seeds
        if (seed, DEEP) in error.index and (seed, SHALLOW) in error.index
    }


def screen(cells: pd.DataFrame, minutes: float) -> str:
    """PASSED, or why the candidate stops after seeds 100 and 101."""
    plain, residual = gaps(cells, "plain"), gaps(cells, "residual")
    missing = [s for s in SCREEN_SEEDS if s not in plain or s not in residual]
    if missing:
        return f"cannot judge: seed {missing[0]} has a net not finished"
    if minutes > BUDGET_MINUTES:
        return f"no: {minutes:.1f} min a seed, over the {BUDGET_MINUTES:g}-minute budget"
    for seed in SCREEN_SEEDS:
        if plain[seed] <= 0:
            return f"no: plain-56 not above plain-20 at seed {seed}"
        if residual[seed] >= 0:
            return f"no: residual-56 not below residual-20 at seed {seed}"
    return PASSED


def test(cells: pd.DataFrame, minutes: float) -> tuple[str, str, str]:
    """(plain verdict, residual verdict, PASSED or why not) over the five seeds."""
    plain = degradation_verdict(cells, "plain", MARGIN)
    residual = degradation_verdict(cells, "residual", MARGIN)
    said = verdict_text(plain), verdict_text(residual)
    if plain is None or residual is None or set(gaps(cells, "plain")) != set(ALL_SEEDS):
        return (*said, "cannot judge: not every net of seeds 100-104 finished")
    if minutes > BUDGET_MINUTES:
        return (*said, f"no: {minutes:.1f} min a seed, over the {BUDGET_MINUTES:g}-minute budget")
    if plain.outcome not in PLAIN_SHOWN:
        return (*said, "no: plain-56 not shown worse than plain-20")
    if residual.outcome != Outcome.DEEPER_IS_BETTER:
        return (*said, "no: residual-56 not shown better than residual-20")
    return (*said, PASSED)


def judge(name: str, cells: pd.DataFrame | None, times: pd.DataFrame) -> dict:
    """The candidate's row: the seeds it trained, its time a seed, its per-seed gaps, and the
    screen's or the test's outcome."""
    row: dict = {"candidate": name}
    if cells is None:
        return row | {"outcome": "not run"}
    trained = tuple(sorted(set(gaps(cells, "plain")) | set(gaps(cells, "residual"))))
    minutes = minutes_a_seed(times, name, max(len(trained), 1))
    row["seeds"] = seeds_text(trained)
    row["min a seed"] = round(minutes, 1)
    for arch in ("plain", "residual"):
        row[f"{arch} 56-20 per seed"] = " ".join(f"{g:+.2f}" for g in gaps(cells, arch).values())
    if set(trained) <= set(SCREEN_SEEDS):
        row["outcome"] = "screen: " + screen(cells, minutes)
        return row
    row["plain verdict"], row["residual verdict"], outcome = test(cells, minutes)
    row["outcome"] = "test: " + outcome
    return row


def stage_to_run(row: dict) -> tuple[int, ...] | None:
    """The seeds the candidate trains next by the rule, or None: it is decided."""
    outcome = row["outcome"]
    if outcome == "not run":
        return SCREEN_SEEDS
    if outcome == f"screen: {PASSED}":
        return ALL_SEEDS
    return None


def chosen(rows: list[dict]) -> str | None:
    passed = [row["candidate"] for row in rows if row["outcome"] == f"test: {PASSED}"]
    return passed[0] if passed else None


def search(uri: str, recorded: bool) -> list[dict]:
    """Judge the candidates in order, training what the rule asks next unless `recorded`;
    the first one that passes ends the search."""
    rows = []
    for name in CANDIDATES:
        row = judge(name, recorded_cells(name), recorded_times())
        while not recorded and (seeds := stage_to_run(row)) is not None:
            train(name, seeds, uri)
            row = judge(name, recorded_cells(name), recorded_times())
        rows.append(row)
        if row["outcome"] == f"test: {PASSED}" or row["outcome"] == "not run":
            break  # chosen, or (recorded only) the search has not come this far
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    p.add_argument("--recorded", action="store_true", help="train nothing; judge the records")
    args = p.parse_args()
    rows = search(args.tracking_uri, args.recorded)
    table = pd.DataFrame(rows)
    if not args.recorded:
        table.to_csv(JUDGED, index=False)
    print(markdown_table(table.fillna("")))
    name = chosen(rows)
    if name is None:
        print("No candidate has passed (yet): no cheaper crossing.")
        return 1
    print(f"Chosen: {name}, the first candidate that passes the rule.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
