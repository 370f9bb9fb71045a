"""The rule that chose the quick study's default design, run again by anyone.

    .venv/bin/python scripts/choose_quick_design.py --train      # train what is missing, judge
    .venv/bin/python scripts/choose_quick_design.py              # judge a store's runs
    .venv/bin/python scripts/choose_quick_design.py --recorded   # judge the committed runs

The rule, its candidates, seeds and budget were committed before any of its runs
(docs/quick-study/design-rule/PLAN.md): plain and residual nets of depth 20 and 56 on seeds
300-307, never reported, at 360 and at 180 iterations; for each candidate number of seeds n
within the time budget, 20,000 simulated sets of n per-seed penalties, drawn from a normal with
the measured mean and spread, are judged as the verdict judges them; the candidate with the
highest chance that the residual verdict decides wins (ties within 0.01: the cheaper), among
those where plain nets are judged degraded at least 99 % of the time.

Reading a store writes the runs' final errors to docs/quick-study/design-rule/runs.csv, which
`--recorded` judges without the store.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.collect import collect  # noqa: E402
from analysis.effects import DEFAULT_MARGIN, Outcome, outcomes_of_rows  # noqa: E402
from analysis.markdown import markdown_table  # noqa: E402
from resnet.tracking.schema import DEFAULT_TRACKING_URI, Metric  # noqa: E402

SEEDS = tuple(range(300, 308))
DEPTHS = (20, 56)
ITERATIONS = {360: 72, 180: 36}  # iterations: warm-up iterations (20 %)
SEED_COUNTS = range(2, 11)
DRAWS = 20_000
# One unit is the one-seed quick study of four depths (20+32+44+56 = 152) at 360 iterations;
# the slowest measured CPU without native bf16 took 14 min 39 s for it (docs/QUICK-STUDY.md).
UNIT_DEPTHS, UNIT_ITERATIONS = 152, 360
FP32_MINUTES_PER_UNIT = 14 + 39 / 60
FP32_BUDGET_MINUTES = 20
PLAIN_DEGRADATION_AT_LEAST = 0.99
TIE = 0.01
RECORDED = ROOT / "docs" / "quick-study" / "design-rule" / "runs.csv"


def experiment_name(iterations: int) -> str:
    return f"quick-design-it{iterations}"


def train(iterations: int, uri: str) -> None:
    """One candidate's sweep; finished runs of an earlier call are reused."""
    command = [
        sys.executable,
        str(ROOT / "experiments" / "depth_sweep.py"),
        "--preset=quick",
        f"--depths={','.join(map(str, DEPTHS))}",
        f"--seeds={','.join(map(str, SEEDS))}",
        f"--iterations={iterations}",
        f"--warmup-iterations={ITERATIONS[iterations]}",
        f"--experiment={experiment_name(iterations)}",
        f"--tracking-uri={uri}",
        "--workers=2",
        "--no-report",
    ]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def read_runs(uri: str) -> pd.DataFrame:
    """Every finished run of the candidates: iterations, arch, depth, seed, train error (%)."""
    frames = []
    for iterations in ITERATIONS:
        cells = collect(experiment_name(iterations), uri).cells
        done = cells[(cells["status"] == "finished") & cells["seed"].isin(SEEDS)]
        frames.append(
            pd.DataFrame(
                {
                    "iterations": iterations,
                    "arch": done["arch"],
                    "depth": done["depth"].astype(int),
                    "seed": done["seed"].astype(int),
                    "train_error": done[Metric.TRAIN_ERROR].astype(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def per_seed_penalties(runs: pd.DataFrame, iterations: int, arch: str) -> np.ndarray:
    """arch-56 minus arch-20 training error (points) of each seed that has both."""
    mine = runs[(runs["iterations"] == iterations) & (runs["arch"] == arch)]
    table = mine.pivot(index="seed", columns="depth", values="train_error")
    table = table.reindex(columns=list(DEPTHS)).dropna()
    return 100 * (table[DEPTHS[-1]] - table[DEPTHS[0]]).to_numpy()


def units(iterations: int, seeds: int) -> float:
    return seeds * sum(DEPTHS) * iterations / (UNIT_DEPTHS * UNIT_ITERATIONS)


def simulated_words(mean: float, sd: float, seeds: int, rng) -> pd.Series:
    """How often each outcome comes out over DRAWS sets of `seeds` per-seed penalties."""
    words = outcomes_of_rows(rng.normal(mean, sd, (DRAWS, seeds)), DEFAULT_MARGIN)
    return pd.Series(words).value_counts(normalize=True)


def candidate_rows(runs: pd.DataFrame) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for iterations in ITERATIONS:
        plain = per_seed_penalties(runs, iterations, "plain")
        residual = per_seed_penalties(runs, iterations, "residual")
        if min(len(plain), len(residual)) < 2:
            continue  # no spread measured yet
        for seeds in SEED_COUNTS:
            cost = units(iterations, seeds)
            if cost * FP32_MINUTES_PER_UNIT > FP32_BUDGET_MINUTES:
                continue
            p_plain = simulated_words(plain.mean(), plain.std(ddof=1), seeds, rng)
            p_res = simulated_words(residual.mean(), residual.std(ddof=1), seeds, rng)
            rows.append(
                {
                    "iterations": iterations,
                    "seeds": seeds,
                    "units": round(cost, 3),
                    "fp32 min (Zen 3)": round(cost * FP32_MINUTES_PER_UNIT, 1),
                    "P(plain degradation)": p_plain.get(Outcome.DEGRADATION, 0.0),
                    "P(residual decides)": 1 - p_res.get(Outcome.INCONCLUSIVE, 0.0),
                    **{f"P({w})": p_res.get(w, 0.0) for w in RESIDUAL_WORDS},
                    "P(same words)": float((p_res**2).sum()),
                }
            )
    return rows


RESIDUAL_WORDS = (
    Outcome.NO_DEGRADATION,
    Outcome.SMALL_PENALTY,
    Outcome.DEEPER_IS_BETTER,
    Outcome.INCONCLUSIVE,
)


def choose(rows: list[dict]) -> dict | None:
    qualified = [r for r in rows if r["P(plain degradation)"] >= PLAIN_DEGRADATION_AT_LEAST]
    if not qualified:
        return None
    best = max(r["P(residual decides)"] for r in qualified)
    close = [r for r in qualified if r["P(residual decides)"] >= best - TIE]
    return min(close, key=lambda r: r["units"])


def measured_lines(runs: pd.DataFrame) -> list[str]:
    lines = []
    for iterations in ITERATIONS:
        for arch in ("plain", "residual"):
            values = per_seed_penalties(runs, iterations, arch)
            if len(values) < 2:
                lines.append(f"- {iterations} iterations, {arch}: fewer than 2 seeds finished")
                continue
            shown = ", ".join(f"{v:+.2f}" for v in values)
            lines.append(
                f"- {iterations} iterations, {arch} 56 - 20 per seed: {shown} "
                f"(mean {values.mean():+.2f}, SD {values.std(ddof=1):.2f}, {len(values)} seeds)"
            )
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    p.add_argument("--train", action="store_true", help="train the missing runs first")
    p.add_argument("--recorded", action="store_true", help=f"judge {RECORDED.relative_to(ROOT)}")
    args = p.parse_args()
    if args.recorded:
        runs = pd.read_csv(RECORDED)
    else:
        if args.train:
            for iterations in ITERATIONS:
                train(iterations, args.tracking_uri)
        runs = read_runs(args.tracking_uri)
        runs.sort_values(["iterations", "arch", "depth", "seed"]).to_csv(RECORDED, index=False)
    print("\n".join(measured_lines(runs)), end="\n\n")
    rows = candidate_rows(runs)
    table = pd.DataFrame(rows)
    probabilities = [c for c in table if c.startswith("P(")]
    table[probabilities] = table[probabilities].map(lambda v: f"{v:.3f}")
    print(markdown_table(table))
    winner = choose(rows)
    if winner is None:
        print("\nNo candidate qualifies: no choice.")
        return 1
    decides, same = winner["P(residual decides)"], winner["P(same words)"]
    print(
        f"\nChosen: {winner['seeds']} seeds at {winner['iterations']} iterations, depths "
        f"{' and '.join(map(str, DEPTHS))} (P(residual decides) {decides:.3f}, "
        f"P(same words) {same:.3f})."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
