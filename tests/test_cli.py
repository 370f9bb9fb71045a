"""Bad input that needs its own setup: one line on stderr, exit code 2, nothing written to
the store. The table of every other bad input is tests/test_bad_input.py."""

import gzip
import hashlib
import os

import pytest
import torch

from resnet.cli.sweep import main
from resnet.tracking.store import Store


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
    from test_data import fake_fashion_mnist, write_idx

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
    if kind == "labels 10-19":
        write_idx(labels, torch.arange(120) % 10 + 10)
    if kind == "fewer labels":
        write_idx(labels, torch.arange(60) % 10)
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
        ("labels 10-19", "the training labels run from 10 to 19; 10 classes need 0 to 9"),
        ("fewer labels", "the training split has 120 images but 60 labels"),
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
        and "is a file, not a folder; the MLflow store and checkpoints need a writable" in err
    )


def test_an_unwritable_store_folder_is_one_line(workdir, capsys, monkeypatch):
    (workdir / "mlruns").mkdir()
    real_access = os.access  # tests may run as root, whom file permissions do not stop
    monkeypatch.setattr(
        os, "access", lambda p, mode: "mlruns" not in str(p) and real_access(p, mode)
    )
    assert main(["--preset", "smoke", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mlruns: not writable (permission denied)" in err
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
