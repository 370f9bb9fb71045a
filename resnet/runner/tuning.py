"""Optuna tuning of the search space's RunConfig fields (by default learning rate and weight
decay), one study per (arch, depth).

Each trial trains the cell with a shortened budget through the same `train()` and is scored on
the validation error (never the test set); the validation error at each evaluation goes to the
pruner. Studies live in the sweep's Optuna storage (`resnet.runner.storage`) and are reopened by
name, so a rerun continues them up to the wanted number of trials, and several workers share them
(Optuna's ask and tell). A trial's heartbeat is a `Claim`, as a cell's is: a worker stuck in a
trial stops beating, and the trial goes to another worker. Every trial is a nested MLflow run
under its study's tuning run, tagged with its Optuna state.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.trial import TrialState

from resnet.core.config import ConfigError, RunConfig
from resnet.core.data import Dataset
from resnet.core.train import ClaimLost, Supervision, load_data, train
from resnet.core.tune_config import ParamRange, TuneConfig, trial_budget
from resnet.runner.storage import (
    READY_TIMEOUT,
    RUN_ATTR,
    STALL_LIMIT,
    Claim,
    exit_stuck,
    mark_trial_owned,
    open_shared_study,
    requeue_dead_owners,
    wait_for_attr,
)
from resnet.runner.trial_run import UNTUNED_ATTR, TrialRun, trial_run_name
from resnet.tracking.schema import (
    Artifact,
    Kind,
    Metric,
    Tag,
    best_metric,
    join_names,
    space_tag,
    tag_equals,
)
from resnet.tracking.store import Store, SweepRun

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)  # trials that count towards the total


def suggest(trial: optuna.Trial, r: ParamRange) -> int | float:
    """A trial's value of one field of the space."""
    if r.integer:
        return trial.suggest_int(r.name, int(r.low), int(r.high), log=r.log)
    return trial.suggest_float(r.name, r.low, r.high, log=r.log)


def space_tags(tune: TuneConfig) -> dict[str, str]:
    """The tuning run's record of what its study tunes, for the analysis."""
    return {
        Tag.TUNED_PARAMS: join_names(tune.names),
        Tag.LOG_SCALED_PARAMS: join_names(r.name for r in tune.space if r.log),
        **{space_tag(r.name): f"{r.low:g},{r.high:g}" for r in tune.space},
    }


def space_values(tune: TuneConfig, params: dict) -> dict:
    """A trial's value of each field of the space (a trial from before a field joined the
    space has none for it: the cell keeps its own)."""
    return {name: params[name] for name in tune.names if name in params}


def study_name(experiment: str, arch: str, depth: int) -> str:
    return f"{experiment}/{arch}-{depth}"


def make_pruner(tune: TuneConfig, config: RunConfig) -> optuna.pruners.BasePruner:
    """The study's pruner for trials of `config`'s length. The median pruner waits for the
    random start-up trials (an order that put high learning rates first would otherwise set the
    bar), and prunes in a trial's second half only: deep plain nets start slowly."""
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=max(1, tune.startup_trials), n_warmup_steps=config.iterations // 2
        )
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=config.eval_every, max_resource=config.iterations
        )
    return optuna.pruners.NopPruner()


def sampler_seed(seed: int, study: str, trials_so_far: int, worker: str) -> int:
    """Offset by the study's name, so the studies of one sweep draw different points; by the
    trials already there, so a resumed study draws new values rather than repeating its start;
    and by the worker, so workers that start together draw different ones."""
    offset = zlib.crc32(study.encode()) + (zlib.crc32(worker.encode()) if worker else 0)
    return (seed + trials_so_far + offset) % 2**32


def make_sampler(tune: TuneConfig, seed: int) -> optuna.samplers.TPESampler:
    """TPE after `startup_trials` random ones; multivariate, since a good learning rate
    depends on the weight decay (their product sets the weights' equilibrium scale)."""
    with warnings.catch_warnings():  # multivariate is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=tune.startup_trials, multivariate=True
        )


