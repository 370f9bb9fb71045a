"""CPU and wall seconds of the command lines' quickest answers (--help and a bad value), and
which heavy packages each imported on the way, median of a few runs each.

    .venv/bin/python scripts/cli_startup.py            # this checkout
    .venv/bin/python scripts/cli_startup.py --root /path/to/another/checkout
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "mlflow", "optuna", "pandas")
COMMANDS = {
    "depth_sweep.py --help": ["experiments/depth_sweep.py", "--help"],
    "depth_sweep.py --depths 21": ["experiments/depth_sweep.py", "--depths", "21"],
    "depth_sweep.py --lr -1": ["experiments/depth_sweep.py", "--lr", "-1"],
    "analysis.report --help": ["-m", "analysis.report", "--help"],
    "benchmark.py --help": ["experiments/benchmark.py", "--help"],
}


def timed(root: Path, argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of the command in `root`."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=root, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return cpu, wall


def heavy_imports(root: Path, argv: list[str]) -> list[str]:
    """The heavy packages the command imported (`-X importtime`, top-level names)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], cwd=root, capture_output=True, text=True
    )
    names = set(re.findall(r"\|\s+(\w+)$", done.stderr, re.M))
    return [name for name in HEAVY if name in names]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=ROOT, help="the checkout to time")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    print(f"{args.root}: median of {args.runs} runs each")
    print("| command | CPU s | wall s | heavy packages imported |")
    print("| --- | ---: | ---: | --- |")
    for name, argv in COMMANDS.items():
        runs = [timed(args.root, argv) for _ in range(args.runs)]
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        heavy = ", ".join(heavy_imports(args.root, argv)) or "none"
        print(f"| `{name}` | {cpu:.2f} | {wall:.2f} | {heavy} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
