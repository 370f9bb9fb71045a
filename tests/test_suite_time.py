"""scripts/suite_time.py: the suite's time, read from pytest's own summary line, recorded only
for a run that passed; the README's sentence is generated from the record."""

import subprocess
import sys

import pandas as pd
import pytest
from script_modules import load_script

PASSED_LOG = """\
........................................................................ [ 91%]
============================= slowest 15 durations =============================
52.15s call     tests/test_server_faults.py::test_a_server_killed_mid_sweep
798 passed, 4 warnings in 363.55s (0:06:03)
"""
FAILED_LOG = PASSED_LOG.replace("798 passed", "1 failed, 797 passed")


@pytest.fixture(scope="module")
def suite_time():
    return load_script("suite_time")


def test_the_count_and_seconds_are_pytests_own(suite_time):
    assert suite_time.passed_and_seconds(PASSED_LOG) == (798, 363.55)
    framed = "=========== 12 passed, 1 skipped, 2 xfailed in 7.20s ===========\n"
    assert suite_time.passed_and_seconds(framed) == (12, 7.2)


@pytest.mark.parametrize(
    "log",
    [
        FAILED_LOG,
        PASSED_LOG.replace("4 warnings", "1 error, 4 warnings"),
        PASSED_LOG.replace("798 passed", "3 xpassed"),
        "no summary",
    ],
)
def test_a_run_that_did_not_pass_is_not_recorded(suite_time, tmp_path, log):
    times = tmp_path / "suite-time.csv"
    with pytest.raises(suite_time.NotPassed):
        suite_time.record(log, "log", times, "abc1234")
    assert not times.exists()


def test_a_log_is_recorded_with_the_machine_and_the_readme_line_made_from_it(tmp_path, monkeypatch):
    log, times = tmp_path / "ci.log", tmp_path / "suite-time.csv"
    log.write_text(PASSED_LOG)
    argv = [sys.executable, "scripts/suite_time.py", "--from-log", str(log), "--times", str(times)]
    argv += ["--commit", "1234e56"]  # a hash that reads as a number
    done = subprocess.run(argv, capture_output=True, text=True, cwd=load_script("suite_time").ROOT)
    assert done.returncode == 0, done.stderr
    (row,) = pd.read_csv(times, dtype={"commit": str}).itertuples()
    assert (row.tests, row.seconds, row.source) == (798, 363.55, "log ci.log")
    assert row.cores >= 1 and row.cpu and row.commit == "1234e56"

    doc_tables = load_script("doc_tables")
    monkeypatch.setattr(doc_tables, "ROOT", tmp_path)
    (tmp_path / "docs" / "benchmarks").mkdir(parents=True)
    times.rename(tmp_path / "docs" / "benchmarks" / "suite-time.csv")
    (line,) = doc_tables.suite_time().splitlines()
    assert line.startswith(f"- 798 tests in 6 min 04 s on a {row.cores}-core {row.cpu} ")
    assert ", at 1234e56 (" in line


def test_a_failed_log_and_a_missing_one_are_one_line(tmp_path):
    log, times = tmp_path / "ci.log", tmp_path / "suite-time.csv"
    log.write_text(FAILED_LOG)
    for given, code in ((log, 1), (tmp_path / "none.log", 2)):
        argv = [sys.executable, "scripts/suite_time.py", "--from-log", str(given)]
        done = subprocess.run(
            [*argv, "--times", str(times)],
            capture_output=True,
            text=True,
            cwd=load_script("suite_time").ROOT,
        )
        assert done.returncode == code
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not times.exists()
