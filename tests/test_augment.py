import torch

from resnet.core.augment import crop_flip, crop_flip_at, normalize


def images(n=2, c=2, h=4, w=5):
    return torch.arange(n * c * h * w, dtype=torch.uint8).reshape(n, c, h, w)


def reference(image, pad, top, left, flip):
    """One image the slow, obvious way: zero-pad, crop, then flip."""
    padded = torch.nn.functional.pad(image, (pad, pad, pad, pad))
    crop = padded[:, top : top + image.shape[1], left : left + image.shape[2]]
    return crop.flip(-1) if flip else crop


def test_crop_and_flip_match_the_per_image_reference():
    x = images()
    top, left, flips = torch.tensor([0, 4]), torch.tensor([3, 1]), torch.tensor([True, False])
    out = crop_flip_at(x, 2, top, left, flips)
    for i in range(2):
        expected = reference(x[i], 2, int(top[i]), int(left[i]), bool(flips[i]))
        assert torch.equal(out[i], expected)


def test_known_offsets_on_a_known_image():
    x = torch.tensor([[[[1, 2], [3, 4]]]], dtype=torch.uint8)
    # offset (0, 0) with pad 1: the top-left padded corner: zeros on top and left
    out = crop_flip_at(x, 1, torch.tensor([0]), torch.tensor([0]), None)
    assert out.tolist() == [[[[0, 0], [0, 1]]]]
    # offset (2, 2): bottom-right corner, then flipped left-right
    out = crop_flip_at(x, 1, torch.tensor([2]), torch.tensor([2]), torch.tensor([True]))
    assert out.tolist() == [[[[0, 4], [0, 0]]]]


def test_centre_crop_without_flip_is_the_identity():
    x = images()
    out = crop_flip_at(x, 3, torch.tensor([3, 3]), torch.tensor([3, 3]), torch.tensor([False] * 2))
    assert torch.equal(out, x)


def test_random_crop_flip_keeps_shape_and_dtype_and_is_seeded():
    x = images(n=64)
    a = crop_flip(x, 2, True, torch.Generator().manual_seed(1))
    b = crop_flip(x, 2, True, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert not torch.equal(a, x)


def test_no_padding_and_no_flip_returns_the_batch():
    x = images()
    assert crop_flip(x, 0, False) is x


def test_normalize_uses_the_given_channel_statistics():
    x = torch.full((1, 2, 2, 2), 51, dtype=torch.uint8)  # 0.2 on the [0, 1] scale
    out = normalize(x, torch.tensor([0.2, 0.1]), torch.tensor([1.0, 0.5]))
    assert torch.allclose(out[0, 0], torch.zeros(2, 2), atol=1e-6)
    assert torch.allclose(out[0, 1], torch.full((2, 2), 0.2), atol=1e-6)
