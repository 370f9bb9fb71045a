"""Layer responses, as in He et al. 2016 Figure 7: the standard deviation of each 3x3 layer's
output after BN and before the addition and ReLU, on a fixed batch of validation images (training
images when there is no validation split).

Computed once at the end of a finished run, in eval mode (BN uses its running statistics) and in
fp32, so the numbers depend on the trained weights only, not on the batch's own statistics. The
std is over every element of the layer's output (images, channels and positions). The runner
logs them as a cell run's artifact (`resnet.tracking.schema.RESPONSES_FILE`).
"""

from __future__ import annotations

import torch
from torch import nn

from resnet.core.augment import normalize
from resnet.core.config import RunConfig
from resnet.core.data import Dataset
from resnet.core.models import BasicBlock, Net

RESPONSE_IMAGES = 500  # the first images of the validation split (a fixed split, SPLIT_SEED)


def response_layers(model: Net) -> list[tuple[str, nn.BatchNorm2d]]:
    """(name, BN) of every 3x3 convolution in forward order: the stem, then conv1/conv2 of each
    block. Projection shortcuts (1x1) are not 3x3 layers and are left out."""
    layers = [("stem", model.stem[1])]
    for i, block in enumerate(model.blocks):
        assert isinstance(block, BasicBlock)
        layers += [(f"block{i + 1}.conv1", block.bn1), (f"block{i + 1}.conv2", block.bn2)]
    return layers


class Moments:
    """Sum and sum of squares of every response, accumulated over batches (in float64)."""

    def __init__(self):
        self.n, self.total, self.squares = 0, 0.0, 0.0

    def add(self, out: torch.Tensor) -> None:
        out = out.double()
        self.n += out.numel()
        self.total += out.sum().item()
        self.squares += out.square().sum().item()

    def std(self) -> float:
        """Sample std (n - 1), as torch.std."""
        mean = self.total / self.n
        return max(0.0, (self.squares - self.n * mean**2) / (self.n - 1)) ** 0.5


@torch.inference_mode()
def layer_response_stds(model: Net, dataset: Dataset, config: RunConfig) -> list[dict]:
    """[{layer, index, std}] in forward order; the model is left as it was (mode and weights)."""
    source = dataset.val if len(dataset.val) else dataset.train  # no validation split: train
    images = source.images[:RESPONSE_IMAGES]
    if len(images) == 0:
        return []
    layers = response_layers(model)
    moments = {name: Moments() for name, _ in layers}
    hooks = [
        bn.register_forward_hook(lambda _m, _i, out, name=name: moments[name].add(out))
        for name, bn in layers
    ]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), config.eval_batch_size):
            batch = images[start : start + config.eval_batch_size]
            model(normalize(batch, dataset.mean, dataset.std, config.channels_last))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return [
        {"layer": name, "index": i + 1, "std": moments[name].std()}
        for i, (name, _) in enumerate(layers)
    ]
