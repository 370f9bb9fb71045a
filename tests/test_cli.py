"""Every bad input: one line on stderr, exit code 2, nothing written to the store."""

import hashlib

import pytest

from resnet.cli import main
from resnet.tracking import Store

BAD_INPUTS = {
    "unknown arch": (["--archs", "plain,vgg"], "unknown arch 'vgg'"),
    "unknown dataset": (["--dataset", "mnist"], "unknown dataset 'mnist'"),
    "unknown preset": (["--preset", "fast"], "unknown preset 'fast'"),
    "unknown precision": (["--precision", "fp16"], "unknown precision 'fp16'"),
    "depth not 6n+2": (["--depths", "20,21"], "nearest valid: 20, 26"),
    "zero lr": (["--lr", "0"], "lr must be positive"),
    "negative lr": (["--lr", "-0.1"], "lr must be positive"),
    "zero batch size": (["--batch-size", "0"], "batch size must be positive"),
    "negative iterations": (["--iterations", "-5"], "iterations must be positive"),
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
    "milestones past the end": (
        ["--preset", "paper", "--iterations", "1000"],
        "lr milestones [32000, 48000] must lie inside the 1000 iterations",
    ),
}


def store_fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def existing_store(workdir):
    Store("sqlite:///mlruns/mlflow.db").experiment_id("someone-elses-study")
    return workdir / "mlruns" / "mlflow.db"


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
