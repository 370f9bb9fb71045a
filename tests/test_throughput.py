"""The worker-throughput benchmark's plumbing (its measurements need a GPU to mean much)."""

import pytest

from resnet.bench.throughput import preset, sweep_command, table
from resnet.cli.throughput import SWEEP, main, make_parser
from resnet.core.presets import build_sweep


def test_its_preset_is_a_valid_sweep_of_the_wanted_cells(tmp_path):
    args = make_parser().parse_args(["--cells", "3", "--iterations", "40", "--depth", "32"])
    command = sweep_command(args, 4, tmp_path, SWEEP)
    assert command[command.index("--workers") + 1] == "4"
    assert (tmp_path / "throughput.toml").read_text() == preset(args)
    cells = build_sweep(str(tmp_path / "throughput.toml"), {}, {}).cells()
    assert [c.name for c in cells] == ["residual-32-s0", "residual-32-s1", "residual-32-s2"]
    assert cells[0].milestones == (20, 30) and cells[0].dataset == "synthetic"


def test_all_workers_share_one_gpu_even_where_there_are_more(tmp_path):
    def device_options(device):
        command = sweep_command(make_parser().parse_args(["--device", device]), 4, tmp_path, SWEEP)
        jobs = command[command.index("--jobs-per-gpu") + 1] if "--jobs-per-gpu" in command else None
        return command[command.index("--device") + 1], jobs

    assert device_options("cuda") == ("cuda:0", "4")  # not spread over every GPU seen
    assert device_options("cuda:1") == ("cuda:1", "4")
    assert device_options("cpu") == ("cpu", None)


def test_the_table_compares_with_the_first_count():
    rows = [
        {"workers": 1, "cells": 8, "seconds": 10.0, "images_per_sec": 1000.0},
        {"workers": 4, "cells": 8, "seconds": 4.0, "images_per_sec": 2500.0},
    ]
    assert table(rows).splitlines()[-1] == "| 4 | 8 | 4.0 | 2,500 | 2.50 | 625 |"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers must be in [1, 256], got 0"),
        (["--arch", "vgg"], "unknown arch 'vgg'"),
        (["--depth", "21"], "depth 21 is not 6n+2"),
        (["--precision", "fp16"], "unknown precision 'fp16' (allowed: fp32, bf16, auto)"),
        (["--device", "gpu"], "unknown device 'gpu'"),
        (["--json", "/no/such/folder/x.json"], "give a file in an existing folder"),
        (["--json", "/proc/x.json"], "cannot write there"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_sweep(argv, message, capsys, monkeypatch):
    monkeypatch.setattr("resnet.bench.throughput.measure", lambda *a: pytest.fail("it measured"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
