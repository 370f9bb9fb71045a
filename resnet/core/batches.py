"""The training loop's two running parts: the stream of batch indices (slices of per-epoch random
permutations) and the loss and error summed on the device between log points, which also
catches the first diverged step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from resnet.core.config import RunConfig


def batch_problem(batch_size: int, images: int) -> str | None:
    """A batch larger than the training set cannot be drawn (each epoch drops the remainder)."""
    if batch_size > images:
        return f"batch size {batch_size} exceeds the {images} training images"
    return None


class BatchStream:
    """Endless training batches: consecutive slices of per-epoch random permutations."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        problem = batch_problem(batch_size, n)
        if problem:
            raise ValueError(problem)
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.order, self.position = self._permutation(), 0

    def _permutation(self) -> torch.Tensor:
        return torch.randperm(self.n, generator=self.generator, device=self.generator.device)

    def next_indices(self) -> torch.Tensor:
        if self.position + self.batch_size > self.n:  # drop the remainder, start a new epoch
            self.order, self.position = self._permutation(), 0
        indices = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return indices


@dataclass
class RunningStats:
    """Training loss and error summed on the device since the last log point, and the first
    iteration whose loss was non-finite or above `loss_limit` (a diverged run)."""

    device: torch.device
    loss_limit: float
    loss_sum: torch.Tensor = field(init=False)
    wrong: torch.Tensor = field(init=False)
    first_bad: torch.Tensor = field(init=False)  # iteration, loss
    count: int = 0

    def __post_init__(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.wrong = torch.zeros((), dtype=torch.int64, device=self.device)
        self.first_bad = torch.tensor([-1.0, 0.0], dtype=torch.float64, device=self.device)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, it: int) -> None:
        loss = loss.detach().float()
        self.loss_sum += loss * len(labels)
        self.wrong += (logits.argmax(1) != labels).sum()
        self.count += len(labels)
        bad = (~torch.isfinite(loss) | (loss > self.loss_limit)) & (self.first_bad[0] < 0)
        here = torch.stack([torch.full_like(self.first_bad[0], it), loss.double()])
        self.first_bad = torch.where(bad, here, self.first_bad)

    def divergence(self) -> str | None:
        """Why the run diverged, or None while every loss so far was fine."""
        it, loss = self.first_bad.tolist()
        if it < 0:
            return None
        why = "non-finite" if not math.isfinite(loss) else f"above the limit {self.loss_limit:.3g}"
        return f"diverged: training loss {loss:.4g} at iteration {int(it)} ({why})"

    def take(self) -> tuple[float, float]:
        """(mean loss, error) since the last take, then reset."""
        loss, error = (self.loss_sum / self.count).item(), (self.wrong / self.count).item()
        self.loss_sum.zero_()
        self.wrong.zero_()
        self.count = 0
        return loss, error


def divergence_limit(config: RunConfig, num_classes: int) -> float:
    """A training loss this far above chance level (log of the class count) means divergence."""
    return config.divergence_factor * math.log(num_classes)
