"""Throughput of the depth study's training, measured three ways in one process:

(a) `step`: the bare training step of the model on random tensors already on the device;
(b) `trainer`: our full `train()` loop: data on the device, batched augmentation, metrics,
    divergence checks and MLflow tracking;
(c) `reference`: the usual pipeline: a torchvision-style dataset of PIL images, a DataLoader with
    workers, RandomCrop(32, padding=4) / RandomHorizontalFlip / ToTensor / Normalize per image,
    fp32, eager, and the customary `loss.item()` per step.

The three run interleaved in rounds, so drift of the machine (heat, other load) hits all alike;
each reports the median images per second over its rounds.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from resnet.core import data as data_lib
from resnet.core.config import RunConfig
from resnet.core.datasets import CIFAR_TRAIN_IMAGES
from resnet.core.device import resolve_device
from resnet.core.presets import build_sweep
from resnet.core.step import BareSteps, build_model, make_optimizer, synchronize
from resnet.core.train import train

KINDS = ("step", "trainer", "reference")
CIFAR_SHAPE = (3, 32, 32)
TRAIN_IMAGES = CIFAR_TRAIN_IMAGES  # the paper's training split size


@dataclass(frozen=True)
class BenchCase:
    arch: str
    depth: int
    precision: str  # of (a) and (b); the reference is always fp32
    batch_size: int
    device: str
    channels_last: bool = True
    compile: bool = False  # of (a) and (b); the reference stays eager

    @property
    def name(self) -> str:
        compiled = " compiled" if self.compile else ""
        layout = "" if self.channels_last else " NCHW"
        return f"{self.arch}-{self.depth} {self.precision}{compiled}{layout} b{self.batch_size}"

    @property
    def net(self) -> tuple:
        """What the reference pipeline (fp32, eager, NCHW) of this case depends on."""
        return self.arch, self.depth, self.batch_size, self.device

    def run_config(self, iterations: int) -> RunConfig:
        """The paper preset's training config for this case (log every 100, pad-4 crop + flip)."""
        sweep = build_sweep(
            "paper",
            {"archs": [self.arch], "depths": [self.depth]},
            {"precision": self.precision, "batch_size": self.batch_size, "device": self.device},
        )
        config = sweep.shared
        return dataclasses.replace(
            config,
            iterations=iterations,
            milestones=(),
            eval_every=iterations,
            channels_last=self.channels_last,
            compile=self.compile,
            error_warmup_min_depth=10_000,
        )


def cifar_shaped(n: int = TRAIN_IMAGES, seed: int = 0) -> data_lib.Dataset:
    """Generated uint8 images and labels of CIFAR-10's shape, so the benchmark runs offline."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, *CIFAR_SHAPE), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (n,), generator=gen)
    split = data_lib.Split(images, labels)
    small = data_lib.Split(images[:500], labels[:500])  # not evaluated; Dataset needs them
    mean, std = data_lib.channel_stats(images[:5000])
    return data_lib.Dataset("cifar-shaped", split, small, small, 10, mean, std)


# Each runner is built once, then called once per round: it trains `steps` iterations and
# returns the seconds they took.
Runner = Callable[[int], float]


def step_runner(case: BenchCase, dataset: data_lib.Dataset) -> Runner:
    return BareSteps(case.run_config(1), dataset).run


class MlflowTracker:
    """Metrics into a throwaway MLflow store, as a sweep logs them."""

    def __init__(self, folder: Path):
        from mlflow import MlflowClient

        from resnet.tracking.store import Store

        self.store = Store(f"sqlite:///{folder / 'mlflow.db'}")
        client: MlflowClient = self.store.client
        experiment = client.create_experiment("benchmark", (folder / "artifacts").as_uri())
        self.run_id = client.create_run(experiment).info.run_id

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.store.log_metrics(self.run_id, metrics, step)


def trainer_runner(case: BenchCase, dataset: data_lib.Dataset, tracker) -> Runner:
    device = resolve_device(case.device)
    on_device = dataset.to(device)

    def run(steps: int) -> float:
        synchronize(device)
        start = time.perf_counter()
        train(case.run_config(steps), on_device, tracker, progress=False, eval_splits=())
        synchronize(device)
        return time.perf_counter() - start

    return run


class PILDataset(torch.utils.data.Dataset):
    """Images as PIL images, transformed one at a time: the usual torchvision data set."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        from PIL import Image

        array = images.permute(0, 2, 3, 1).numpy()
        self.images = [Image.fromarray(a) for a in array]
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def reference_loader(
    case: BenchCase, dataset: data_lib.Dataset, workers: int
) -> torch.utils.data.DataLoader:
    """PIL images, per-image crop + flip, a DataLoader with worker processes."""
    from torchvision import transforms

    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(dataset.mean.tolist(), dataset.std.tolist()),
        ]
    )
    return torch.utils.data.DataLoader(
        PILDataset(dataset.train.images, dataset.train.labels, transform),
        batch_size=case.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=resolve_device(case.device).type == "cuda",
    )


