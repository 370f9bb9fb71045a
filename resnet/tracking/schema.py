"""Every name the runs carry in MLflow: tags and their values, params, metrics and artifacts.

The trainer writes them and the analysis reads them, so both take them from here. Plain
constants and string helpers only: the analysis imports this module, and it must not bring in
torch, MLflow or the training code (the names training logs come from resnet/core/metrics.py,
plain names too).
"""

from __future__ import annotations

from resnet.core.metrics import Metric as TrainingMetric

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
REUSED_TAG_PREFIX = "reused."  # parent tag per cell taken from an earlier sweep: its run id
RESPONSES_FILE = "layer_responses.csv"  # the artifact of a finished cell run
MAX_TAG_LENGTH = 8000  # MLflow's limit on a tag's value
TUNED_IDENTITY_SUFFIX = "-tuned"  # a tuned sweep's identity: its untuned twin's, then this


class Tag:
    """Run tags. The mlflow.* ones are MLflow's own: its UI reads them."""

    PARENT_RUN_ID = "mlflow.parentRunId"
    RUN_NAME = "mlflow.runName"
    SOURCE_COMMIT = "mlflow.source.git.commit"
    EXPERIMENT_KIND = "mlflow.experimentKind"  # an experiment's tag, not a run's
    DESCRIPTION = "mlflow.note.content"  # markdown shown on the run's overview
    DATASET_CONTEXT = "mlflow.data.context"  # a logged dataset input's tag: one of Context's
    KIND = "kind"  # one of Kind's values
    # a sweep run's
    SWEEP_IDENTITY = "sweep_identity"
    TUNED = "tuned"
    PRESET = "preset"
    DATASET = "dataset"
    CELLS = "cells"  # the cell names the sweep asked for, comma-separated
    MARGIN = "margin"  # the verdict's margin, points of training error; set at every start
    # a cell or trial run's
    ARCH = "arch"
    DEPTH = "depth"
    SEED = "seed"
    SHORTCUT = "shortcut"
    RUN_IDENTITY = "run_identity"
    TORCH_VERSION = "torch_version"
    DEVICE_NAME = "device_name"
    CPU_THREADS = "cpu_threads"  # torch's threads: a net's last digits depend on them
    GIT_COMMIT = "git_commit"
    OWNER = "owner"
    HEARTBEAT = "heartbeat"
    RESUMED = "resumed"
    FAILURE_REASON = "failure_reason"
    STABLE = "stable"  # "true" or "false"
    LOSS_RISE = "loss_rise"
    TUNED_FROM = "tuned_from"  # the study whose best values a cell trained with
    # a tuning or trial run's
    STUDY = "study"
    TRIAL_NUMBER = "trial_number"
    UNTUNED_TRIAL = "untuned_trial"  # "true" on the trial of the preset's own values
    OPTUNA_STATE = "optuna_state"
    BEST_TRIAL = "best_trial"
    TUNED_PARAMS = "tuned_params"  # the RunConfig fields a study tunes, comma-separated
    LOG_SCALED_PARAMS = "log_scaled_params"  # those of them it samples on a log scale


class Kind:
    """The values of the `kind` tag."""

    SWEEP = "sweep"
    CELL = "cell"
    TUNING = "tuning"
    TRIAL = "trial"


class Context:
    """What a run did with a data set it logged as an input."""

    TRAINING = "training"
    VALIDATION = "validation"
    TEST = "test"


class Param:
    """Params: a cell's are its RunConfig fields; a sweep's its grid."""

    LR = "lr"
    WEIGHT_DECAY = "weight_decay"
    ITERATIONS = "iterations"
    PRECISION = "precision"
    NUM_PARAMS = "num_params"
    FP32_MATH = "fp32_math"  # "ieee" (true fp32) or "tf32": how fp32 convolutions computed
    COMPILE_SECONDS = "compile_seconds"  # a compiled run's first step, compilation included
    ARCHS = "archs"
    DEPTHS = "depths"
    SEEDS = "seeds"
    EXCLUDE = "exclude"


class Metric(TrainingMetric):
    """What training logs (resnet/core/metrics.py), and what tuning adds."""

    BEST_VAL_ERROR = "best_val_error"  # a tuning run's
    BEST_PREFIX = "best_"  # a tuning run's best value of each tuned param: best_lr, ...


class Artifact:
    RESPONSES = RESPONSES_FILE
    FINAL_METRICS = "final_metrics.csv"  # a sweep run's
    WEIGHTS = "weights.pt"
    FIGURES = "figures"  # a tuning run's folder of Optuna figures


# What a study tagged before `tuned_params` tuned: both on a log scale.
LEGACY_TUNED_PARAMS = (Param.LR, Param.WEIGHT_DECAY)


NO_SHORTCUT = "none"  # the `shortcut` tag of a plain net, which has none


def is_residual(shortcut: str) -> bool:
    """Whether a run's net is residual, as its `shortcut` tag records it."""
    return shortcut != NO_SHORTCUT


def residual_by_name(arch: str) -> bool:
    """Whether an arch is residual, from its name alone: only for data that records no
    shortcut (CSV exports, hand-built frames). The project's plain nets have `plain` in
    their names; a run's own tag says it everywhere else."""
    return "plain" not in arch


def net_metric(arch: str, depth: int, metric: str) -> str:
    """A sweep run's summary of one net: `metric` (a final error), mean over its seeds."""
    return f"{arch}_{depth}_{metric}"


def space_tag(name: str) -> str:
    """A tuning run's tag of one tuned field's range: "low,high"."""
    return f"space.{name}"


def verdict_tag(arch: str, what: str = "outcome") -> str:
    """A sweep run's tag of the verdict its report gave an arch: its `outcome` words, or the
    `seeds` it was judged on (a later sweep over more seeds is a second look at it)."""
    return f"verdict.{arch}.{what}"


def verdict_metric(name: str, statistic: str) -> str:
    """A sweep run's number of the verdict: `statistic` of an arch's test, or of the contrast
    (e.g. plain_trend_p, contrast_p)."""
    return f"{name}_{statistic}"


def best_metric(param: str) -> str:
    return Metric.BEST_PREFIX + param


def reused_tag(cell_name: str) -> str:
    return REUSED_TAG_PREFIX + cell_name


def tag_column(name: str) -> str:
    """The column of a tag in mlflow.search_runs' frame (and its name in a filter string)."""
    return "tags." + name


def param_column(name: str) -> str:
    return "params." + name


def metric_column(name: str) -> str:
    return "metrics." + name


def tag_equals(name: str, value: str) -> str:
    """An MLflow search filter on one tag's value."""
    return f"{tag_column(name)} = '{value}'"


def join_names(names) -> str:
    """Names as one tag value; `split_names` reads it back."""
    return ",".join(names)


def split_names(value) -> list[str]:
    """The names of a comma-separated tag value; none for a missing value (None or NaN)."""
    return [name for name in value.split(",") if name] if isinstance(value, str) else []
