"""The MLflow run of one cell (or one tuning trial): its tags and params when made, what an
earlier run of the cell logged when resumed, and everything its training logs."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from mlflow.exceptions import MlflowException
from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
from mlflow.tracking.context.registry import resolve_tags

from resnet.core.config import RunConfig
from resnet.core.data import Dataset
from resnet.core.device import device_name, resolve_device
from resnet.core.precision import fp32_math
from resnet.core.train import TrainResult
from resnet.tracking.inputs import dataset_inputs
from resnet.tracking.liveness import HEARTBEAT_SECONDS, lease, now_ms
from resnet.tracking.logged_model import log_net
from resnet.tracking.schema import (
    Artifact,
    Context,
    Kind,
    Metric,
    Param,
    Tag,
)
from resnet.tracking.store import Store, SweepRun, git_commit, write_csv


def is_race_for_a_new_dataset(exc: MlflowException) -> bool:
    """MLflow's refusal when two runs of an experiment log the same new data set at once (both
    insert it; the second insert breaks the data sets' unique key)."""
    text = str(exc)
    return "UNIQUE constraint failed: datasets." in text or (
        "datasets" in text and "duplicate key" in text
    )


def context(dataset_input) -> str | None:
    """What a run did with a logged data set: one of Context's values."""
    return next((t.value for t in dataset_input.tags if t.key == Tag.DATASET_CONTEXT), None)


