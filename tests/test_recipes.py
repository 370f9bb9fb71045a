"""docs/CONTRIBUTING.md's recipes, each tried as a contributor would: a net, a data set, a
training setting each take one registry line or one field, and the rest of the project (the
preset check, the command line, the sweep's grid, training) takes them with no other edit.
The metric recipe is tried by tests/test_structure.py, the tuned parameter by
tests/test_tuning.py (momentum)."""

import torch

from resnet.cli.sweep import make_parser, sweep_from_args
from resnet.core import archs, data, datasets
from resnet.core.train import load_data, train


def short(cell):
    """A cell trained for two iterations: enough to show the net builds, steps and logs."""
    import dataclasses

    return dataclasses.replace(
        cell, iterations=2, warmup_iterations=0, log_every=1, eval_every=2, device="cpu"
    )


class Quiet:
    def log_metrics(self, metrics, step):
        pass


def test_a_net_is_one_line_of_the_registry(monkeypatch):
    # resnet/core/models.py: ARCHS gains a wider twin pair; nothing else is edited.
    wide = (32, 64, 128)
    monkeypatch.setitem(archs.ARCHS, "plainwide", archs.ArchSpec(False, 32, wide))
    monkeypatch.setitem(archs.ARCHS, "residualwide", archs.ArchSpec(True, 32, wide))
    argv = ["--preset", "smoke", "--archs", "plainwide,residualwide", "--depths", "8"]
    cells = sweep_from_args(make_parser().parse_args(argv)).cells()
    assert [(c.arch, c.shortcut) for c in cells] == [("plainwide", "none"), ("residualwide", "A")]
    dataset = load_data(cells[0])
    for cell in cells:
        assert train(short(cell), dataset, Quiet(), progress=False).finished


def test_a_data_set_is_one_loader_of_the_registry(monkeypatch):
    # resnet/core/datasets.py names it; resnet/core/data.py: LOADERS gains its loader, returning
    # uint8 images on the CPU.
    def load_stripes(data_dir, image_size):
        size = image_size or 16
        labels = torch.arange(600) % 4
        images = (labels[:, None, None, None] * 60).expand(600, 3, size, size).to(torch.uint8)
        split = data.Split(images.contiguous(), labels)
        return split, data.Split(images[:100].contiguous(), labels[:100]), 4

    monkeypatch.setitem(data.LOADERS, "stripes", load_stripes)
    monkeypatch.setattr(datasets, "DATASETS", (*datasets.DATASETS, "stripes"))
    argv = ["--preset", "smoke", "--dataset", "stripes", "--archs", "residual", "--depths", "8"]
    cell = sweep_from_args(make_parser().parse_args(argv)).cells()[0]
    dataset = load_data(cell)
    assert dataset.num_classes == 4 and len(dataset.train) + len(dataset.val) == 600
    assert train(short(cell), dataset, Quiet(), progress=False).finished
