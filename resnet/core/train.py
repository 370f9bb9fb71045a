"""`train(config) -> TrainResult`: the one way a network gets trained.

The data set lives on the training device as uint8; batches are slices of a device-side
permutation, augmented as whole batches. Metrics accumulate on the device and are read only at
log points, so the hot loop has no host syncs but a cheap finiteness check every few steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from resnet.core import checkpoint as checkpoint_lib
from resnet.core import data as data_lib
from resnet.core import models, startup
from resnet.core.augment import crop_flip, normalize
from resnet.core.batches import BatchStream, RunningStats, divergence_limit
from resnet.core.config import RunConfig
from resnet.core.device import resolve_device
from resnet.core.metrics import Metric, split_metrics
from resnet.core.precision import set_fp32_math
from resnet.core.schedule import ErrorWarmup, make_scheduler
from resnet.core.step import build_model, compile_for_training, evaluate, make_optimizer, train_step

HEALTH_CHECK_EVERY = 10  # iterations between finiteness (and error warm-up) checks


class Tracker(Protocol):
    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...


class Interrupted(KeyboardInterrupt):
    """Training stopped on request (Ctrl-C, SIGTERM) after saving a checkpoint."""


class ClaimLost(Exception):
    """Training stopped because the run is no longer this worker's (another worker took it)."""


@dataclass
class Supervision:
    """What a caller asks of a running net after every iteration. With a `path`, it saves its
    resumable state there every `every` iterations, and saves it and raises `Interrupted` once
    `should_stop` (a signal handler's flag) says so, so a stop never falls in the middle of a
    step. It also saves after the last iteration: the trained net is kept until its caller has
    stored it (its artifacts refused, a rerun resumes there instead of training it again).
    `claim_lost` says when the run is another worker's now. `run_id`, the tracked run the
    checkpoint belongs to, is recorded in it with the cell's config, and checked on resuming."""

    path: Path | None = None
    every: int = 1000
    run_id: str | None = None
    should_stop: Callable[[], bool] = lambda: False
    claim_lost: Callable[[], bool] = lambda: False

    def after(self, it: int, state: TrainingState, last: int) -> None:
        """Save, or save and stop, after iteration `it` (only save after the last one)."""
        if self.path is None:
            return
        if it >= last:
            state.save(self.path, it)
            return
        if self.should_stop():
            state.save(self.path, it)
            raise Interrupted(f"stopped after iteration {it}; checkpoint saved")
        if it % self.every == 0:
            state.save(self.path, it)


@dataclass
class TrainResult:
    status: str  # "finished" or "diverged"
    metrics: dict[str, float]  # the last value of every metric
    iterations: int  # iterations completed
    model: nn.Module
    num_params: int
    seconds: float
    failure: str | None = None  # why the run did not finish
    loss_rise: str | None = None  # where a logged training loss rose above the first one
    compile_seconds: float | None = None  # the first, compiling step of a compiled run

    @property
    def stable(self) -> bool:
        return self.loss_rise is None

    @property
    def finished(self) -> bool:
        return self.status == "finished"


def load_data(config: RunConfig) -> data_lib.Dataset:
    """The data set a config asks for, on the CPU."""
    return data_lib.load(
        config.dataset,
        config.data_dir,
        config.val_size,
        config.train_subset,
        config.image_size,
        config.normalization,
    )


def train(
    config: RunConfig,
    dataset: data_lib.Dataset | None = None,
    tracker: Tracker | None = None,
    progress: bool = True,
    eval_splits: tuple[str, ...] = ("val", "test"),
    supervision: Supervision | None = None,
) -> TrainResult:
    """Train one network as the config says; log metrics to `tracker` every few iterations.

    `eval_splits` are the splits evaluated every `eval_every` iterations (tuning trials leave
    the test set out: nothing may be chosen on it, so it is not even computed). With a
    `supervision` path, the run resumes from its checkpoint when there is one (see
    `Supervision` for saving and stopping). When `claim_lost` says the run is another
    worker's now, training raises `ClaimLost` without logging or saving anything more."""
    watch = supervision or Supervision()
    run = _Training(config, dataset, tracker, eval_splits)
    run.state.cell = checkpoint_lib.cell_record(config, watch.run_id)
    resumable = watch.path is not None and watch.path.exists()
    done = run.state.restore(watch.path) if resumable else 0
    bar = tqdm(
        total=config.iterations, initial=done, desc=config.name, leave=False, disable=not progress
    )
    start = time.perf_counter()
    with bar:
        for it in range(done + 1, config.iterations + 1):
            try:
                lr = run.step(it, first=it == done + 1)
            except (RuntimeError, OverflowError) as exc:
                failure = overflow_failure(exc, it)
                if failure is None:
                    raise
                return run.loop.result("diverged", it, run.num_params, start, failure)
            # Before anything is logged: a run taken over is the other worker's to log into.
            # Each call also tells the worker's heartbeat that training makes progress.
            if watch.claim_lost():
                raise ClaimLost(f"another worker took the run over; stopped at iteration {it}")
            failure = run.observe(it, lr, bar)
            if failure is not None:
                return run.loop.result("diverged", it, run.num_params, start, failure)
            bar.update(1)
            watch.after(it, run.state, config.iterations)
    return run.loop.result("finished", config.iterations, run.num_params, start)