class CellRun:
    """The child run of one (arch, depth, seed) cell; a `Tracker` for `train`."""

    def __init__(self, store: Store, run_id: str, resumed: bool = False):
        """The one place a cell's run gets its state: a new run's, or what an earlier run of
        the cell logged already (its steps are not logged twice)."""
        self.store, self.run_id, self.resumed = store, run_id, resumed
        self.logged_until = 0  # steps up to here are in MLflow already
        self.artifacts: set[str] = set()  # the artifacts it has already
        self.has_inputs = self.has_model = False
        if resumed:
            history = store.client.get_metric_history(run_id, Metric.TRAIN_LOSS)
            self.logged_until = max((m.step for m in history), default=0)
            self.artifacts = store.artifact_names(run_id)  # a run may have some of them
            logged = store.client.get_run(run_id)  # with its inputs and outputs
            self.has_inputs = bool(logged.inputs and logged.inputs.dataset_inputs)
            self.has_model = bool(logged.outputs and logged.outputs.model_outputs)
        self.closed = False
        self.last_heartbeat = time.monotonic()

    @classmethod
    def create(
        cls,
        sweep_run: SweepRun,
        config: RunConfig,
        parent_run_id: str | None = None,
        kind: str = Kind.CELL,
        extra_tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> CellRun:
        """A new run of the cell, with its tags and params."""
        store = sweep_run.store
        tags = {
            **resolve_tags(),  # MLflow's own: user, source (the command), as fluent runs get
            Tag.PARENT_RUN_ID: parent_run_id or sweep_run.run_id,
            Tag.ARCH: config.arch,
            Tag.DEPTH: config.depth,
            Tag.SEED: config.seed,
            Tag.DATASET: config.dataset,
            Tag.PRESET: sweep_run.sweep.preset,
            Tag.SHORTCUT: config.shortcut,
            Tag.RUN_IDENTITY: config.identity(),
            Tag.TORCH_VERSION: torch.__version__,
            Tag.DEVICE_NAME: device_name(resolve_device(config.device)),
            Tag.CPU_THREADS: torch.get_num_threads(),
            Tag.KIND: kind,
            **(extra_tags or {}),
        }
        commit = git_commit()
        if commit:
            tags[Tag.GIT_COMMIT] = tags[Tag.SOURCE_COMMIT] = commit
        tags.update(lease())
        run = store.client.create_run(
            sweep_run.experiment_id,
            run_name=run_name or config.name,
            tags={k: str(v) for k, v in tags.items()},
        )
        cell = cls(store, run.info.run_id)
        store.log_params(cell.run_id, config.to_params())
        return cell

    @classmethod
    def reopen(cls, store: Store, run) -> CellRun:
        """Continue an earlier run of the cell: same run id, RUNNING again, owned by this
        process."""
        cell = cls(store, run.info.run_id, resumed=True)
        store.client.update_run(cell.run_id, status="RUNNING")
        store.set_tags(cell.run_id, {**lease(), Tag.RESUMED: "true"})
        # the interruption's, or the refused artifacts': no longer true
        store.delete_tag_if_set(run, Tag.FAILURE_REASON)
        return cell

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        if time.monotonic() - self.last_heartbeat > HEARTBEAT_SECONDS:  # also while replaying
            self.store.set_tags(self.run_id, {Tag.HEARTBEAT: str(now_ms())})
            self.last_heartbeat = time.monotonic()
        if step <= self.logged_until:
            return
        self.store.log_metrics(self.run_id, metrics, step)

    def log_weights(self, model: torch.nn.Module) -> None:
        """The final state_dict, loadable with torch.load(weights_only=True)."""
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Artifact.WEIGHTS
            torch.save(state, path)
            self.store.log_file(self.run_id, path)
        self.artifacts.add(Artifact.WEIGHTS)

    def log_datasets(self, dataset: Dataset, test: bool = True) -> None:
        """The training and validation splits, and the test split unless the run never sees
        it (a tuning trial), as the run's dataset inputs, once."""
        if not self.has_inputs:
            inputs = [i for i in dataset_inputs(dataset) if test or context(i) != Context.TEST]
            try:
                self.store.client.log_inputs(self.run_id, datasets=inputs)
            except MlflowException as exc:
                if not is_race_for_a_new_dataset(exc):
                    raise
                # Another worker's run logged the same new data set a moment before: MLflow
                # inserted it twice and refused the second. It is there now; link it.
                self.store.client.log_inputs(self.run_id, datasets=inputs)
            self.has_inputs = True

    def log_model(self, model: torch.nn.Module, dataset: Dataset, name: str, step: int) -> None:
        """The trained net as a logged model of the run, linked to its metrics at `step`."""
        with self.store.refused_as_error(self.run_id):
            log_net(self.store.client_uri, self.run_id, name, model, dataset, step)
        self.has_model = True

    def describe(self, text: str) -> None:
        """The run's description (markdown), shown on its overview in the UI."""
        self.store.set_tags(self.run_id, {Tag.DESCRIPTION: text})

    @contextlib.contextmanager
    def system_metrics(self, enabled: bool = True) -> Iterator[None]:
        """CPU, memory, disk and network (and GPU, with nvidia-ml-py) as `system/*` metrics
        while the block runs; a resumed run continues its steps."""
        if not enabled:
            yield
            return
        # No INFO lines, and no warning with a traceback for each sample a dead server refused:
        # the sweep says that in one line.
        logging.getLogger("mlflow.system_metrics").setLevel(logging.ERROR)
        monitor = SystemMetricsMonitor(
            self.run_id, resume_logging=self.resumed, tracking_uri=self.store.client_uri
        )
        monitor.start()
        try:
            yield
        finally:
            monitor.finish()
            self.log_a_sample_if_none(monitor)

    def log_a_sample_if_none(self, monitor: SystemMetricsMonitor) -> None:
        """A net that trained for less than one sampling interval (10 s) got no system metric:
        MLflow's monitor drops the sample it took at the start when it is stopped before the
        interval ends. Log that sample, so that every run shows what it used."""
        try:
            logged = self.store.client.get_run(self.run_id).data.metrics
            if not any(key.startswith("system/") for key in logged):
                monitor.publish_metrics(monitor.aggregate_metrics())
                monitor.mlflow_logger.flush()
        except (MlflowException, OSError):
            pass  # a store that stopped answering: the sweep reports that, in one line

    def log_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """`rows` as the CSV artifact `name`."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            write_csv(path, rows)
            self.store.log_file(self.run_id, path)
        self.artifacts.add(name)

    def log_computed_params(self, config: RunConfig, result: TrainResult) -> None:
        """What the run's config does not say but training settled: the net's size, the fp32
        math of its device and, compiled, how long the compiling first step took."""
        math = fp32_math(config.precision, resolve_device(config.device))
        params = {Param.NUM_PARAMS: str(result.num_params), Param.FP32_MATH: math}
        if result.compile_seconds is not None:
            params[Param.COMPILE_SECONDS] = f"{result.compile_seconds:.1f}"
        self.store.log_params(self.run_id, params)

    def log_stability(self, loss_rise: str | None) -> None:
        """Tag `stable`: true when no logged training loss rose above the first one; else
        false, with `loss_rise` saying where."""
        if loss_rise:
            tags = {Tag.STABLE: "false", Tag.LOSS_RISE: loss_rise}
        else:
            tags = {Tag.STABLE: "true"}
        self.store.set_tags(self.run_id, tags)

    def finish(self) -> None:
        self.store.end(self.run_id, "FINISHED")
        self.closed = True

    def fail(self, reason: str, status: str = "FAILED") -> None:
        self.store.set_tags(self.run_id, {Tag.FAILURE_REASON: reason})
        self.store.end(self.run_id, status)
        self.closed = True
