"""The report meets the file system and the terminal as they are: a full disk, a read-only
folder, Ctrl-C while it writes, a terminal that cannot show 'τ'. Each is one line at most, and
never a half-written report: the report is built aside and swapped in whole."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_analysis import DEGRADING, EXPERIMENT, fabricate, uri

import analysis.reporting as report_module
from analysis.report import main

REPO = Path(__file__).resolve().parents[1]
OLD_REPORT = "an older report, kept whole\n"


def old_report(out: Path) -> Path:
    """A report written earlier, which a failed report must leave as it was."""
    folder = out / EXPERIMENT
    folder.mkdir(parents=True)
    (folder / "report.md").write_text(OLD_REPORT)
    return folder


def report_argv(workdir: Path, out: Path) -> list[str]:
    return ["--experiment", EXPERIMENT, "--tracking-uri", uri(workdir), "--out", str(out)]


def mounted_tmpfs(folder: Path, options: str) -> bool:
    """A tmpfs mounted on `folder`, where this machine lets the tests mount (root in a
    container that allows it); False elsewhere."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    mount = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    return subprocess.run(mount, capture_output=True).returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], check=True)


def assert_left_as_it_was(out: Path) -> None:
    """The older report whole, and no draft or half-swapped folder beside it."""
    assert sorted(p.name for p in out.iterdir()) == [EXPERIMENT]
    assert [p.name for p in (out / EXPERIMENT).iterdir()] == ["report.md"]
    assert (out / EXPERIMENT / "report.md").read_text() == OLD_REPORT


def test_a_full_disk_is_one_line_and_leaves_the_old_report(workdir, monkeypatch, capsys):
    fabricate(workdir, DEGRADING)
    out = workdir / "small-disk"
    mounted = mounted_tmpfs(out, "size=64k")  # the old report fits; the figures do not
    try:
        old_report(out)
        if not mounted:  # the same failure, injected: the disk fills while figures are saved
            real = report_module.save_figures

            def save_figures(drawn, folder):
                real(dict(list(drawn.items())[:1]), folder)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "x.png"))

            monkeypatch.setattr(report_module, "save_figures", save_figures)
        capsys.readouterr()
        code = main(["--no-log", *report_argv(workdir, out)])
        err = capsys.readouterr().err
        assert code == 1, err
        assert err.count("\n") == 1 and err.startswith("analysis.report: error: "), err
        assert "No space left on device" in err and "as it was" in err, err
        assert_left_as_it_was(out)
    finally:
        if mounted:
            unmount(out)


def test_a_read_only_folder_is_one_line(workdir, monkeypatch, capsys):
    fabricate(workdir, DEGRADING)
    out = workdir / "read-only"
    if not mounted_tmpfs(out, "size=1m"):
        pytest.skip("this machine does not let the tests mount a tmpfs (needs root and a mount)")
    try:
        old_report(out)
        subprocess.run(["mount", "-o", "remount,ro", str(out)], check=True)
        capsys.readouterr()
        code = main(["--no-log", *report_argv(workdir, out)])
        err = capsys.readouterr().err
        assert code == 2, err  # found by the path check, before the store is read
        assert err.count("\n") == 1 and "--out " in err and ": not writable" in err, err
        assert_left_as_it_was(out)
    finally:
        unmount(out)


def test_a_folder_turned_read_only_while_writing_is_one_line(workdir, monkeypatch, capsys):
    fabricate(workdir, DEGRADING)
    out = workdir / "reports"
    old_report(out)

    def save_figures(drawn, folder):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))

    monkeypatch.setattr(report_module, "save_figures", save_figures)
    code = main(["--no-log", *report_argv(workdir, out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and "Read-only file system" in err, err
    assert "Traceback" not in err
    monkeypatch.undo()
    assert_left_as_it_was(out)


# The report as a user runs it, with its figures slowed down halfway so that the signal lands
# while the draft is half-written.
SLOW_REPORT = """
import sys, time
import analysis.report as report
import analysis.reporting as reporting
real = reporting.save_figures
def save_figures(drawn, folder):
    real(dict(list(drawn.items())[:1]), folder)
    print("drafting", flush=True)
    time.sleep(60)
reporting.save_figures = save_figures
sys.exit(report.main(sys.argv[1:]))
"""


def test_ctrl_c_during_the_report_is_one_line_and_leaves_the_old_report(workdir):
    fabricate(workdir, DEGRADING)
    out = workdir / "reports"
    old_report(out)
    command = [sys.executable, "-c", SLOW_REPORT, "--no-log", *report_argv(workdir, out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C's own disposition, even where the tests run in the background (which ignores it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout.readline() == "drafting\n"  # half the figures are in the draft
    assert any(p.name.startswith(".partial-") for p in out.iterdir())
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.count("\n") == 1 and err.startswith("analysis.report: error: interrupted"), err
    assert_left_as_it_was(out)


def test_a_terminal_that_cannot_show_tau_gets_the_report_anyway(workdir):
    """Under the C locale with Python's UTF-8 mode off (what a Latin-1 or ASCII terminal
    gives), printing 'τ' or writing it with the locale's encoding would fail."""
    fabricate(workdir, DEGRADING)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG")}
    env |= {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "analysis.report", "--no-log", "--experiment", EXPERIMENT]
    started = time.monotonic()
    done = subprocess.run(
        [*command, "--tracking-uri", uri(workdir)],
        cwd=workdir,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr and time.monotonic() - started < 300
    report = (workdir / "reports" / EXPERIMENT / "report.md").read_bytes().decode("utf-8")
    assert "τ" in report
