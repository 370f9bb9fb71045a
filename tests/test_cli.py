"""Every bad input: one line on stderr, exit code 2, nothing written to the store."""

import gzip
import hashlib
import os

import pytest

from resnet.cli.sweep import main
from resnet.tracking.store import Store

BAD_INPUTS = {
    "unknown arch": (["--archs", "plain,vgg"], "unknown arch 'vgg'"),
    "unknown dataset": (["--dataset", "mnist"], "unknown dataset 'mnist'"),
    "unknown preset": (["--preset", "fast"], "unknown preset 'fast'"),
    "unknown precision": (
        ["--precision", "fp16"],
        "unknown precision 'fp16' (allowed: fp32, bf16, auto)",
    ),
    "depth not 6n+2": (["--depths", "20,21"], "nearest valid: 20, 26"),
    "zero lr": (["--lr", "0"], "lr must be positive"),
    "negative lr": (["--lr", "-0.1"], "lr must be positive"),
    "zero batch size": (["--batch-size", "0"], "batch size must be in [1, 65536], got 0"),
    "negative iterations": (["--iterations", "-5"], "iterations must be in [1, 10000000]"),
    "iterations past any study": (
        ["--iterations", "99999999999999999999999"],
        "iterations must be in [1, 10000000], got 99999999999999999999999",
    ),
    "depth past the paper's deepest": (
        ["--depths", "999999998"],
        "depth 999999998 is above 1202, the deepest net of the paper",
    ),
    "experiment name too long": (["--experiment", "a" * 600], "at most 200 characters"),
    "depth not a number": (["--depths", "twenty"], "--depths must be a comma-separated list"),
    "unknown option": (["--epochs", "3"], "unrecognized arguments: --epochs"),
    "infinite lr": (["--lr", "inf"], "lr must be positive and finite"),
    "batch larger than the data": (["--batch-size", "5000"], "exceeds the 2700 training images"),
    "device not here": (["--device", "cuda:7"], "device cuda:7 is not available here"),
    "milestones without step schedule": (["--milestones", "10,20"], "needs the step schedule"),
    "every cell excluded": (
        ["--preset", "paper", "--archs", "plain", "--depths", "110"],
        "the sweep has no cells left",
    ),
    "experiment name with a path": (["--experiment", "../x"], "experiment name '../x' may hold"),
    "shortcut of no kind": (["--archs", "plain", "--shortcut", "C"], "unknown shortcut 'C'"),
    "tracking URI of a file store": (["--tracking-uri", "mlruns"], "tracking URI 'mlruns'"),
    "tracking server not there": (
        ["--tracking-uri", "http://127.0.0.1:9"],
        "tracking URI 'http://127.0.0.1:9' cannot be opened",
    ),
    "trials without tuning": (["--use-tuned", "--trials", "7"], "--trials needs --tune"),
    "seed past 32 bits": (
        ["--seeds", "0,4294967296"],
        "seed must be in [0, 2**32), got 4294967296",
    ),
    "auto precision, bad lr": (["--precision", "auto", "--lr", "-1"], "lr must be positive"),
    "auto precision, GPU not here": (
        ["--precision", "auto", "--device", "cuda:7"],
        "device cuda:7 is not available here",
    ),
    "unknown device with auto precision": (
        ["--device", "gpu", "--precision", "auto"],
        "unknown device 'gpu' (allowed: auto, cpu",
    ),
    "milestones past the end": (
        ["--preset", "paper", "--iterations", "1000"],
        "lr milestones [32000, 48000] must lie inside the 1000 iterations",
    ),
}


def store_fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def existing_store(store_workdir):
    Store("sqlite:///mlruns/mlflow.db").experiment_id("someone-elses-study")
    return store_workdir / "mlruns" / "mlflow.db"


