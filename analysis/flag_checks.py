"""What the analysis commands share: their flags checked before the store is read (and before
pandas, matplotlib or MLflow load), then their work."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from resnet.command_line import InputError, bad_input
from resnet.core.bounds import MARGIN_RANGE
from resnet.paths import WRITE_FOLDER, PathError, checked
from resnet.tracking.address import masked


def checked_then_run(
    prog: str,
    argv: Sequence[str] | None,
    check: Callable[[Sequence[str] | None], argparse.Namespace],
    run: Callable[[argparse.Namespace], int],
) -> int:
    """`run` with the flags `check` parsed; a bad flag is one line and exit 2 before it."""
    try:
        args = check(argv)
    except (InputError, PathError) as exc:
        return bad_input(prog, masked(str(exc)))
    return run(args)


def check_margin(margin: float | None) -> None:
    """The verdict's margin, when given: points of training error, above 0 and below 100."""
    if margin is not None and not MARGIN_RANGE.allows(margin):
        raise InputError(f"--margin must be {MARGIN_RANGE.describe(real=True)}, got {margin:g}")


def check_out(out: str, default: str) -> None:
    """A folder the command can write its report into (raises PathError or InputError)."""
    if not out:  # Path("") is the working folder itself
        raise InputError(f"--out must name a folder (default: {default}), got ''")
    checked(out, WRITE_FOLDER, "--out")
