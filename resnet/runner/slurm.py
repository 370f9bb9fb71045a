"""`--launcher slurm`: the sweep's workers as one SLURM array job, submitted with submitit.

This process sets the sweep up (its MLflow run, its cells in the queue on the shared Optuna
storage), then submits N array tasks. Each task is an ordinary worker (`worker.array_task`):
it pulls cells from the queue and logs to the shared MLflow store until none is left, exactly
as a worker started by hand on another machine does. What a task needs comes in its
environment, which sbatch hands to the job (SLURM's default `--export=ALL`): the job script
and submitit's pickles in the log folder name nothing but the task's function, so no address,
and so no password, is in them or on the sbatch command line.

A task that SLURM stops (time limit, preemption, scancel) gets SIGTERM (or submitit's
USR2 warning first): it saves its cell's checkpoint after the running iteration and puts the
cell back in the queue, where another task, or a task submitted later, resumes it. Following
the job (the default; `--detach` returns at once), this process shows the sweep's progress,
names the tasks SLURM lost by their state, submits new tasks for the cells they left (at most
`max_resubmits` times), and closes the sweep's run when the cells are done.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from optuna.trial import TrialState
from tqdm.auto import tqdm

from resnet.core.launcher_config import LauncherConfig
from resnet.runner.cell_queue import CellQueue
from resnet.runner.checks import SetupError
from resnet.runner.storage import POLL_SECONDS, is_database
from resnet.runner.worker import SPEC_ENV, WorkerSpec, worker_options
from resnet.runner.workers import still_busy
from resnet.tracking.address import is_database_url

DEFAULT_LOGS = Path("mlruns") / "slurm"
# SLURM's states of a task that ended without finishing its work, and of one still alive.
LOST = {"CANCELLED", "FAILED", "TIMEOUT", "PREEMPTED", "NODE_FAIL", "OUT_OF_MEMORY"}
LOST |= {"BOOT_FAIL", "DEADLINE"}
ALIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING"}
ALIVE |= {"SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT", "STOPPED"}
WAITING_OR_RUNNING = (TrialState.WAITING, TrialState.RUNNING)
COMMAND_SECONDS = 30.0  # squeue, sinfo, sacct: a controller that does not answer in time is down


def slurm_command(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_SECONDS)


def check_cluster(launcher: LauncherConfig, tracking_uri: str, storage: str) -> None:
    """Everything a submission needs, before anything is written; raises SetupError."""
    check_shared_stores(tracking_uri, storage)
    if shutil.which("sbatch") is None:
        raise SetupError("--launcher slurm needs SLURM's sbatch on the PATH; none is here")
    if launcher.partition is not None:
        known = partitions()
        if launcher.partition not in known:
            raise SetupError(
                f"--partition {launcher.partition}: SLURM has no such partition (it has: "
                f"{', '.join(known) or 'none'})"
            )


def check_shared_stores(tracking_uri: str, storage: str) -> None:
    """Tasks run on other machines: a store that only this machine reaches would lose them."""
    if not (tracking_uri.startswith(("http://", "https://")) or is_database_url(tracking_uri)):
        raise SetupError(
            "--launcher slurm needs an MLflow store that every node reaches (--tracking-uri "
            f"http://server:5000 or postgresql://...); {tracking_uri.split('://')[0]} is on "
            "this machine only"
        )
    if not is_database(storage) or storage.startswith("sqlite"):
        raise SetupError(
            "--launcher slurm needs an Optuna storage that every node reaches (--storage "
            "postgresql://user@host/db); a journal file or SQLite is on this machine only"
        )


def partitions() -> list[str]:
    """The partitions SLURM knows; a controller that does not answer is a SetupError."""
    try:
        out = slurm_command("sinfo", "--noheader", "--format=%R")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"sinfo did not answer: {exc}") from None
    if out.returncode != 0:
        raise SetupError(f"sinfo failed: {last_line(out.stderr)}")
    return sorted(set(out.stdout.split()))


def last_line(text: str) -> str:
    """A tool's stderr in one line: its last non-empty one, where sinfo puts its error."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


@dataclass
class ArrayJob:
    """The submitted tasks: SLURM's job ids ("123_0", ...)."""

    ids: list[str] = field(default_factory=list)

    @property
    def array_ids(self) -> list[str]:
        return sorted({job.split("_")[0] for job in self.ids})


def executor(launcher: LauncherConfig, logs: Path):
    """submitit's executor with the launcher's resources."""
    import submitit  # only a cluster launch needs it

    run = submitit.AutoExecutor(folder=str(logs / "%j"), cluster="slurm")
    parameters = {
        "timeout_min": launcher.time_min,
        "cpus_per_task": launcher.cpus_per_task,
        "slurm_job_name": "depth-sweep",
        "slurm_additional_parameters": launcher.sbatch_options(),
    }
    if launcher.partition is not None:
        parameters["slurm_partition"] = launcher.partition
    if launcher.gpus_per_task:
        parameters["gpus_per_node"] = launcher.gpus_per_task
    if launcher.mem_gb is not None:
        parameters["mem_gb"] = launcher.mem_gb
    run.update_parameters(**parameters)
    return run


