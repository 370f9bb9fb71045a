"""The smoke sweep end to end, as a user runs it, and what it leaves in MLflow."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

import resnet.runner.sweep
from resnet.cli.sweep import main
from resnet.core.config import RunConfig
from resnet.core.models import build

REPO = Path(__file__).resolve().parents[1]
CELLS = {"plain-8-s0", "residual-8-s0", "plain-14-s0", "residual-14-s0"}
TAGS = {"arch", "depth", "seed", "dataset", "preset", "shortcut", "torch_version", "device_name"}


def client():
    return MlflowClient(f"sqlite:///{Path('mlruns/mlflow.db').resolve()}")


def runs(**filters):
    c = client()
    experiments = [e.experiment_id for e in c.search_experiments()]
    found = c.search_runs(experiments)
    return [r for r in found if all(r.data.tags.get(k) == v for k, v in filters.items())]


@pytest.mark.heavy(50)  # the first test to ask for the shared sweep runs it
def test_smoke_sweep_end_to_end(smoke_sweep, workdir, monkeypatch):
    # The test run's shared smoke sweep (tests/smoke_sweep.py), read here and never changed.
    done = smoke_sweep
    assert "First training step " in done.stderr and " s after the start" in done.stderr
    assert (
        "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1" in done.stdout
    )
    # The link, printed at the start and at the end, opens the UI's Model training view.
    link = "http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning"
    assert done.stdout.count(link) == 2
    monkeypatch.chdir(done.folder)  # runs() and client() read ./mlruns, as in a user's folder

    (parent,) = runs(kind="sweep")
    assert parent.info.status == "FINISHED"
    children = runs(kind="cell")
    assert {r.info.run_name for r in children} == CELLS
    c = client()
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert set(child.data.tags) >= TAGS
        assert child.data.tags["shortcut"] == (
            "A" if child.data.tags["arch"] == "residual" else "none"
        )
        fields = {f.name for f in dataclasses.fields(RunConfig)}
        assert fields <= set(child.data.params)
        history = c.get_metric_history(child.info.run_id, "train_error")
        assert [m.step for m in history] == [10, 20, 30, 40, 50, 60]
        losses = [m.value for m in c.get_metric_history(child.info.run_id, "train_loss")]
        stable = all(loss <= losses[0] for loss in losses[1:])  # the run's own check, redone
        assert child.data.tags["stable"] == str(stable).lower()
        assert len(c.get_metric_history(child.info.run_id, "test_error")) == 2
        weights = Path(c.download_artifacts(child.info.run_id, "weights.pt", str(workdir)))
        state = torch.load(weights, weights_only=True)
        net = build(child.data.tags["arch"], int(child.data.tags["depth"]))
        net.load_state_dict(state)
        assert int(child.data.params["num_params"]) == sum(p.numel() for p in net.parameters())
        assert child.data.params["fp32_math"] == "ieee"  # true fp32 on a CPU
        responses = pd.read_csv(
            c.download_artifacts(child.info.run_id, "layer_responses.csv", str(workdir))
        )
        assert len(responses) == int(child.data.tags["depth"]) - 1  # every 3x3 layer
        assert_browsable(c, child)
    assert any("system/cpu_utilization_percentage" in r.data.metrics for r in children)

    # The report is written at the end of the sweep; the analysis CLI rewrites it.
    assert (
        "Report (figures, table, verdict): reports/depth-smoke-synthetic/report.md" in done.stdout
    )
    # Its last line before that: the reference runs (none are committed for the smoke preset).
    assert "Reference runs: none for preset smoke, so no comparison." in done.stdout
    # --no-log: the shared store stays as the sweep left it.
    again = ["--experiment", "depth-smoke-synthetic", "--tracking-uri", done.uri, "--no-log"]
    report = subprocess.run(
        [sys.executable, "-m", "analysis.report", *again],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert report.returncode == 0, report.stderr
    # Two depths of one seed: the penalty is reported and more seeds are asked for.
    assert "plain: untested with one seed, " in report.stdout
    assert "plain vs residual: " in report.stdout  # the contrast, untestable with 4 runs
    stems = [
        "curves",
        "error_vs_depth",
        "plain_shallow_vs_deep",
        "residual_shallow_vs_deep",
        "layer_responses",
    ]
    figures = [f"figures/{stem}{suffix}" for stem in stems for suffix in (".png", ".svg")]
    for name in ["report.md", "table.csv", "cells.csv", *figures]:
        assert (workdir / "reports" / "depth-smoke-synthetic" / name).stat().st_size > 100
    logged = {f.path for f in c.list_artifacts(parent.info.run_id, "report")}
    logged |= {f.path for f in c.list_artifacts(parent.info.run_id, "report/figures")}
    assert {f"report/{name}" for name in ["report.md", "table.csv", *figures]} <= logged

    assert_sweep_summarised(client().get_run(parent.info.run_id), children)

    table = pd.read_csv(c.download_artifacts(parent.info.run_id, "final_metrics.csv", str(workdir)))
    assert set(table["run"]) == CELLS and (table["status"] == "finished").all()
    # Every net learns (chance is 0.9); 60 iterations leave plain-14 anywhere from 0.15 to 0.6
    # across seeds, the residual nets near 0.
    assert table["val_error"].max() < 0.8 and table["val_error"].min() < 0.1


def assert_browsable(c: MlflowClient, child) -> None:
    """A net's run as the MLflow UI shows it: its data sets, its logged model, a description."""
    assert child.data.tags["mlflow.source.name"].endswith("depth_sweep.py")  # the Source column
    assert child.data.tags["mlflow.user"]  # "Created by"
    logged = {
        d.tags[0].value: (d.dataset.name, json.loads(d.dataset.profile)["features_shape"][0])
        for d in child.inputs.dataset_inputs
    }
    assert logged == {
        "training": ("synthetic", 2700),
        "validation": ("synthetic", 300),
        "test": ("synthetic", 1000),
    }
    (output,) = child.outputs.model_outputs
    model = c.get_logged_model(output.model_id)
    assert model.name == child.info.run_name and model.status == "READY"
    assert model.experiment_id == child.info.experiment_id
    assert {m.key for m in model.metrics} >= {"train_error", "test_error"}
    name = f"{child.data.tags['arch']}-{child.data.tags['depth']}"
    error = 100 * child.data.metrics["train_error"]
    assert child.data.tags["mlflow.note.content"].startswith(
        f"{name}, seed 0: train error {error:.1f} %, validation error "
    )