def reference_runner(case: BenchCase, dataset: data_lib.Dataset, workers: int) -> Runner:
    """The usual pipeline, written as most reproductions write it."""
    device = resolve_device(case.device)
    loader = reference_loader(case, dataset, workers)
    fp32 = dataclasses.replace(case, precision="fp32", channels_last=False, compile=False)
    model = build_model(fp32.run_config(1), dataset, device)
    optimizer = make_optimizer(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    batches = iter(loader)

    def next_batch():
        nonlocal batches
        try:
            return next(batches)
        except StopIteration:
            batches = iter(loader)
            return next(batches)

    def run(steps: int) -> float:
        synchronize(device)
        start = time.perf_counter()
        running_loss, correct = 0.0, 0
        for _ in range(steps):
            x, y = next_batch()
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            correct += (logits.argmax(1) == y).sum().item()
        synchronize(device)
        return time.perf_counter() - start

    return run


@dataclass
class Measured:
    case: BenchCase
    seconds: dict[str, list[float]]  # per kind, one entry per round
    steps: int
    train_flops_per_image: float

    def ips(self, kind: str) -> float:
        return self.steps * self.case.batch_size / statistics.median(self.seconds[kind])


def train_flops_per_image(case: BenchCase, dataset: data_lib.Dataset) -> float:
    """3 x forward MACs x 2 FLOPs, the usual count of a training step, per image."""
    model = build_model(case.run_config(1), dataset, torch.device("cpu"))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *CIFAR_SHAPE))
    return 3 * counter.get_total_flops()  # the counter's FLOPs are 2 x MACs already


@dataclass(frozen=True)
class BenchPlan:
    """How much to measure: `rounds` interleaved rounds of `steps` steps of each kind."""

    rounds: int
    steps: int
    workers: int  # DataLoader workers of the reference pipeline
    kinds: tuple[str, ...] = KINDS
    images: int = TRAIN_IMAGES


def measure(
    cases: list[BenchCase], plan: BenchPlan, report: Callable[[str], None] = print
) -> list[Measured]:
    """Build every runner, warm each up once, then time `plan.rounds` interleaved rounds."""
    dataset = cifar_shaped(plan.images)
    kinds = kinds_per_case(cases, plan.kinds)
    with tempfile.TemporaryDirectory() as tmp:
        runners = build_runners(cases, kinds, plan, dataset, MlflowTracker(Path(tmp)))
        for case in cases:
            for kind in kinds[case]:
                runners[case][kind](max(2, plan.steps // 4))  # warm-up: allocations, workers
        results = {c: Measured(c, {k: [] for k in kinds[c]}, plan.steps, 0.0) for c in cases}
        share_timings(results, plan.kinds)
        for r in range(plan.rounds):
            for case in cases:
                for kind in kinds[case]:
                    results[case].seconds[kind].append(runners[case][kind](plan.steps))
                report(f"round {r + 1}/{plan.rounds} {case.name}: {last_round(results[case])}")
    for measured in results.values():
        measured.train_flops_per_image = train_flops_per_image(measured.case, dataset)
    return list(results.values())


def kinds_per_case(cases: list[BenchCase], kinds: tuple[str, ...]) -> dict[BenchCase, tuple]:
    """The kinds each case times: the reference pipeline (the same fp32 eager NCHW loop for
    every variant of a net) only with the first case of its net."""
    first = {}
    for case in cases:
        first.setdefault(case.net, case)
    return {c: tuple(k for k in kinds if k != "reference" or first[c.net] is c) for c in cases}


def share_timings(results: dict[BenchCase, Measured], kinds: tuple[str, ...]) -> None:
    """Cases that do not time the reference read the timings of the case of their net that does
    (the same list, filled round by round)."""
    if "reference" not in kinds:
        return
    timed = {m.case.net: m for m in results.values() if "reference" in m.seconds}
    for measured in results.values():
        measured.seconds.setdefault("reference", timed[measured.case.net].seconds["reference"])


def build_runners(cases, kinds, plan: BenchPlan, dataset, tracker) -> dict[BenchCase, dict]:
    runners = {}
    for case in cases:
        builders = {
            "step": lambda c=case: step_runner(c, dataset),
            "trainer": lambda c=case: trainer_runner(c, dataset, tracker),
            "reference": lambda c=case: reference_runner(c, dataset, plan.workers),
        }
        runners[case] = {kind: builders[kind]() for kind in kinds[case]}
    return runners


def last_round(measured: Measured) -> str:
    """Images/s of each kind in the latest round, e.g. "step 480, trainer 470 img/s"."""
    images = measured.steps * measured.case.batch_size
    kinds = ", ".join(f"{k} {images / s[-1]:.0f}" for k, s in measured.seconds.items())
    return f"{kinds} img/s"


def peak_flops(device: torch.device, precision: str, seconds: float = 2.0) -> float:
    """Measured matrix-multiply FLOP/s in this precision: the machine's practical peak."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    n = 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def timed(count: int) -> float:
        synchronize(device)
        start = time.perf_counter()
        for _ in range(count):
            a @ b
        synchronize(device)
        return time.perf_counter() - start

    count = 1
    while timed(count) < seconds / 4:  # also the warm-up
        count *= 2
    best = min(timed(count) for _ in range(3))
    return 2 * n**3 * count / best
