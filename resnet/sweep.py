"""The depth sweep: every (arch, depth, seed) cell trained once and tracked in MLflow.

Cells that already have a FINISHED run with the same config are skipped (`force` reruns them).
A diverged or crashed cell ends FAILED with its reason, and the sweep goes on.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from resnet.config import RunConfig, SweepConfig
from resnet.data import Dataset
from resnet.tracking import CellRun, Store, SweepRun
from resnet.train import TrainResult, load_data, resolve_device, train

SUMMARY_METRICS = ("train_error", "val_error", "test_error", "train_loss")


@dataclass
class SweepResult:
    experiment_id: str
    parent_run_id: str
    rows: list[dict[str, Any]]

    @property
    def crashed(self) -> list[dict[str, Any]]:
        """Cells that broke (not those that diverged: divergence is a result)."""
        return [r for r in self.rows if r["status"] == "failed"]


def row(config: RunConfig, status: str, run_id: str, metrics: dict[str, float], **extra) -> dict:
    values = {k: metrics.get(k) for k in SUMMARY_METRICS}
    return {
        "run": config.name, "arch": config.arch, "depth": config.depth, "seed": config.seed,
        "status": status, **values, **extra, "run_id": run_id,
    }  # fmt: skip


def run_cell(sweep_run: SweepRun, config: RunConfig, dataset: Dataset, progress: bool) -> dict:
    """Train one cell in its own child run; never raises but for an interrupt."""
    cell = CellRun(sweep_run, config, resolve_device(config.device))
    try:
        return train_and_record(cell, config, dataset, progress)
    except KeyboardInterrupt:
        cell.fail("interrupted by the user", status="KILLED")
        raise
    except Exception as exc:  # a crash in one cell must not end the sweep
        traceback.print_exc(file=sys.stderr)
        reason = f"{type(exc).__name__}: {exc}"
        cell.fail(reason)
        return row(config, "failed", cell.run_id, {}, note=reason)


def train_and_record(cell: CellRun, config: RunConfig, dataset: Dataset, progress: bool) -> dict:
    result: TrainResult = train(config, dataset, tracker=cell, progress=progress)
    cell.log_num_params(result.num_params)
    if not result.finished:
        cell.fail(result.failure or result.status)
        return row(config, result.status, cell.run_id, result.metrics, note=result.failure)
    cell.log_weights(result.model)
    cell.finish()
    return row(config, "finished", cell.run_id, result.metrics, minutes=result.seconds / 60)


def run_sweep(
    sweep: SweepConfig,
    store: Store,
    dataset: Dataset | None = None,
    force: bool = False,
    progress: bool = True,
) -> SweepResult:
    """Run every cell of the sweep that has no FINISHED run yet (all of them with `force`)."""
    cells = sweep.cells()
    dataset = dataset or load_data(cells[0])
    dataset = dataset.to(resolve_device(cells[0].device))  # once for all cells
    experiment_id = store.experiment_id(sweep.experiment_name)
    sweep_run = SweepRun(store, experiment_id, sweep)
    rows = []
    try:
        for config in tqdm(cells, desc="sweep", unit="run", disable=not progress):
            done = None if force else store.finished_run(experiment_id, config)
            if done is not None:
                rows.append(row(config, "skipped", done.info.run_id, done.data.metrics,
                                note="FINISHED earlier"))  # fmt: skip
                continue
            rows.append(run_cell(sweep_run, config, dataset, progress))
    except BaseException as exc:
        sweep_run.finish(rows, status="KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    sweep_run.finish(rows)
    return SweepResult(experiment_id, sweep_run.run_id, rows)
