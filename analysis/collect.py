"""An experiment's runs, read from MLflow into tidy pandas frames.

One sweep (a parent run) is analysed at a time: by default the newest one in the experiment. Its
cells are its child runs, plus the runs it reused from earlier sweeps (tagged `reused.<cell>` on
the parent). Every cell the sweep asked for gets a row, with a status: finished, running,
diverged, failed, killed, or missing when no run exists yet.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from itertools import product

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from analysis.effects import DEFAULT_MARGIN, Outcome
from analysis.frames import KIND, PARENT, RESIDUAL, column, kinds, with_kinds
from analysis.histories import CURVE_METRICS, curve_table, response_table
from analysis.tuning_runs import tuning_tables, with_settings
from resnet.paths import is_missing, name_problem
from resnet.tracking.address import database_problem, first_line, is_database_url, masked
from resnet.tracking.client import absolute_uri, answering_quickly, sqlite_path
from resnet.tracking.database import sqlite_problem
from resnet.tracking.schema import (
    DEFAULT_TRACKING_URI,
    REUSED_TAG_PREFIX,
    TUNED_IDENTITY_SUFFIX,
    Kind,
    Metric,
    Param,
    Tag,
    is_residual,
    metric_column,
    param_column,
    space_tag,
    split_names,
    tag_column,
    verdict_tag,
)

FINAL_METRICS = (*CURVE_METRICS, Metric.TRAIN_LOSS, Metric.TEST_LOSS)
# The search_runs columns of the tags read most (KIND and PARENT: frames.py)
RUN_NAME = tag_column(Tag.RUN_NAME)
FAILURE, IDENTITY = tag_column(Tag.FAILURE_REASON), tag_column(Tag.RUN_IDENTITY)
CELL_NAME = re.compile(r"^(?P<arch>.+)-(?P<depth>\d+)-s(?P<seed>\d+)$")


class CollectError(Exception):
    """The experiment or sweep cannot be read; the message is one line for the user."""


@dataclass
class Study:
    """What the analysis knows about one sweep."""

    experiment: str
    experiment_id: str
    sweep_run_id: str
    sweep_name: str
    dataset: str
    cells: pd.DataFrame  # one row per cell the sweep asked for; `residual`: its kind of net
    curves: pd.DataFrame  # run_id, arch, residual, depth, seed, metric, step, value
    tuning: pd.DataFrame  # one row per (arch, depth) study: best_<param> of each tuned param, ...
    trials: pd.DataFrame  # one row per tuning trial: each tuned param, val_error, state
    responses: pd.DataFrame  # arch, residual, depth, seed, layer, index, std
    tuned_params: dict[str, bool]  # the params the studies tuned: sampled on a log scale?
    margin: float = DEFAULT_MARGIN  # the verdict's margin the sweep was run with, points
    # arch -> the seeds of an earlier sweep of this experiment whose report found that arch
    # inconclusive on fewer of these seeds: this sweep's verdict is a second look
    earlier_looks: dict[str, str] = field(default_factory=dict)
    # A tuned sweep's untuned twin (the same grid with the preset's own values, in the same
    # experiment): its cells, and its run id; empty and None when there is none
    untuned: pd.DataFrame = field(default_factory=pd.DataFrame)
    untuned_run_id: str | None = None
    space: dict[str, tuple[float, float]] = field(default_factory=dict)  # tuned field: bounds
    params: dict[str, str] = field(default_factory=dict)  # the sweep run's params

    @property
    def tuned(self) -> bool:
        return not self.tuning.empty

    @property
    def finished(self) -> pd.DataFrame:
        return self.cells[self.cells["status"] == "finished"]

    @property
    def incomplete(self) -> pd.DataFrame:
        return self.cells[self.cells["status"] != "finished"]


def recorded_kind(run: pd.Series) -> bool | None:
    """Whether a run's net is residual, from its shortcut tag; None for a run without one."""
    shortcut = run.get(tag_column(Tag.SHORTCUT))
    return is_residual(shortcut) if isinstance(shortcut, str) and shortcut else None


