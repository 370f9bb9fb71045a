"""Learning-rate schedules by iteration, as multipliers of the base lr for LambdaLR."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import torch

from resnet.core.config import RunConfig


def base_multiplier(config: RunConfig) -> Callable[[int], float]:
    """lr / base lr at 0-based iteration `it`: linear warm-up, then step, cosine or constant."""
    warm, total = config.warmup_iterations, config.iterations

    def multiplier(it: int) -> float:
        if it < warm:
            return (it + 1) / warm
        if config.schedule == "step":
            return config.gamma ** bisect.bisect_right(config.milestones, it)
        if config.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (it - warm) / (total - warm)))
        return 1.0

    return multiplier


class ErrorWarmup:
    """The paper's ResNet-110 warm-up: a small lr until the training error falls below a level,
    then back to the normal schedule (whose milestones still count from iteration 0)."""

    def __init__(self, config: RunConfig):
        self.active = config.uses_error_warmup
        # A warm-up never raises the lr: a base lr already below it (a tuned one) is kept.
        self.factor = min(1.0, (config.error_warmup_lr or config.lr) / config.lr)
        self.until = config.error_warmup_until

    def update(self, recent_train_error: float) -> None:
        if self.active and recent_train_error < self.until:
            self.active = False


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: RunConfig, warmup: ErrorWarmup
) -> torch.optim.lr_scheduler.LambdaLR:
    base = base_multiplier(config)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: warmup.factor if warmup.active else base(it)
    )
