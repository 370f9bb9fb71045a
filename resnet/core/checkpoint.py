"""Resumable checkpoints: written atomically, read back without pickle's code execution.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, saved with
torch.save to a temporary file in the same folder and renamed over the old one, so a kill at
any moment leaves either the previous checkpoint or the new one, never half of one. It is read
with torch.load(weights_only=True).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

FILE_NAME = "checkpoint.pt"


class CheckpointError(Exception):
    """A checkpoint that cannot be read; the message is one line."""


def checkpoint_path(folder: Path, run_id: str) -> Path:
    return folder / run_id / FILE_NAME


def save_atomic(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    buffer = io.BytesIO()  # in memory first: a full disk is then the write's OSError (ENOSPC)
    torch.save(state, buffer)
    try:
        with partial.open("wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)  # the old checkpoint stays whole, and the disk no fuller
        raise


def load(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupt, or not a checkpoint at all
        # Not torch's own text: it suggests loading with weights_only=False, which would run
        # whatever code a tampered file holds.
        raise CheckpointError(
            f"checkpoint {path} is unreadable (truncated, corrupt, or not a checkpoint)"
        ) from exc
    if not isinstance(state, dict) or "iteration" not in state:
        raise CheckpointError(f"checkpoint {path} is not a training checkpoint")
    return state