def overflow_failure(exc: BaseException, it: int) -> str | None:
    """Why the run diverged when a step overflowed (a value beyond what float32 carries, met by
    the optimizer or a kernel), or None for any other error: a number too large to compute
    with is divergence, not a crash."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, OverflowError) or "overflow" in message.lower():
        return f"diverged: overflow at iteration {it} ({message})"
    return None


class _Training:
    """One run's net, optimiser, schedule, batches and book-keeping, stepped by `train`."""

    def __init__(self, config: RunConfig, dataset, tracker, eval_splits) -> None:
        device = resolve_device(config.device)
        self.config, self.device = config, device
        set_fp32_math(config.precision, device)
        self.dataset = (dataset or load_data(config)).to(device)
        model = build_model(config, self.dataset, device)
        self.num_params = models.count_parameters(model)
        self.optimizer = make_optimizer(
            model.parameters(), config.lr, config.momentum, config.weight_decay
        )
        self.warmup = ErrorWarmup(config)
        scheduler = make_scheduler(self.optimizer, config, self.warmup)
        self.generator = torch.Generator(device=device).manual_seed(config.seed)
        self.batches = BatchStream(len(self.dataset.train), config.batch_size, self.generator)
        self.loop = _Loop(config, self.dataset, model, tracker, device, eval_splits)
        self.forward = compile_for_training(model, device) if config.compile else model
        self.scheduler = scheduler
        self.state = TrainingState(
            model, self.optimizer, scheduler, self.warmup, self.generator, self.batches, self.loop
        )

    def step(self, it: int, first: bool) -> float:
        """One training step on the next batch; the lr it used."""
        config, train_split = self.config, self.dataset.train
        indices = self.batches.next_indices()
        images = crop_flip(
            train_split.images[indices], config.crop_pad, config.flip, self.generator
        )
        x = normalize(images, self.dataset.mean, self.dataset.std, config.channels_last)
        labels = train_split.labels[indices]
        lr = self.optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        loss, logits = train_step(self.forward, self.optimizer, x, labels, config, self.device)
        if first:
            startup.first_step_done()
            if config.compile:  # the step that compiled the net: its time is the compile time
                self.loop.compile_seconds = time.perf_counter() - started
        self.scheduler.step()
        self.loop.stats.add(loss, logits, labels, it)
        return lr

    def observe(self, it: int, lr: float, bar) -> str | None:
        """Check health and log at the iterations due; why the run diverged, if it did."""
        config = self.config
        evaluate_now = it % config.eval_every == 0 or it == config.iterations
        log_now = evaluate_now or it % config.log_every == 0
        if log_now or it % HEALTH_CHECK_EVERY == 0:  # never log a diverged loss
            failure = self.loop.stats.divergence()
            if failure is not None:
                return failure
            if self.warmup.active:
                self.warmup.update(self.loop.recent_error())
        if log_now:
            self.loop.log_point(it, lr, evaluate_now, final=it == config.iterations)
            bar.set_postfix(self.loop.postfix(), refresh=False)
        return None