def open_client(uri: str) -> MlflowClient:
    """A client of an existing store; never creates one (a file store would be created)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per file
    if "://" not in uri or uri.startswith("file:"):
        raise CollectError(
            f"tracking URI {masked(uri)!r} is not supported (allowed: sqlite:///path/to/mlflow.db, "
            "a database URL or http://host:port)"
        )
    db = sqlite_path(absolute_uri(uri))
    if db is not None and "?" not in uri and not name_problem(db) and is_missing(db):
        raise CollectError(
            f"no MLflow store at {masked(uri)} (run a sweep first, or pass --tracking-uri)"
        )
    problem = sqlite_problem(absolute_uri(uri), writes=False)  # a look before MLflow's, first
    if problem is None and is_database_url(uri):
        problem = database_problem(uri)  # once: MLflow would retry
    if problem is None:
        try:
            with answering_quickly():
                client = MlflowClient(absolute_uri(uri))
                client.search_experiments(max_results=1)  # reads the store once: is it one?
        except Exception as exc:
            problem = first_line(exc).split(". ")[0]
    if problem is not None:
        raise CollectError(
            f"tracking URI {masked(uri)!r} cannot be read ({problem}); "
            "allowed: sqlite:///path/to/mlflow.db, a database URL or http://host:port"
        )
    mlflow.set_tracking_uri(absolute_uri(uri))
    return client


def collect(
    experiment: str, uri: str = DEFAULT_TRACKING_URI, sweep_run_id: str | None = None
) -> Study:
    client = open_client(uri)
    try:
        return read_study(client, experiment, uri, sweep_run_id)
    except MlflowException as exc:
        raise CollectError(f"cannot read {masked(uri)}: {first_line(exc)}") from exc


def read_study(client: MlflowClient, experiment: str, uri: str, sweep_run_id: str | None):
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = ", ".join(e.name for e in client.search_experiments()) or "none"
        raise CollectError(f"no experiment {experiment!r} in {masked(uri)} (there are: {names})")
    runs = search(found.experiment_id)
    sweep = pick_sweep(runs, sweep_run_id, experiment)
    cells = cell_table(runs, sweep)
    tuning, trials, tuned = tuning_tables(runs, sweep, cells)
    cells = with_settings(cells, runs, tuned)
    twin = untuned_twin(runs, sweep)
    return Study(
        experiment=experiment,
        experiment_id=found.experiment_id,
        sweep_run_id=sweep["run_id"],
        sweep_name=sweep.get(RUN_NAME) or sweep["run_id"],
        dataset=sweep.get(tag_column(Tag.DATASET)) or "",
        cells=cells,
        curves=curve_table(client, cells),
        tuning=tuning,
        trials=trials,
        responses=response_table(client, cells),
        tuned_params=tuned,
        margin=sweep_margin(sweep),
        earlier_looks=earlier_inconclusive_looks(runs, sweep, cells),
        untuned=pd.DataFrame() if twin is None else cell_table(runs, twin),
        untuned_run_id=None if twin is None else twin["run_id"],
        space=search_space(runs, tuning, tuned),
        params=sweep_params(sweep),
    )


def untuned_twin(runs: pd.DataFrame, sweep: pd.Series) -> pd.Series | None:
    """A tuned sweep's untuned twin in the same experiment (the newest, if it ran again)."""
    identity = sweep.get(tag_column(Tag.SWEEP_IDENTITY))
    if not isinstance(identity, str) or not identity.endswith(TUNED_IDENTITY_SUFFIX):
        return None
    base = identity.removesuffix(TUNED_IDENTITY_SUFFIX)
    sweeps = runs[runs[KIND] == Kind.SWEEP]
    twins = sweeps[column(sweeps, tag_column(Tag.SWEEP_IDENTITY)) == base]
    return None if twins.empty else twins.iloc[0]


def search_space(
    runs: pd.DataFrame, tuning: pd.DataFrame, tuned: dict[str, bool]
) -> dict[str, tuple[float, float]]:
    """{tuned field: (low, high)} as the sweep's tuning runs tagged them; a field whose runs
    are from before those tags is left out."""
    mine = runs[runs["run_id"].isin(set(tuning["run_id"]))]
    space = {}
    for name in tuned:
        tagged = column(mine, tag_column(space_tag(name))).dropna()
        if len(tagged):
            low, high = (float(v) for v in str(tagged.iloc[0]).split(","))
            space[name] = (low, high)
    return space


