"""What a trained cell leaves in MLflow: its run closed with its metrics, its trained net
(weights and a logged model) and its layer responses, and the summary row the sweep prints; its
checkpoint goes once the run is closed for good."""

from __future__ import annotations

import shutil
import sys

from resnet.core.checkpoint import checkpoint_path
from resnet.core.config import RunConfig
from resnet.core.data import Dataset
from resnet.core.responses import layer_response_stds
from resnet.core.train import TrainResult
from resnet.tracking.cell_run import CellRun
from resnet.tracking.schema import RESPONSES_FILE, Artifact, Metric
from resnet.tracking.store import ArtifactWriteError, Store, summary_line

SUMMARY_METRICS = (Metric.TRAIN_ERROR, Metric.VAL_ERROR, Metric.TEST_ERROR, Metric.TRAIN_LOSS)


def row(config: RunConfig, status: str, run_id: str, metrics: dict[str, float], **extra) -> dict:
    values = {k: metrics.get(k) for k in SUMMARY_METRICS}
    return {
        "run": config.name,
        "arch": config.arch,
        "depth": config.depth,
        "seed": config.seed,
        "status": status,
        **values,
        **extra,
        "run_id": run_id,
    }


def drop_checkpoint(store: Store, run_id: str) -> None:
    """A run closed for good (FINISHED or FAILED) is never resumed: its checkpoint goes."""
    shutil.rmtree(checkpoint_path(store.checkpoint_folder, run_id).parent, True)


def record(cell: CellRun, config: RunConfig, dataset: Dataset, result: TrainResult) -> dict:
    """Close the cell's run with what training gave; its checkpoint is no longer needed."""
    cell.log_computed_params(config, result)
    cell.log_stability(result.loss_rise)
    if not result.finished:
        cell.describe(summary_line(config, result.metrics, unfinished=result.status))
        cell.fail(result.failure or result.status)
        outcome = row(config, result.status, cell.run_id, result.metrics, note=result.failure)
    else:
        log_artifacts(cell, result, dataset, config)
        cell.describe(summary_line(config, result.metrics))
        cell.finish()
        outcome = row(config, "finished", cell.run_id, result.metrics, minutes=result.seconds / 60)
    drop_checkpoint(cell.store, cell.run_id)
    return outcome


def log_artifacts(cell: CellRun, result: TrainResult, dataset: Dataset, config: RunConfig) -> None:
    """The trained net (its weights, and as a logged model linked to its final metrics) and
    its layer responses, those its run lacks (a resumed run may have some). If the store refuses
    them, the run is left KILLED, keeping its checkpoint (saved after the last iteration): the
    rerun resumes it there, without training, and logs the rest."""
    try:
        if Artifact.WEIGHTS not in cell.artifacts:
            cell.log_weights(result.model)
        if not cell.has_model:
            cell.log_model(result.model, dataset, config.name, result.iterations)
        if RESPONSES_FILE not in cell.artifacts:
            log_responses(cell, result, dataset, config)
    except ArtifactWriteError as exc:
        cell.fail(f"{exc}; rerun to log them from its checkpoint", "KILLED")
        raise


def log_responses(cell: CellRun, result: TrainResult, dataset: Dataset, config: RunConfig) -> None:
    """Figure 7's layer responses; a failure here must not fail the trained cell."""
    try:
        rows = layer_response_stds(result.model, dataset, config)
    except Exception as exc:
        print(
            f"warning: {config.name}: layer responses not logged ({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return
    cell.log_table(RESPONSES_FILE, rows)