def assert_sweep_summarised(parent, children) -> None:
    """The sweep run's description holds the verdict and the table; its metrics, each net's
    final errors (one seed: the run's own) and the verdict's p-values."""
    description = parent.data.tags["mlflow.note.content"]
    assert "**Verdict**" in description and "| train error % |" in description
    for child in children:
        name = f"{child.data.tags['arch']}_{child.data.tags['depth']}"
        for metric in ("train_error", "test_error"):
            summary = parent.data.metrics[f"{name}_{metric}"]
            assert summary == pytest.approx(child.data.metrics[metric])
    assert {"plain_trend_p", "residual_trend_p"} <= set(parent.data.metrics)


# What these sweeps train is not checked: 20 iterations a cell rather than the smoke's 60.
SHORT = ["--iterations", "20"]
ONE_NET = [
    *["--preset", "smoke", *SHORT, "--archs", "residual", "--depths", "8"],
    *["--no-progress", "--no-report"],
]


def test_a_changed_config_is_not_skipped(store_workdir):
    argv = ONE_NET
    assert main(argv) == 0
    assert main([*argv, "--lr", "0.02"]) == 0
    lrs = sorted(r.data.params["lr"] for r in runs(kind="cell") if r.info.status == "FINISHED")
    assert lrs == ["0.02", "0.05"]


def test_the_same_sweep_again_trains_nothing_and_duplicates_nothing(store_workdir, capsys):
    assert main(ONE_NET) == 0
    assert main(ONE_NET) == 0
    (finished,) = [r for r in runs(kind="cell") if r.info.status == "FINISHED"]
    assert finished.info.run_name == "residual-8-s0" and len(runs(kind="cell")) == 1
    assert capsys.readouterr().out.count("finished earlier") == 1


