"""The cheaper-crossing search's rule (scripts/cheaper_crossing.py) on constructed final
errors: the screen on seeds 100 and 101, the test on seeds 100-104, the budget, the order."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pandas as pd
import pytest
from script_modules import load_script


@pytest.fixture(scope="module")
def rule():
    return load_script("cheaper_crossing")


def cells(plain_gaps: dict, residual_gaps: dict) -> pd.DataFrame:
    """Finished runs with these per-seed gaps (points, depth 56 minus depth 20)."""
    rows = []
    for arch, by_seed in (("plain", plain_gaps), ("residual", residual_gaps)):
        for seed, gap in by_seed.items():
            rows.append(dict(arch=arch, depth=20, seed=seed, status="finished", train_error=0.07))
            deep = 0.07 + gap / 100
            rows.append(dict(arch=arch, depth=56, seed=seed, status="finished", train_error=deep))
    return pd.DataFrame(rows)


def times(name: str, seconds: float) -> pd.DataFrame:
    return pd.DataFrame([{"candidate": name, "seconds": seconds}])


SCREENED = {100: 3.0, 101: 2.5}, {100: -0.8, 101: -0.6}


def test_the_screen_asks_both_directions_at_both_seeds_within_the_budget(rule):
    plain, residual = SCREENED
    assert rule.screen(cells(plain, residual), 19.0) == rule.PASSED
    assert rule.screen(cells(plain, residual), 20.5).startswith("no: 20.5 min a seed")
    wrong_plain = cells({100: 3.0, 101: -0.1}, residual)
    assert rule.screen(wrong_plain, 19.0) == "no: plain-56 not above plain-20 at seed 101"
    tie = cells(plain, {100: -0.8, 101: 0.0})
    assert rule.screen(tie, 19.0) == "no: residual-56 not below residual-20 at seed 101"
    assert rule.screen(cells(plain, {100: -0.8}), 19.0).startswith("cannot judge: seed 101")


def test_the_test_reads_the_verdict_over_five_seeds(rule):
    plain = {100: 3.0, 101: 2.5, 102: 3.5, 103: 2.8, 104: 3.1}
    better = {100: -0.8, 101: -0.6, 102: -0.7, 103: -0.9, 104: -0.5}
    said_plain, said_residual, outcome = rule.test(cells(plain, better), 18.0)
    assert outcome == rule.PASSED
    assert said_plain.endswith("degradation") and said_residual.endswith("deeper is better")
    small = {seed: gap / 4 for seed, gap in plain.items()}  # below the margin, still above 0
    assert rule.test(cells(small, better), 18.0)[2] == rule.PASSED
    mixed = {100: -0.8, 101: 0.6, 102: -0.7, 103: 0.4, 104: -0.5}  # the interval covers 0
    assert rule.test(cells(plain, mixed), 18.0)[2] == (
        "no: residual-56 not shown better than residual-20"
    )
    flat = {100: 0.5, 101: -0.4, 102: 0.3, 103: -0.2, 104: 0.1}
    assert rule.test(cells(flat, better), 18.0)[2] == "no: plain-56 not shown worse than plain-20"
    assert rule.test(cells(plain, better), 21.0)[2].startswith("no: 21.0 min a seed")
    four = {seed: gap for seed, gap in plain.items() if seed != 104}
    assert rule.test(cells(four, better), 18.0)[2].startswith("cannot judge")


def test_a_candidate_is_screened_then_tested_and_the_first_that_passes_ends_the_search(rule):
    assert rule.judge("nocrop-lr005", None, times("x", 0))["outcome"] == "not run"
    assert rule.stage_to_run({"outcome": "not run"}) == rule.SCREEN_SEEDS
    screened = rule.judge("nocrop-lr005", cells(*SCREENED), times("nocrop-lr005", 2 * 19 * 60))
    assert screened["outcome"] == f"screen: {rule.PASSED}" and screened["min a seed"] == 19.0
    assert rule.stage_to_run(screened) == rule.ALL_SEEDS
    assert rule.stage_to_run({"outcome": "screen: no: plain-56 not above"}) is None
    assert rule.stage_to_run({"outcome": f"test: {rule.PASSED}"}) is None
    rows = [
        {"candidate": "nocrop-lr005", "outcome": "screen: no: over budget"},
        {"candidate": "nocrop-lr01", "outcome": f"test: {rule.PASSED}"},
        {"candidate": "crops-lr01", "outcome": f"test: {rule.PASSED}"},
    ]
    assert rule.chosen(rows) == "nocrop-lr01"
    assert rule.chosen(rows[:1]) is None


def test_every_candidate_is_a_preset_of_depths_20_and_56_on_the_search_seeds(rule):
    from resnet.core.presets import build_sweep

    for name in rule.CANDIDATES:
        sweep = build_sweep(str(rule.preset(name)), {}, {})
        assert sorted({cell.depth for cell in sweep.cells()}) == [20, 56]
        assert {cell.seed for cell in sweep.cells()} <= set(rule.ALL_SEEDS)


def test_the_recorded_search_judges_without_training(rule, capsys):
    rows = rule.search("sqlite:///nowhere.db", recorded=True)
    assert rows and rows[0]["candidate"] == rule.CANDIDATES[0]


def test_a_timed_sweep_appends_its_time_whatever_its_end(tmp_path, capsys):
    """Bad input ends the sweep at once with exit code 2; that command's time is still a row."""
    timer = load_script("timed_sweep")
    times = tmp_path / "times.csv"
    timed = timer.timed_sweep(["--preset=smoke", "--depths=7"])
    assert timed.exit_code == 2 and timed.seconds > 0 and timed.cpu
    timer.append_row(times, {"arguments": "first", **vars(timed)})
    timer.append_row(times, {"arguments": "second", **vars(timed)})
    rows = pd.read_csv(times)
    assert list(rows["arguments"]) == ["first", "second"]
    assert list(rows.columns) == ["arguments", "seconds", "exit_code", "cpu", "started"]


def test_ctrl_c_lets_the_timed_command_stop_its_way_and_keeps_its_time(tmp_path):
    """Ctrl-C reaches the timer and its command alike: the timer waits for the command's own
    clean stop (here: exit code 7 after its handler ran) instead of raising first."""
    timer = load_script("timed_sweep")
    pid_file = tmp_path / "pid"
    child = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, lambda *_: (time.sleep(0.3), sys.exit(7)))\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(30)\n"
    )

    def ctrl_c():
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # as a terminal's Ctrl-C: to both processes
        os.kill(int(pid_file.read_text()), signal.SIGINT)

    threading.Thread(target=ctrl_c, daemon=True).start()
    timed = timer.timed([sys.executable, "-c", child])
    assert timed.exit_code == 7 and 0.3 <= timed.seconds < 30
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_a_timed_sweep_writes_no_password(tmp_path, capsys):
    """The sweep refuses a password in a URL (one line, exit code 2); the timer's own echo and
    row must not repeat it either."""
    timer = load_script("timed_sweep")
    times = tmp_path / "times.csv"
    uri = "postgresql://me:hunter2@db.example/mlflow"
    assert timer.main([f"--times={times}", "--", "--preset=smoke", f"--tracking-uri={uri}"]) == 2
    assert "hunter2" not in capsys.readouterr().out
    assert "hunter2" not in times.read_text() and "***" in times.read_text()
