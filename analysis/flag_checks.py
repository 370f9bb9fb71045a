"""Checks of the analysis commands' shared flags, made before the store is read (and before
pandas, matplotlib or MLflow load)."""

from __future__ import annotations

from resnet.command_line import InputError
from resnet.paths import WRITE_FOLDER, checked


def check_margin(margin: float | None) -> None:
    """The verdict's margin, when given: points of training error, above 0 and below 100."""
    if margin is not None and not 0 < margin < 100:
        raise InputError(f"--margin must be between 0 and 100 points, got {margin:g}")


def check_out(out: str, default: str) -> None:
    """A folder the command can write its report into (raises PathError or InputError)."""
    if not out:  # Path("") is the working folder itself
        raise InputError(f"--out must name a folder (default: {default}), got ''")
    checked(out, WRITE_FOLDER, "--out")
