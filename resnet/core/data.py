"""Data sets as whole uint8 tensors, split into train / validation / test.

Every loader returns the full training set and the test set; `load` then holds out a validation
set with a fixed seed (the same for every run, so plain and residual nets see the same split),
optionally takes a training subset, and computes the normalisation from the training part (per
channel, or the per-pixel mean as in the paper). The test set is only ever evaluated: nothing is
chosen on it.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnet.core.datasets import DEFAULT_DATA_DIR, DataError, dataset_problem
from resnet.core.image_folder import load_imagefolder
from resnet.core.split import Split
from resnet.paths import escaped

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_VAL_SIZE = {"cifar10": 5000, "fashion-mnist": 5000}
DEFAULT_VAL_FRACTION = 0.1
SPLIT_SEED = 0  # fixed: every run of every sweep sees the same train/validation split


@dataclass
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    mean: torch.Tensor  # per channel (C), or per pixel (C x H x W); on the [0, 1] scale
    std: torch.Tensor  # per channel (C)
    source: str = ""  # the folder or file the images were read from; "" for generated ones

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.train.images.shape[2:])

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(
            self.name,
            self.train.to(device),
            self.val.to(device),
            self.test.to(device),
            self.num_classes,
            self.mean.to(device),
            self.std.to(device),
            self.source,
        )


# --- loaders: each returns (full training split, test split, number of classes) ---


@contextlib.contextmanager
def leave_nothing_on_failure(data_dir: Path) -> Iterator[None]:
    """A download that fails takes away the folder it made (nothing of the user's is in it)."""
    made_here = not data_dir.exists()
    try:
        yield
    except BaseException:
        if made_here:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise


def load_cifar10(data_dir: Path, image_size: int | None) -> tuple[Split, Split, int]:
    from torchvision.datasets import CIFAR10

    try:
        with leave_nothing_on_failure(data_dir):
            train = CIFAR10(str(data_dir), train=True, download=True)
            test = CIFAR10(str(data_dir), train=False, download=True)
    except Exception as exc:  # offline, or a broken archive
        raise DataError(
            f"CIFAR-10 is not in {escaped(data_dir)}/ and could not be downloaded "
            f"({type(exc).__name__}): put cifar-10-python.tar.gz in {escaped(data_dir)}/, or use "
            "--dataset fashion-mnist offline"
        ) from exc
    return _cifar_split(train), _cifar_split(test), 10


def _cifar_split(ds) -> Split:
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    return Split(images, torch.tensor(ds.targets, dtype=torch.int64))


FASHION_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def load_fashion_mnist(data_dir: Path, image_size: int | None) -> tuple[Split, Split, int]:
    folder = _fashion_folder(data_dir)
    if folder is None:
        return _download_fashion_mnist(data_dir)
    files = {key: folder / name for key, name in FASHION_FILES.items()}
    train = Split(read_idx(files["train_images"]).unsqueeze(1), read_idx(files["train_labels"]))
    test = Split(read_idx(files["test_images"]).unsqueeze(1), read_idx(files["test_labels"]))
    return train, test, 10


def _fashion_folder(data_dir: Path) -> Path | None:
    """The first folder holding all four idx files: the data dir, then, unless the user named
    another data dir than the default, Debian's package."""
    system = [DEBIAN_FASHION_MNIST] if data_dir == Path(DEFAULT_DATA_DIR) else []
    for folder in (data_dir, data_dir / "fashion-mnist", *system):
        if all((folder / name).is_file() for name in FASHION_FILES.values()):
            return folder
    return None


def _download_fashion_mnist(data_dir: Path) -> tuple[Split, Split, int]:
    from torchvision.datasets import FashionMNIST

    try:
        with leave_nothing_on_failure(data_dir):
            train = FashionMNIST(str(data_dir), train=True, download=True)
            test = FashionMNIST(str(data_dir), train=False, download=True)
    except Exception as exc:
        where = (
            f"{escaped(data_dir)}/ nor {DEBIAN_FASHION_MNIST}/"
            if data_dir == Path(DEFAULT_DATA_DIR)
            else f"{escaped(data_dir)}/ (leave --data-dir out to use {DEBIAN_FASHION_MNIST}/)"
        )
        raise DataError(
            f"Fashion-MNIST is not in {where} and could not be downloaded "
            f"({type(exc).__name__}): install Debian's dataset-fashion-mnist or put the four idx "
            f".gz files in {escaped(data_dir)}/"
        ) from exc
    return (
        Split(train.data.unsqueeze(1), train.targets.long()),
        Split(test.data.unsqueeze(1), test.targets.long()),
        10,
    )


def read_idx(path: Path) -> torch.Tensor:
    """Read a gzipped idx file (the MNIST format) of unsigned bytes."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
        shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
        if zero != 0 or dtype != 0x08:
            raise ValueError("not an idx file of unsigned bytes")
        data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
        array = data.reshape(shape)  # raises when the file is truncated
    except (OSError, EOFError, ValueError, struct.error) as exc:
        raise DataError(f"{escaped(path)} is not a readable idx .gz file: {exc}") from exc
    return torch.from_numpy(array.copy()).long() if ndim == 1 else torch.from_numpy(array.copy())


SYNTHETIC_SIZES = {"train": 3000, "test": 1000, "classes": 10, "channels": 3, "image_size": 32}


def load_synthetic(data_dir: Path, image_size: int | None) -> tuple[Split, Split, int]:
    """A small learnable task: class-specific smooth colour patterns plus strong pixel noise.

    Patterns are left-right symmetric so flips keep the class; they are smooth so small shifts
    keep it too. Generated with a fixed seed: the same data on every call.
    """
    size = image_size or SYNTHETIC_SIZES["image_size"]
    classes, channels = SYNTHETIC_SIZES["classes"], SYNTHETIC_SIZES["channels"]
    gen = torch.Generator().manual_seed(1234)
    coarse = torch.randn(classes, channels, 4, 4, generator=gen)
    templates = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")
    templates = (templates + templates.flip(3)) / 2

    def sample(n: int) -> Split:
        labels = torch.randint(0, classes, (n,), generator=gen)
        noise = torch.randn(n, channels, size, size, generator=gen)
        pixels = 128 + 60 * templates[labels] + 45 * noise
        return Split(pixels.clamp(0, 255).to(torch.uint8), labels)

    return sample(SYNTHETIC_SIZES["train"]), sample(SYNTHETIC_SIZES["test"]), classes


LOADERS: dict[str, Callable[[Path, int | None], tuple[Split, Split, int]]] = {
    "cifar10": load_cifar10,
    "fashion-mnist": load_fashion_mnist,
    "imagefolder": load_imagefolder,
    "synthetic": load_synthetic,
}


def data_source(dataset: str, data_dir: Path) -> str:
    """Where `load` read the data set from, as an absolute path ("" for generated data)."""
    if dataset == "synthetic":
        return ""
    if dataset == "fashion-mnist":
        folder = _fashion_folder(data_dir) or data_dir / "FashionMNIST" / "raw"  # downloaded
    elif dataset == "cifar10":
        folder = data_dir / "cifar-10-batches-py"
    else:
        folder = data_dir
    return str(folder.resolve())


def resized(split: Split, size: int) -> Split:
    """All images at size x size (a no-op when they already are)."""
    if split.images.shape[-2:] == (size, size):
        return split
    from torchvision.transforms.functional import resize

    return Split(resize(split.images, [size, size], antialias=True), split.labels)


def split_train_val(full: Split, val_size: int) -> tuple[Split, Split]:
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(SPLIT_SEED))
    return full.subset(order[val_size:]), full.subset(order[:val_size])


def resolve_val_size(dataset: str, val_size: int | None, n_train: int) -> int:
    """The validation split's size; 0 means none (the paper's final nets train on every image)."""
    if val_size is None:
        val_size = DEFAULT_VAL_SIZE.get(dataset, round(DEFAULT_VAL_FRACTION * n_train))
    if not 0 <= val_size < n_train:
        raise DataError(f"val_size {val_size} must be between 0 and {n_train - 1} for {dataset}")
    return val_size


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 images, on the [0, 1] scale."""
    x = images.float().div_(255).transpose(0, 1).reshape(images.shape[1], -1)
    return x.mean(dim=1), x.std(dim=1)


