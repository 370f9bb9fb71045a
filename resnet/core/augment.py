"""Augmentation of whole uint8 batches on the training device, with tensor ops only.

Random crop with zero padding and horizontal flip are one gather: each image's crop offset and
flip decide which padded pixel lands at each output position.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def crop_flip(
    images: torch.Tensor,
    pad: int,
    flip: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pad each image by `pad` zeros, take a random crop of the original size, flip half.

    Offsets are uniform in [0, 2*pad] per image and axis; each image is flipped with p = 0.5.
    """
    n, _, _h, _w = images.shape
    if pad == 0 and not flip:
        return images
    offsets = torch.randint(0, 2 * pad + 1, (2, n), device=images.device, generator=generator)
    flips = torch.rand(n, device=images.device, generator=generator) < 0.5
    return crop_flip_at(images, pad, offsets[0], offsets[1], flips if flip else None)


def crop_flip_at(
    images: torch.Tensor,
    pad: int,
    top: torch.Tensor,
    left: torch.Tensor,
    flips: torch.Tensor | None,
) -> torch.Tensor:
    """The deterministic part of `crop_flip`: given offsets (N,) and flip flags (N,) or None.

    One `gather` over each padded image's flattened pixels; the per-image index (H x W) is
    shared by the channels through a stride-0 expand, so no per-channel index is built."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    padded_w = w + 2 * pad
    rows = top[:, None] + torch.arange(h, device=images.device)  # N x H
    cols = torch.arange(w, device=images.device).expand(n, w)  # N x W
    if flips is not None:
        cols = torch.where(flips[:, None], cols.flip(1), cols)
    cols = cols + left[:, None]
    pixel = (rows[:, :, None] * padded_w + cols[:, None, :]).reshape(n, 1, h * w)
    flat = padded.reshape(n, c, -1).gather(2, pixel.expand(n, c, h * w))
    return flat.reshape(n, c, h, w)


def normalize(
    images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, channels_last: bool = False
) -> torch.Tensor:
    """uint8 images to float, standardised with training-set statistics: `mean` per channel (C)
    or per pixel (C x H x W), `std` per channel.

    The layout change happens on the uint8 batch (a quarter of the bytes) and the scaling is
    one multiply-add in place: (x / 255 - mean) / std = x * scale + shift."""
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    std = std[:, None, None]
    mean = mean[:, None, None] if mean.dim() == 1 else mean
    return images.float().mul_(1 / (255 * std)).add_(-mean / std)
