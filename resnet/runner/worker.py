"""One worker of a `--workers N` launch: `python -m resnet.runner.worker`, started by the
launcher (`resnet.runner.workers`), never by hand; or one task of a `--launcher slurm` array job
(`array_task`, which submitit runs on the node).

What the worker needs (the sweep's configuration, the stores' addresses, its number) comes
from its parent in one environment variable, not on its command line: the addresses may hold
passwords, and a command line is shown to every user of the machine (`ps`, /proc/<pid>/cmdline)
while a process's environment is readable only by its owner. The worker takes the variable out
of its environment at once, so the processes it starts do not inherit it.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import pickle
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from signal import SIGUSR2

import torch

from resnet.core.allocator import keep_freed_memory
from resnet.core.config import SweepConfig
from resnet.runner.checks import open_store
from resnet.runner.interrupt import SIGNALS, StopRequest
from resnet.runner.storage import is_database
from resnet.runner.sweep import SweepOptions, run_sweep

SPEC_ENV = "DEPTH_SWEEP_WORKER_SPEC"
COMMAND = (sys.executable, "-m", "resnet.runner.worker")


@dataclass(frozen=True)
class Stores:
    """Where a sweep keeps its runs (MLflow), its queue and studies (Optuna) and checkpoints."""

    tracking_uri: str
    storage: str
    checkpoints: Path | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a launched worker runs: the sweep (its cells already enqueued by the
    launcher), the stores, how it works, and its number in the launch."""

    sweep: SweepConfig
    stores: Stores
    options: SweepOptions
    number: int

    def environment(self) -> dict[str, str]:
        """The spec as the environment variable the worker reads. Pickled: the parent and the
        child are the same program, and the variable is the parent's to the child alone."""
        return {SPEC_ENV: base64.b64encode(pickle.dumps(self)).decode("ascii")}


def worker_key(number: int, storage: str) -> str:
    """What sets a worker's tuning samples apart from the others': its number, and on a
    database that other machines may share, its host."""
    return f"{socket.gethostname()} worker {number}" if is_database(storage) else f"worker {number}"


def worker_options(options: SweepOptions, number: int, storage: str) -> SweepOptions:
    """A launched worker's options: it joins the launcher's sweep, shows no bars (the launcher
    shows the sweep's) and keeps no rerun flag (the launcher has enqueued the cells)."""
    key = worker_key(number, storage)
    return dataclasses.replace(options, join=True, progress=False, force=False, worker=key)


def read_spec() -> WorkerSpec:
    """The spec from the parent, taken out of this process's environment."""
    encoded = os.environ.pop(SPEC_ENV, None)
    if encoded is None:
        raise SystemExit(
            f"{COMMAND[-1]}: started without {SPEC_ENV}; depth_sweep.py --workers N starts workers"
        )
    return pickle.loads(base64.b64decode(encoded))


def work(spec: WorkerSpec, stop_signals=SIGNALS) -> int:
    """Pull the spec's cells until none is left; the worker's exit code."""
    keep_freed_memory()
    store = open_store(spec.stores.tracking_uri, spec.stores.checkpoints)
    try:
        with StopRequest(stop_signals).installed() as stop:
            result = run_sweep(spec.sweep, store, spec.stores.storage, None, spec.options, stop)
    except KeyboardInterrupt:  # the launcher says it once, for all of its workers
        return 130
    return 1 if result.crashed else 0


def main() -> int:
    return work(read_spec())


def array_task(index: int) -> int:
    """Task `index` (from 1) of a SLURM array job (`--launcher slurm`, through submitit): a
    worker like the others, with the cores SLURM gave it. SLURM's warning before a time limit
    or a preemption (submitit asks for USR2) stops it like SIGTERM: a checkpoint, and its cell
    back in the queue."""
    spec = read_spec()
    cores = os.environ.get("SLURM_CPUS_PER_TASK")
    if cores and cores.isdigit():
        torch.set_num_threads(int(cores))
    job = os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID", ""))
    options = worker_options(spec.options, index, spec.stores.storage)
    options = dataclasses.replace(options, worker=f"{socket.gethostname()} slurm {job}_{index}")
    return work(dataclasses.replace(spec, options=options, number=index), (*SIGNALS, SIGUSR2))


if __name__ == "__main__":
    sys.exit(main())