def assert_refused(capsys, argv, expected, db):
    before = store_fingerprint(db)
    capsys.readouterr()  # drop what creating the store printed
    code = main(["--preset", "smoke", "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("depth_sweep.py: error: ")
    assert expected in err
    assert store_fingerprint(db) == before


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case, capsys, existing_store):
    argv, expected = BAD_INPUTS[case]
    assert_refused(capsys, argv, expected, existing_store)


def test_bad_input_creates_no_store(capsys, workdir):
    assert main(["--lr", "-1"]) == 2
    assert not (workdir / "mlruns").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[train]\nlearning_rate = 0.1\n", "unknown key 'train.learning_rate'"),
        ('[train]\niterations = "many"\n', "train.iterations must be an integer"),
        ("[sweep]\narchs = 'plain'\n", "sweep.archs must be a list of a string"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_bad_preset_file_names_the_key(text, expected, capsys, existing_store, workdir):
    preset = workdir / "mine.toml"
    preset.write_text(text)
    before = store_fingerprint(existing_store)
    capsys.readouterr()
    assert main(["--preset", str(preset)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert store_fingerprint(existing_store) == before


def data_problem(tmp_path, kind: str) -> list[str]:
    """Command-line arguments pointing at a data dir with one kind of problem."""
    from test_data import fake_fashion_mnist

    folder = tmp_path / "data"
    folder.mkdir()
    if kind == "missing files":
        return ["--dataset", "imagefolder", "--data-dir", str(folder)]
    if kind in ("unreadable image", "no image files", "one class"):
        for part in ("train", "test"):
            for name in ("cat",) if kind == "one class" else ("cat", "dog"):
                (folder / part / name).mkdir(parents=True)
                file = "notes.txt" if kind == "no image files" else "broken.png"
                (folder / part / name / file).write_bytes(b"not a png")
        return ["--dataset", "imagefolder", "--data-dir", str(folder)]
    if kind == "data dir is a file":
        (tmp_path / "file").write_text("x")
        return ["--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "file")]
    fake_fashion_mnist(folder)
    labels = folder / "train-labels-idx1-ubyte.gz"
    if kind == "bad gzip":
        labels.write_bytes(b"this is not gzip")
    if kind == "truncated idx":
        labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-9]))
    return ["--dataset", "fashion-mnist", "--data-dir", str(folder)]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing files", "data/train/ with one folder per class"),
        ("unreadable image", "cannot read image"),
        ("no image files", "data/train/ needs one folder per class holding image files"),
        ("one class", "has 1 class folder: a classifier needs at least 2"),
        ("data dir is a file", "is a file, not a folder"),
        ("bad gzip", "not a readable idx .gz file"),
        ("truncated idx", "not a readable idx .gz file"),
    ],
)
def test_bad_data_is_one_line_and_exit_2(kind, expected, tmp_path, capsys, existing_store):
    assert_refused(capsys, data_problem(tmp_path, kind), expected, existing_store)


def test_a_store_folder_that_is_a_file_is_one_line(workdir, capsys):
    (workdir / "mlruns").write_text("not a folder")
    assert main(["--preset", "smoke", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "is a file; the MLflow store and checkpoints need a writable folder" in err
    )


def test_an_unwritable_store_folder_is_one_line(workdir, capsys, monkeypatch):
    (workdir / "mlruns").mkdir()
    real_access = os.access  # tests may run as root, whom file permissions do not stop
    monkeypatch.setattr(
        os, "access", lambda p, mode: "mlruns" not in str(p) and real_access(p, mode)
    )
    assert main(["--preset", "smoke", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mlruns is not writable" in err
    assert list((workdir / "mlruns").iterdir()) == []


def test_a_storage_file_that_is_not_a_journal_is_refused_and_left_as_it_was(
    capsys, existing_store, workdir
):
    notes = workdir / "notes.log"
    notes.write_text("my own notes\n")
    assert_refused(capsys, ["--storage", str(notes)], "is not an Optuna journal", existing_store)
    assert notes.read_text() == "my own notes\n"


def test_a_storage_path_that_cannot_be_written_is_refused(capsys, existing_store):
    assert_refused(
        capsys, ["--storage", "/proc/j.log"], "--storage /proc/j.log: cannot write", existing_store
    )
