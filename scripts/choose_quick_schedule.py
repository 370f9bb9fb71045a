"""The second look at the quick study's design (docs/quick-study/design-rule-2/PLAN.md), run
again by anyone.

    .venv/bin/python scripts/choose_quick_schedule.py --train      # train what is missing, judge
    .venv/bin/python scripts/choose_quick_schedule.py              # judge a store's runs
    .venv/bin/python scripts/choose_quick_schedule.py --recorded   # judge the committed runs

Three schedules (the present one, the paper's learning rate, twice the steps at half the
batch), each trained on seeds 400-407 by the README's command with overrides, one after the
other; each command's wall time is kept. For every candidate number of seeds within the time
budget, 20,000 studies resampled from the candidate's own per-seed penalties are judged as the
verdict judges them; the design whose residual verdict decides most often wins, among those
where plain nets come out degraded at least 99 % of the time and residual nets decide at least
80 % of the time.

Reading a store writes each run's final training error and duration to
docs/quick-study/design-rule-2/runs.csv and each command's wall time to commands.csv, which
`--recorded` judges without the store.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.collect import collect  # noqa: E402
from analysis.effects import DEFAULT_MARGIN, Outcome, outcomes_of_rows  # noqa: E402
from analysis.markdown import markdown_table  # noqa: E402
from resnet.tracking.schema import DEFAULT_TRACKING_URI, Metric  # noqa: E402


@dataclass(frozen=True)
class Schedule:
    name: str
    iterations: int
    batch: int
    lr: float

    @property
    def warmup(self) -> int:
        return self.iterations // 5  # 20 % of the iterations, as every candidate

    def flags(self) -> list[str]:
        return [
            f"--iterations={self.iterations}",
            f"--batch-size={self.batch}",
            f"--lr={self.lr}",
            f"--warmup-iterations={self.warmup}",
        ]


CANDIDATES = (
    Schedule("A", 180, 128, 0.05),
    Schedule("B", 180, 128, 0.1),
    Schedule("C", 360, 64, 0.05),
)
SEEDS = tuple(range(400, 408))
DEPTHS = (20, 56)
SEED_COUNTS = range(2, 11)
DRAWS = 20_000
BF16_BUDGET_SECONDS = 4.5 * 60
# The first rule's fp32 count: one unit (depths 20+32+44+56 at 360 iterations of batch 128)
# took the Zen 3 without native bf16 14 min 39 s; a net's time in proportion to its work.
UNIT_WORK = 152 * 360 * 128
FP32_SECONDS_PER_UNIT = 14 * 60 + 39
FP32_BUDGET_SECONDS = 20 * 60
PLAIN_DEGRADATION_AT_LEAST = 0.99
DECIDES_AT_LEAST = 0.80
TIE = 0.01
FOLDER = ROOT / "docs" / "quick-study" / "design-rule-2"
RUNS_CSV, COMMANDS_CSV = FOLDER / "runs.csv", FOLDER / "commands.csv"
RESIDUAL_WORDS = (
    Outcome.NO_DEGRADATION,
    Outcome.SMALL_PENALTY,
    Outcome.DEEPER_IS_BETTER,
    Outcome.INCONCLUSIVE,
)


def experiment_name(schedule: Schedule) -> str:
    return f"quick-schedule-{schedule.name}"


def train(schedule: Schedule, uri: str) -> dict:
    """One candidate's sweep of the 8 seeds, timed; finished runs of an earlier call are kept
    (a resumed command's time is then not the whole cost, and the CSV says it resumed)."""
    command = [
        sys.executable,
        str(ROOT / "experiments" / "depth_sweep.py"),
        "--preset=quick",
        f"--seeds={','.join(map(str, SEEDS))}",
        *schedule.flags(),
        f"--experiment={experiment_name(schedule)}",
        f"--tracking-uri={uri}",
        "--no-progress",
    ]
    print("$", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    return {"candidate": schedule.name, "wall_seconds": round(time.perf_counter() - started, 1)}


def read_runs(uri: str) -> pd.DataFrame:
    """Every finished run of the candidates: its final training error and duration."""
    frames = []
    for schedule in CANDIDATES:
        cells = collect(experiment_name(schedule), uri).cells
        done = cells[(cells["status"] == "finished") & cells["seed"].isin(SEEDS)]
        frames.append(
            pd.DataFrame(
                {
                    "candidate": schedule.name,
                    "arch": done["arch"],
                    "depth": done["depth"].astype(int),
                    "seed": done["seed"].astype(int),
                    "train_error": done[Metric.TRAIN_ERROR].astype(float),
                    "seconds": (60 * done["run_minutes"].astype(float)).round(1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def penalties(runs: pd.DataFrame, schedule: Schedule) -> pd.DataFrame:
    """Per seed (rows) and arch (columns): depth 56 minus depth 20 training error, points."""
    mine = runs[runs["candidate"] == schedule.name]
    wide = mine.pivot_table(index="seed", columns=["arch", "depth"], values="train_error")
    per_arch = {a: 100 * (wide[a, DEPTHS[-1]] - wide[a, DEPTHS[0]]) for a in ("plain", "residual")}
    return pd.DataFrame(per_arch).dropna()


def seconds_a_seed(runs: pd.DataFrame, schedule: Schedule) -> float:
    mine = runs[runs["candidate"] == schedule.name]
    return float(mine.groupby("seed")["seconds"].sum().median())


def fixed_seconds(runs: pd.DataFrame, commands: pd.DataFrame, schedule: Schedule) -> float:
    wall = commands.loc[commands["candidate"] == schedule.name, "wall_seconds"]
    nets = runs.loc[runs["candidate"] == schedule.name, "seconds"].sum()
    return float(wall.iloc[-1]) - float(nets)


def fp32_seconds(schedule: Schedule, seeds: int) -> float:
    work = seeds * sum(DEPTHS) * schedule.iterations * schedule.batch
    return work / UNIT_WORK * FP32_SECONDS_PER_UNIT


def share(words: list[Outcome]) -> pd.Series:
    return pd.Series(words).value_counts(normalize=True)


def resampled(per_seed: pd.DataFrame, seeds: int, rng) -> tuple[pd.Series, pd.Series]:
    """Outcome shares of DRAWS studies of `seeds` seeds drawn with replacement (a seed's plain
    and residual penalties together)."""
    rows = rng.integers(0, len(per_seed), (DRAWS, seeds))
    plain = per_seed["plain"].to_numpy()[rows]
    residual = per_seed["residual"].to_numpy()[rows]
    return (
        share(outcomes_of_rows(plain, DEFAULT_MARGIN)),
        share(outcomes_of_rows(residual, DEFAULT_MARGIN)),
    )


def normal_decides(values: pd.Series, seeds: int, rng) -> float:
    """For comparison only: P(decides) were the penalties normal with the measured mean, SD."""
    drawn = rng.normal(values.mean(), values.std(ddof=1), (DRAWS, seeds))
    return 1 - share(outcomes_of_rows(drawn, DEFAULT_MARGIN)).get(Outcome.INCONCLUSIVE, 0.0)


def candidate_rows(runs: pd.DataFrame, commands: pd.DataFrame) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for schedule in CANDIDATES:
        per_seed = penalties(runs, schedule)
        if len(per_seed) < 2:
            continue  # no spread measured yet
        each, fixed = seconds_a_seed(runs, schedule), fixed_seconds(runs, commands, schedule)
        for seeds in SEED_COUNTS:
            bf16, fp32 = fixed + seeds * each, fp32_seconds(schedule, seeds)
            if bf16 > BF16_BUDGET_SECONDS or fp32 > FP32_BUDGET_SECONDS:
                continue
            p_plain, p_res = resampled(per_seed, seeds, rng)
            rows.append(
                {
                    "candidate": schedule.name,
                    "seeds": seeds,
                    "bf16 min (measured)": round(bf16 / 60, 2),
                    "fp32 min (Zen 3, counted)": round(fp32 / 60, 1),
                    "P(plain degradation)": p_plain.get(Outcome.DEGRADATION, 0.0),
                    "P(residual decides)": 1 - p_res.get(Outcome.INCONCLUSIVE, 0.0),
                    **{f"P({w})": p_res.get(w, 0.0) for w in RESIDUAL_WORDS},
                    "P(same words)": float((p_res**2).sum()),
                    "P(decides), normal": normal_decides(per_seed["residual"], seeds, rng),
                    "_cost": bf16,
                }
            )
    return rows


def choose(rows: list[dict]) -> dict | None:
    qualified = [
        r
        for r in rows
        if r["P(plain degradation)"] >= PLAIN_DEGRADATION_AT_LEAST
        and r["P(residual decides)"] >= DECIDES_AT_LEAST
    ]
    if not qualified:
        return None
    best = max(r["P(residual decides)"] for r in qualified)
    close = [r for r in qualified if r["P(residual decides)"] >= best - TIE]
    return min(close, key=lambda r: (-round(r["P(same words)"], 2), r["_cost"]))


def measured_lines(runs: pd.DataFrame, commands: pd.DataFrame) -> list[str]:
    lines = []
    for schedule in CANDIDATES:
        per_seed = penalties(runs, schedule)
        if len(per_seed) < 2:
            lines.append(f"- {schedule.name}: fewer than 2 seeds finished")
            continue
        for arch in ("plain", "residual"):
            values = per_seed[arch]
            shown = ", ".join(f"{v:+.2f}" for v in values)
            lines.append(
                f"- {schedule.name} ({', '.join(schedule.flags())}), {arch} 56 - 20 per seed: "
                f"{shown} (mean {values.mean():+.2f}, SD {values.std(ddof=1):.2f})"
            )
        lines.append(
            f"- {schedule.name}: {seconds_a_seed(runs, schedule):.0f} s a seed (median), "
            f"{fixed_seconds(runs, commands, schedule):.0f} s fixed"
        )
    return lines


def judged(rows: list[dict]) -> str:
    table = pd.DataFrame(rows).drop(columns="_cost")
    probabilities = [c for c in table if c.startswith("P(")]
    table[probabilities] = table[probabilities].map(lambda v: f"{v:.3f}")
    return markdown_table(table)


def chosen_line(winner: dict | None) -> str:
    if winner is None:
        return "No candidate qualifies: the preset stays as it is."
    schedule = next(s for s in CANDIDATES if s.name == winner["candidate"])
    return (
        f"Chosen: candidate {schedule.name}, {winner['seeds']} seeds "
        f"({' '.join(schedule.flags())}; P(residual decides) "
        f"{winner['P(residual decides)']:.3f}, P(same words) {winner['P(same words)']:.3f}). "
        "Resampling 8 seeds understates their spread by about 7 %."
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    p.add_argument("--train", action="store_true", help="train the missing runs first")
    p.add_argument("--recorded", action="store_true", help="judge the committed CSVs")
    args = p.parse_args()
    if not args.recorded:
        if args.train:
            timed = pd.DataFrame([train(s, args.tracking_uri) for s in CANDIDATES])
            timed.to_csv(COMMANDS_CSV, index=False)
        runs = read_runs(args.tracking_uri)
        runs.sort_values(["candidate", "arch", "depth", "seed"]).to_csv(RUNS_CSV, index=False)
    runs, commands = pd.read_csv(RUNS_CSV), pd.read_csv(COMMANDS_CSV)
    print("\n".join(measured_lines(runs, commands)), end="\n\n")
    rows = candidate_rows(runs, commands)
    print(judged(rows) if rows else "No candidate within the budget.")
    winner = choose(rows)
    print("\n" + chosen_line(winner))
    return 0 if winner else 1


if __name__ == "__main__":
    sys.exit(main())