def sweep_params(sweep: pd.Series) -> dict[str, str]:
    prefix = param_column("")
    return {
        str(k).removeprefix(prefix): str(v)
        for k, v in sweep.items()
        if str(k).startswith(prefix) and isinstance(v, str)
    }


def sweep_margin(sweep: pd.Series) -> float:
    """The sweep's `margin` tag; sweeps from before it had one get the default."""
    value = sweep.get(tag_column(Tag.MARGIN))
    return float(value) if isinstance(value, str) and value else DEFAULT_MARGIN


def earlier_inconclusive_looks(
    runs: pd.DataFrame, sweep: pd.Series, cells: pd.DataFrame
) -> dict[str, str]:
    """arch -> seeds ('0,1,2') of another sweep run whose report judged that arch inconclusive
    on a strict subset of the seeds this sweep has for it."""
    looks = {}
    others = runs[(runs[KIND] == Kind.SWEEP) & (runs["run_id"] != sweep["run_id"])]
    for arch in cells["arch"].dropna().unique():
        mine = {int(s) for s in cells[cells["arch"] == arch]["seed"].dropna()}
        outcome, seeds = (tag_column(verdict_tag(arch, w)) for w in ("outcome", "seeds"))
        if outcome not in others or seeds not in others:
            continue
        for value in others[others[outcome] == Outcome.INCONCLUSIVE][seeds]:
            earlier = {int(s) for s in split_names(value)}
            if earlier and earlier < mine:
                looks[arch] = ",".join(str(s) for s in sorted(earlier))
                break
    return looks


def search(experiment_id: str) -> pd.DataFrame:
    runs = mlflow.search_runs([experiment_id], order_by=["attributes.start_time DESC"])
    for name in (KIND, PARENT, FAILURE, IDENTITY, RUN_NAME):
        if name not in runs:
            runs[name] = None
        runs[name] = runs[name].astype(object).where(runs[name].notna(), None)  # a tag not set
    return runs


def pick_sweep(runs: pd.DataFrame, sweep_run_id: str | None, experiment: str) -> pd.Series:
    """The given sweep run, else the one that ran last (a rerun reopens its sweep's run, so
    the newest run start among its children counts, not the parent's own start)."""
    sweeps = runs[runs[KIND] == Kind.SWEEP]
    if sweep_run_id is not None:
        sweeps = sweeps[sweeps["run_id"] == sweep_run_id]
        if sweeps.empty:
            raise CollectError(f"no sweep run {sweep_run_id} in experiment {experiment!r}")
    elif sweeps.empty:
        raise CollectError(f"experiment {experiment!r} has no sweep run yet")
    last_child = runs.groupby(PARENT)["start_time"].max()
    activity = [
        max(s.start_time, last_child.get(s.run_id, s.start_time)) for s in sweeps.itertuples()
    ]
    return sweeps.iloc[max(range(len(sweeps)), key=activity.__getitem__)]


def expected_cells(sweep: pd.Series) -> list[str]:
    """The cell names the sweep asked for: its `cells` tag, else every arch, depth and seed."""
    tagged = split_names(sweep.get(tag_column(Tag.CELLS)))
    if tagged:
        return tagged

    def values(key: str) -> list[str]:
        return split_names(sweep.get(param_column(key)))

    grid = product(values(Param.SEEDS), sorted(values(Param.DEPTHS), key=int), values(Param.ARCHS))
    excluded = set(values(Param.EXCLUDE))
    return [f"{a}-{d}-s{s}" for s, d, a in grid if f"{a}-{d}" not in excluded]


def fixed_depth_archs(runs: pd.DataFrame, depths: set[str]) -> set[str]:
    """Archs whose runs have a depth outside the sweep's depths (resnet18, plain34, ...): the
    grid fallback cannot name their cells, so their runs are taken as they are."""
    arch, depth = tag_column(Tag.ARCH), tag_column(Tag.DEPTH)
    if arch not in runs or depth not in runs:
        return set()
    return set(runs[~runs[depth].isin(depths)][arch].dropna())


