import pytest
import torch

from resnet.core.archs import ARCHS, depth_error
from resnet.core.models import GhostBatchNorm2d, build, count_parameters

# He et al. 2016, CIFAR-10 with option A shortcuts: parameter counts by depth.
PAPER_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


@pytest.mark.parametrize("depth", sorted(PAPER_PARAMS))
def test_parameter_counts_match_the_paper(depth):
    assert count_parameters(build("residual", depth, "A")) == PAPER_PARAMS[depth]
    assert count_parameters(build("plain", depth)) == PAPER_PARAMS[depth]


def test_option_b_adds_two_projections():
    # 1x1 conv + BN at the two stage transitions: 16*32 + 2*32 + 32*64 + 2*64
    extra = 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64
    assert count_parameters(build("residual", 20, "B")) == PAPER_PARAMS[20] + extra


def test_plain_and_residual_differ_only_in_the_shortcut():
    plain, residual = build("plain", 20), build("residual", 20, "A")
    assert [n for n, _ in plain.named_parameters()] == [n for n, _ in residual.named_parameters()]
    assert all(b.shortcut is None for b in plain.blocks)
    assert all(b.shortcut is not None for b in residual.blocks)


def test_output_shape_follows_data_channels_and_classes():
    net = build("residual", 8, in_channels=1, num_classes=4).eval()
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 4)


def test_option_a_shortcut_is_zero_padded_subsampling():
    block = build("residual", 8, "A").blocks[1]  # first block of stage 2: 16 -> 32, stride 2
    x = torch.randn(1, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (1, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 16:]) == 0


def test_convolutions_get_he_initialisation():
    torch.manual_seed(0)
    conv = build("plain", 110).blocks[18].conv1  # 16 -> 32, 3x3: fan_out 288 (fan_in 144)
    assert conv.weight.std().item() == pytest.approx((2 / 288) ** 0.5, rel=0.05)


@pytest.mark.parametrize(("depth", "nearest"), [(21, "20, 26"), (19, "14, 20"), (3, "8"), (0, "8")])
def test_depth_not_6n_plus_2_names_valid_depths(depth, nearest):
    assert f"nearest valid: {nearest})" in depth_error("plain", depth)


def test_valid_depths_pass():
    for depth in (8, 20, 56, 110, 1202):
        assert depth_error("residual", depth) is None


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown arch 'vgg'"):
        build("vgg", 20)


# The paper's nets (CIFAR-10 and the ImageNet-style pairs): the rest of the registry may grow.
PAPER_ARCHS = {"plain", "residual", "plain18", "plain34", "resnet18", "resnet34"}


def layout(arch: str) -> tuple:
    """What a net is apart from its shortcut: a plain net and its residual twin share it."""
    spec = ARCHS[arch]
    return spec.stem_width, spec.widths, spec.blocks


def test_the_registry_holds_the_papers_nets():
    assert set(ARCHS) >= PAPER_ARCHS


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_registered_arch_builds_as_its_spec_says(arch):
    spec = ARCHS[arch]
    depth = spec.fixed_depth or 8  # 8: the shallowest 6n+2 net
    net = build(arch, depth, in_channels=1, num_classes=3).eval()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    assert all((b.shortcut is not None) == spec.residual for b in net.blocks)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_registered_arch_has_a_twin_of_the_other_kind(arch):
    # The study contrasts a plain net with the residual net of the same layout.
    twins = [
        a for a in ARCHS if layout(a) == layout(arch) and ARCHS[a].residual != ARCHS[arch].residual
    ]
    assert twins, f"{arch} has no twin of the other kind"
    depth = ARCHS[arch].fixed_depth or 8
    assert count_parameters(build(arch, depth)) == count_parameters(build(twins[0], depth))


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_plain_and_residual_from_one_seed_start_from_the_same_weights(shortcut):
    torch.manual_seed(3)
    plain = build("plain", 20).state_dict()
    torch.manual_seed(3)
    residual = build("residual", 20, shortcut).state_dict()
    assert set(plain) <= set(residual)
    for name, tensor in plain.items():
        assert torch.equal(tensor, residual[name]), name


def test_ghost_batch_norm_normalises_each_group_on_its_own():
    torch.manual_seed(0)
    ghost, plain = GhostBatchNorm2d(5, group=4), torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        ghost.weight.uniform_(0.5, 2), ghost.bias.uniform_(-1, 1)
    plain.load_state_dict(ghost.state_dict())
    x = torch.randn(12, 5, 6, 6) * 3 + torch.arange(12.0)[:, None, None, None]
    expected = torch.cat(
        [
            torch.nn.functional.batch_norm(
                g, None, None, ghost.weight, ghost.bias, training=True, eps=ghost.eps
            )
            for g in x.split(4)
        ]
    )
    assert torch.allclose(ghost(x), expected, atol=1e-5)
    assert not torch.allclose(expected, plain(x), atol=1e-2)  # not ordinary batch norm
    # Running statistics: the mean of the groups' batch statistics.
    groups = x.split(4)
    mean = torch.stack([g.mean(dim=(0, 2, 3)) for g in groups]).mean(0)
    var = torch.stack([g.var(dim=(0, 2, 3)) for g in groups]).mean(0)
    assert torch.allclose(ghost.running_mean, 0.1 * mean, atol=1e-5)
    assert torch.allclose(ghost.running_var, 0.9 + 0.1 * var, atol=1e-5)


def test_ghost_batch_norm_uses_running_statistics_in_eval_mode():
    ghost = GhostBatchNorm2d(3, group=2)
    ghost.running_mean.fill_(1.0), ghost.running_var.fill_(4.0)
    x = torch.randn(4, 3, 5, 5)
    assert torch.allclose(ghost.eval()(x), (x - 1) / (4 + ghost.eps) ** 0.5, atol=1e-5)


def test_bn_group_zero_is_ordinary_batch_norm_and_weights_are_shared():
    grouped, ordinary = build("residual", 20, bn_group=64), build("residual", 20)
    assert all(
        isinstance(m, GhostBatchNorm2d) for m in grouped.modules() if "Norm" in type(m).__name__
    )
    assert not any(isinstance(m, GhostBatchNorm2d) for m in ordinary.modules())
    ordinary.load_state_dict(grouped.state_dict())  # the same weights either way
    assert count_parameters(grouped) == PAPER_PARAMS[20]
