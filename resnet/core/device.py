"""Which torch device a run uses, and its name as runs and projections show it."""

from __future__ import annotations

import os
import platform
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: a bad device name is refused before torch loads
    import torch

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
DEVICES = "auto, cpu, cuda, cuda:N, mps"  # what DEVICE_PATTERN allows, as help and errors say it


def device_problem(name: object) -> str | None:
    """Why `name` is not a device name, or None."""
    if isinstance(name, str) and DEVICE_PATTERN.match(name):
        return None
    return f"unknown device {name!r} (allowed: {DEVICES})"


def availability_problem(name: str) -> str | None:
    """Why this machine cannot run on the device `name` (not a device name, or none here), or
    None: bad input, found before anything runs."""
    problem = device_problem(name)
    if problem:
        return problem
    import torch

    device = resolve_device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if (device.index is not None and device.index >= count) or count == 0:
            return (
                f"device {name} is not available here ({count} CUDA devices); "
                "use --device cpu or auto"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        return "device mps is not available here; use --device cpu or auto"
    return None


def resolve_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