def untuned_values(tune: TuneConfig, cell: RunConfig) -> dict[str, int | float]:
    """The cell's own (the preset's) value of each tuned field."""
    return {name: getattr(cell, name) for name in tune.names}


def is_untuned_trial(trial: optuna.trial.FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(UNTUNED_ATTR))


class StudyRunner:
    """One (arch, depth) study: its Optuna study, its MLflow tuning run, and its trials."""

    def __init__(
        self,
        sweep_run: SweepRun,
        cell: RunConfig,
        tune: TuneConfig,
        storage,
        worker: str = "",
        run_trials: bool = True,
    ):
        """The study of the cell's net, set up by the first worker to open it: the untuned
        trial enqueued (when trials will run), then its MLflow tuning run. The others wait for
        that run, so that all of them see a study that is set up."""
        self.sweep_run, self.cell, self.tune, self.storage = sweep_run, cell, tune, storage
        self.name = study_name(sweep_run.sweep.experiment_name, cell.arch, cell.depth)
        pruner = make_pruner(tune, trial_budget(cell, tune))
        self.study, created = open_shared_study(self.name, storage, pruner)  # minimizes
        seed = sampler_seed(tune.seed, self.name, len(self.study.trials), worker)
        self.study.sampler = make_sampler(tune, seed)
        self.with_validation: Dataset | None = None  # loaded when the sweep's data has none
        if created and run_trials:
            self.enqueue_untuned()
        self.run_id = self.study.user_attrs.get(RUN_ATTR)
        if self.run_id is None and not created:
            self.run_id = wait_for_attr(self.study, RUN_ATTR, READY_TIMEOUT)  # being set up
        if self.run_id is None:
            self.run_id = self._tuning_run()
            self.study.set_user_attr(RUN_ATTR, self.run_id)
        else:
            sweep_run.store.client.update_run(self.run_id, status="RUNNING")
        if not created and run_trials and not self.untuned_trial_kept():
            self.enqueue_untuned()  # a study from before this rule, or its untuned trial failed

    def untuned_trial_kept(self) -> bool:
        """An untuned trial that counts, runs or waits (a failed one is no longer there)."""
        kept = (*COUNTED, TrialState.RUNNING, TrialState.WAITING)
        return any(is_untuned_trial(t) for t in self.study.get_trials(deepcopy=False, states=kept))

    def enqueue_untuned(self) -> None:
        """The preset's own values as a trial, first in a new study, so that the best found is
        never worse than untuned on the trial seed."""
        self.study.enqueue_trial(untuned_values(self.tune, self.cell), {UNTUNED_ATTR: True})

    def _tuning_run(self) -> str:
        store: Store = self.sweep_run.store
        found = store.find_runs(self.sweep_run.experiment_id, tag_equals(Tag.STUDY, self.name))
        found = [r for r in found if r.data.tags.get(Tag.KIND) == Kind.TUNING]
        if found:
            store.client.update_run(found[0].info.run_id, status="RUNNING")
            return found[0].info.run_id
        tags = {
            Tag.PARENT_RUN_ID: self.sweep_run.run_id,
            Tag.KIND: Kind.TUNING,
            Tag.STUDY: self.name,
            Tag.ARCH: self.cell.arch,
            Tag.DEPTH: str(self.cell.depth),
            **space_tags(self.tune),
        }
        run = store.client.create_run(
            self.sweep_run.experiment_id,
            run_name=f"tune-{self.cell.arch}-{self.cell.depth}",
            tags=tags,
        )
        return run.info.run_id

    def requeue_abandoned_trials(self) -> None:
        """Trials whose worker died become FAIL and are enqueued again (the same lr and weight
        decay); the MLflow runs of failed trials that were left RUNNING end KILLED. Runs are
        found by their tags, which every trial run has from its creation on."""
        requeue_dead_owners(self.study)
        failed = {
            t.number for t in self.study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        }
        if not failed:
            return
        store = self.sweep_run.store
        trials = f"{tag_equals(Tag.STUDY, self.name)} and {tag_equals(Tag.KIND, Kind.TRIAL)}"
        runs = store.find_runs(self.sweep_run.experiment_id, trials)
        for run in runs:
            if run.info.status == "RUNNING" and int(run.data.tags[Tag.TRIAL_NUMBER]) in failed:
                store.set_tags(
                    run.info.run_id,
                    {Tag.OPTUNA_STATE: "FAIL", Tag.FAILURE_REASON: "the process running it died"},
                )
                store.end(run.info.run_id, "KILLED")

    def counted(self) -> int:
        return len(self.study.get_trials(deepcopy=False, states=COUNTED))

    def another_trial_wanted(self) -> bool:
        """A retry waits, or the trials counted and running (in any worker) are too few. Asked
        just before each trial, so workers that start together do not each run all of the
        missing ones."""
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        if TrialState.WAITING in states:
            return True
        started = sum(states.count(state) for state in (*COUNTED, TrialState.RUNNING))
        return started < self.tune.trials

    def trial_config(self, trial: optuna.Trial) -> RunConfig:
        """The cell in the tuning budget, with a value of each field of the space drawn."""
        drawn = {r.name: suggest(trial, r) for r in self.tune.space}
        return dataclasses.replace(trial_budget(self.cell, self.tune), **drawn)

    def run_trial(self, trial: optuna.Trial, dataset: Dataset, claim: Claim) -> None:
        """One trial, told to the study: COMPLETE with its validation error, or PRUNED (by the
        pruner, or diverged: the study goes on); its MLflow run ends as the trial does. An error
        or Ctrl-C ends the run FAILED and goes up to `run`. A trial that another worker took
        over meanwhile (this one stalled) is left to that worker's retry."""
        config = self.trial_config(trial)
        dataset = self.tuning_data(dataset, config)
        run = TrialRun.start(self.sweep_run, self.run_id, config, trial)
        try:
            trial.set_user_attr(RUN_ATTR, run.run_id)
            run.log_datasets(dataset, test=False)  # tuning never looks at the test set
            result = train(
                config, dataset, run, False, ("val",), Supervision(claim_lost=claim.lost)
            )
        except optuna.TrialPruned as pruned:
            self.finish(trial, run, TrialState.PRUNED, reason=str(pruned))
        except ClaimLost as lost:
            self.let_go(run, str(lost))
        except optuna.exceptions.UpdateFinishedTrialError:  # failed by the worker taking over
            self.let_go(run)
        except BaseException as exc:
            run.end_as("FAIL", f"{type(exc).__name__}: {exc}")
            raise
        else:
            run.log_computed_params(config, result)
            if result.finished:
                self.finish(trial, run, TrialState.COMPLETE, result.metrics[Metric.VAL_ERROR])
            else:  # diverged
                self.finish(trial, run, TrialState.PRUNED, reason=result.failure)

    def tuning_data(self, dataset: Dataset, config: RunConfig) -> Dataset:
        """The sweep's data, or, when it has no validation split, the trials' own with one."""
        if len(dataset.val):
            return dataset
        if self.with_validation is None:
            device = dataset.train.images.device
            self.with_validation = load_data(config).to(device)
        return self.with_validation

    def finish(
        self,
        trial: optuna.Trial,
        run: TrialRun,
        state: TrialState,
        value: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Tell the study, then end the MLflow run as the trial now is: another worker may have
        taken it over since the last step."""
        told = self.study.tell(trial, value, state, skip_if_finished=True)
        if told.state == state:
            run.end_as(state.name, reason)
        else:
            self.let_go(run)

    def let_go(self, run: TrialRun, what: str = "another worker took the trial over") -> None:
        reason = f"{what} (this worker stalled past the grace period)"
        print(f"{run.name}: {reason}", file=sys.stderr)
        run.end_as("FAIL", reason)

    def busy(self) -> bool:
        """Trials waiting or running (in any worker)."""
        states = (TrialState.WAITING, TrialState.RUNNING)
        return bool(self.study.get_trials(deepcopy=False, states=states))

    def run(
        self,
        dataset: Dataset,
        stall_limit: float = STALL_LIMIT,
        on_stuck: Callable[[], object] = exit_stuck,
        on_trial_done: Callable[[], object] = lambda: None,
    ) -> None:
        """This worker's share of the missing trials, one at a time while another is wanted.
        Each runs under a `Claim` (see `resnet.runner.storage`) that stops beating when training
        makes no step for `stall_limit` seconds, and calls `on_stuck` once the trial has gone;
        `on_trial_done` after each trial this worker ran (the progress bar)."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # MLflow has every trial
        while True:
            self.requeue_abandoned_trials()
            if not self.another_trial_wanted():
                return
            with warnings.catch_warnings():  # heartbeats are meant for Study.optimize, Optuna
                warnings.simplefilter("ignore", UserWarning)  # says; the Claim below beats here
                trial = self.study.ask()  # a waiting retry first, else a new trial
            name = trial_run_name(self.cell, trial.number)
            try:
                mark_trial_owned(trial)  # first: a killed trial is known as ours
                with Claim(self.storage, trial._trial_id, name, stall_limit, on_stuck) as claim:
                    self.run_trial(trial, dataset, claim)
                on_trial_done()
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # failed by another worker before this one claimed it: a retry waits
            except BaseException:  # told once the heartbeat has stopped, which must not
                self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)  # see it
                raise

    def best(self) -> optuna.trial.FrozenTrial:
        completed = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not completed:
            raise ConfigError(f"study {self.name} has no completed trial to take values from")
        return min(completed, key=lambda t: t.value)

    def best_params(self) -> dict[str, int | float]:
        return space_values(self.tune, self.best().params)

    def record_best(self) -> bool:
        """Log the best values and Optuna's figures to the tuning run; False if there are none."""
        store = self.sweep_run.store
        store.set_tags(self.run_id, space_tags(self.tune))  # the space may have changed since
        if not self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            store.set_tags(self.run_id, {Tag.BEST_TRIAL: "none: no completed trial"})
            store.end(self.run_id, "FINISHED")
            return False
        trial = self.best()
        best = {best_metric(name): v for name, v in space_values(self.tune, trial.params).items()}
        store.log_metrics(self.run_id, {**best, Metric.BEST_VAL_ERROR: trial.value}, self.counted())
        store.set_tags(self.run_id, {Tag.BEST_TRIAL: trial.number})
        with tempfile.TemporaryDirectory() as tmp:
            for path in save_figures(self.study, Path(tmp), self.tune.names):
                store.log_file(self.run_id, path, Artifact.FIGURES)
        store.end(self.run_id, "FINISHED")
        return True


def save_figures(study: optuna.Study, folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Optuna's own figures as PNG files; those that need more trials are left out, and the
    contour of every pair of tuned fields with fewer than two of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis

    figures = {
        "optimization_history": vis.plot_optimization_history,
        "param_importances": vis.plot_param_importances,
    }
    if len(names) >= 2:
        figures["contour_" + "_".join(names)] = vis.plot_contour
    figures["slice"] = vis.plot_slice
    saved = []
    for name, plot in figures.items():
        try:
            with warnings.catch_warnings():  # experimental, or degenerate with few trials
                warnings.simplefilter("ignore")
                verbosity = optuna.logging.get_verbosity()
                optuna.logging.set_verbosity(optuna.logging.ERROR)
                try:
                    axes = plot(study)
                finally:
                    optuna.logging.set_verbosity(verbosity)
        except (ValueError, RuntimeError):  # e.g. importances need two completed trials
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        saved.append(path)
    return saved
