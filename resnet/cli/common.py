"""What every command's line shares: one-line errors with exit code 2, list parsing, and the
checks of the environment (device present, folders writable) made before any compute."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from resnet.core.config import ConfigError, RunConfig
from resnet.core.device import device_problem, resolve_device

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad command-line input; the message is the one line the user sees."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line instead of usage + error."""

    def error(self, message: str):
        raise InputError(message)


def comma_list(item_type: Callable, what: str) -> Callable[[str], list]:
    def parse(text: str) -> list:
        try:
            values = [item_type(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a comma-separated list") from None
        if not values:
            raise argparse.ArgumentTypeError(f"{what} must not be empty")
        return values

    return parse


def check_json_path(path: Path) -> None:
    """Where a command will write its JSON at the end: checked before its hours of compute."""
    if path.is_dir() or not path.parent.is_dir():
        raise InputError(f"--json {path}: give a file in an existing folder")
    try:  # a file that vanishes when closed: the folder takes new files, and nothing is left
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise InputError(f"--json {path}: cannot write there ({exc.strerror})") from None


def check_run_fields(**fields) -> None:
    """Values a command takes for its nets (arch, depth, precision, ...), checked where each
    rule lives: the run config."""
    try:
        RunConfig(**fields)
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def check_device(name: str) -> None:
    """A device that this machine does not have is bad input, found before anything runs."""
    problem = device_problem(name)
    if problem:
        raise InputError(problem)
    device = resolve_device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if (device.index is not None and device.index >= count) or count == 0:
            raise InputError(
                f"device {name} is not available here ({count} CUDA devices); "
                "use --device cpu or auto"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError("device mps is not available here; use --device cpu or auto")


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (a file stands there, or the nearest folder
    that exists is not writable), else None."""
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file"
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None