def test_force_reruns_finished_cells(store_workdir):
    argv = ONE_NET
    assert main(argv) == 0
    assert main([*argv, "--force"]) == 0
    assert len(runs(kind="cell")) == 2


def test_diverged_cells_are_failed_and_the_sweep_goes_on(store_workdir, capsys, losses_blow_up):
    workdir = store_workdir
    assert main(["--preset", "smoke", "--no-progress"]) == 0
    cells = runs(kind="cell")
    assert {r.info.run_name for r in cells} == CELLS  # every cell ran despite the failures
    for run in cells:
        assert run.info.status == "FAILED"
        assert run.data.tags["failure_reason"].startswith("diverged: training loss")
        net = f"{run.data.tags['arch']}-{run.data.tags['depth']}"
        assert run.data.tags["mlflow.note.content"] == f"{net}, seed 0: diverged"
    assert runs(kind="sweep")[0].info.status == "FINISHED"
    out = capsys.readouterr().out
    assert "diverged" in out
    # The analysis shows them as diverged rather than failing on a sweep with no finished cell.
    report = (workdir / "reports" / "depth-smoke-synthetic" / "report.md").read_text()
    assert "`plain-14-s0` is diverged: diverged: training loss" in report
    assert "- **plain**: fewer than two of its depths have a finished seed: no verdict." in report


def test_a_crash_in_one_cell_fails_that_cell_only(store_workdir, monkeypatch):
    real_train = resnet.runner.sweep.train

    def crash_on_plain_14(config, *args, **kwargs):
        if config.name == "plain-14-s0":
            raise RuntimeError("out of memory (injected)")
        return real_train(config, *args, **kwargs)

    monkeypatch.setattr(resnet.runner.sweep, "train", crash_on_plain_14)
    assert main(["--preset", "smoke", *SHORT, "--no-progress", "--no-report"]) == 1
    status = {r.info.run_name: r.info.status for r in runs(kind="cell")}
    assert status == {**{name: "FINISHED" for name in CELLS}, "plain-14-s0": "FAILED"}
    (crashed,) = runs(kind="cell", arch="plain", depth="14")
    assert crashed.data.tags["failure_reason"] == "RuntimeError: out of memory (injected)"


def test_every_cell_depth_is_a_choice_of_the_queue_fixed_depth_nets_included():
    # resnet18 trains at depth 18 whatever --depths says; its trial must be able to say so.
    sweep = resnet.runner.sweep.SweepConfig(archs=("resnet18", "plain"), depths=(8, 14), seeds=(0,))
    choices = resnet.runner.sweep.depth_choices(sweep)
    assert choices[:2] == [8, 14]  # the sweep's own depths first, as before
    assert {cell.depth for cell in sweep.cells()} <= set(choices)


PAPER_OPTIONS = """
[data]
val_size = 0
normalization = "pixel"
[model]
bn_group = 16
"""


def test_a_sweep_without_validation_split_with_paper_options_ends_with_a_verdict(
    store_workdir, capsys
):
    workdir = store_workdir
    smoke = (REPO / "resnet" / "configs" / "smoke.toml").read_text()
    preset = workdir / "paper-options.toml"
    preset.write_text(
        smoke.replace("[data]\n", PAPER_OPTIONS.split("[model]")[0], 1)
        + "\n[model]\nbn_group = 16\n"
    )
    assert main(["--preset", str(preset), *SHORT, "--no-progress"]) == 0
    cells = runs(kind="cell")
    assert len(cells) == 4 and all(r.info.status == "FINISHED" for r in cells)
    for run in cells:
        assert (run.data.params["val_size"], run.data.params["bn_group"]) == ("0", "16")
        assert run.data.params["normalization"] == "pixel"
        assert "val_error" not in run.data.metrics and "test_error" in run.data.metrics
    out = capsys.readouterr().out
    assert "plain: untested with one seed" in out and "residual: untested with one seed" in out