class _Loop:
    """Book-keeping around the training steps: metric windows, timing, logging."""

    def __init__(self, config, dataset, model, tracker, device, eval_splits):
        self.config, self.dataset, self.model, self.tracker = config, dataset, model, tracker
        self.eval_splits = eval_splits
        self.stats = RunningStats(device, divergence_limit(config, dataset.num_classes))
        self.metrics: dict[str, float] = {}
        self.window_start = time.perf_counter()
        self.warmup_wrong, self.warmup_count = 0, 0
        self.first_loss: float | None = None  # the first logged training loss
        self.loss_rise: str | None = None  # the first logged loss above it, described
        self.compile_seconds: float | None = None  # the compiling first step's, when compiled

    def recent_error(self) -> float:
        """Training error since the last call (only used during the error warm-up)."""
        wrong, count = int(self.stats.wrong), self.stats.count
        error = (wrong - self.warmup_wrong) / max(1, count - self.warmup_count)
        self.warmup_wrong, self.warmup_count = wrong, count
        return error

    def log_point(self, it: int, lr: float, evaluate_now: bool, final: bool) -> None:
        images = self.stats.count
        train_loss, train_error = self.stats.take()
        self.check_stable(it, train_loss)
        self.warmup_wrong = self.warmup_count = 0
        now = time.perf_counter()
        train_seconds = now - self.window_start
        metrics = {
            Metric.TRAIN_LOSS: train_loss,
            Metric.TRAIN_ERROR: train_error,
            Metric.LR: lr,
            Metric.IMAGES_PER_SEC: images / max(train_seconds, 1e-9),
        }
        if evaluate_now:
            metrics.update(self.evaluations(final))
        self.metrics.update(metrics)
        if self.tracker is not None:
            self.tracker.log_metrics(metrics, step=it)
        self.window_start = time.perf_counter()  # evaluation time is not training time

    def evaluations(self, final: bool) -> dict[str, float]:
        """Loss and error of each evaluated split: all of it at the end, else its first
        `eval_subset` images (a cheaper look at the curve). An empty split (no validation set)
        is left out."""
        metrics = {}
        for name in self.eval_splits:
            split = getattr(self.dataset, name)
            if not final and self.config.eval_subset is not None:
                split = split.subset(slice(0, self.config.eval_subset))
            if len(split):
                loss, error = evaluate(self.model, split, self.dataset, self.config)
                loss_name, error_name = split_metrics(name)
                metrics[loss_name], metrics[error_name] = loss, error
        return metrics

    def check_stable(self, it: int, loss: float) -> None:
        """Note the first log point whose training loss is above the first one: a net that
        trains stably only goes down from where it started."""
        if self.first_loss is None:
            self.first_loss = loss
        elif loss > self.first_loss and self.loss_rise is None:
            self.loss_rise = (
                f"training loss {loss:.4g} at iteration {it} above the first logged "
                f"{self.first_loss:.4g}"
            )

    def postfix(self) -> dict[str, str]:
        m = self.metrics
        return {
            "loss": f"{m[Metric.TRAIN_LOSS]:.3f}",
            "err": f"{m[Metric.TRAIN_ERROR]:.3f}",
            "img/s": f"{m[Metric.IMAGES_PER_SEC]:.0f}",
        }

    def result(self, status, iterations, num_params, start, failure=None) -> TrainResult:
        seconds = time.perf_counter() - start
        return TrainResult(
            status,
            dict(self.metrics),
            iterations,
            self.model,
            num_params,
            seconds,
            failure,
            self.loss_rise,
            self.compile_seconds,
        )


@dataclass
class TrainingState:
    """Everything a run needs to continue bit for bit: weights, optimizer and schedule, the
    data order and random state, and the metric windows not yet logged."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    warmup: ErrorWarmup
    generator: torch.Generator
    batches: BatchStream
    loop: _Loop
    cell: dict | None = None  # whose the checkpoint is (`checkpoint.cell_record`)

    def save(self, path: Path, iteration: int) -> None:
        stats = self.loop.stats
        checkpoint_lib.save_atomic(
            path,
            {
                "iteration": iteration,
                checkpoint_lib.CELL_KEY: self.cell,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "error_warmup_active": self.warmup.active,
                "generator": self.generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "batch_order": self.batches.order,
                "batch_position": self.batches.position,
                "loss_sum": stats.loss_sum,
                "wrong": stats.wrong,
                "count": stats.count,
                "first_bad": stats.first_bad,
                "metrics": dict(self.loop.metrics),
                "warmup_window": [self.loop.warmup_wrong, self.loop.warmup_count],
                "stability": [self.loop.first_loss, self.loop.loss_rise],
            },
        )

    def restore(self, path: Path) -> int:
        """Load the checkpoint at `path`; the number of iterations it had done. A checkpoint
        of another cell or run, or that does not fit this run (another device's generator,
        another net) is an error of the checkpoint, so the caller can start the run again."""
        state = checkpoint_lib.load(path)
        foreign = self.cell and checkpoint_lib.cell_problem(
            state.get(checkpoint_lib.CELL_KEY), self.cell
        )
        if foreign:  # before any of it is applied: a plain net's state fits its residual twin
            raise checkpoint_lib.CheckpointError(f"checkpoint {path} is not this cell's: {foreign}")
        try:
            return self._apply(state)
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise checkpoint_lib.CheckpointError(
                f"checkpoint {path} does not fit this run ({reason})"
            ) from exc

    def _apply(self, state: dict) -> int:
        device = self.batches.order.device
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.warmup.active = state["error_warmup_active"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.batches.order = state["batch_order"].to(device)
        self.batches.position = state["batch_position"]
        stats = self.loop.stats
        stats.loss_sum, stats.wrong = state["loss_sum"].to(device), state["wrong"].to(device)
        stats.count, stats.first_bad = state["count"], state["first_bad"].to(device)
        self.loop.metrics = dict(state["metrics"])
        self.loop.warmup_wrong, self.loop.warmup_count = state["warmup_window"]
        self.loop.first_loss, self.loop.loss_rise = state.get("stability", [None, None])
        return int(state["iteration"])
