"""Sweep throughput with 1, 2, 4, ... workers on one device: `experiments/worker_throughput.py`.

For each worker count, the same grid of cells (one net, many seeds, generated CIFAR-shaped
data, so it runs offline) is run by `depth_sweep.py --workers K` into its own temporary stores.
Throughput is counted from MLflow: training images of all cells over the span from the first
cell's start to the last cell's end, so process start-up and the projection do not count.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from mlflow import MlflowClient

import resnet
from resnet.core.device import resolve_device
from resnet.tracking.schema import Kind, Tag


def preset(args) -> str:
    """The paper's training settings on generated CIFAR-shaped data (3,000 training images,
    which all fit on the device as a real data set would)."""
    it = args.iterations
    return f"""description = "Worker throughput: the paper's training on generated data."
[sweep]
archs = ["{args.arch}"]
depths = [{args.depth}]
seeds = {list(range(args.cells))}
[data]
dataset = "synthetic"
val_size = 500
[train]
iterations = {it}
milestones = [{it // 2}, {it * 3 // 4}]
batch_size = 128
precision = "{args.precision}"
log_every = 100
eval_every = {it}
eval_batch_size = 2000
"""


def sweep_command(args, workers: int, folder: Path, start: list[str]) -> list[str]:
    """`start` (the command that runs a sweep: the command line's, which this layer cannot
    name) with this grid's flags."""
    (folder / "throughput.toml").write_text(preset(args))
    device = resolve_device(args.device)
    on_one_gpu = device.type == "cuda"  # one GPU, even where there are more
    command = [
        *start,
        "--preset",
        str(folder / "throughput.toml"),
        "--device",
        f"cuda:{device.index or 0}" if on_one_gpu else args.device,
        "--workers",
        str(workers),
        "--tracking-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--storage",
        str(folder / "journal.log"),
        "--no-progress",
        "--no-report",
    ]
    if on_one_gpu:
        command += ["--jobs-per-gpu", str(workers)]  # all of them on that GPU
    return command


def package_env() -> dict[str, str]:
    """This process's environment, with this package importable wherever it runs from."""
    root = str(Path(resnet.__file__).resolve().parents[1])
    paths = [root, *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def measure(args, workers: int, start: list[str]) -> dict:
    """Run the grid with this many workers; its throughput from the runs' start and end."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        done = subprocess.run(
            sweep_command(args, workers, folder, start),
            capture_output=True,
            text=True,
            env=package_env(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"the sweep with {workers} workers failed:\n{done.stderr[-3000:]}")
        client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs = [
            r for r in client.search_runs(experiments) if r.data.tags.get(Tag.KIND) == Kind.CELL
        ]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    span = max(r.info.end_time for r in finished) - min(r.info.start_time for r in finished)
    images = len(finished) * args.iterations * int(finished[0].data.params["batch_size"])
    return {
        "workers": workers,
        "cells": len(finished),
        "seconds": span / 1000,
        "images_per_sec": images / (span / 1000),
    }


def table(rows: list[dict]) -> str:
    base = rows[0]["images_per_sec"]
    lines = [
        "| workers | cells | span (s) | images/s | vs first | per worker |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ips = r["images_per_sec"]
        lines.append(
            f"| {r['workers']} | {r['cells']} | {r['seconds']:.1f} | {ips:,.0f} | "
            f"{ips / base:.2f} | {ips / r['workers']:,.0f} |"
        )
    return "\n".join(lines)
