"""The analysis on a fabricated MLflow store: metric histories the test writes itself, so the
table, the verdicts and the report of missing cells can be checked against known numbers."""

import os
import subprocess

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow_stores import new_store

from analysis.collect import collect
from analysis.effects import DEFAULT_MARGIN, ContrastOutcome, Outcome
from analysis.figures import curves_figure, responses_figure
from analysis.frames import arch_order
from analysis.report import main
from analysis.reporting import ReportOptions, write_report
from analysis.stats import PAPER_TABLE6, contrast, degradation_verdict, summary_table

EXPERIMENT = "fabricated"
STEPS = (100, 200, 300)
# Final train errors per (arch, depth): three seeds each.
DEGRADING = {
    ("plain", 20): [0.110, 0.115, 0.105],
    ("plain", 32): [0.150, 0.160, 0.140],
    ("plain", 56): [0.300, 0.290, 0.310],
    ("residual", 20): [0.100, 0.105, 0.095],
    ("residual", 32): [0.090, 0.092, 0.088],
    ("residual", 56): [0.070, 0.075, 0.065],
}
# The shortcut tag of each arch's runs, as a sweep tags them: a plain net has none.
SHORTCUTS = {"plain": "none", "residual": "A"}


def uri(workdir) -> str:
    return f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"


def fabricate(
    workdir, finals: dict, dataset="fashion-mnist", extra_cells=(), diverged=(), shortcuts=SHORTCUTS
) -> str:
    """A sweep run and one cell run per (arch, depth, seed) whose train_error history ends at
    the given value; `extra_cells` are asked for but never run, `diverged` end FAILED; each run
    tagged with its arch's shortcut in `shortcuts`."""
    new_store(workdir / "mlruns")  # a copy: MLflow's migrations take seconds
    client = MlflowClient(uri(workdir))
    experiment = client.create_experiment(EXPERIMENT)
    names = [f"{a}-{d}-s{s}" for (a, d), errors in finals.items() for s in range(len(errors))]
    sweep = client.create_run(
        experiment,
        run_name="sweep-test",
        tags={
            "kind": "sweep",
            "dataset": dataset,
            "cells": ",".join([*names, *extra_cells]),
        },
    )
    for (arch, depth), errors in finals.items():
        for seed, final in enumerate(errors):
            name = f"{arch}-{depth}-s{seed}"
            run = client.create_run(
                experiment,
                run_name=name,
                tags={
                    "kind": "cell",
                    "arch": arch,
                    "depth": str(depth),
                    "seed": str(seed),
                    "mlflow.parentRunId": sweep.info.run_id,
                    "run_identity": f"id-{name}",
                    **({"shortcut": shortcuts[arch]} if arch in shortcuts else {}),
                },
            )
            rid = run.info.run_id
            client.log_param(rid, "lr", "0.1")
            metrics = [
                Metric(key, value, 0, step)
                for step, scale in zip(STEPS, (3.0, 1.5, 1.0), strict=True)
                for key, value in (("train_error", final * scale), ("test_error", final + 0.02))
            ]
            client.log_batch(rid, metrics=metrics)
            if name in diverged:
                client.set_tag(rid, "failure_reason", "diverged: training loss nan at iteration 7")
                client.set_terminated(rid, "FAILED")
            else:
                client.set_terminated(rid, "FINISHED")
    client.set_terminated(sweep.info.run_id, "FINISHED")
    return sweep.info.run_id


def test_table_holds_mean_std_and_n_per_cell(workdir):
    fabricate(workdir, DEGRADING)
    study = collect(EXPERIMENT, uri(workdir))
    table = summary_table(study.cells, study.dataset).set_index(["arch", "depth"])
    for (arch, depth), errors in DEGRADING.items():
        row = table.loc[(arch, depth)]
        assert row["n"] == 3
        assert row["train_error_mean"] == pytest.approx(100 * np.mean(errors))
        assert row["train_error_std"] == pytest.approx(100 * np.std(errors, ddof=1))
        assert row["test_error_mean"] == pytest.approx(100 * (np.mean(errors) + 0.02))
    assert "paper_test_error" not in table  # the paper's table is for CIFAR-10 only
    curves = study.curves
    assert set(curves["metric"]) == {"train_error", "test_error"}
    assert sorted(curves[curves["run_id"] == study.cells["run_id"][0]]["step"].unique()) == [*STEPS]


