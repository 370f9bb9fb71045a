"""Every bad input of every command: exit code 2, exactly one line on stderr that names the
problem, and no new file, run or store left behind. One table, run in-process."""

import hashlib
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from analysis.report import main as report_main
from resnet.cli.benchmark import main as benchmark_main
from resnet.cli.sweep import main as sweep_main
from resnet.cli.throughput import main as throughput_main

COMMANDS = {
    "sweep": (
        "depth_sweep.py",
        lambda argv: sweep_main(["--preset", "smoke", "--no-progress", *argv]),
    ),
    "report": ("analysis.report", lambda argv: report_main(["--no-log", *argv])),
    "benchmark": ("benchmark.py", benchmark_main),
    "throughput": ("worker_throughput.py", throughput_main),
}


def make_files(tmp: Path) -> None:
    """Names the setup of some cases needs, made in the working directory."""
    (tmp / "notes.txt").write_text("my own notes\n")
    (tmp / "folder.toml").mkdir()
    (tmp / "random.db").write_bytes(os.urandom(4096))
    (tmp / "empty").mkdir()
    broken = tmp / "broken"
    for part in ("train", "test"):
        for name in ("cat", "dog"):
            (broken / part / name).mkdir(parents=True)
            (broken / part / name / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    presets = {
        "syntax.toml": "[train\n",
        "unknown.toml": "[train]\nlearning_rate = 0.1\n",
        "type.toml": '[train]\niterations = "many"\n',
        "launcher.toml": '[launcher]\nkind = "slurm"\nqueue = "long"\n',
        "tasks.toml": '[launcher]\ntasks = "many"\n',
        "inject.toml": f'[launcher]\nkind = "slurm"\nsbatch = [{json.dumps(INJECTION)}]\n',
        "managed.toml": '[launcher]\nkind = "slurm"\nsbatch = ["output=/etc/passwd"]\n',
        "big.toml": "[data]\nimage_size = 5000\n",
        "trials.toml": "[tune]\ntrials = 1000000000\n",
        "arrays.toml": "x = " + "[" * 5000 + "]" * 5000 + "\n",
        "tables.toml": "x = " + "{ a = " * 3000 + "1" + " }" * 3000 + "\n",
    }
    for name, text in presets.items():
        (tmp / name).write_text(text)
    record = '{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}\n'
    (tmp / "middle.log").write_text(record + "not a record\n" + record)
    (tmp / "opcode.log").write_text('{"op_code": 99, "worker_id": "w"}\n')
    os.mkfifo(tmp / "fifo.log")
    os.mkfifo(tmp / "pipe.toml")
    (tmp / "store-dir" / "mlflow.db").mkdir(parents=True)
    (tmp / "devnull.db").symlink_to("/dev/null")
    make_databases(tmp)
    make_image_folders(tmp)


def make_databases(tmp: Path) -> None:
    """SQLite files that are not this MLflow's store: another application's, an empty one, and
    MLflow stores of an older and of an unknown schema revision."""
    with sqlite3.connect(tmp / "otherapp.db") as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    (tmp / "empty.db").touch()
    for name, revision in (("older.db", OLD_REVISION), ("newer.db", "ffffffffffff")):
        with sqlite3.connect(tmp / name) as db:
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
            db.execute("CREATE TABLE experiments (experiment_id INTEGER)")
            db.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
            db.execute("INSERT INTO experiments VALUES (0)")  # whole: its Default experiment


def make_image_folders(tmp: Path) -> None:
    """Image folders that a plain walk would hang on (a FIFO named like an image) or count
    without end (a link back to a folder above)."""
    for name in ("piped", "looped"):
        for part, cls in itertools.product(("train", "test"), ("cat", "dog")):
            (tmp / name / part / cls).mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(tmp / name / part / cls / "a.png")
    os.mkfifo(tmp / "piped" / "train" / "cat" / "zz.png")
    (tmp / "looped" / "train" / "cat" / "again").symlink_to("..")


# A SLURM launch: its stores as a cluster needs them (never reached: the problem comes first)
SLURM = ["--launcher", "slurm", "--tracking-uri", "http://127.0.0.1:9"]
SLURM_STORES = [*SLURM, "--storage", "postgresql://u@127.0.0.1:9/optuna"]

OLD_REVISION = "451aebb31d03"  # MLflow 1.0's schema: known, but older than this MLflow's
LONG = "x" * 300  # a name no file system holds (255 bytes at most)
DEEP = "/".join(["y" * 250] * 20)  # each name fits, the path (5,019 bytes) does not
MANY_SEEDS = ",".join(str(4_294_967_000 + i) for i in range(546))
MANY_MILESTONES = ",".join(str(i) for i in range(1, 2000))
DEPTHS_20 = ",".join(str(6 * n + 2) for n in range(1, 21))  # 8 ... 122
SEEDS_300 = ",".join(str(i) for i in range(300))
TOO_LONG = "bytes long; the file system allows at most 255"
# A newline ends the job script's `#SBATCH --qos='x` line and `#` comments out the closing quote:
# the next line would run as a command of every task
INJECTION = "qos=x\ntouch PWNED #"
CONTROL = "must not hold control characters"

# (command, argv, what the one line must say)
CASES = [
    # depths
    ("sweep", ["--depths", "21"], "depth 21 is not 6n+2"),
    ("sweep", ["--depths", "0"], "depth 0 is not 6n+2"),
    ("sweep", ["--depths=-2"], "depth -2 is not 6n+2"),
    ("sweep", ["--depths", "1e9"], "--depths must be a comma-separated list"),
    ("sweep", ["--depths", "x"], "--depths must be a comma-separated list"),
    ("sweep", ["--depths", ""], "--depths must not be empty"),
    ("sweep", ["--depths", "20,20"], "depths has repeated values"),
    ("sweep", ["--depths", "999999998"], "above 1202, the deepest net of the paper"),
    # archs
    ("sweep", ["--archs", "vgg"], "unknown arch 'vgg'"),
    ("sweep", ["--archs", ""], "--archs must not be empty"),
    ("sweep", ["--archs", "plain,plain"], "archs has repeated values"),
    # seeds
    ("sweep", ["--seeds=-1"], "seed must be in [0, 2**32), got -1"),
    ("sweep", ["--seeds", "a"], "--seeds must be a comma-separated list"),
    ("sweep", ["--seeds", "1.5"], "--seeds must be a comma-separated list"),
    ("sweep", ["--seeds", "0,0"], "seeds has repeated values"),
    ("sweep", ["--seeds", "1e23"], "--seeds must be a comma-separated list"),
    ("sweep", ["--seeds", "4294967296"], "seed must be in [0, 2**32)"),
    # iterations
    ("sweep", ["--iterations", "0"], "iterations must be in [1, 10000000], got 0"),
    ("sweep", ["--iterations=-5"], "iterations must be in [1, 10000000], got -5"),
    ("sweep", ["--iterations", "1e12"], "argument --iterations: invalid int value: '1e12'"),
    ("sweep", ["--iterations", "99999999999999999999999"], "iterations must be in [1, 10000000]"),
    ("sweep", ["--warmup-iterations=-1"], "warmup_iterations must be in [0, "),
    # learning rate and weight decay
    ("sweep", ["--lr", "0"], "lr must be in (0, 1000000], got 0.0"),
    ("sweep", ["--lr=-1"], "lr must be in (0, 1000000], got -1.0"),
    ("sweep", ["--lr", "nan"], "lr must be in (0, 1000000], got nan"),
    ("sweep", ["--lr", "inf"], "lr must be in (0, 1000000], got inf"),
    ("sweep", ["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    ("sweep", ["--weight-decay=-1"], "weight_decay must be in [0, 1000000]"),
    ("sweep", ["--weight-decay", "nan"], "weight_decay must be in [0, 1000000]"),
    # floats the optimizer's float32 scalars cannot carry (resnet/core/bounds.py, MAX_RATE)
    ("sweep", ["--weight-decay", "1e300"], "weight_decay must be in [0, 1000000], got 1e+300"),
    ("sweep", ["--lr", "1e39"], "lr must be in (0, 1000000], got 1e+39"),
    ("sweep", ["--divergence-factor", "1e300"], "divergence_factor must be in (1, 1000000]"),
    ("sweep", ["--error-warmup-lr", "1e40"], "error_warmup_lr must be in (0, 1000000]"),
    # batch size and data size
    ("sweep", ["--batch-size", "0"], "batch_size must be in [1, 65536], got 0"),
    ("sweep", ["--batch-size", "100000"], "batch_size must be in [1, 65536], got 100000"),
    ("sweep", ["--batch-size", "5000"], "exceeds the 2700 training images"),
    ("sweep", ["--train-subset", "0"], "train_subset must be in [1, 100000000], got 0"),
    ("sweep", ["--image-size", "4"], "image_size must be in [8, 1024], got 4"),
    # data
    ("sweep", ["--dataset", "mnist"], "unknown dataset 'mnist'"),
    ("sweep", ["--dataset", "imagefolder", "--data-dir", "missing"], "missing"),
    ("sweep", ["--dataset", "imagefolder", "--data-dir", "empty"], "with one folder per class"),
    ("sweep", ["--dataset", "imagefolder", "--data-dir", "broken"], "cannot read image"),
    ("sweep", ["--dataset", "fashion-mnist", "--data-dir", "notes.txt"], "is a file, not a folder"),
    ("sweep", ["--dataset", "fashion-mnist", "--data-dir", "missing"], "missing"),
    # presets
    ("sweep", ["--preset", "fast"], "unknown preset 'fast'"),
    ("sweep", ["--preset", "syntax.toml"], "is not valid TOML"),
    ("sweep", ["--preset", "unknown.toml"], "unknown key 'train.learning_rate'"),
    ("sweep", ["--preset", "type.toml"], "train.iterations must be an integer"),
    ("sweep", ["--preset", "folder.toml"], "--preset folder.toml: is a folder, not a file"),
    # model and schedule
    ("sweep", ["--shortcut", "C"], "unknown shortcut 'C'"),
    ("sweep", ["--precision", "fp16"], "unknown precision 'fp16' (allowed: fp32, bf16, auto)"),
    ("sweep", ["--milestones", "10,20"], "needs the step schedule"),
    ("sweep", ["--preset", "paper", "--iterations", "1000"], "must lie inside the 1000 iterations"),
    ("sweep", ["--preset", "paper", "--archs", "plain", "--depths", "110"], "no cells left"),
    # tracking store
    ("sweep", ["--tracking-uri", "garbage://:::"], "tracking URI 'garbage://:::' cannot be opened"),
    ("sweep", ["--tracking-uri", "sqlite:////proc/x/mlflow.db"], "/proc/x"),
    ("sweep", ["--tracking-uri", "sqlite:///notes.txt"], "tracking URI 'sqlite:///notes.txt'"),
    ("sweep", ["--tracking-uri", "sqlite:///random.db"], "tracking URI 'sqlite:///random.db'"),
    ("sweep", ["--tracking-uri", "mlruns"], "tracking URI 'mlruns' cannot be opened"),
    ("sweep", ["--tracking-uri", "http://127.0.0.1:9"], "'http://127.0.0.1:9' cannot be opened"),
    ("sweep", ["--tracking-uri", "mysql://u:pw@127.0.0.1:9/d"], "--tracking-uri holds a password"),
    ("sweep", ["--tracking-uri", "mysql://u@127.0.0.1:9/d"], "'mysql://u@127.0.0.1:9/d' cannot be"),
    # experiment names
    ("sweep", ["--experiment", ""], "experiment name '' may hold letters"),
    ("sweep", ["--experiment", "../../escape"], "experiment name '../../escape' may hold"),
    ("sweep", ["--experiment", "two\nlines"], "experiment name 'two\\nlines' may hold"),
    ("sweep", ["--experiment", "a" * 600], "at most 200 characters"),
    # devices
    ("sweep", ["--device", "cuda"], "device cuda is not available here"),
    ("sweep", ["--device", "cuda:7"], "device cuda:7 is not available here"),
    ("sweep", ["--device", "tpu"], "unknown device 'tpu' (allowed: auto, cpu, cuda, cuda:N, mps)"),
    ("sweep", ["--device", "gpu", "--precision", "auto"], "unknown device 'gpu'"),
    # Optuna storage
    ("sweep", ["--storage", "notes.txt"], "this file is not an Optuna journal"),
    ("sweep", ["--storage", "empty"], "is a folder, not a file; a journal file is needed"),
    ("sweep", ["--storage", "middle.log"], "line 2 is not an Optuna journal record"),
    ("sweep", ["--storage", "opcode.log"], "this file is not an Optuna journal"),
    ("sweep", ["--storage", "/dev/null"], "is a device or socket, not a regular file; a journal"),
    ("sweep", ["--storage", "fifo.log"], "is a FIFO (named pipe), not a regular file; a journal"),
    ("sweep", ["--storage", "mysql://u:pw@127.0.0.1:9/d"], "--storage holds a password"),
    ("sweep", ["--storage", "mysql://u@127.0.0.1:9/d"], "--storage 'mysql://u@127.0.0.1:9/d'"),
    ("sweep", ["--storage", "/proc/j.log"], "cannot write there"),
    # tuning
    ("sweep", ["--tune", "--use-tuned"], "--tune and --use-tuned exclude each other"),
    ("sweep", ["--use-tuned"], "--use-tuned: no Optuna storage at"),
    ("sweep", ["--tune", "--trials", "0"], "tune.trials must be in [1, 10000], got 0"),
    ("sweep", ["--tune", "--trials=-1"], "tune.trials must be in [1, 10000], got -1"),
    ("sweep", ["--trials", "3"], "--trials needs --tune"),
    # workers
    ("sweep", ["--workers", "0"], "--workers"),
    ("sweep", ["--workers=-3"], "--workers"),
    ("sweep", ["--jobs-per-gpu", "2"], "--jobs-per-gpu"),
    ("sweep", ["--jobs-per-gpu", "0"], "--jobs-per-gpu must be at least 1, got 0"),
    # sizes: each has an upper bound, so a typo is refused before it allocates or runs for weeks
    ("sweep", ["--image-size", "2000"], "image_size must be in [8, 1024], got 2000"),
    ("sweep", ["--image-size", "100000"], "image_size must be in [8, 1024], got 100000"),
    ("sweep", ["--crop-pad", "5000"], "crop_pad must be in [0, 1024], got 5000"),
    ("sweep", ["--train-subset", "1000000000"], "train_subset must be in [1, 100000000]"),
    ("sweep", ["--tune", "--trials", "1000000000"], "tune.trials must be in [1, 10000]"),
    ("sweep", ["--preset", "big.toml"], "image_size must be in [8, 1024], got 5000"),
    ("sweep", ["--preset", "trials.toml", "--tune"], "tune.trials must be in [1, 10000]"),
    # a SLURM launch (tests/test_slurm.py has those that need a running cluster)
    ("sweep", ["--launcher", "slurm"], "needs an MLflow store that every node reaches"),
    ("sweep", [*SLURM, "--storage", "mlruns/q.log"], "needs an Optuna storage that every node"),
    ("sweep", [*SLURM, "--storage", "sqlite:///q.db"], "needs an Optuna storage that every node"),
    (
        "sweep",
        ["--launcher", "kubernetes"],
        "launcher must be one of local, slurm, got 'kubernetes'",
    ),
    ("sweep", ["--partition", "gpu"], "--partition needs --launcher slurm"),
    ("sweep", ["--detach"], "detach needs the slurm launcher"),
    ("sweep", ["--sbatch", "qos=high"], "--sbatch needs --launcher slurm"),
    ("sweep", ["--slurm-logs", "logs"], "--slurm-logs needs --launcher slurm"),
    ("sweep", [*SLURM_STORES, "--workers", "0"], "tasks must be positive, got 0"),
    ("sweep", [*SLURM_STORES, "--time-min", "0"], "time_min must be positive, got 0"),
    ("sweep", [*SLURM_STORES, "--mem-gb", "-1"], "mem_gb must be in (0, 16384], got -1.0"),
    ("sweep", [*SLURM_STORES, "--gpus-per-task=-1"], "gpus_per_task must be in [0, 16], got -1"),
    ("sweep", [*SLURM_STORES, "--sbatch=--qos=high"], "sbatch options are key=value"),
    ("sweep", [*SLURM_STORES, "--sbatch", "qos"], "sbatch options are key=value"),
    ("sweep", [*SLURM_STORES, "--jobs-per-gpu", "2"], "--jobs-per-gpu is for local launches"),
    ("sweep", ["--preset", "launcher.toml"], "unknown key 'launcher.queue'"),
    ("sweep", ["--preset", "tasks.toml"], "launcher.tasks must be an integer, got 'many'"),
    # what reaches the job script: one line each, no control character, no managed option
    ("sweep", [*SLURM_STORES, "--sbatch", INJECTION], f"sbatch options {CONTROL}"),
    ("sweep", [*SLURM_STORES, "--sbatch", "comment=a\rb"], f"sbatch options {CONTROL}"),
    ("sweep", ["--preset", "inject.toml"], f"{CONTROL} (newline, tab, ...), got 'qos=x\\ntouch"),
    ("sweep", [*SLURM_STORES, "--partition", "gpu\ntouch PWNED #"], f"partition {CONTROL}"),
    ("sweep", [*SLURM_STORES, "--partition", "gpu\tx"], f"partition {CONTROL}"),
    ("sweep", [*SLURM_STORES, "--slurm-logs", "logs\n#"], f"logs {CONTROL}"),
    ("sweep", [*SLURM_STORES, "--sbatch", "output=/etc/passwd"], "'output' is the launcher's"),
    ("sweep", [*SLURM_STORES, "--sbatch", "array=0-100000"], "'array' is the launcher's"),
    ("sweep", [*SLURM_STORES, "--sbatch", "wrap=touch PWNED"], "'wrap' is the launcher's"),
    ("sweep", [*SLURM_STORES, "--sbatch", "Job_Name=x"], "'Job_Name' is the launcher's"),
    ("sweep", [*SLURM_STORES, "--sbatch", "out=/etc/passwd"], "'out' (short for output) is"),
    ("sweep", [*SLURM_STORES, "--sbatch", "time=99999"], "(--time-min sets it)"),
    ("sweep", [*SLURM_STORES, "--sbatch", "gpus_per_node=8"], "(--gpus-per-task sets it)"),
    ("sweep", [*SLURM_STORES, "--sbatch", "q$(x)=1"], "sbatch options are key=value"),
    ("sweep", ["--preset", "managed.toml"], "sbatch option 'output' is the launcher's"),
    # folders and flags
    ("sweep", ["--checkpoint-dir", "notes.txt"], "--checkpoint-dir notes.txt: is a file"),
    ("sweep", ["--epochs", "3"], "unrecognized arguments: --epochs 3"),
    ("sweep", ["--iterations"], "argument --iterations: expected one argument"),
    ("sweep", ["--depths", "20,21"], "nearest valid: 20, 26"),
    ("sweep", ["--precision", "auto", "--lr=-1"], "lr must be in (0, 1000000]"),
    ("sweep", ["--precision", "auto", "--device", "cuda:7"], "device cuda:7 is not available"),
    ("sweep", ["--use-tuned", "--trials", "7"], "--trials needs --tune"),
    ("sweep", ["--archs", "plain,vgg"], "unknown arch 'vgg'"),
    # analysis.report
    ("report", ["--experiment", "x", "--tracking-uri", "garbage://:::"], "cannot be read"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///random.db"], "cannot be read"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///notes.txt"], "cannot be read"),
    ("report", ["--experiment", "x", "--tracking-uri", "mysql://u:pw@h:9/d"], "holds a password"),
    ("report", ["--experiment", "x", "--tracking-uri", "mysql://u@h:9/d"], "'mysql://u@h:9/d'"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///none.db"], "no MLflow store at"),
    ("report", ["--experiment", "x", "--tracking-uri", "mlruns"], "is not supported"),
    ("report", ["--experiment", "x", "--tracking-uri", "file:///tmp"], "is not supported"),
    ("report", ["--experiment", "nobody"], "no experiment 'nobody'"),
    ("report", ["--experiment", "x", "--bogus"], "unrecognized arguments: --bogus"),
    ("report", ["--tracking-uri"], "expected one argument"),
    # benchmark.py
    ("benchmark", ["--archs", "vgg"], "unknown arch 'vgg'"),
    ("benchmark", ["--depths", "21"], "depth 21 is not 6n+2"),
    ("benchmark", ["--depths", "x"], "--depths must be a comma-separated list"),
    ("benchmark", ["--precision", "fp16"], "unknown precision 'fp16'"),
    ("benchmark", ["--device", "tpu"], "unknown device 'tpu'"),
    ("benchmark", ["--device", "cuda:7"], "device cuda:7 is not available here"),
    ("benchmark", ["--batch-size", "0"], "--batch-size must be in [1, 65536], got 0"),
    ("benchmark", ["--rounds", "0"], "--rounds must be in [1, 10000000], got 0"),
    ("benchmark", ["--steps=-1"], "--steps must be in [1, 10000000], got -1"),
    ("benchmark", ["--images", "0"], "--images must be in [1, 1000000], got 0"),
    ("benchmark", ["--workers=-1"], "--workers must be in [0, 256], got -1"),
    ("benchmark", ["--batch-size", "300", "--images", "200"], "exceeds the 200 images"),
    ("benchmark", ["--json", "/no/such/folder/x.json"], "give a file in an existing folder"),
    ("benchmark", ["--json", "empty"], "--json empty: is a folder, not a file"),
    ("benchmark", ["--steps", "many"], "argument --steps: invalid int value"),
    ("benchmark", ["--epochs", "1"], "unrecognized arguments: --epochs 1"),
    # worker_throughput.py
    ("throughput", ["--workers", "0"], "--workers must be in [1, 256], got 0"),
    ("throughput", ["--cells", "0"], "--cells must be in [1, 10000], got 0"),
    ("throughput", ["--arch", "vgg"], "unknown arch 'vgg'"),
    ("throughput", ["--depth", "21"], "depth 21 is not 6n+2"),
    ("throughput", ["--precision", "fp16"], "unknown precision 'fp16'"),
    ("throughput", ["--device", "gpu"], "unknown device 'gpu'"),
    ("throughput", ["--json", "/proc/x.json"], "cannot write there"),
    # every path the user names: one check (resnet/paths.py)
    ("sweep", ["--data-dir", LONG], TOO_LONG),
    ("sweep", ["--checkpoint-dir", LONG], TOO_LONG),
    ("sweep", ["--storage", LONG], TOO_LONG),
    ("sweep", ["--tracking-uri", f"sqlite:///{LONG}/mlflow.db"], TOO_LONG),
    ("sweep", ["--tracking-uri", f"sqlite:///{LONG}.db"], TOO_LONG),
    ("sweep", ["--preset", f"{LONG}.toml"], TOO_LONG),
    ("sweep", ["--checkpoint-dir", DEEP], "the path is longer than the 4096 bytes"),
    ("sweep", ["--storage", f"{DEEP}/j.log"], "the path is longer than the 4096 bytes"),
    ("report", ["--experiment", "x", "--out", LONG], TOO_LONG),
    ("report", ["--experiment", "x", "--out", DEEP], "the path is longer than the 4096 bytes"),
    ("report", ["--experiment", "x", "--tracking-uri", f"sqlite:///{LONG}.db"], TOO_LONG),
    ("benchmark", ["--json", f"{LONG}.json"], TOO_LONG),
    ("throughput", ["--json", f"{LONG}.json"], TOO_LONG),
    ("sweep", ["--data-dir", "fifo.log"], "fifo.log: is a FIFO (named pipe), not a folder"),
    ("sweep", ["--data-dir", "/dev/null"], "--data-dir /dev/null: is a device or socket"),
    ("sweep", ["--checkpoint-dir", "/dev/null"], "is a device or socket, not a folder"),
    ("sweep", ["--checkpoint-dir", "notes.txt/x"], "on the way to it is a file, not a folder"),
    ("sweep", ["--preset", "pipe.toml"], "--preset pipe.toml: is a FIFO (named pipe)"),
    ("sweep", ["--preset", "missing.toml"], "--preset missing.toml: no such file"),
    ("sweep", ["--storage", "notes.txt/j.log"], "a part of the path on the way to it is a file"),
    ("report", ["--experiment", "x", "--out", "notes.txt"], "--out notes.txt: is a file, not"),
    ("report", ["--experiment", "x", "--out", "fifo.log"], "--out fifo.log: is a FIFO"),
    ("benchmark", ["--json", "fifo.log"], "--json fifo.log: is a FIFO (named pipe), not a regular"),
    ("benchmark", ["--json", "/dev/full"], "--json /dev/full: is a device or socket"),
    ("throughput", ["--json", "fifo.log"], "--json fifo.log: is a FIFO (named pipe)"),
    ("throughput", ["--json", "/dev/null"], "--json /dev/null: is a device or socket"),
    # image folders: regular files, no link back up (resnet/core/data.py)
    ("sweep", ["--dataset", "imagefolder", "--data-dir", "piped"], "zz.png is not a regular file"),
    ("sweep", ["--dataset", "imagefolder", "--data-dir", "looped"], "a symbolic link loop"),
    # stores: read without writing before MLflow opens them (resnet/tracking/database.py)
    ("sweep", ["--tracking-uri", "sqlite:///otherapp.db"], "another application's tables"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///otherapp.db"], "another appli"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///empty.db"], "an empty database"),
    ("sweep", ["--tracking-uri", "sqlite:///newer.db"], "which MLflow 3."),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///newer.db"], "does not know"),
    ("sweep", ["--tracking-uri", "sqlite:///older.db"], "made by an older MLflow"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///older.db"], "an older MLflow"),
    ("sweep", ["--tracking-uri", "sqlite://"], "an in-memory store is lost"),
    ("sweep", ["--tracking-uri", "sqlite:///:memory:"], "an in-memory store is lost"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite://"], "an in-memory store"),
    ("sweep", ["--tracking-uri", "sqlite:///ro/mlflow.db?mode=ro"], "SQLite options"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///x.db?mode=ro"], "SQLite opt"),
    ("sweep", ["--tracking-uri", "sqlite:///store-dir/mlflow.db"], "is a folder, not a file"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///store-dir/mlflow.db"], "folder"),
    ("sweep", ["--tracking-uri", "sqlite:///devnull.db"], "devnull.db: is a device or socket"),
    # sizes: one table of upper bounds (resnet/core/bounds.py)
    ("benchmark", ["--images", "1000000000"], "--images must be in [1, 1000000]"),
    ("benchmark", ["--batch-size", "65537"], "--batch-size must be in [1, 65536], got 65537"),
    ("benchmark", ["--workers", "100000"], "--workers must be in [0, 256], got 100000"),
    ("benchmark", ["--steps", "20000000"], "--steps must be in [1, 10000000]"),
    ("throughput", ["--iterations", "20000000"], "--iterations must be in [4, 10000000]"),
    ("throughput", ["--cells", "1000000000"], "--cells must be in [1, 10000]"),
    ("throughput", ["--workers", "1,100000"], "--workers must be in [1, 256], got 100000"),
    ("sweep", ["--workers", "100000"], "--workers must be in [1, 256], got 100000"),
    ("sweep", ["--seeds", MANY_SEEDS], "seeds may hold at most 500 values, got 546"),
    ("sweep", ["--milestones", MANY_MILESTONES], "milestones may hold at most 500 values"),
    ("sweep", ["--depths", DEPTHS_20, "--seeds", SEEDS_300], "the sweep has 12000 cells"),
    # presets nested past the reader's recursion (resnet/core/presets.py)
    ("sweep", ["--preset", "arrays.toml"], "arrays.toml nests arrays or tables too deeply"),
    ("sweep", ["--preset", "tables.toml"], "tables.toml nests arrays or tables too deeply"),
    # control characters in a path or name are shown escaped: one line, nothing for the terminal
    ("sweep", ["--preset", "a\nb.toml"], "--preset a\\nb.toml: no such file"),
    ("sweep", ["--preset", "\x1b[2J\x07.toml"], "--preset \\x1b[2J\\x07.toml: no such file"),
    ("sweep", ["--data-dir", "notes.txt/a\nb"], "--data-dir notes.txt/a\\nb: a part of the path"),
    ("sweep", ["--checkpoint-dir", "notes.txt/a\nb"], "--checkpoint-dir notes.txt/a\\nb: a part"),
    ("sweep", ["--storage", "notes.txt/a\rb.log"], "--storage notes.txt/a\\rb.log: a part"),
    ("report", ["--experiment", "x", "--out", "notes.txt/a\nb"], "--out notes.txt/a\\nb: a part"),
    ("benchmark", ["--json", "notes.txt/\x1b.json"], "--json notes.txt/\\x1b.json: a part"),
    ("throughput", ["--json", "notes.txt/\u2028.json"], "--json notes.txt/\\u2028.json: a"),
    # repeated nets of the benchmark, as the sweep refuses them
    ("benchmark", ["--depths", "8,8"], "--depths has repeated values: [8, 8]"),
    ("benchmark", ["--archs", "plain,plain"], "--archs has repeated values"),
    # a SQLite address's '#' part would name the file (mlflow.db#frag)
    ("sweep", ["--tracking-uri", "sqlite:///mlruns/mlflow.db#frag"], "takes no '#' part"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///m.db#f"], "takes no '#' part"),
    ("sweep", ["--storage", "sqlite:///optuna.db#frag"], "--storage: a SQLite address takes no"),
    # the report's folder: never the working folder itself
    ("report", ["--experiment", "x", "--out", ""], "--out must name a folder"),
    # the SLURM logs folder: the one path check (resnet/paths.py)
    ("sweep", [*SLURM_STORES, "--slurm-logs", "notes.txt"], "--slurm-logs notes.txt: is a file"),
    ("sweep", [*SLURM_STORES, "--slurm-logs", LONG], TOO_LONG),
    ("sweep", [*SLURM_STORES, "--slurm-logs", "/dev/null"], "--slurm-logs /dev/null: is a device"),
    # what one SLURM task asks for: bounded (resnet/core/launcher_config.py)
    ("sweep", [*SLURM_STORES, "--mem-gb", "32000"], "mem_gb must be in (0, 16384], got 32000.0"),
    ("sweep", [*SLURM_STORES, "--cpus-per-task", "100000"], "cpus_per_task must be in [1, 1024]"),
    ("sweep", [*SLURM_STORES, "--gpus-per-task", "64"], "gpus_per_task must be in [0, 16], got 64"),
]


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`, files with a hash of their bytes: what a refused
    command must leave as it was."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else ""
        for p in sorted(folder.rglob("*"))
    }


def test_the_table_holds_a_hundred_cases_of_every_command():
    assert len(CASES) >= 100
    assert {command for command, _, _ in CASES} == set(COMMANDS)


@pytest.mark.parametrize(("command", "argv", "expected"), CASES, ids=lambda v: repr(v)[:40])
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    command, argv, expected, store_workdir, capsys
):
    make_files(store_workdir)
    before = fingerprint(store_workdir)
    prog, run = COMMANDS[command]
    capsys.readouterr()
    code = run(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: "), err
    assert expected in err, err
    assert fingerprint(store_workdir) == before


REPO = Path(__file__).resolve().parents[1]
AS_USERS_RUN_THEM = [
    (["experiments/depth_sweep.py", "--depths", "21"], "depth_sweep.py", "depth 21 is not 6n+2"),
    (["-m", "analysis.report", "--experiment", "nobody"], "analysis.report", "no MLflow store"),
    (["experiments/benchmark.py", "--archs", "vgg"], "benchmark.py", "unknown arch 'vgg'"),
    (  # MLflow's client warns before it fails on a databricks URI without credentials
        ["experiments/depth_sweep.py", "--preset", "smoke", "--tracking-uri", "databricks"],
        "depth_sweep.py",
        "tracking URI 'databricks' cannot be opened",
    ),
]


@pytest.mark.parametrize(("args", "prog", "expected"), AS_USERS_RUN_THEM)
def test_bad_input_through_a_real_process_is_one_line_too(args, prog, expected, workdir):
    """Nothing printed at import or exit (warnings, logging) adds to the one line."""
    command = [sys.executable, *(str(REPO / a) if a.endswith(".py") else a for a in args)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"{prog}: error: ")
    assert expected in done.stderr and done.stdout == ""
    assert list(workdir.iterdir()) == []


def test_a_slurm_launch_without_sbatch_is_one_line(store_workdir, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(store_workdir / "no-slurm-here"))
    before = fingerprint(store_workdir)
    _, run = COMMANDS["sweep"]
    assert run(SLURM_STORES) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "depth_sweep.py: error: --launcher slurm needs SLURM's sbatch on the PATH; none is here"
    ]
    assert fingerprint(store_workdir) == before


# Folders the user may not enter or read, for every option that names a path. Root ignores file
# permissions, so the cases run in one process stripped of that power (setpriv), as a user.
LOCKED_CASES = [
    ("sweep", ["--data-dir", "locked"], "--data-dir locked: not readable (permission denied)"),
    ("sweep", ["--data-dir", "locked/data"], "--data-dir locked/data: permission denied on a"),
    ("sweep", ["--checkpoint-dir", "locked/c"], "--checkpoint-dir locked/c: permission denied"),
    ("sweep", ["--storage", "locked/j.log"], "--storage locked/j.log: permission denied"),
    ("sweep", ["--tracking-uri", "sqlite:///locked/mlflow.db"], "locked: not writable"),
    ("sweep", ["--preset", "locked/p.toml"], "--preset locked/p.toml: permission denied"),
    ("report", ["--experiment", "x", "--out", "locked/r"], "--out locked/r: permission denied"),
    ("report", ["--experiment", "x", "--tracking-uri", "sqlite:///locked/m.db"], "permission den"),
    ("benchmark", ["--json", "locked/b.json"], "--json locked/b.json: permission denied"),
    ("throughput", ["--json", "locked/t.json"], "--json locked/t.json: permission denied"),
]
AS_A_USER = """
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
import test_bad_input
results = []
for command, argv, _ in json.load(sys.stdin):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = test_bad_input.COMMANDS[command][1](argv)
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def test_folders_the_user_cannot_read_are_one_line_each(store_workdir):
    (store_workdir / "locked").mkdir(mode=0o000)
    before = fingerprint(store_workdir)
    command = [sys.executable, "-c", AS_A_USER, str(Path(__file__).parent)]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    done = subprocess.run(
        command,
        input=json.dumps(LOCKED_CASES),
        capture_output=True,
        text=True,
        cwd=store_workdir,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for (command_name, argv, expected), (code, err) in zip(
        LOCKED_CASES, json.loads(done.stdout.splitlines()[-1]), strict=True
    ):
        prog = COMMANDS[command_name][0]
        assert code == 2 and err.count("\n") == 1 and err.startswith(f"{prog}: error: "), err
        assert expected in err, (argv, err)
    assert fingerprint(store_workdir) == before


ENVIRONMENT_CASES = [  # MLFLOW_TRACKING_URI, what the one line must say
    (f"sqlite:///{LONG}.db", TOO_LONG),
    ("sqlite://", "an in-memory store is lost"),
    ("sqlite:///otherapp.db", "another application's tables"),
]


@pytest.mark.parametrize("command", ["sweep", "report"])
@pytest.mark.parametrize(("uri", "expected"), ENVIRONMENT_CASES)
def test_a_bad_store_in_the_environment_is_one_line_too(
    command, uri, expected, store_workdir, monkeypatch, capsys
):
    make_files(store_workdir)
    before = fingerprint(store_workdir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    prog, run = COMMANDS[command]
    assert run(["--experiment", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: ") and expected in err, err
    assert fingerprint(store_workdir) == before


def test_an_image_above_the_decompression_limit_is_one_line(store_workdir, monkeypatch, capsys):
    for part, cls in itertools.product(("train", "test"), ("cat", "dog")):
        (store_workdir / "images" / part / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(store_workdir / "images" / part / cls / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # the 8x8 images hold 64: PIL warns
    before = fingerprint(store_workdir)
    _, run = COMMANDS["sweep"]
    assert run(["--dataset", "imagefolder", "--data-dir", "images", "--image-size", "8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read image" in err and "exceeds limit" in err, err
    assert fingerprint(store_workdir) == before
