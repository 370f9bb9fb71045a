"""Resumable checkpoints: written atomically, read back without pickle's code execution.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, saved with
torch.save to a temporary file in the same folder and renamed over the old one, so a kill at
any moment leaves either the previous checkpoint or the new one, never half of one. It is read
with torch.load(weights_only=True).

Each checkpoint names its cell: the run it was saved for, the net (arch, depth, seed) and the
hash of the config that defines its training (`RunConfig.identity`). One found under another
cell's run (copied there, say) is refused before any of it is applied, since a plain net's state
fits its residual twin's exactly.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from resnet.core.config import RunConfig

FILE_NAME = "checkpoint.pt"
CELL_KEY = "cell"  # the checkpoint's record of whose it is


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
        with warnings.catch_warnings():
            # A file pickled with another protocol (a tampered or foreign one) gets torch's
            # advice to file an issue; what it is instead is said in one line here.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
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


def cell_record(config: RunConfig, run_id: str | None) -> dict[str, Any]:
    """Whose a checkpoint is: the run it is saved for (None outside a tracked run), the net and
    the hash of the fields that define its training."""
    return {
        "run_id": run_id,
        "arch": config.arch,
        "depth": config.depth,
        "seed": config.seed,
        "config_hash": config.identity(),
    }


def cell_problem(found: dict[str, Any] | None, expected: dict[str, Any]) -> str | None:
    """Why a checkpoint recorded as `found`'s is not the `expected` cell's, in a few words, or
    None. A checkpoint saved before checkpoints named their cell (no record) is judged by whether
    its state fits the net alone; a run id is compared where both sides know one."""
    if found is None:
        return None
    differ = [
        key
        for key, value in expected.items()
        if found.get(key) != value and not (key == "run_id" and None in (value, found.get(key)))
    ]
    if not differ:
        return None
    return f"it is {described(found)}'s, not {described(expected)}'s ({', '.join(differ)} differ)"


def described(record: dict[str, Any]) -> str:
    net = f"{record.get('arch')}-{record.get('depth')}-s{record.get('seed')}"
    run = f"run {record['run_id']}, " if record.get("run_id") else ""
    return f"{net} ({run}config {record.get('config_hash')})"
