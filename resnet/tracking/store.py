"""MLflow tracking: one experiment per study, a parent run per sweep, a child run per cell.

The default store lives in ./mlruns: runs in SQLite (`sqlite:///mlruns/mlflow.db`), artifacts in
`mlruns/artifacts/`. `--tracking-uri` or MLFLOW_TRACKING_URI point elsewhere (e.g. a server).
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from mlflow import entities
from mlflow.exceptions import MlflowException
from mlflow.tracking.context.registry import resolve_tags

from resnet.core.config import RunConfig, SweepConfig
from resnet.tracking.address import first_line, masked
from resnet.tracking.client import absolute_uri, mlflow_client, sqlite_path
from resnet.tracking.database import make_whole
from resnet.tracking.liveness import now_ms
from resnet.tracking.schema import (
    MAX_TAG_LENGTH,
    TUNED_IDENTITY_SUFFIX,
    Artifact,
    Kind,
    Metric,
    Tag,
    join_names,
    reused_tag,
    tag_equals,
)

UI_PORT = 5000
# After the hash route: without it, MLflow's UI opens an experiment in its GenAI view.
MODEL_TRAINING_VIEW = "workflowType=machine_learning"
PARAM_CHUNK = 100  # MLflow accepts at most 100 params per batch


def ui_command(uri: str) -> str:
    if uri.startswith("http"):
        return f"open {masked(uri)} in a browser"
    store = masked(uri)  # a database's password is for the user to fill in, never printed
    return f"{mlflow_executable()} ui --backend-store-uri {store} --host 127.0.0.1 --port {UI_PORT}"


def mlflow_executable() -> str:
    """The mlflow command of this environment, as a user can type it from here."""
    return executable("mlflow")


def executable(name: str) -> str:
    """The command `name` of this environment, as a user can type it from here: the bare name
    where PATH finds this one (or none is installed here), else its path."""
    beside = Path(sys.executable).parent / name
    if not beside.exists() or shutil.which(name) == str(beside):
        return name
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


def runs_url(uri: str, experiment_id: str) -> str:
    base = masked(uri) if uri.startswith("http") else f"http://127.0.0.1:{UI_PORT}"
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{MODEL_TRAINING_VIEW}"


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


class ArtifactWriteError(Exception):
    """The store refused a run's artifact (a read-only folder, a full disk); the message is one
    line naming the folder."""

    def __init__(self, folder: str, reason: str):
        super().__init__(f"cannot write artifacts to {folder}: {reason}")
        self.folder, self.reason = folder, reason


class Store:
    """The MLflow store of a study: experiments, runs, metrics and artifacts."""

    def __init__(self, uri: str, checkpoints: Path | None = None):
        self.uri, self.checkpoints = uri, checkpoints
        db = sqlite_path(uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
            remade = make_whole(db)  # before MLflow opens it: never half of one
            if remade is not None:
                print(remade, file=sys.stderr)
            uri = absolute_uri(uri)
        self.client_uri = uri  # the URI the client opened (a local store's made absolute)
        self.client = mlflow_client(uri)

    def check(self) -> None:
        """Raise if the store cannot be read (a wrong URI, an unreachable server)."""
        self.client.search_experiments(max_results=1)

    @property
    def checkpoint_folder(self) -> Path:
        """The folder given, else beside a local SQLite db (<db folder>/checkpoints), else
        ./mlruns/checkpoints."""
        if self.checkpoints is not None:
            return self.checkpoints.resolve()
        db = sqlite_path(self.uri)
        return (db.parent if db is not None else Path("mlruns")).resolve() / "checkpoints"

    def unfinished_runs(self, experiment_id: str, config: RunConfig) -> list:
        """Earlier runs of exactly this config that ended neither FINISHED nor FAILED: killed,
        or left RUNNING (by a live process, or by one that died); newest first."""
        runs = self.find_runs(experiment_id, cell_filter(config))
        # MLflow's filter cannot say `status IN (...)`
        return [r for r in runs if r.info.status in ("RUNNING", "KILLED")]

    def artifact_location(self, name: str) -> str | None:
        """Next to a local SQLite db: <db folder>/artifacts/<experiment>; else the server's."""
        db = sqlite_path(self.uri)
        if db is None:
            return None
        return (db.parent / "artifacts" / name).resolve().as_uri()

    def experiment_id(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                self.client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        # Without this tag, MLflow's UI opens the experiment in its GenAI view.
        tags = {Tag.EXPERIMENT_KIND: "custom_model_development"}
        try:
            return self.client.create_experiment(name, self.artifact_location(name), tags)
        except MlflowException:  # another worker created it a moment ago
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def find_runs(self, experiment_id: str, filter_string: str) -> list:
        return list(
            self.client.search_runs(
                [experiment_id], filter_string, order_by=["attributes.start_time DESC"]
            )
        )

    def finished_run(self, experiment_id: str, config: RunConfig):
        """The newest FINISHED run of exactly this config, or None."""
        runs = self.find_runs(
            experiment_id, f"{cell_filter(config)} and attributes.status = 'FINISHED'"
        )
        return runs[0] if runs else None

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        items = [entities.Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), PARAM_CHUNK):
            self.client.log_batch(run_id, params=items[i : i + PARAM_CHUNK])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int) -> None:
        stamp = now_ms()
        batch = [entities.Metric(k, readable(v), stamp, step) for k, v in metrics.items()]
        self.client.log_batch(run_id, metrics=batch)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.client.log_batch(run_id, tags=[entities.RunTag(k, str(v)) for k, v in tags.items()])

    def log_file(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        with self.refused_as_error(run_id, artifact_path):
            self.client.log_artifact(run_id, str(path), artifact_path)

    @contextlib.contextmanager
    def refused_as_error(self, run_id: str, artifact_path: str | None = None) -> Iterator[None]:
        """An artifact write that the store refuses raises ArtifactWriteError."""
        try:
            yield
        except OSError as exc:  # a local folder's, or a server's connection
            reason = exc.strerror or first_line(exc)  # first_line: no password in it
            raise ArtifactWriteError(self.artifact_folder(run_id, artifact_path), reason) from exc

    def artifact_folder(self, run_id: str, artifact_path: str | None = None) -> str:
        """Where the run's artifacts go: a local path when they are files here, else the URI."""
        try:
            uri = self.client.get_run(run_id).info.artifact_uri.rstrip("/")
        except Exception:  # the store is unreachable too: name the run at least
            return f"the artifacts of run {run_id}"
        if artifact_path:
            uri = f"{uri}/{artifact_path}"
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            return url2pathname(parsed.path)
        return masked(uri)

    def artifact_names(self, run_id: str) -> set[str]:
        """The files (and folders) at the top of the run's artifacts."""
        return {info.path for info in self.client.list_artifacts(run_id)}

    def delete_tag_if_set(self, run, key: str) -> None:
        if key in run.data.tags:
            self.client.delete_tag(run.info.run_id, key)

    def end(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status=status, end_time=now_ms())


def summary_line(config: RunConfig, metrics: dict[str, float], unfinished: str = "") -> str:
    """A net's run description, e.g. 'plain-56, seed 0: train error 33.1 %, test error 32.7 %',
    or 'plain-56, seed 0: diverged' for a run that did not finish."""
    net = f"{config.arch}-{config.depth}, seed {config.seed}"
    if unfinished:
        return f"{net}: {unfinished}"
    errors = [
        f"{label} error {100 * readable(metrics[metric]):.1f} %"  # as the metric is logged
        for label, metric in (
            ("train", Metric.TRAIN_ERROR),
            ("validation", Metric.VAL_ERROR),
            ("test", Metric.TEST_ERROR),
        )
        if metrics.get(metric) is not None
    ]
    return f"{net}: {', '.join(errors)}"


def readable(value: float) -> float:
    """`value` to the 7 significant digits a float32 holds: losses and errors are computed in
    float32, and 0.034375 would otherwise show in the UI as 0.03437500074505806."""
    return float(f"{float(value):.7g}")


def cell_filter(config: RunConfig) -> str:
    """The MLflow filter of the cell runs of exactly this config."""
    identity = tag_equals(Tag.RUN_IDENTITY, config.identity())
    return f"{identity} and {tag_equals(Tag.KIND, Kind.CELL)}"


def sweep_identity(sweep: SweepConfig, tuned: bool) -> str:
    """A tuned sweep trains other lr and weight decay than the untuned one: its own identity."""
    return sweep.identity() + (TUNED_IDENTITY_SUFFIX if tuned else "")


class SweepRun:
    """The parent run of a sweep: reopened when the same sweep runs again."""

    def __init__(
        self,
        store: Store,
        experiment_id: str,
        sweep: SweepConfig,
        tuned: bool = False,
        run_id: str | None = None,
    ):
        self.store, self.experiment_id, self.sweep, self.tuned = store, experiment_id, sweep, tuned
        self.identity = sweep_identity(sweep, tuned)
        if run_id is None:
            existing = store.find_runs(experiment_id, tag_equals(Tag.SWEEP_IDENTITY, self.identity))
            run_id = existing[0].info.run_id if existing else None
        if run_id is not None:
            self.run_id = run_id
            store.client.update_run(self.run_id, status="RUNNING")
            # The reason an earlier attempt failed is no longer true of the sweep going on.
            store.delete_tag_if_set(store.client.get_run(run_id), Tag.FAILURE_REASON)
        else:
            self.run_id = self._create()
        # A tag, not a param: a rerun may judge the same runs with another margin.
        store.set_tags(self.run_id, {Tag.MARGIN: f"{sweep.margin:g}"})

    def _create(self) -> str:
        tags = {
            **resolve_tags(),  # MLflow's own: user, source (the command), as fluent runs get
            Tag.SWEEP_IDENTITY: self.identity,
            Tag.TUNED: str(self.tuned).lower(),
            Tag.PRESET: self.sweep.preset,
            Tag.DATASET: self.sweep.dataset,
            Tag.KIND: Kind.SWEEP,
        }
        cells = join_names(cell.name for cell in self.sweep.cells())
        if len(cells) <= MAX_TAG_LENGTH:  # else the analysis rebuilds the grid from the params
            tags[Tag.CELLS] = cells  # the cells asked for, so the analysis names missing ones
        run = self.store.client.create_run(
            self.experiment_id,
            run_name=f"sweep-{self.sweep.preset}" + ("-tuned" if self.tuned else ""),
            tags=tags,
        )
        self.store.log_params(run.info.run_id, self.sweep.to_params())
        return run.info.run_id

    def note_reused(self, cell_name: str, run_id: str) -> None:
        """A cell this sweep did not rerun because an earlier run already FINISHED it: the tag
        lets the analysis find it, since it is not a child of this run."""
        self.store.set_tags(self.run_id, {reused_tag(cell_name): run_id})

    def finish(
        self, rows: list[dict[str, Any]], status: str = "FINISHED", reason: str | None = None
    ) -> None:
        """Log the final metrics of every cell as a CSV, then close the run (with `reason` as
        its failure reason). A store that refuses the CSV still gets the run closed: FAILED,
        saying why, rather than left RUNNING."""
        try:
            self.log_final_metrics(rows)
        except ArtifactWriteError as exc:
            if reason is None:  # else the reason given has said it already
                print(f"warning: the sweep's final metrics were not logged: {exc}", file=sys.stderr)
                reason = f"final metrics not logged: {exc}"
            status = "FAILED" if status == "FINISHED" else status
        if reason is not None:
            self.store.set_tags(self.run_id, {Tag.FAILURE_REASON: reason})
        self.store.end(self.run_id, status)

    def log_final_metrics(self, rows: list[dict[str, Any]]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Artifact.FINAL_METRICS
            write_csv(path, rows)
            self.store.log_file(self.run_id, path)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