def pixel_mean(images: torch.Tensor) -> torch.Tensor:
    """The mean image (C x H x W) of uint8 images, on the [0, 1] scale: He et al.'s per-pixel
    mean subtraction."""
    return images.float().mean(dim=0).div_(255)


def normalisation(train: Split, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) from the training images only: per channel, or the per-pixel mean with a
    unit std (the paper subtracts the mean and scales nothing)."""
    mean, std = channel_stats(train.images)
    if kind == "pixel":
        return pixel_mean(train.images), torch.ones_like(std)
    return mean, std


def split_problem(split: Split, num_classes: int) -> str | None:
    """What makes a split unusable for training a classifier of `num_classes` classes: a
    label for each image, each label one of the classes."""
    if len(split.images) != len(split.labels):
        return f"split has {len(split.images)} images but {len(split.labels)} labels"
    if not len(split.labels):
        return None
    low, high = int(split.labels.min()), int(split.labels.max())
    if low < 0 or high >= num_classes:
        return f"labels run from {low} to {high}; {num_classes} classes need 0 to {num_classes - 1}"
    return None


def load(
    dataset: str,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    val_size: int | None = None,
    train_subset: int | None = None,
    image_size: int | None = None,
    normalization: str = "channel",
) -> Dataset:
    """Load a data set by name and split it; tensors stay on the CPU until `.to(device)`."""
    problem = dataset_problem(dataset)
    if problem:
        raise DataError(problem)
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"data dir {escaped(data_dir)} is a file, not a folder")
    full_train, test, num_classes = LOADERS[dataset](data_dir, image_size)
    for name, split in (("training", full_train), ("test", test)):
        problem = split_problem(split, num_classes)
        if problem:
            raise DataError(
                f"{dataset} in {escaped(data_source(dataset, data_dir))}: the {name} {problem}"
            )
    if image_size is not None:
        full_train, test = resized(full_train, image_size), resized(test, image_size)
    val_size = resolve_val_size(dataset, val_size, len(full_train))
    train, val = split_train_val(full_train, val_size)
    if train_subset is not None:
        if train_subset > len(train):
            raise DataError(f"train_subset {train_subset} exceeds the {len(train)} training images")
        train = Split(train.images[:train_subset], train.labels[:train_subset])
    mean, std = normalisation(train, normalization)
    source = data_source(dataset, data_dir)
    return Dataset(dataset, train, val, test, num_classes, mean, std, source)
