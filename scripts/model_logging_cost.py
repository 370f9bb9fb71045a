"""What logging a trained net as an MLflow model costs per run, beside its weights.pt.

    .venv/bin/python scripts/model_logging_cost.py [--dataset fashion-mnist --image-size 14]
        [--tracking-uri http://127.0.0.1:5000]

Logs the quick study's eight nets (plain and residual, depths 20 to 56) into a new store in a
temporary folder (or into an experiment of the store at --tracking-uri, e.g. a server), the way
a sweep does after training each one, and prints the seconds each step took. The first model
logged in a process also pays MLflow's imports; it is shown apart.
Take the timing with nothing else running on the machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from resnet.core.config import RunConfig, SweepConfig
from resnet.core.data import load
from resnet.core.models import build
from resnet.tracking.cell_run import CellRun
from resnet.tracking.store import Store, SweepRun

DEPTHS = (20, 32, 44, 56)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--image-size", type=int, default=14)
    parser.add_argument("--tracking-uri", help="a store to log into (default: a new one)")
    args = parser.parse_args()
    dataset = load(args.dataset, image_size=args.image_size)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(args.tracking_uri or f"sqlite:///{Path(folder) / 'mlflow.db'}")
        sweep = SweepConfig(depths=DEPTHS, base=RunConfig(dataset=args.dataset))
        experiment = f"model-logging-cost-{int(time.time())}"
        sweep_run = SweepRun(store, store.experiment_id(experiment), sweep)
        print(f"{'net':12} {'weights.pt s':>12} {'logged model s':>15} {'data sets s':>12}")
        for arch in ("plain", "residual"):
            for depth in DEPTHS:
                config = RunConfig(arch=arch, depth=depth, dataset=args.dataset)
                cell = CellRun.create(sweep_run, config)
                net = build(arch, depth, in_channels=dataset.in_channels).eval()
                inputs = timed(lambda: cell.log_datasets(dataset))  # noqa: B023 (called at once)
                weights = timed(lambda: cell.log_weights(net))  # noqa: B023
                model = timed(lambda: cell.log_model(net, dataset, config.name, 0))  # noqa: B023
                name = f"{arch}-{depth}"
                print(f"{name:12} {weights:12.2f} {model:15.2f} {inputs:12.2f}")


if __name__ == "__main__":
    main()