def cell_status(run: pd.Series) -> str:
    status = run["status"]
    if status == "FAILED" and str(run.get(FAILURE) or "").startswith("diverged"):
        return "diverged"
    return {"FINISHED": "finished", "RUNNING": "running", "KILLED": "killed"}.get(status, "failed")


def cell_table(runs: pd.DataFrame, sweep: pd.Series) -> pd.DataFrame:
    prefix = tag_column(REUSED_TAG_PREFIX)
    reused = {
        key[len(prefix) :]: run_id
        for key, run_id in sweep.items()
        if key.startswith(prefix) and isinstance(run_id, str)
    }
    cells = runs[runs[KIND] == Kind.CELL]
    mine = cells[(cells[PARENT] == sweep["run_id"]) | cells["run_id"].isin(list(reused.values()))]
    names = expected_cells(sweep)
    if not isinstance(sweep.get(tag_column(Tag.CELLS)), str):  # a sweep from before that tag
        depths = set(split_names(sweep.get(param_column(Param.DEPTHS))))
        fixed = fixed_depth_archs(mine, depths)
        names = [n for n in names if CELL_NAME.match(n)["arch"] not in fixed]
    names += sorted(set(mine[RUN_NAME]) - set(names))  # cells not in the grid
    table = pd.DataFrame([cell_row(name, mine) for name in names])
    return with_kinds(table, kinds(table))  # a missing cell takes its arch's runs' kind


def cell_row(name: str, runs: pd.DataFrame) -> dict:
    parts = CELL_NAME.match(name)
    attempts = runs[runs[RUN_NAME] == name]
    row = {
        "cell": name,
        "arch": parts["arch"] if parts else name,
        "depth": int(parts["depth"]) if parts else None,
        "seed": int(parts["seed"]) if parts else None,
        "status": "missing",
        RESIDUAL: None,
        "run_id": None,
        "note": "",
        "attempts": len(attempts),
    }
    if attempts.empty:
        return row | {metric: float("nan") for metric in FINAL_METRICS}
    best, note = representative(attempts)
    row.update(
        status=cell_status(best),
        residual=recorded_kind(best),
        run_id=best["run_id"],
        note=note,
    )
    for param in (Param.LR, Param.WEIGHT_DECAY, Param.ITERATIONS):
        row[param] = pd.to_numeric(best.get(param_column(param)), errors="coerce")
    row.update(machine_row(best))
    row.update(
        tuned_from=best.get(tag_column(Tag.TUNED_FROM)) or "",
        stable=best.get(tag_column(Tag.STABLE)),  # "true" / "false"; None: from before the check
        loss_rise=best.get(tag_column(Tag.LOSS_RISE)) or "",
    )
    for metric in FINAL_METRICS:
        row[metric] = best.get(metric_column(metric), float("nan"))
    return row


def machine_row(run: pd.Series) -> dict:
    """Where and how a run trained: its device, its threads (blank for runs from before they
    were recorded), its precision and its minutes (start to end, evaluation and logging
    included), for comparing sweeps across machines."""
    start, end = run.get("start_time"), run.get("end_time")
    minutes = (end - start).total_seconds() / 60 if pd.notna(start) and pd.notna(end) else None
    return {
        "device": run.get(tag_column(Tag.DEVICE_NAME)) or "",
        "cpu_threads": run.get(tag_column(Tag.CPU_THREADS)) or "",
        "precision": run.get(param_column(Param.PRECISION)) or "",
        "run_minutes": minutes,
    }


def representative(attempts: pd.DataFrame) -> tuple[pd.Series, str]:
    """The run that stands for a cell, and a note: the newest attempt, unless it did not finish
    and an older attempt of the very same config (run identity) did."""
    newest = attempts.iloc[0]  # search order: newest first
    reason = newest.get(FAILURE) or ""
    if newest["status"] == "FINISHED":
        return newest, ""
    same = attempts[
        (attempts["status"] == "FINISHED")
        & (attempts[IDENTITY] == newest[IDENTITY])
        & attempts[IDENTITY].notna()
    ]
    if same.empty:
        return newest, reason
    later = f"a later attempt {newest['run_id']} is {newest['status'].lower()}"
    return same.iloc[0], f"{later}: {reason}" if reason else later