def test_verdict_finds_degradation_in_plain_nets_only(workdir):
    fabricate(workdir, DEGRADING)
    study = collect(EXPERIMENT, uri(workdir))
    assert study.margin == DEFAULT_MARGIN  # a sweep logged without a margin tag
    plain = degradation_verdict(study.cells, "plain")
    assert plain.outcome == Outcome.DEGRADATION
    assert plain.paired_p < 0.05 and plain.trend_p < 0.05
    assert plain.details.startswith("plain-56 train error 30.0 ± 1.0 % vs plain-20 11.0 ± 0.5 %")
    assert "over 3 seeds, 9 runs" in plain.details
    residual = degradation_verdict(study.cells, "residual")
    assert residual.outcome == Outcome.DEEPER_IS_BETTER


def test_contrast_reads_the_runs_of_the_depths_both_archs_have(workdir):
    fabricate(workdir, {**DEGRADING, ("plain", 44): [0.2, 0.21, 0.19]})
    found = contrast(collect(EXPERIMENT, uri(workdir)).cells)
    assert (found.shallow, found.deep, found.runs) == (20, 56, 18)  # plain-44 has no partner
    assert found.plain_penalty == pytest.approx(30.0 - 11.0)
    assert found.residual_penalty == pytest.approx(7.0 - 10.0)
    assert found.p < 0.05 and found.low > 0
    wanted = f"plain nets lose {found.difference:.1f} points more with depth, beyond the 2-point"
    assert found.conclusion == f"{wanted} margin"


def test_equal_depth_penalties_show_no_difference(workdir):
    same = {
        ("plain", 20): [0.11, 0.13, 0.12],
        ("plain", 56): [0.14, 0.12, 0.16],
        ("residual", 20): [0.10, 0.12, 0.11],
        ("residual", 56): [0.13, 0.11, 0.14],
    }
    fabricate(workdir, same)
    found = contrast(collect(EXPERIMENT, uri(workdir)).cells)
    assert found.p > 0.05
    assert found.conclusion == "no difference beyond the 2-point margin"


def test_one_seed_gets_a_contrast_it_does_not_test(workdir):
    one_seed = {
        **{("plain", d): [e] for d, e in ((20, 0.12), (32, 0.17), (44, 0.23), (56, 0.31))},
        **{("residual", d): [e] for d, e in ((20, 0.10), (32, 0.11), (44, 0.10), (56, 0.105))},
    }
    fabricate(workdir, one_seed)
    found = contrast(collect(EXPERIMENT, uri(workdir)).cells)
    assert found.runs == 8 and found.p is None and found.outcome == ContrastOutcome.UNTESTED
    assert found.sentence.startswith("untested with one seed, plain nets lose 18.")


def test_missing_and_diverged_cells_are_reported_not_fatal(workdir):
    fabricate(workdir, DEGRADING, extra_cells=["plain-44-s0"], diverged=["plain-56-s2"])
    study = collect(EXPERIMENT, uri(workdir))
    status = dict(zip(study.cells["cell"], study.cells["status"], strict=True))
    assert status["plain-44-s0"] == "missing"
    assert status["plain-56-s2"] == "diverged"
    table = summary_table(study.cells, study.dataset).set_index(["arch", "depth"])
    assert table.loc[("plain", 56), "n"] == 2  # the diverged seed is not averaged in
    assert table.loc[("plain", 56), "not_finished"] == 1

    written = write_report(EXPERIMENT, uri(workdir), out=workdir / "reports")
    report = written.path.read_text()
    assert "`plain-44-s0` is missing" in report
    assert "`plain-56-s2` is diverged: diverged: training loss nan at iteration 7" in report
    assert "over 2 seeds, 6 runs" in report  # plain's seed 2 has no depth 56


