"""What the benchmark commands' lines share beyond the one-line parser (`resnet.command_line`):
checks of their values and of this machine made before any compute."""

from __future__ import annotations

import tempfile
from pathlib import Path

from resnet.command_line import InputError
from resnet.core.config import ConfigError, RunConfig
from resnet.core.device import availability_problem, device_problem
from resnet.core.precision import AUTO, precision_problem
from resnet.paths import WRITE_FILE, PathError, checked, shown


def check_names(device: str, precision: str) -> None:
    """A device and a precision by name, before torch loads: whether the device is there, and
    what "auto" means on it, come later (`check_device`, `concrete_precision`)."""
    problem = device_problem(device) or (
        None if precision == AUTO else precision_problem(precision)
    )
    if problem:
        raise InputError(problem)


def check_json_path(path: Path) -> None:
    """Where a command will write its JSON at the end: checked before its hours of compute (a
    regular file, so that a FIFO cannot hang the end, nor /dev/full lose the numbers)."""
    try:
        checked(path, WRITE_FILE, "--json")
    except PathError as exc:
        raise InputError(str(exc)) from None
    if not path.parent.is_dir():
        raise InputError(f"--json {shown(path)}: give a file in an existing folder")
    try:  # a file that vanishes when closed: the folder takes new files, and nothing is left
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise InputError(f"--json {shown(path)}: cannot write there ({exc.strerror})") from None


def check_range(option: str, value: int, low: int, high: int) -> None:
    """A count given on the command line, within the bounds of its size (core.bounds)."""
    if not low <= value <= high:
        raise InputError(f"{option} must be in [{low}, {high}], got {value}")


def check_run_fields(**fields) -> None:
    """Values a command takes for its nets (arch, depth, precision, ...), checked where each
    rule lives: the run config."""
    try:
        RunConfig(**fields)
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def check_device(name: str) -> None:
    """A device that this machine does not have is bad input, found before anything runs."""
    problem = availability_problem(name)
    if problem:
        raise InputError(problem)
