"""Which torch device a run uses, and its name as runs and projections show it."""

from __future__ import annotations

import os
import platform
import re

import torch

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def device_problem(name: object) -> str | None:
    """Why `name` is not a device name, or None."""
    if isinstance(name, str) and DEVICE_PATTERN.match(name):
        return None
    return f"unknown device {name!r} (allowed: auto, cpu, cuda, cuda:N, mps)"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
