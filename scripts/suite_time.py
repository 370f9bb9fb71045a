"""The test suite timed as the README runs it, the time appended to a CSV that the README's
sentence is generated from (scripts/doc_tables.py, table `suite-time`):

    .venv/bin/python scripts/suite_time.py                      # run the suite, record its time
    .venv/bin/python scripts/suite_time.py --from-log ci.log --commit abc1234  # a finished run

The time is pytest's own ("N passed ... in S s"), so a log of any run of the suite (CI's, say)
gives the same number as a run here. A run that did not pass is not recorded. The row: when,
the commit (with "-dirty" for uncommitted changes), the CPU's model name, its cores, whether it
has native bf16, the tests that passed, the seconds, and where the number came from.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from timed_sweep import cpu_name  # noqa: E402

TIMES = ROOT / "docs" / "benchmarks" / "suite-time.csv"
# pytest's last line: "798 passed, 4 warnings in 363.55s (0:06:03)"
SUMMARY = re.compile(r"^=*[ ]*(?P<counts>[^=\n]*?) in (?P<seconds>[\d.]+)s\b", re.M)
NOT_PASSED = ("failed", "error")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class SuiteTime:
    date: str
    commit: str
    cpu: str
    cores: int
    native_bf16: bool
    tests: int
    seconds: float
    source: str


class NotPassed(Exception):
    """The run's summary names failures or errors, or there is no summary."""


def passed_and_seconds(output: str) -> tuple[int, float]:
    """The tests that passed and pytest's seconds, from the last summary line of `output`."""
    found = list(SUMMARY.finditer(output))
    if not found:
        raise NotPassed("no pytest summary line found")
    counts, seconds = found[-1]["counts"], float(found[-1]["seconds"])
    if any(word in counts for word in NOT_PASSED) or "passed" not in counts:
        raise NotPassed(f"the suite did not pass: {counts.strip()}")
    return int(re.search(r"(\d+) passed", counts)[1]), seconds


def native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=7"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "unknown"


def run_suite() -> str:
    """The README's test command, its output shown as it comes and returned."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    process.wait()
    return "".join(lines)


def record(output: str, source: str, times: Path, tested: str) -> SuiteTime:
    tests, seconds = passed_and_seconds(output)
    row = SuiteTime(
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
        commit=tested,
        cpu=cpu_name(),
        cores=os.cpu_count() or 1,
        native_bf16=native_bf16(),
        tests=tests,
        seconds=seconds,
        source=source,
    )
    frame = pd.DataFrame([asdict(row)])
    frame.to_csv(times, mode="a", header=not times.exists(), index=False)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--from-log", type=Path, help="a finished run's output, instead of a run")
    p.add_argument("--commit", help="the commit the log's run tested (default: this checkout's)")
    p.add_argument("--times", type=Path, default=TIMES, help="the CSV (default: %(default)s)")
    args = p.parse_args()
    if args.from_log is not None and not args.from_log.is_file():
        print(f"suite_time.py: error: --from-log {args.from_log}: no such file", file=sys.stderr)
        return 2
    if args.from_log is not None:
        output, source = args.from_log.read_text(errors="replace"), f"log {args.from_log.name}"
    else:
        output, source = run_suite(), "scripts/suite_time.py"
    try:
        row = record(output, source, args.times, args.commit or commit())
    except NotPassed as exc:
        print(f"suite_time.py: {exc}; nothing recorded", file=sys.stderr)
        return 1
    print(f"recorded in {args.times}: {row.tests} tests in {row.seconds:.1f} s ({row.cpu})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
