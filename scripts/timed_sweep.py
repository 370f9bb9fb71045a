"""A sweep command timed by the wall clock, its time appended to a CSV whatever its end (an
interrupted command's time was spent too), for a plan that judges minutes a seed:

    .venv/bin/python scripts/timed_sweep.py --times docs/crossing/short/times.csv -- \\
        --preset crossing-short --experiment crossing-short-study

Everything after `--` goes to experiments/depth_sweep.py as it is. The row: the arguments (a
URL's password masked), the seconds, the exit code, the CPU's model name and when it started
(UTC).
"""

from __future__ import annotations

import argparse
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet.tracking.address import masked  # noqa: E402


def cpu_name() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it (the machine's kind elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass(frozen=True)
class Timed:
    seconds: float
    exit_code: int
    cpu: str
    started: str


def timed(command: list[str]) -> Timed:
    """Run `command`, timed by the wall clock. Ctrl-C reaches the command too (one process
    group): this waits for it to stop the way it stops (the sweep saves its checkpoints) rather
    than end first and lose the row."""
    print("$", masked(" ".join(command[1:])), flush=True)  # a URL's password never shown
    started = datetime.now(UTC)
    clock = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    # Ignored here only after the child started: it keeps its own Ctrl-C handling.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    seconds = round(time.perf_counter() - clock, 1)
    return Timed(seconds, code, cpu_name(), started.isoformat(timespec="seconds"))


def timed_sweep(arguments: list[str]) -> Timed:
    """experiments/depth_sweep.py with `arguments`, timed."""
    return timed([sys.executable, str(ROOT / "experiments" / "depth_sweep.py"), *arguments])


def append_row(path: Path, row: dict) -> None:
    pd.DataFrame([row]).to_csv(path, mode="a", header=not path.exists(), index=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--times", type=Path, required=True, help="the CSV the time is appended to")
    p.add_argument("sweep", nargs=argparse.REMAINDER, help="-- then depth_sweep.py's arguments")
    args = p.parse_args(argv)
    arguments = args.sweep[1:] if args.sweep[:1] == ["--"] else args.sweep
    if not args.times.parent.is_dir():
        message = f"--times: no folder {args.times.parent} to write {args.times.name} in"
        print(f"timed_sweep.py: error: {message}", file=sys.stderr)
        return 2
    timed = timed_sweep(arguments)
    row = {"arguments": masked(" ".join(arguments)), **vars(timed)}
    append_row(args.times, row)
    print(f"{timed.seconds:.1f} s, exit code {timed.exit_code}: appended to {args.times}")
    return timed.exit_code


if __name__ == "__main__":
    sys.exit(main())