def test_a_report_killed_while_writing_leaves_nothing_after_the_next_one(workdir):
    fabricate(workdir, DEGRADING)
    reports = workdir / "reports"
    killed = reports / f".partial-{finished_pid()}-x1y2" / "report"  # a dead writer's draft
    killed.mkdir(parents=True)
    alive = reports / f".partial-{os.getpid()}-x3y4"  # another report being written now
    alive.mkdir()
    write_report(EXPERIMENT, uri(workdir), out=reports)
    assert not killed.parent.exists() and alive.exists()


def finished_pid() -> int:
    """The pid of a process that has exited (and been reaped): no process has it now."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_report_files_and_artifacts(workdir):
    sweep_id = fabricate(workdir, DEGRADING, dataset="cifar10")
    assert main(["--experiment", EXPERIMENT, "--tracking-uri", uri(workdir)]) == 0
    folder = workdir / "reports" / EXPERIMENT
    stems = ["curves", "error_vs_depth", "plain_shallow_vs_deep", "residual_shallow_vs_deep"]
    for stem in stems:
        for suffix in (".png", ".svg"):
            assert (folder / "figures" / f"{stem}{suffix}").stat().st_size > 1000
    table = pd.read_csv(folder / "table.csv")
    paper = dict(zip(table["net"], table["He et al. Table 6 test error %"], strict=True))
    assert paper["residual-56"] == PAPER_TABLE6[56] and np.isnan(paper["plain-56"])
    assert set(table["lr"]) == {0.1}  # the hyper-parameters each net was trained with
    report = (folder / "report.md").read_text()
    assert "- **plain**: degradation, +19.5 points from depth 20 to 56 (90 % CI" in report
    assert "![curves](figures/curves.png)" in report
    assert "tuned for each (arch, depth)" not in report
    assert "- **plain vs residual**: plain nets lose 22." in report

    client = MlflowClient(uri(workdir))
    summary = client.get_run(sweep_id).data.metrics
    assert summary["contrast_p"] < 0.05 and summary["plain_depth_penalty"] == pytest.approx(19)
    assert summary["plain_paired_p"] < 0.05 and "residual_trend_p" in summary
    assert summary["plain_penalty_low"] > 2 and summary["residual_penalty_high"] < -2
    logged = {f.path for f in client.list_artifacts(sweep_id, "report")}
    assert {"report/report.md", "report/table.csv", "report/cells.csv"} <= logged
    figures = {f.path for f in client.list_artifacts(sweep_id, "report/figures")}
    assert {f"report/figures/{stem}.svg" for stem in stems} <= figures


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--experiment", "nope"], "no experiment 'nope'"),
        ([], "the following arguments are required: --experiment"),
        (["--experiment", EXPERIMENT, "--eval-metric", "train_error"], "invalid choice"),
        (["--experiment", EXPERIMENT, "--sweep-run", "abc"], "no sweep run abc"),
        (["--experiment", EXPERIMENT, "--out", "/proc/reports"], "--out /proc/reports: cannot"),
        (["--experiment", EXPERIMENT, "--margin", "0"], "--margin must be in (0, 100), got 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(workdir, capsys, argv, message):
    fabricate(workdir, {("plain", 20): [0.1]})
    capsys.readouterr()  # MLflow's own log lines while the store was created
    assert main([*argv, "--tracking-uri", uri(workdir)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (workdir / "reports").exists()


def test_no_store_is_one_line(workdir, capsys):
    assert main(["--experiment", "x"]) == 2
    assert "no MLflow store at sqlite:///mlruns/mlflow.db" in capsys.readouterr().err
    assert not (workdir / "mlruns").exists()


def attempt(workdir, parent_id: str, name: str, status: str, identity: str, **tags) -> str:
    """One more run of a cell under `parent_id`, started after every run so far."""
    client = MlflowClient(uri(workdir))
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    arch, depth, seed = name.rsplit("-", 2)
    run = client.create_run(
        experiment,
        run_name=name,
        tags={
            "kind": "cell",
            "arch": arch,
            "depth": depth,
            "seed": seed.removeprefix("s"),
            "mlflow.parentRunId": parent_id,
            "run_identity": identity,
            **tags,
        },
    )
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def test_a_cell_is_its_newest_attempt_unless_an_equal_config_finished(workdir):
    sweep_id = fabricate(workdir, DEGRADING)
    attempt(
        workdir,
        sweep_id,
        "plain-20-s0",
        "FAILED",
        "id-plain-20-s0",
        failure_reason="RuntimeError: boom",
    )
    attempt(workdir, sweep_id, "plain-32-s0", "RUNNING", "id-other-config")
    cells = collect(EXPERIMENT, uri(workdir)).cells.set_index("cell")
    # A --force rerun that crashed: the finished run of the same config still stands.
    assert cells.loc["plain-20-s0", "status"] == "finished"
    assert "is failed: RuntimeError: boom" in cells.loc["plain-20-s0", "note"]
    assert cells.loc["plain-20-s0", "attempts"] == 2
    # Another config now running: the older finished run is not mixed in.
    assert cells.loc["plain-32-s0", "status"] == "running"
    assert cells.loc["plain-32-s0", "note"] == ""  # no failure tag: no note (not "nan")


def test_the_newest_sweep_counts_the_runs_it_reused(workdir):
    first = fabricate(workdir, DEGRADING)
    client = MlflowClient(uri(workdir))
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    reused = collect(EXPERIMENT, uri(workdir)).cells.set_index("cell").loc["plain-20-s0", "run_id"]
    second = client.create_run(
        experiment,
        run_name="sweep-two",
        tags={
            "kind": "sweep",
            "dataset": "fashion-mnist",
            "cells": "plain-20-s0,plain-20-s3",
            "reused.plain-20-s0": reused,
        },
    ).info.run_id
    attempt(workdir, second, "plain-20-s3", "FINISHED", "id-plain-20-s3")

    study = collect(EXPERIMENT, uri(workdir))
    assert study.sweep_run_id == second
    assert dict(zip(study.cells["cell"], study.cells["run_id"], strict=True)) == {
        "plain-20-s0": reused,
        "plain-20-s3": study.cells.set_index("cell").loc["plain-20-s3", "run_id"],
    }
    assert (study.cells["status"] == "finished").all()
    assert len(collect(EXPERIMENT, uri(workdir), sweep_run_id=first).cells) == 18


def test_tuning_and_layer_response_figures(workdir):
    sweep_id = fabricate(workdir, DEGRADING)
    client = MlflowClient(uri(workdir))
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    for arch, depth in (("plain", 20), ("plain", 56)):
        study = f"{EXPERIMENT}/{arch}-{depth}"
        tuning = client.create_run(
            experiment,
            tags={
                "kind": "tuning",
                "study": study,
                "arch": arch,
                "depth": str(depth),
                "mlflow.parentRunId": sweep_id,
            },
        ).info.run_id
        client.log_metric(tuning, "best_lr", 0.1 * depth / 20)
        client.log_metric(tuning, "best_weight_decay", 1e-4)
        for number, lr in enumerate((0.01, 0.1, 1.0)):
            trial = client.create_run(
                experiment,
                tags={
                    "kind": "trial",
                    "study": study,
                    "arch": arch,
                    "depth": str(depth),
                    "optuna_state": "COMPLETE",
                    "mlflow.parentRunId": tuning,
                },
            ).info.run_id
            client.log_param(trial, "lr", str(lr))
            client.log_param(trial, "weight_decay", "0.0001")
            client.log_metric(trial, "val_error", 0.1 + number / 10)
    for cell in collect(EXPERIMENT, uri(workdir)).cells.itertuples():
        responses = workdir / "layer_responses.csv"
        layers = cell.depth - 1
        pd.DataFrame(
            {
                "layer": [f"l{i}" for i in range(layers)],
                "index": range(1, layers + 1),
                "std": np.linspace(2, 1, layers),
            }
        ).to_csv(responses, index=False)
        client.log_artifact(cell.run_id, str(responses))

    study = collect(EXPERIMENT, uri(workdir))
    assert sorted(study.tuning["best_lr"]) == pytest.approx([0.1, 0.28])
    assert len(study.trials) == 6 and set(study.trials["lr"]) == {0.01, 0.1, 1.0}
    assert len(study.responses) == 3 * (19 + 31 + 55) * 2
    folder = write_report(EXPERIMENT, uri(workdir), out=workdir / "reports").path.parent
    for stem in ("tuning", "layer_responses"):
        assert (folder / "figures" / f"{stem}.png").stat().st_size > 1000


def test_the_kind_of_net_is_what_the_runs_record_not_their_name(workdir):
    # Named so that neither the name nor the alphabet would put the plain net first.
    finals = {("resnet", d): [0.10 - d / 1000] for d in (20, 56)}
    finals |= {("vgg", d): [0.10 + d / 200] for d in (20, 56)}
    fabricate(workdir, finals, extra_cells=["vgg-44-s0"], shortcuts={"resnet": "B", "vgg": "none"})
    study = collect(EXPERIMENT, uri(workdir))
    kinds = dict(zip(study.cells["cell"], study.cells["residual"], strict=True))
    # The missing cell has no run to say: it takes its arch's runs' kind.
    assert kinds == {"resnet-20-s0": True, "resnet-56-s0": True} | {
        f"vgg-{d}-s0": False for d in (20, 44, 56)
    }
    table = summary_table(study.cells, study.dataset)
    assert list(zip(table["arch"], table["depth"], strict=True)) == [
        ("vgg", 20),
        ("vgg", 44),
        ("vgg", 56),
        ("resnet", 20),
        ("resnet", 56),
    ]
    assert set(zip(study.curves["arch"], study.curves["residual"], strict=True)) == {
        ("vgg", False),
        ("resnet", True),
    }
    left, right = curves_figure(study.curves).axes
    assert (left.get_title(), right.get_title()) == ("vgg nets", "resnet nets")
    responses = pd.DataFrame(
        {"arch": ["resnet", "vgg"], "residual": [True, False], "depth": 20, "index": 1, "std": 1.0}
    )
    top = responses_figure(responses).axes[0]
    styles = [(line.get_label(), line.get_linestyle()) for line in top.get_lines()]
    assert styles == [("vgg-20", "--"), ("resnet-20", "-")]  # plain first, dashed


def test_frames_that_record_no_kind_fall_back_on_the_names():
    # A CSV export without the residual column (tests/data/measured): the name says.
    cells = pd.DataFrame({"arch": ["resnet18", "residual", "plain34", "plain"]})
    assert arch_order(cells) == ["plain", "plain34", "residual", "resnet18"]


def test_mlflow_names_are_spelled_only_in_the_schema():
    """The trainer writes and the analysis reads the same names because both take them from
    resnet.tracking.schema: no other module spells a search_runs column or an MLflow tag."""
    import ast
    from pathlib import Path

    from resnet.tracking import schema

    root = Path(__file__).resolve().parents[1]
    mlflow_tags = {
        v for k, v in vars(schema.Tag).items() if k.isupper() and v.startswith("mlflow.")
    }
    spelled = []
    for path in sorted(
        [*root.joinpath("analysis").rglob("*.py"), *root.joinpath("resnet").rglob("*.py")]
    ):
        if path.name == "schema.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and (
                text.startswith(("tags.", "params.", "metrics.")) or text in mlflow_tags
            ):
                spelled.append(f"{path.relative_to(root)}:{node.lineno}: {text!r}")
    assert spelled == []


def test_analysis_never_imports_the_training_code():
    """Of resnet/, importing the analysis loads only the schema of MLflow names, how store
    addresses are shown, whether a process lives, the one-line command line and the margin's
    bounds and the names training logs: no torch."""
    import subprocess
    import sys

    code = (
        "import sys, analysis.report, analysis.reporting; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('resnet', 'torch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    expected = [
        "resnet",
        "resnet.command_line",
        "resnet.core",
        "resnet.core.bounds",
        "resnet.core.metrics",
        "resnet.paths",
        "resnet.tracking",
        "resnet.tracking.address",
        "resnet.tracking.client",
        "resnet.tracking.database",
        "resnet.tracking.liveness",
        "resnet.tracking.schema",
    ]
    assert out.stdout.strip() == str(expected)


def test_deepest_net_without_a_finished_seed_makes_the_verdict_inconclusive(workdir):
    # Every plain-56 seed diverged: comparing plain-20 with plain-32 instead would answer
    # another question than the one asked.
    finals = {**DEGRADING, ("plain", 32): [0.100, 0.098, 0.102]}
    fabricate(workdir, finals, diverged=["plain-56-s0", "plain-56-s1", "plain-56-s2"])
    verdict = degradation_verdict(collect(EXPERIMENT, uri(workdir)).cells, "plain")
    assert verdict.headline == "inconclusive, no seed of plain-56 finished"
    assert verdict.paired_p is None
    assert "plain-56: no seed finished" in verdict.sentence


def test_report_warns_when_lr_and_weight_decay_were_tuned_per_net(workdir):
    fabricate(workdir, DEGRADING)
    client = MlflowClient(uri(workdir))
    for run in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id]):
        if run.data.tags.get("kind") == "cell":
            client.set_tag(run.info.run_id, "tuned_from", f"{EXPERIMENT}/tune-{run.info.run_name}")
    report = write_report(EXPERIMENT, uri(workdir), out=workdir / "reports").path.read_text()
    assert "tuned for each (arch, depth)" in report


ONE_SEED_TWO_DEPTHS = {("plain", 20): [0.555], ("plain", 56): [0.803]}
ONE_SEED_THREE_DEPTHS = {("plain", 20): [0.14], ("plain", 38): [0.26], ("plain", 56): [0.41]}


@pytest.mark.parametrize(
    ("finals", "margin", "said", "not_said"),
    [
        (ONE_SEED_TWO_DEPTHS, None, "untested with one seed, +24.8 points", "no degradation"),
        (ONE_SEED_THREE_DEPTHS, None, "untested with one seed, +27.0 points", "no degradation"),
        (DEGRADING, "30", "a small penalty below the margin, +19.5 points", "no degradation"),
    ],
    ids=["2-depths-1-seed", "3-depths-1-seed", "many-seeds-margin-30"],
)
def test_report_words_each_case_by_its_runs_and_margin(workdir, finals, margin, said, not_said):
    fabricate(workdir, finals)
    argv = ["--experiment", EXPERIMENT, "--tracking-uri", uri(workdir), "--no-log"]
    assert main([*argv, *(["--margin", margin] if margin else [])]) == 0
    verdict = (workdir / "reports" / EXPERIMENT / "report.md").read_text().split("## Final")[0]
    plain = next(line for line in verdict.splitlines() if line.startswith("- **plain**"))
    assert said in plain and not_said not in plain
    assert f"margin {margin or 2} points" in verdict


def test_more_seeds_after_an_inconclusive_verdict_are_named_a_second_look(workdir):
    sweep = fabricate(workdir, DEGRADING)
    client = MlflowClient(uri(workdir))
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    earlier = {"verdict.residual.outcome": "inconclusive", "verdict.residual.seeds": "0,1"}
    client.create_run(experiment, run_name="first-look", tags={"kind": "sweep", **earlier})
    study = collect(EXPERIMENT, uri(workdir), sweep)
    assert study.earlier_looks == {"residual": "0,1"}
    written = write_report(EXPERIMENT, uri(workdir), sweep, out=workdir / "reports")
    residual, plain = (next(s for s in written.verdicts if s.startswith(a)) for a in ARCH_LINES)
    assert residual.endswith("a second look, after an inconclusive one at seeds 0,1")
    assert "second look" not in plain
    tags = client.get_run(sweep).data.tags
    assert tags["verdict.residual.outcome"] == "deeper is better"
    assert tags["verdict.residual.seeds"] == "0,1,2"


ARCH_LINES = ("residual:", "plain:")


def test_the_sweeps_margin_tag_is_the_reports_default(workdir):
    sweep = fabricate(workdir, DEGRADING)
    MlflowClient(uri(workdir)).set_tag(sweep, "margin", "25")
    study = collect(EXPERIMENT, uri(workdir))
    assert study.margin == 25
    report = write_report(
        EXPERIMENT, uri(workdir), out=workdir / "reports", options=ReportOptions(log=False)
    )
    assert "margin 25 points" in report.path.read_text()
