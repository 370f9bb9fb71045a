"""The `imagefolder` data set: a folder with train/ and test/, one folder per class in each
(torchvision's ImageFolder), read whole into uint8 tensors, with every problem as one line."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from resnet.core.datasets import DataError
from resnet.core.split import Split
from resnet.paths import escaped


def load_imagefolder(data_dir: Path, image_size: int | None) -> tuple[Split, Split, int]:
    for part in ("train", "test"):
        if not (data_dir / part).is_dir():
            raise DataError(
                f"imagefolder needs {escaped(data_dir)}/{part}/ with one folder per class "
                "(set the folder with --data-dir)"
            )
    train_set, test_set = image_folder(data_dir / "train"), image_folder(data_dir / "test")
    if train_set.classes != test_set.classes:
        raise DataError(
            f"{escaped(data_dir)}/train and {escaped(data_dir)}/test have different class folders"
        )
    train, test = _images_to_split(train_set, image_size), _images_to_split(test_set, image_size)
    if train.images.shape[1:] != test.images.shape[1:]:
        raise DataError(
            f"train images are {tuple(train.images.shape[1:])} but test images "
            f"{tuple(test.images.shape[1:])}: they differ in size; give --image-size to resize"
        )
    return train, test, len(train_set.classes)


def image_folder(folder: Path):
    """torchvision's ImageFolder of `folder`, with its problems as one line each."""
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS

    check_tree(folder)
    try:
        images = ImageFolder(str(folder))
    except FileNotFoundError:
        raise DataError(
            f"{escaped(folder)}/ needs one folder per class holding image files "
            f"({', '.join(IMG_EXTENSIONS)}); found none"
        ) from None
    if len(images.classes) < 2:
        raise DataError(
            f"{escaped(folder)}/ has {len(images.classes)} class folder: a classifier needs at "
            "least 2"
        )
    return images


def check_tree(folder: Path) -> None:
    """What torchvision's ImageFolder walks must be a tree of regular files: a symbolic link
    back to a folder above would count its images again and again, and a FIFO named like an
    image would hang the read."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    seen: set[str] = set()
    for here, _, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            raise DataError(
                f"{escaped(here)} is {escaped(real)} again (a symbolic link loop, or two links to "
                "one folder): its images would count more than once; remove the link"
            )
        seen.add(real)
        for name in files:
            path = Path(here) / name
            if name.lower().endswith(IMG_EXTENSIONS) and not path.is_file():
                raise DataError(f"{escaped(path)} is not a regular file (a FIFO or a device?)")


def _images_to_split(folder, image_size: int | None) -> Split:
    from PIL import Image
    from torchvision.transforms.functional import pil_to_tensor, resize

    images, sizes = [], set()
    for path, _ in folder.samples:
        try:
            with warnings.catch_warnings():  # a decompression bomb is an error, not a warning
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = pil_to_tensor(folder.loader(path))
        except Exception as exc:
            raise DataError(f"cannot read image {escaped(path)}: {exc}") from exc
        if image_size is not None:
            image = resize(image, [image_size, image_size], antialias=True)
        images.append(image)
        sizes.add(tuple(image.shape))
    if len(sizes) > 1:
        raise DataError(
            f"images in {folder.root} differ in size ({sorted(sizes)[:3]}...): "
            "give --image-size to resize them"
        )
    return Split(torch.stack(images), torch.tensor(folder.targets, dtype=torch.int64))
