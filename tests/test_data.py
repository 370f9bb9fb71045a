import gzip
import struct
from pathlib import Path

import pytest
import torch
from PIL import Image

from resnet.core import data
from resnet.core.augment import normalize
from resnet.core.data import DataError, load, read_idx


def write_idx(path: Path, array: torch.Tensor) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.dim()) + struct.pack(
        f">{array.dim()}I", *array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.to(torch.uint8).numpy().tobytes())


def fake_fashion_mnist(folder: Path, n_train=120, n_test=30) -> None:
    gen = torch.Generator().manual_seed(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte.gz",
            torch.randint(0, 256, (n, 28, 28), generator=gen),
        )
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", torch.arange(n) % 10)


def test_idx_reader_round_trips(tmp_path):
    array = torch.randint(0, 256, (5, 3, 4), dtype=torch.uint8)
    write_idx(tmp_path / "x.gz", array)
    assert torch.equal(read_idx(tmp_path / "x.gz"), array)


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    write_idx(tmp_path / "x.gz", torch.zeros(5, 3, 4))
    raw = gzip.decompress((tmp_path / "x.gz").read_bytes())
    (tmp_path / "x.gz").write_bytes(gzip.compress(raw[:-7]))
    with pytest.raises(DataError, match="not a readable idx"):
        read_idx(tmp_path / "x.gz")


def test_fashion_mnist_is_read_from_the_data_dir(tmp_path):
    fake_fashion_mnist(tmp_path)
    ds = load("fashion-mnist", tmp_path, val_size=20)
    assert ds.train.images.shape == (100, 1, 28, 28) and ds.train.images.dtype == torch.uint8
    assert (len(ds.val), len(ds.test), ds.num_classes, ds.in_channels) == (20, 30, 10, 1)


def test_image_size_resizes_any_data_set(tmp_path):
    fake_fashion_mnist(tmp_path)
    ds = load("fashion-mnist", tmp_path, val_size=20, image_size=16)
    assert ds.train.images.shape[1:] == (1, 16, 16) and ds.test.images.shape[1:] == (1, 16, 16)


