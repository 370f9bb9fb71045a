"""Figure 7's layer responses: which layers, what they measure, and that the model is unchanged."""

import pytest
import torch

from resnet.core.config import RunConfig
from resnet.core.models import build
from resnet.core.responses import RESPONSE_IMAGES, layer_response_stds, response_layers


def test_one_response_per_3x3_layer_in_forward_order():
    for shortcut in ("A", "B"):
        names = [name for name, _ in response_layers(build("residual", 14, shortcut))]
        assert names[0] == "stem" and len(names) == 13  # 1 stem + 2 per block, no 1x1 projections
        assert names[1:3] == ["block1.conv1", "block1.conv2"]


def test_responses_are_the_std_after_bn_in_eval_mode(synthetic16):
    torch.manual_seed(0)
    model = build("plain", 8)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = RunConfig(arch="plain", depth=8, eval_batch_size=64)  # several batches
    rows = layer_response_stds(model, synthetic16, config)

    assert [r["index"] for r in rows] == list(range(1, 8))
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats untouched

    # Recompute the stem's response by hand: conv, then BN with running statistics.
    from resnet.core.augment import normalize

    images = synthetic16.val.images[:RESPONSE_IMAGES]
    x = normalize(images, synthetic16.mean, synthetic16.std)
    model.eval()
    with torch.no_grad():
        stem = model.stem[1](model.stem[0](x))
    assert rows[0]["std"] == pytest.approx(torch.std(stem).item(), rel=1e-5)
    assert all(r["std"] > 0 for r in rows)
