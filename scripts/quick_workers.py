"""One worker of every thread against one worker per thread, on the quick preset's seeds 0 and 1
(8 nets), interleaved: `depth_sweep.py --workers W` into a new store each time, wall time by
the clock and the training span (first net's start to last net's end) from MLflow.

    .venv/bin/python scripts/quick_workers.py --rounds 2 --out docs/benchmarks/quick-workers-2.txt

Run it with nothing else on the machine: a second process on the same cores slows both.
`--summarise FOLDER` prints the lines of stores a run of it left in FOLDER (r1-w1, ...).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient

REPO = Path(__file__).resolve().parents[1]
SWEEP = [sys.executable, str(REPO / "experiments" / "depth_sweep.py"), "--preset", "quick"]
FLAGS = ["--seeds", "0,1", "--no-progress", "--no-report"]


def run(folder: Path, workers: int) -> float:
    """One sweep into `folder`'s own store; its wall seconds."""
    folder.mkdir(parents=True)
    stores = [
        "--tracking-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--storage",
        str(folder / "journal.log"),
        "--checkpoint-dir",
        str(folder / "checkpoints"),
    ]
    began = time.perf_counter()
    with (folder / "out.txt").open("w") as out:
        command = [*SWEEP, *FLAGS, "--workers", str(workers), *stores]
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=True)
    wall = time.perf_counter() - began
    (folder / "wall.txt").write_text(f"{wall:.1f}\n")
    return wall


def span(folder: Path) -> tuple[int, float]:
    """(nets, seconds from the first net's start to the last one's end)."""
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    nets = [r for r in client.search_runs(experiments) if r.data.tags.get("kind") == "cell"]
    seconds = max(r.info.end_time for r in nets) - min(r.info.start_time for r in nets)
    return len(nets), seconds / 1000


def line(folder: Path) -> str:
    rounds, workers = folder.name[1:].split("-w")
    nets, seconds = span(folder)
    wall = float((folder / "wall.txt").read_text())
    trained = f"{nets} nets trained in {seconds:.1f} s"
    return f"round {rounds}, workers {workers}: {wall:.1f} s wall, {trained}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--summarise", type=Path, help="print the lines of an earlier run's stores")
    args = parser.parse_args()
    if args.summarise:
        print("\n".join(line(f) for f in sorted(args.summarise.glob("r*-w*"))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for rounds in range(1, args.rounds + 1):
            for workers in (1, 2):
                run(Path(tmp) / f"r{rounds}-w{workers}", workers)
        text = "\n".join(line(f) for f in sorted(Path(tmp).glob("r*-w*")))
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
