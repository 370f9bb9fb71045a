"""The data sets a run may name, and the data's own error: plain names and checks, without
torch, so that a command line can refuse a bad one at once. `resnet.core.data` loads them."""

from __future__ import annotations

DATASETS = ("cifar10", "fashion-mnist", "imagefolder", "synthetic")
CIFAR_TRAIN_IMAGES = 45_000  # CIFAR-10's training split in He et al. (50k less 5k to validate)
DEFAULT_DATA_DIR = "data"  # where data sets are read or downloaded unless the user names a folder


class DataError(Exception):
    """The data set cannot be loaded; the message says what to do."""


def dataset_problem(name: str) -> str | None:
    """Why `name` is not a data set of the registry, or None."""
    if name in DATASETS:
        return None
    return f"unknown dataset {name!r} (allowed: {', '.join(DATASETS)})"
