"""Where a sweep's workers run: on this machine (`local`, the default) or as one SLURM array
job (`slurm`). Filled from a preset's [launcher] section, then from the command line."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from resnet.core.bounds import POSITIVE, Bounds
from resnet.core.config import ConfigError
from resnet.core.settings import NO_FLAG, bound_problems, setting
from resnet.paths import holds_unshown

LAUNCHERS = ("local", "slurm")
# Upper bounds of what one task asks for, far above any node a sweep's nets need (one GPU and a
# few cores train the paper's nets), near the largest nodes there are: a typo (--mem-gb 32000
# for 32) is refused here rather than left pending forever or charged to the account.
MAX_TASK_GPUS = 16
MAX_TASK_CPUS = 1024
MAX_TASK_MEM_GB = 16_384
TASK_GPUS = Bounds(low=0, high=MAX_TASK_GPUS)
TASK_CPUS = Bounds(low=1, high=MAX_TASK_CPUS)
TASK_MEM_GB = Bounds(low=0, high=MAX_TASK_MEM_GB, low_open=True)
SBATCH_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# The sbatch options the launcher sets itself, each with what sets it instead (keys in lower case
# with "-", as submitit writes them). submitit renders partition, time, cpus-per-task,
# gpus-per-node, mem, job-name, nodes, signal, array, output, error and open-mode from the
# executor's parameters, and wckey, its accounting label, which nothing here relies on: left open.
LOGS = "the tasks' logs go under --slurm-logs"
ONE_WORKER = "each task is one worker on one node; --workers sets the tasks"
REQUEUE = "it resubmits lost tasks itself, max_resubmits times"
MANAGED_SBATCH = {
    "partition": "--partition sets it",
    "time": "--time-min sets it",
    "cpus-per-task": "--cpus-per-task sets it",
    "gpus": "--gpus-per-task sets the GPUs",
    "gpus-per-node": "--gpus-per-task sets it",
    "gpus-per-task": "--gpus-per-task sets it",
    "mem": "--mem-gb sets it",
    "array": ONE_WORKER,
    "nodes": ONE_WORKER,
    "ntasks": ONE_WORKER,
    "ntasks-per-node": ONE_WORKER,
    "output": LOGS,
    "error": LOGS,
    "open-mode": "it appends to the tasks' logs",
    "job-name": "its jobs are named depth-sweep",
    "wrap": "it writes the job script",
    "parsable": "it reads sbatch's answer",
    "dependency": "its job that closes the sweep waits on the tasks with it",
    "signal": "a task is warned with USR2 before its time limit, to save its cell",
    "requeue": REQUEUE,
    "no-requeue": REQUEUE,
    "export": "the tasks get their settings from its environment",
}


@dataclass(frozen=True)
class LauncherConfig:
    """A preset's [launcher] keys, each with its flag of depth_sweep.py."""

    kind: str = setting(
        "launcher",
        "local",
        "local: this machine (default); slurm: the workers as one SLURM array job (submitit), "
        "on stores every node reaches (docs/WORKERS.md)",
        flag="--launcher",
    )
    # Array tasks (workers); None: one per cell left to train. --workers sets it.
    tasks: int | None = setting("launcher", None, "SLURM array tasks", POSITIVE, flag=NO_FLAG)
    partition: str | None = setting(
        "launcher", None, "SLURM partition (default: the cluster's default)"
    )
    gpus_per_task: int = setting("launcher", 0, "GPUs per SLURM task", TASK_GPUS)
    cpus_per_task: int = setting("launcher", 1, "cores per SLURM task", TASK_CPUS)
    mem_gb: float | None = setting(
        "launcher", None, "memory per SLURM task, in GB (default: the partition's)", TASK_MEM_GB
    )
    time_min: int = setting(
        "launcher", 24 * 60, "time limit of each SLURM task, in minutes", POSITIVE
    )
    sbatch: tuple[str, ...] = setting(
        "launcher",
        (),
        "one more sbatch option, e.g. qos=high or account=lab (again for more); not one the "
        "launcher sets (output, array, partition, time, ...: their flags set them)",
        repeated=True,
        metavar="KEY=VALUE",
    )
    logs: str | None = setting(
        "launcher",
        None,
        "folder of the SLURM tasks' logs (default: mlruns/slurm)",
        flag="--slurm-logs",
    )
    detach: bool = setting(
        "launcher",
        False,
        "submit and return; a dependent job closes the sweep and writes its report",
    )
    max_resubmits: int = setting(
        "launcher",
        3,
        "lost tasks (cancelled, preempted, timed out) made up for by new ones, at most this "
        "many times",
        Bounds(low=0),
    )

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
    problem = next(iter(bound_problems(config)), None)
    problem = problem or control_problem(config) or sbatch_problem(config.sbatch)
    if problem:
        return problem
    if not config.cluster and config.detach:
        return "detach needs the slurm launcher (a local launch waits for its workers)"
    return None


def control_problem(config: LauncherConfig) -> str | None:
    """A control character (newline, tab, ...) in a string of the launcher: it would end the
    line of the job script that holds it."""
    for f in fields(config):
        value = getattr(config, f.name)
        for text in value if isinstance(value, tuple) else (value,):
            if isinstance(text, str) and holds_unshown(text):
                name = "sbatch options" if f.name == "sbatch" else f.name
                return f"{name} must not hold control characters (newline, tab, ...), got {text!r}"
    return None


def sbatch_problem(options: tuple[str, ...]) -> str | None:
    """An sbatch option that is not key=value, or that sets what the launcher manages: by its
    name, any spelling of it ("_" for "-", any case), or a start of it (sbatch reads "out" as
    "output")."""
    for option in options:
        key = option.split("=", 1)[0]
        if "=" not in option or not SBATCH_KEY.fullmatch(key):
            return (
                "sbatch options are key=value, the key of letters, digits, '-' and '_' without "
                f"leading dashes (e.g. qos=high), got {option!r}"
            )
        managed = managed_key(key)
        if managed:
            short = "" if managed == key.replace("_", "-").lower() else f" (short for {managed})"
            return (
                f"sbatch option {key!r}{short} is the launcher's ({MANAGED_SBATCH[managed]}); "
                "sbatch options take what it leaves open (e.g. qos=high, account=lab)"
            )
    return None


def managed_key(key: str) -> str | None:
    """The managed option that `key` names, or starts (sbatch takes a start of a name for it)."""
    normal = key.replace("_", "-").lower()
    if normal in MANAGED_SBATCH:
        return normal
    return next((m for m in MANAGED_SBATCH if m.startswith(normal)), None)
