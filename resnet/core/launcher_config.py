"""Where a sweep's workers run: on this machine (`local`, the default) or as one SLURM array
job (`slurm`). Filled from a preset's [launcher] section, then from the command line."""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields

from resnet.core.bounds import POSITIVE, Bounds
from resnet.core.config import ConfigError

LAUNCHERS = ("local", "slurm")
# What SLURM is asked for, as submitit names it: partition, gpus_per_node, cpus_per_task, ...
BOUNDED = {
    "tasks": POSITIVE,
    "gpus_per_task": Bounds(low=0),
    "cpus_per_task": POSITIVE,
    "mem_gb": POSITIVE,
    "time_min": POSITIVE,
    "max_resubmits": Bounds(low=0),
}


@dataclass(frozen=True)
class LauncherConfig:
    kind: str = "local"
    tasks: int | None = None  # array tasks (workers); None: one per cell left to train
    partition: str | None = None  # None: the cluster's default partition
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    mem_gb: float | None = None  # None: the partition's default
    time_min: int = 24 * 60  # each task's time limit
    sbatch: tuple[str, ...] = ()  # more sbatch options, each "key=value" (e.g. "qos=high")
    logs: str | None = None  # the tasks' log folder (default: mlruns/slurm)
    detach: bool = False  # submit and return, instead of following the job to its end
    # Tasks lost (cancelled, preempted, timed out) are made up for by new ones this many times
    max_resubmits: int = 3

    def __post_init__(self) -> None:
        problem = launcher_problem(self)
        if problem:
            raise ConfigError(problem)

    @property
    def cluster(self) -> bool:
        return self.kind != "local"

    def sbatch_options(self) -> dict[str, str]:
        """The extra sbatch options, as submitit's `slurm_additional_parameters`."""
        return dict(option.split("=", 1) for option in self.sbatch)


def launcher_problem(config: LauncherConfig) -> str | None:
    if config.kind not in LAUNCHERS:
        return f"launcher must be one of {', '.join(LAUNCHERS)}, got {config.kind!r}"
    for name, bounds in BOUNDED.items():
        value = getattr(config, name)
        if value is not None and not bounds.allows(value):
            return f"{name} must be {bounds.describe(isinstance(value, float))}, got {value!r}"
    for option in config.sbatch:
        key = option.split("=", 1)[0]
        if "=" not in option or not key or key.startswith("-") or " " in key:
            return f"sbatch options are key=value without dashes (e.g. qos=high), got {option!r}"
    if not config.cluster and config.detach:
        return "detach needs the slurm launcher (a local launch waits for its workers)"
    return None


def launcher_keys() -> dict[str, type]:
    """The [launcher] keys of a preset, with their types."""
    hints = typing.get_type_hints(LauncherConfig)
    return {f.name: hints[f.name] for f in fields(LauncherConfig)}
