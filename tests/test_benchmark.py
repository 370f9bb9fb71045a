"""The benchmark's plumbing on a tiny case (its numbers are measured by running it, not here)."""

import json

import pytest
import torch

from resnet.bench.benchmark import BenchCase, cifar_shaped, train_flops_per_image
from resnet.cli.benchmark import main, set_malloc
from resnet.core.allocator import _glibc_mallopt
from resnet.core.precision import native_precision

TINY = [
    "--archs",
    "plain",
    "--depths",
    "8",
    "--batch-size",
    "8",
    "--rounds",
    "1",
    "--steps",
    "1",
    "--workers",
    "0",
    "--images",
    "64",
]


def test_a_tiny_benchmark_writes_every_number(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main([*TINY, "--json", str(out)]) == 0
    body = json.loads(out.read_text())
    (row,) = body["results"].values()
    for key in ("step_ips", "trainer_ips", "reference_ips"):
        assert row[key] > 0
    assert row["trainer_vs_step"] == pytest.approx(row["trainer_ips"] / row["step_ips"])
    assert body["peak_flops"] > 0 and body["command"].startswith("python experiments/benchmark.py")
    assert body["machine"]["malloc"] == ("freed memory kept" if _glibc_mallopt() else "default")
    native = native_precision(torch.device("cpu"))[0]  # what the default, auto, picks here
    assert f"| plain-8 {native} b8 |" in capsys.readouterr().out


def test_default_malloc_leaves_glibc_alone(monkeypatch):
    def untouched():
        raise AssertionError("mallopt called")

    monkeypatch.setattr("resnet.cli.benchmark.keep_freed_memory", untouched)
    assert set_malloc(default=True) == "default"


def test_training_flops_are_three_forward_passes_of_the_papers_macs():
    dataset = cifar_shaped(64)
    for depth, macs in ((20, 40.6e6), (56, 125.5e6)):
        flops = train_flops_per_image(BenchCase("residual", depth, "bf16", 8, "cpu"), dataset)
        assert flops == pytest.approx(3 * 2 * macs, rel=0.01)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--archs", "vgg"], "unknown arch 'vgg'"),
        (["--depths", "21"], "depth 21 is not 6n+2"),
        (["--precision", "fp16"], "unknown precision 'fp16'"),
        (["--batch-size", "0"], "--batch-size must be in [1, 65536], got 0"),
        (["--images", "4", "--batch-size", "8"], "--batch-size 8 exceeds the 4 images"),
        (["--json", "/no/such/folder/x.json"], "give a file in an existing folder"),
        (["--device", "cuda:7"], "not available"),
        (["--device", "gpu"], "unknown device 'gpu' (allowed: auto, cpu"),
        (["--json", "/proc/x.json"], "--json /proc/x.json: cannot write there"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_variants_compare_compilation_and_layout_and_time_the_reference_once(monkeypatch):
    import resnet.bench.benchmark as bench
    from resnet.cli.benchmark import cases_from_args, make_parser

    cases = cases_from_args(make_parser().parse_args([*TINY, "--variants"]))
    assert [(c.compile, c.channels_last) for c in cases] == [
        (False, True),
        (False, False),
        (True, True),
        (True, False),
    ]
    assert len({c.name for c in cases}) == 4
    eager = [c for c in cases if not c.compile]  # compiling takes the suite's time; not here
    built = []
    real = bench.reference_runner
    monkeypatch.setattr(bench, "reference_runner", lambda *a: built.append(a[0]) or real(*a))
    plan = bench.BenchPlan(1, 1, 0, images=64)
    first, second = bench.measure(eager, plan, report=lambda _: None)
    assert built == [eager[0]]  # one reference pipeline for the net
    assert second.seconds["reference"] is first.seconds["reference"]
    assert second.ips("reference") == first.ips("reference") > 0
    assert first.ips("step") > 0 and second.ips("step") > 0


def test_variants_exclude_the_single_layout_flags(capsys):
    assert main([*TINY, "--variants", "--compile"]) == 2
    assert "--variants times every layout" in capsys.readouterr().err
