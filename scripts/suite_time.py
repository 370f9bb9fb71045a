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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from timed_sweep import append_row, cpu_name  # noqa: E402

TIMES = ROOT / "docs" / "benchmarks" / "suite-time.csv"
# pytest's last line: "798 passed, 4 warnings in 363.55s (0:06:03)"
SUMMARY = re.compile(r"^=*[ ]*(?P<counts>[^=\n]*?) in (?P<seconds>[\d.]+)s\b", re.M)
FAILURES = re.compile(r"\b\d+ (failed|errors?)\b")  # not "xfailed": an expected failure
PASSED = re.compile(r"\b(\d+) passed\b")


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
    passed = PASSED.search(counts)
    if FAILURES.search(counts) or passed is None:
        raise NotPassed(f"the suite did not pass: {counts.strip()}")
    return int(passed[1]), seconds


def native_bf16() -> bool:
    import torch

    from resnet.core.precision import native_precision

    return native_precision(torch.device("cpu"))[0] == "bf16"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def commit() -> str:
    """This checkout's commit, "-dirty" where tracked files have changed."""
    head = git("rev-parse", "--short=7", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def run_suite() -> tuple[str, int]:
    """The README's test command: its output, shown as it comes, and its exit code."""
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
    return "".join(lines), process.wait()


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
    append_row(times, asdict(row))
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
    tested = args.commit or commit()  # before the run: what changes meanwhile is not tested
    if args.from_log is not None:
        output, code = args.from_log.read_text(errors="replace"), 0  # its summary judges it
        source = f"log {args.from_log.name}"
    else:
        (output, code), source = run_suite(), "scripts/suite_time.py"
    try:
        if code != 0:
            raise NotPassed(f"the suite exited with code {code}")
        row = record(output, source, args.times, tested)
    except NotPassed as exc:
        print(f"suite_time.py: {exc}; nothing recorded", file=sys.stderr)
        return 1
    print(f"recorded in {args.times}: {row.tests} tests in {row.seconds:.1f} s ({row.cpu})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
