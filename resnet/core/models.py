"""Plain and residual networks from one builder: the only difference is the shortcut.

CIFAR-style nets (He et al. 2016, section 4.2) have depth 6n+2: a 3x3 stem with 16 filters,
three stages of n basic blocks at 16/32/64 filters, global average pooling and a linear layer.
The ImageNet-style pairs (resnet18/34 and their plain twins) keep basic blocks at widths 64-512,
with a 3x3 stem and no max-pool so they work on 28x28 and 32x32 images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from resnet.core.archs import SHORTCUTS, ArchSpec, arch_spec, net_problem


class ZeroPadShortcut(nn.Module):
    """Option A: parameter-free identity with stride-2 subsampling and zero-padded channels."""

    def __init__(self, stride: int, extra_channels: int):
        super().__init__()
        self.stride = stride
        self.extra_channels = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


class GhostBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose training statistics come from groups of `group` images of each batch,
    as when a batch of 128 is split over the paper's two GPUs (64 each). The running
    statistics, used in eval mode, follow the mean of the groups' statistics. `group` 0 (or
    the whole batch) is ordinary batch norm; the weights load into a plain BatchNorm2d."""

    def __init__(self, channels: int, group: int = 0):
        super().__init__(channels)
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.group == 0 or len(x) <= self.group:
            return super().forward(x)
        groups = x.split(self.group)
        out = [self._normalise(g) for g in groups]
        with torch.no_grad():
            self._update_running_stats(groups)
        return torch.cat(out)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)

    def _update_running_stats(self, groups: tuple[torch.Tensor, ...]) -> None:
        means = torch.stack([g.mean(dim=(0, 2, 3)) for g in groups]).float()
        variances = torch.stack([g.var(dim=(0, 2, 3)) for g in groups]).float()
        self.running_mean.lerp_(means.mean(0), self.momentum)
        self.running_var.lerp_(variances.mean(0), self.momentum)
        self.num_batches_tracked += 1


def norm_layer(bn_group: int):
    """The batch-norm layer for `bn_group` (0: ordinary batch norm)."""
    if bn_group == 0:
        return nn.BatchNorm2d
    return lambda channels: GhostBatchNorm2d(channels, bn_group)


def projection_shortcut(in_ch: int, out_ch: int, stride: int, norm=nn.BatchNorm2d) -> nn.Module:
    """Option B: 1x1 convolution + BN where the shape changes."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), norm(out_ch))


def make_shortcut(
    kind: str, in_ch: int, out_ch: int, stride: int, norm=nn.BatchNorm2d
) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    if kind == "A":
        return ZeroPadShortcut(stride, out_ch - in_ch)
    if kind == "B":
        return projection_shortcut(in_ch, out_ch, stride, norm)
    raise ValueError(f"unknown shortcut {kind!r} (allowed: {', '.join(SHORTCUTS)})")


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, then `+ shortcut` when residual, then ReLU."""

    def __init__(
        self, in_ch: int, out_ch: int, stride: int, shortcut: str | None, norm=nn.BatchNorm2d
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = norm(out_ch)
        self.shortcut = (
            None if shortcut is None else make_shortcut(shortcut, in_ch, out_ch, stride, norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class Net(nn.Module):
    def __init__(
        self,
        spec: ArchSpec,
        blocks: tuple[int, ...],
        shortcut: str | None,
        in_channels: int,
        num_classes: int,
        bn_group: int = 0,
    ):
        super().__init__()
        norm = norm_layer(bn_group)
        # Drawn before any layer is made, so twins that make different layers share it.
        init_seed = int(torch.randint(2**62, (), dtype=torch.int64))
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, spec.stem_width, 3, padding=1, bias=False),
            norm(spec.stem_width),
            nn.ReLU(inplace=True),
        )
        layers, in_ch = [], spec.stem_width
        for stage, (width, count) in enumerate(zip(spec.widths, blocks, strict=True)):
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(in_ch, width, stride, shortcut, norm))
                in_ch = width
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(in_ch, num_classes)
        init_he(self, torch.Generator().manual_seed(init_seed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Standardized(nn.Module):
    """A trained net with its data set's standardisation in front: it takes images as floats
    in [0, 1] (N x C x H x W, as torchvision's `to_tensor` gives) and returns class logits.
    This is the net as it is shared: nobody has to know the training set's statistics."""

    def __init__(self, net: nn.Module, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.net = net
        mean = mean[:, None, None] if mean.dim() == 1 else mean  # per channel, or per pixel
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clone()[:, None, None])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


def init_he(model: Net, generator: torch.Generator) -> None:
    """He et al. 2015 initialisation for convolutions, as the paper uses; BN starts at identity;
    the linear layer gets PyTorch's default.

    Every weight comes from `generator`, in a fixed order with the shortcut projections
    (option B) last, so a plain net and its residual twin built from one seed start from the
    same weights in every layer they share, whatever their construction drew."""
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    for conv in [m for name, m in convs if ".shortcut." not in name]:
        he_normal(conv, generator)
    default_linear_init(model.head, generator)
    for conv in [m for name, m in convs if ".shortcut." in name]:
        he_normal(conv, generator)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def he_normal(conv: nn.Conv2d, generator: torch.Generator) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu", generator=generator)


def default_linear_init(layer: nn.Linear, generator: torch.Generator) -> None:
    """PyTorch's default for a linear layer, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn here."""
    bound = 1 / math.sqrt(layer.in_features)
    nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def build(
    arch: str,
    depth: int,
    shortcut: str = "A",
    in_channels: int = 3,
    num_classes: int = 10,
    bn_group: int = 0,
) -> Net:
    """The network for an (arch, depth). `shortcut` is ignored by plain nets, which have none;
    `bn_group` > 0 takes batch-norm statistics over groups of that many images."""
    spec = arch_spec(arch)
    problem = net_problem(arch, depth, shortcut if spec.residual else "none")
    if problem:
        raise ValueError(problem)
    blocks = spec.blocks or (((depth - 2) // 6),) * len(spec.widths)
    return Net(
        spec, blocks, shortcut if spec.residual else None, in_channels, num_classes, bn_group
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
