"""How long a sweep will take on this device, from a few timed training steps per depth."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from resnet.config import RunConfig
from resnet.data import Dataset
from resnet.train import autocast, build_model, resolve_device

WARMUP_STEPS, TIMED_STEPS = 1, 3


def seconds_per_step(config: RunConfig, dataset: Dataset) -> float:
    """Wall time of one training step of this cell's net on random batches of the data's shape."""
    device = resolve_device(config.device)
    model = build_model(config, dataset, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    shape = (config.batch_size, dataset.in_channels, *dataset.image_size)
    x = torch.randn(shape, device=device)
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, dataset.num_classes, (config.batch_size,), device=device)
    for step in range(WARMUP_STEPS + TIMED_STEPS):
        if step == WARMUP_STEPS:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        with autocast(config, device):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / TIMED_STEPS


def estimate_seconds(cells: list[RunConfig], dataset: Dataset) -> float:
    """Projected training time of all cells (one calibration per distinct net shape)."""
    per_step: dict[tuple[str, int], float] = {}
    total = 0.0
    for cell in cells:
        key = (cell.arch, cell.depth)
        if key not in per_step:
            per_step[key] = seconds_per_step(cell, dataset)
        total += per_step[key] * cell.iterations
    return total


def human_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
