"""One tuning trial's MLflow run: a net's run under its study's tuning run, which reports each
validation error to Optuna for pruning and ends as Optuna ended the trial."""

from __future__ import annotations

import optuna

from resnet.core.config import RunConfig
from resnet.tracking.cell_run import CellRun
from resnet.tracking.schema import Kind, Metric, Tag
from resnet.tracking.store import Store, SweepRun

UNTUNED_ATTR = "untuned"  # the trial user attribute of the preset's own values
MLFLOW_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def trial_run_name(cell: RunConfig, number: int) -> str:
    return f"{cell.arch}-{cell.depth}-trial{number}"


class TrialRun(CellRun):
    """An MLflow run for one trial; reports each validation error to Optuna for pruning."""

    def __init__(self, store: Store, run_id: str, trial, name: str):
        super().__init__(store, run_id)
        self.trial, self.name = trial, name

    @classmethod
    def start(cls, parent: SweepRun, parent_run_id: str, config: RunConfig, trial) -> TrialRun:
        """A new run of the trial, under its study's tuning run."""
        tags = {Tag.TRIAL_NUMBER: trial.number, Tag.STUDY: trial.study.study_name}
        if trial.user_attrs.get(UNTUNED_ATTR):
            tags[Tag.UNTUNED_TRIAL] = "true"
        name = trial_run_name(config, trial.number)
        run = CellRun.create(parent, config, parent_run_id, Kind.TRIAL, tags, name)
        return cls(run.store, run.run_id, trial, name)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        super().log_metrics(metrics, step)
        if Metric.VAL_ERROR in metrics:
            self.trial.report(metrics[Metric.VAL_ERROR], step)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at iteration {step}")

    def end_as(self, state: str, reason: str | None = None) -> None:
        tags = {Tag.OPTUNA_STATE: state}
        if reason:
            tags[Tag.FAILURE_REASON] = reason
        self.store.set_tags(self.run_id, tags)
        self.store.end(self.run_id, MLFLOW_STATUS[state])
