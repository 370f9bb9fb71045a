"""One training step and one evaluation, as the trainer, the projection, the worker layout and
the benchmark all run them: the net on its device (compiled or not), the one SGD, autocast.
"""

from __future__ import annotations

import logging
import time

import torch
import torch.nn.functional as F
from torch import nn

from resnet.core import data as data_lib
from resnet.core import models
from resnet.core.augment import normalize
from resnet.core.config import RunConfig
from resnet.core.device import resolve_device

# Compiled graphs a process may hold per function: one per distinct net of a sweep. Past the
# limit (torch's default is 8) torch silently runs further nets eager.
RECOMPILE_LIMIT = 64


def autocast(config: RunConfig, device: torch.device):
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"
    )


@torch.inference_mode()
def evaluate(
    model: nn.Module, split: data_lib.Split, dataset: data_lib.Dataset, config: RunConfig
) -> tuple[float, float]:
    """(mean loss, error) on a split, in eval mode; the model is back in train mode after."""
    device = split.images.device
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    wrong = torch.zeros((), dtype=torch.int64, device=device)
    for start in range(0, len(split), config.eval_batch_size):
        images = split.images[start : start + config.eval_batch_size]
        labels = split.labels[start : start + config.eval_batch_size]
        x = normalize(images, dataset.mean, dataset.std, config.channels_last)
        with autocast(config, device):
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum")
        wrong += (logits.argmax(1) != labels).sum()
    model.train(was_training)
    return (loss_sum / len(split)).item(), (wrong / len(split)).item()


def build_model(config: RunConfig, dataset: data_lib.Dataset, device: torch.device) -> nn.Module:
    torch.manual_seed(config.seed)  # the same initial weights on every device
    model = models.build(
        config.arch,
        config.depth,
        config.shortcut,
        dataset.in_channels,
        dataset.num_classes,
        config.bn_group,
    ).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def compile_for_training(model: nn.Module, device: torch.device) -> nn.Module:
    """`torch.compile`d `model`, sharing its weights. On CUDA with CUDA graphs
    ("reduce-overhead"): these small nets are bound by kernel launches, and a graph replays a
    whole forward (or backward) pass as one launch."""
    dynamo, name = torch._dynamo.config, recompile_limit_name()
    setattr(dynamo, name, max(getattr(dynamo, name), RECOMPILE_LIMIT))
    if device.type != "cuda":
        quiet_about_a_missing_cuda_runtime()
    return torch.compile(model, mode="reduce-overhead" if uses_cuda_graphs(device) else None)


def quiet_about_a_missing_cuda_runtime() -> None:
    """Compiling for the CPU imports torch's C++ extension tools, which warn "No CUDA runtime is
    found, using CUDA_HOME=..." wherever a CUDA toolkit folder exists without a GPU: a line
    that reads like an error on a machine that never needed CUDA."""
    logging.getLogger("torch.utils.cpp_extension").addFilter(not_the_cuda_runtime_warning)


def not_the_cuda_runtime_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("No CUDA runtime is found")


def recompile_limit_name() -> str:
    """The name of dynamo's limit in this torch: `recompile_limit` in newer versions, which
    keep `cache_size_limit` as an alias; older ones (2.6 and before) have only the latter."""
    return (
        "recompile_limit"
        if hasattr(torch._dynamo.config, "recompile_limit")
        else "cache_size_limit"
    )


def uses_cuda_graphs(device: torch.device) -> bool:
    return device.type == "cuda"


def make_optimizer(
    parameters, lr: float, momentum: float, weight_decay: float = 0.0
) -> torch.optim.SGD:
    """The SGD every training step uses: the trainer's, the cost estimate's and the
    benchmark's, so that what they time is the optimiser the runs train with."""
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)


def train_step(model, optimizer, x, labels, config: RunConfig, device: torch.device):
    """One SGD step; returns (loss, logits) without reading them back to the host. With CUDA
    graphs the logits are valid until the next step only."""
    if config.compile and uses_cuda_graphs(device):
        torch.compiler.cudagraph_mark_step_begin()  # the last step's outputs may be reused
    with autocast(config, device):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, logits


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a GPU's; a CPU's is done when its call returns)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BareSteps:
    """A net of `config` training on one random batch of the data's shape and nothing else:
    the step that the projection, the worker layout and the benchmark time, compiled where the
    config says so, with the runs' optimizer (a small lr keeps the numbers finite)."""

    def __init__(self, config: RunConfig, dataset: data_lib.Dataset):
        self.config = config
        self.device = resolve_device(config.device)
        model = build_model(config, dataset, self.device)
        self.optimizer = make_optimizer(
            model.parameters(), lr=1e-3, momentum=config.momentum, weight_decay=config.weight_decay
        )
        self.forward = compile_for_training(model, self.device) if config.compile else model
        shape = (config.batch_size, dataset.in_channels, *dataset.image_size)
        self.x = torch.randn(shape, device=self.device)
        if config.channels_last:
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.y = torch.randint(0, dataset.num_classes, (config.batch_size,), device=self.device)

    def run(self, steps: int) -> float:
        """Seconds that `steps` steps take, the device's queued work finished at both ends."""
        synchronize(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            train_step(self.forward, self.optimizer, self.x, self.y, self.config, self.device)
        synchronize(self.device)
        return time.perf_counter() - start
