"""A report's folder, written whole or not at all: drafts are built aside and swapped in by
renames, and drafts of reports killed while writing are cleared."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from analysis.collect import CollectError
from resnet.paths import WRITE_FOLDER, PathError, checked, shown
from resnet.tracking.liveness import pid_alive

DRAFT = ".partial-"  # a report being written: .partial-<pid>-<random>/


def remove_abandoned_drafts(out: Path) -> None:
    """Drafts left by reports that were killed while writing: their writer's pid, in the
    name, is gone (or, in a name without one, they are an hour old)."""
    for draft in out.glob(f"{DRAFT}*"):
        pid = draft.name[len(DRAFT) :].split("-")[0]
        if not pid.isdigit():
            abandoned = time.time() - draft.stat().st_mtime > 3600
        else:
            abandoned = not pid_alive(int(pid))
        if abandoned:
            shutil.rmtree(draft, ignore_errors=True)


def make_folder(path: Path) -> Path:
    try:
        checked(path, WRITE_FOLDER, "--out")
    except PathError as exc:
        raise CollectError(str(exc)) from None
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # leaves nothing behind
            pass
    except OSError as exc:
        raise CollectError(f"--out {shown(path)}: cannot write there ({exc.strerror})") from None
    return path


def replace_folder(folder: Path, draft: Path) -> None:
    """Put `draft` where `folder` is, removing the old one only once the new one is there. Both
    lie in the same folder, so each step is a rename: nothing is copied, so a full disk or an
    interruption leaves the old report or the new one, whole; a failed swap puts the old one
    back."""
    old = folder.with_name(f".old-{folder.name}")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    try:
        draft.rename(folder)
    except BaseException:
        if old.exists() and not folder.exists():
            old.rename(folder)
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