@contextlib.contextmanager
def handed_to_tasks(spec: WorkerSpec):
    """The spec in this process's environment while sbatch runs (sbatch gives the job this
    environment), and out of it afterwards."""
    os.environ.update(spec.environment())
    try:
        yield
    finally:
        os.environ.pop(SPEC_ENV, None)


def submit_tasks(spec: WorkerSpec, launcher: LauncherConfig, logs: Path, count: int) -> ArrayJob:
    """`count` array tasks, each a worker of the spec's sweep."""
    from resnet.runner.worker import array_task

    logs.mkdir(parents=True, exist_ok=True)
    run = executor(launcher, logs)
    with handed_to_tasks(spec):
        jobs = run.map_array(array_task, list(range(1, count + 1)))
    return ArrayJob([job.job_id for job in jobs])


def submit_after(spec: WorkerSpec, launcher: LauncherConfig, logs: Path, after: ArrayJob, call):
    """One job that runs `call()` (a submitit callable) once every task of `after` has ended,
    however it ended; its job id."""
    run = executor(launcher, logs)
    dependency = ":".join(after.array_ids)
    extra = {**launcher.sbatch_options(), "dependency": f"afterany:{dependency}"}
    run.update_parameters(slurm_additional_parameters=extra, slurm_job_name="depth-sweep-close")
    with handed_to_tasks(spec):
        job = run.submit(call)
    return job.job_id


def task_spec(spec: WorkerSpec) -> WorkerSpec:
    """What every task of the launch runs: each sets its own number from its array index."""
    return WorkerSpec(spec.sweep, spec.stores, worker_options(spec.options, 0, ""), 0)


def task_states(job: ArrayJob) -> dict[str, str]:
    """Each task's SLURM state, from squeue while the controller remembers the job, else from
    sacct; UNKNOWN where neither knows it (yet)."""
    states = dict.fromkeys(job.ids, "UNKNOWN")
    for array in job.array_ids:
        for reader in (squeue_states, sacct_states):
            found = reader(array)
            if found:
                states.update({k: v for k, v in found.items() if k in states})
                break
    return states


def squeue_states(array: str) -> dict[str, str]:
    try:
        out = slurm_command(
            "squeue", "--noheader", "--array", "--states=all", f"--jobs={array}", "--format=%i %T"
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_states(out.stdout) if out.returncode == 0 else {}


def sacct_states(array: str) -> dict[str, str]:
    try:
        out = slurm_command(
            "sacct",
            "--noheader",
            "--parsable2",
            "--allocations",
            f"--jobs={array}",
            "--format=JobID,State",
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_states(out.stdout.replace("|", " ")) if out.returncode == 0 else {}


def parse_states(text: str) -> dict[str, str]:
    """{"123_0": "RUNNING", ...}; sacct's "CANCELLED by 0" is CANCELLED."""
    states = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = parts[1].rstrip("+")
    return states


@dataclass
class Follow:
    """Following a launch: its tasks, and the queue they work on."""

    spec: WorkerSpec
    launcher: LauncherConfig
    logs: Path
    queue: CellQueue
    jobs: list[ArrayJob] = field(default_factory=list)
    lost: dict[str, str] = field(default_factory=dict)  # task id -> SLURM state
    seen: set[str] = field(default_factory=set)  # tasks SLURM has named a state of

    def all_ended(self) -> bool:
        states = {}
        for job in self.jobs:
            states |= task_states(job)
        for task, state in states.items():
            if state == "UNKNOWN" and task in self.seen:
                states[task] = "ENDED"  # forgotten by squeue, and no accounting to ask
            elif state != "UNKNOWN":
                self.seen.add(task)
            if state in LOST and task not in self.lost:
                self.lost[task] = state
                message = f"task {task}: {state}; its cell goes back to the queue"
                tqdm.write(message, file=sys.stderr)
        return all(state not in ALIVE and state != "UNKNOWN" for state in states.values())

    def wait(self, total: int, progress: bool) -> bool:
        """Until every task has ended and no cell is left (new tasks for those lost); whether
        the cells are done."""
        resubmits = 0
        with tqdm(total=total, desc="sweep", unit="run", disable=not progress) as bar:
            while True:
                with contextlib.suppress(Exception):  # a storage away for a moment
                    bar.n = self.queue.done_count()
                    bar.refresh()
                if self.all_ended():
                    if not still_busy(self.queue):
                        return True
                    if resubmits >= self.launcher.max_resubmits:
                        return False
                    resubmits += 1
                    self.resubmit()
                time.sleep(POLL_SECONDS)

    def resubmit(self) -> None:
        count = tasks_for(self.launcher, self.queue)
        job = submit_tasks(self.spec, self.launcher, self.logs, count)
        self.jobs.append(job)
        tqdm.write(
            f"cells left by lost tasks: submitted {count} more task(s), job {job.array_ids[0]}",
            file=sys.stderr,
        )


def tasks_for(launcher: LauncherConfig, queue: CellQueue) -> int:
    """Tasks to submit for the cells left: the launcher's count, never more than the cells."""
    left = max(1, len(queue.trials(WAITING_OR_RUNNING)))
    return min(left, launcher.tasks or left)