def test_fashion_mnist_falls_back_to_the_debian_package(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    fake_fashion_mnist(debian)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", debian)
    monkeypatch.chdir(tmp_path)  # no ./data here: the default data dir is empty
    assert len(load("fashion-mnist", val_size=20).test) == 30


def test_a_data_dir_the_user_named_is_never_swapped_for_the_debian_copy(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    fake_fashion_mnist(debian)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", debian)

    def offline(data_dir):
        raise data.DataError(f"offline: nothing downloaded into {data_dir}")

    monkeypatch.setattr(data, "_download_fashion_mnist", offline)
    with pytest.raises(DataError, match=r"nothing downloaded into .*elsewhere"):
        load("fashion-mnist", tmp_path / "elsewhere", val_size=20)


@pytest.mark.skipif(
    data._fashion_folder(Path(data.DEFAULT_DATA_DIR)) is None,
    reason="dataset-fashion-mnist absent",
)
def test_debian_fashion_mnist_has_the_paper_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = load("fashion-mnist")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (55_000, 5_000, 10_000)
    assert set(ds.train.labels.unique().tolist()) == set(range(10))


def test_split_is_fixed_disjoint_and_subset_comes_from_train(synthetic16):
    again = load("synthetic", image_size=16)
    assert torch.equal(synthetic16.val.images, again.val.images)
    assert len(synthetic16.train) + len(synthetic16.val) == data.SYNTHETIC_SIZES["train"]
    train_rows = {bytes(x.numpy()) for x in synthetic16.train.images}
    assert not any(bytes(x.numpy()) in train_rows for x in synthetic16.val.images)
    small = load("synthetic", image_size=16, train_subset=100)
    assert torch.equal(small.train.images, synthetic16.train.images[:100])


def test_normalisation_comes_from_the_training_images(synthetic16):
    x = synthetic16.train.images.float() / 255
    assert torch.allclose(synthetic16.mean, x.mean(dim=(0, 2, 3)), atol=1e-4)
    assert torch.allclose(synthetic16.std, x.transpose(0, 1).reshape(3, -1).std(dim=1), atol=1e-4)


def test_synthetic_classes_are_balanced_and_distinct(synthetic16):
    counts = torch.bincount(synthetic16.train.labels, minlength=10)
    assert counts.min() > 0.5 * counts.float().mean()
    means = torch.stack(
        [synthetic16.train.images[synthetic16.train.labels == c].float().mean(0) for c in range(10)]
    )
    assert torch.cdist(means.flatten(1), means.flatten(1)).fill_diagonal_(1e9).min() > 100


def save_pngs(folder: Path, size: int, count: int = 3) -> None:
    for cls in ("cat", "dog"):
        (folder / cls).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (size, size), (i * 40, 90, 200)).save(folder / cls / f"{i}.png")


def test_imagefolder_reads_train_and_test(tmp_path):
    save_pngs(tmp_path / "train", 12, count=5)
    save_pngs(tmp_path / "test", 12)
    ds = load("imagefolder", tmp_path, val_size=2)
    assert ds.train.images.shape == (8, 3, 12, 12) and ds.num_classes == 2
    assert len(ds.test) == 6


def test_imagefolder_of_mixed_sizes_needs_an_image_size(tmp_path):
    save_pngs(tmp_path / "train", 12, count=5)
    save_pngs(tmp_path / "test", 10)
    with pytest.raises(DataError, match="differ in size"):
        load("imagefolder", tmp_path, val_size=2)
    ds = load("imagefolder", tmp_path, val_size=2, image_size=8)
    assert ds.test.images.shape[2:] == (8, 8)


def test_imagefolder_without_train_folder_says_what_is_needed(tmp_path):
    with pytest.raises(DataError, match="train/ with one folder per class"):
        load("imagefolder", tmp_path)


def test_offline_cifar10_names_the_archive_and_the_offline_dataset(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(root, *args, **kwargs):
        Path(root).mkdir(parents=True, exist_ok=True)  # as torchvision does before downloading
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError) as error:
        load("cifar10", tmp_path / "data")
    message = str(error.value)
    assert "cifar-10-python.tar.gz" in message and "--dataset fashion-mnist" in message
    assert "\n" not in message
    assert not (tmp_path / "data").exists()  # bad input leaves nothing behind
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError):
        load("cifar10", tmp_path / "mine")
    assert (tmp_path / "mine").is_dir()  # a folder the user had stays


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        load("synthetic", tmp_path / "file")


def test_per_pixel_mean_comes_from_the_training_images_only(tmp_path):
    fake_fashion_mnist(tmp_path)
    ds = load("fashion-mnist", tmp_path, val_size=20, train_subset=50, normalization="pixel")
    expected = ds.train.images.float().mean(dim=0) / 255
    assert ds.mean.shape == (1, 28, 28) and torch.allclose(ds.mean, expected)
    with_val = torch.cat([ds.train.images, ds.val.images]).float().mean(dim=0) / 255
    assert not torch.allclose(ds.mean, with_val)  # neither validation nor test images count
    x = normalize(ds.train.images, ds.mean, ds.std)
    assert torch.allclose(x.mean(dim=0), torch.zeros(1, 28, 28), atol=1e-5)  # mean subtracted
    assert torch.allclose(x[0] + ds.mean, ds.train.images[0].float() / 255, atol=1e-6)  # no scaling


def test_val_size_zero_trains_on_every_image(tmp_path):
    fake_fashion_mnist(tmp_path)
    ds = load("fashion-mnist", tmp_path, val_size=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (120, 0, 30)


def test_imagefolder_without_images_or_with_one_class_is_one_clear_error(tmp_path):
    for part in ("train", "test"):
        for name in ("a", "b"):
            (tmp_path / part / name).mkdir(parents=True)
            (tmp_path / part / name / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"train/ needs one folder per class holding image files"):
        load("imagefolder", tmp_path)
    single = tmp_path / "single"
    for part in ("train", "test"):
        (single / part / "only").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(single / part / "only" / "x.png")
    with pytest.raises(DataError, match="has 1 class folder: a classifier needs at least 2"):
        load("imagefolder", single)


def test_every_data_set_name_has_its_loader_and_no_loader_is_unnamed():
    from resnet.core.datasets import DATASETS

    assert tuple(data.LOADERS) == DATASETS
