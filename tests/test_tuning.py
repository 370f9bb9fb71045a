"""Optuna tuning: studies per (arch, depth), trials in MLflow, resume after SIGINT and SIGKILL."""

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import optuna
import pytest
from mlflow import MlflowClient
from mlflow_stores import new_store
from optuna.trial import TrialState

from resnet.cli.sweep import main
from resnet.runner.storage import OWNER_ATTR, open_storage, requeue_dead_owners

REPO = Path(__file__).resolve().parents[1]
JOURNAL = "mlruns/optuna-journal.log"


def client():
    return MlflowClient(f"sqlite:///{Path('mlruns/mlflow.db').resolve()}")


def runs(kind):
    c = client()
    found = c.search_runs([e.experiment_id for e in c.search_experiments()])
    return [r for r in found if r.data.tags.get("kind") == kind]


def studies():
    """The tuning studies (the storage also holds the sweeps' queues of cells)."""
    storage = open_storage(JOURNAL)
    return {
        s.study_name: optuna.load_study(study_name=s.study_name, storage=storage)
        for s in optuna.get_all_study_summaries(storage)
        if "/sweep-" not in s.study_name
    }


def counted(study):
    return study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))


def dashboard_view(storage: str) -> dict[str, list[str]]:
    """The states of each study's trials, by study name, as optuna-dashboard serves them: its
    app (`wsgi` opens the storage with `get_storage`, as its command line does) asked through
    its own API, without a server."""
    import optuna_dashboard  # here, not on collection: it loads scikit-learn (seconds)

    app = optuna_dashboard.wsgi(storage)

    def get(path):
        environ, statuses = {"PATH_INFO": path}, []
        setup_testing_defaults(environ)
        body = b"".join(app(environ, lambda status, *_: statuses.append(status)))
        assert statuses == ["200 OK"], (path, statuses, body[:200])
        return json.loads(body)

    return {
        s["study_name"]: [t["state"] for t in get(f"/api/studies/{s['study_id']}")["trials"]]
        for s in get("/api/studies")["study_summaries"]
    }


def check_dashboard_shows(journal: Path, printed: str, tuning: dict) -> None:
    """The command the sweep printed opens the journal in optuna-dashboard, which shows every
    study the sweep wrote (the tuning studies and the queue of cells) with all its trials."""
    (command,) = [line for line in printed.splitlines() if "Browse the tuning studies" in line]
    executable, where = shlex.split(command.split("): ", 1)[1])
    assert shutil.which(executable) and where == str(journal.absolute())
    shown = dashboard_view(where)
    queue = [name for name in shown if "/sweep-" in name]
    assert sorted(shown) == sorted([*tuning, *queue]) and len(queue) == 1
    assert shown[queue[0]].count("Complete") == len(runs("cell")) > 0
    for name, study in tuning.items():
        assert shown[name].count("Complete") == len(study.get_trials(states=(TrialState.COMPLETE,)))
        assert len(shown[name]) == len(counted(study)) == 4
    with pytest.raises(ValueError, match="Failed to guess storage"):  # not a file: refused
        dashboard_view(str(journal.with_name("no-journal.log")))


def one_cell_preset(tmp_path, lr_min=0.01, lr_max=0.5, iterations=40, extra_space=""):
    path = tmp_path / "tune.toml"
    path.write_text(
        f"""
[sweep]
archs = ["residual"]
depths = [8]
[data]
dataset = "synthetic"
image_size = 16
[train]
iterations = {iterations}
batch_size = 32
schedule = "cosine"
warmup_iterations = 5
log_every = 10
eval_every = 10
[tune]
trials = 4
pruner = "none"
[tune.space]
lr = {{ low = {lr_min}, high = {lr_max}, log = true }}
weight_decay = {{ low = 1e-5, high = 1e-2, log = true }}
{extra_space}
"""
    )
    return str(path)


def shorter_smoke(folder: Path) -> str:
    """The smoke preset, same name, with 20-iteration cells and 10-iteration trials (60 and
    30): what the tuning test checks is what is tracked, not what the nets learn."""
    text = (REPO / "resnet" / "configs" / "smoke.toml").read_text()
    for smoke, shorter in ((60, 20), (30, 10)):  # [train], then [tune]
        assert text.count(f"\niterations = {smoke}\n") == 1
        text = text.replace(f"\niterations = {smoke}\n", f"\niterations = {shorter}\n")
    (folder / "shorter").mkdir()
    (folder / "shorter" / "smoke.toml").write_text(text)
    return str(folder / "shorter" / "smoke.toml")


@pytest.mark.heavy(25)
def test_smoke_tuning_tracks_every_trial_and_final_runs_use_the_best(workdir, capsys):
    new_store(workdir / "mlruns")  # a copy: MLflow's migrations take seconds
    smoke = shorter_smoke(workdir)
    assert main(["--preset", smoke, "--tune", "--no-progress"]) == 0
    found = studies()
    assert len(found) == 4
    assert all(len(counted(s)) == 4 for s in found.values())
    # Every study starts from the preset's own values, then draws its own points.
    assert all(s.trials[0].user_attrs.get("untuned") for s in found.values())
    assert len({s.trials[0].params["lr"] for s in found.values()}) == 1
    assert len({s.trials[1].params["lr"] for s in found.values()}) == 4
    check_dashboard_shows(workdir / JOURNAL, capsys.readouterr().out, found)

    tuning = runs("tuning")
    assert len(tuning) == 4
    trials = runs("trial")
    for parent in tuning:
        mine = [t for t in trials if t.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        assert len(mine) == 4
        for t in mine:
            state = t.data.tags["optuna_state"]
            assert state in ("COMPLETE", "PRUNED")
            assert t.info.status == ("FINISHED" if state == "COMPLETE" else "KILLED")
            # The Dataset column: what the trial trained and chose on, never the test set.
            contexts = {d.tags[0].value for d in t.inputs.dataset_inputs}
            assert contexts == {"training", "validation"}
        assert "best_lr" in parent.data.metrics and "best_weight_decay" in parent.data.metrics
        figures = {a.path for a in client().list_artifacts(parent.info.run_id, "figures")}
        assert "figures/optimization_history.png" in figures

    for cell in runs("cell"):
        study = found[cell.data.tags["tuned_from"]]
        best = min(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.value)
        assert float(cell.data.params["lr"]) == pytest.approx(best.params["lr"])
        assert float(cell.data.params["weight_decay"]) == pytest.approx(best.params["weight_decay"])

    # The report draws the tuning figure from those runs.
    assert (workdir / "reports" / "depth-smoke-synthetic" / "figures" / "tuning.png").exists()

    # --trials is the total: asking again for 4 runs no new trial.
    assert main(["--preset", smoke, "--tune", "--no-progress", "--no-report"]) == 0
    assert all(len(s.trials) == 4 for s in studies().values())


def test_diverging_trials_are_pruned_and_the_study_completes(workdir, capsys, losses_blow_up):
    preset = one_cell_preset(workdir)
    assert main(["--preset", preset, "--tune", "--no-progress", "--no-report"]) == 0
    (study,) = studies().values()
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 4
    for trial in runs("trial"):
        assert trial.data.tags["optuna_state"] == "PRUNED"
        assert trial.data.tags["failure_reason"].startswith("diverged")
        assert trial.info.status == "KILLED"
    assert "no completed trial" in capsys.readouterr().err


def test_one_line_in_the_space_tunes_momentum_too(workdir, monkeypatch):
    import resnet.runner.tuning

    # Optuna's figures take most of a tiny study's time; the smoke test above checks them.
    monkeypatch.setattr(resnet.runner.tuning, "save_figures", lambda *args: [])
    momentum = "momentum = { low = 0.8, high = 0.95 }"
    preset = one_cell_preset(workdir, iterations=20, extra_space=momentum)
    argv = ["--preset", preset, "--tune", "--trials", "3", "--no-progress", "--no-report"]
    assert main(argv) == 0

    trials = runs("trial")
    untuned = [t for t in trials if t.data.tags.get("untuned_trial") == "true"]
    assert len(trials) == 3 and len(untuned) == 1
    assert float(untuned[0].data.params["momentum"]) == 0.9  # the preset's own, first
    drawn = {float(t.data.params["momentum"]) for t in trials if t not in untuned}
    assert len(drawn) == 2 and 0.9 not in drawn  # varied, not the preset's 0.9
    assert all(0.8 <= m <= 0.95 for m in drawn)
    (tuning,) = runs("tuning")
    assert tuning.data.tags["tuned_params"] == "lr,weight_decay,momentum"
    assert tuning.data.tags["log_scaled_params"] == "lr,weight_decay"
    best = tuning.data.metrics
    assert {"best_lr", "best_weight_decay", "best_momentum"} <= set(best)
    (cell,) = runs("cell")
    for name in ("lr", "weight_decay", "momentum"):
        assert float(cell.data.params[name]) == pytest.approx(best[f"best_{name}"])

    # The analysis shows whichever params were tuned: a momentum column and figure panel.
    from analysis.collect import collect
    from analysis.figures import tuning_figure
    from analysis.reporting import result_table

    study = collect("depth-tune-synthetic", "sqlite:///mlruns/mlflow.db")
    assert study.tuned_params == {"lr": True, "weight_decay": True, "momentum": False}
    assert set(study.trials["momentum"]) == {*drawn, 0.9}
    assert {"lr", "weight decay", "momentum"} <= set(result_table(study).columns)
    assert len(tuning_figure(study.tuning, study.trials, study.tuned_params).axes) == 6


def test_the_untuned_values_come_first_win_when_best_and_the_report_pairs_both(
    workdir, monkeypatch
):
    """A space of learning rates too small to learn anything: the preset's own values, every
    study's first trial, stay the best, so tuning leaves the net as it was; the untuned sweep of
    the same grid is then the tuned one's twin, and the report puts them side by side."""
    import resnet.runner.tuning

    monkeypatch.setattr(resnet.runner.tuning, "save_figures", lambda *args: [])
    preset = one_cell_preset(workdir, lr_min=1e-6, lr_max=2e-6, iterations=30)
    argv = ["--preset", preset, "--tune", "--trials", "3", "--no-progress", "--no-report"]
    assert main(argv) == 0
    (study,) = studies().values()
    first = study.trials[0]
    assert first.user_attrs["untuned"] is True
    assert first.params == {"lr": 0.1, "weight_decay": 1e-4}  # the preset's (RunConfig's)
    assert all(t.params["lr"] <= 2e-6 for t in study.trials[1:])
    assert study.best_trial.number == 0
    (cell,) = runs("cell")
    assert float(cell.data.params["lr"]) == 0.1 and cell.data.tags["tuned_from"] == study.study_name

    assert main(["--preset", preset, "--no-progress", "--no-report"]) == 0  # the untuned twin
    # One more trial wanted: the projection counts the cell too, whose values it may change
    # (the untuned twin's finished run is not the tuned cell's).
    from resnet.cli.sweep import make_parser, settings_from_args
    from resnet.cli.sweep_job import job_from
    from resnet.runner.forecast import remaining
    from resnet.runner.launch import check_job

    args = make_parser().parse_args(["--preset", preset, "--tune", "--trials", "4"])
    cells_left, trials_left = remaining(check_job(job_from(args, settings_from_args(args))))
    assert (len(cells_left), len(trials_left)) == (1, 1)
    from analysis.collect import collect
    from analysis.reporting import write_report

    tuned_sweep = next(r for r in runs("sweep") if r.data.tags["tuned"] == "true")
    found = collect("depth-tune-synthetic", "sqlite:///mlruns/mlflow.db", tuned_sweep.info.run_id)
    assert found.untuned_run_id is not None and len(found.untuned) == 1
    assert found.space == {"lr": (1e-6, 2e-6), "weight_decay": (1e-5, 1e-2)}
    written = write_report(
        "depth-tune-synthetic", "sqlite:///mlruns/mlflow.db", tuned_sweep.info.run_id
    )
    text = written.path.read_text()
    assert "## Tuned against untuned" in text
    assert re.search(r"lr tried from 1\.\d+e-06 to 1\.\d+e-06 of the space's 1e-06 to 2e-06", text)
    assert "| residual-8 | 1 | 38" in text and "untested (one seed)" in text
    assert (written.path.parent / "figures" / "search.png").exists()
    (tuning,) = runs("tuning")
    logged = {a.path for a in client().list_artifacts(tuning.info.run_id, "figures")}
    assert "figures/search.png" in logged


def test_use_tuned_needs_existing_studies(workdir, capsys):
    assert main(["--preset", "smoke", "--use-tuned"]) == 2
    assert "run --tune first" in capsys.readouterr().err


def wait_for_counted_trials(n, process, timeout=300):
    """Until n trials are counted and the next one is claimed by its worker (between the two,
    a killed trial has no owner, and a rerun would wait out the grace period for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if Path(JOURNAL).exists():
            study = next(iter(studies().values()), None)
            running = study.get_trials(states=(TrialState.RUNNING,)) if study else []
            if any(OWNER_ATTR in t.user_attrs for t in running) and len(counted(study)) >= n:
                return
        time.sleep(0.3)
    raise AssertionError(f"no trial finished in time (exit code {process.poll()})")


@pytest.mark.heavy(25)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_tuning_resumes_without_redoing_finished_trials(workdir, sig):
    preset = one_cell_preset(workdir, iterations=60)  # 3 trials left to interrupt: seconds
    argv = [
        sys.executable,
        str(REPO / "experiments" / "depth_sweep.py"),
        "--preset",
        preset,
        "--tune",
        "--no-progress",
        "--no-report",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_counted_trials(1, process)
        process.send_signal(sig)
        process.wait(timeout=60)
    finally:
        process.kill()
    (study,) = studies().values()
    before = {t.number: t.params for t in counted(study)}
    assert 1 <= len(before) < 4

    assert main(["--preset", preset, "--tune", "--no-progress", "--no-report"]) == 0
    (study,) = studies().values()
    after = {t.number: t.params for t in counted(study)}
    assert len(after) == 4
    assert {n: after[n] for n in before} == before  # finished trials kept, not redone
    assert len({tuple(sorted(p.items())) for p in after.values()}) == 4  # no value drawn twice
    assert not study.get_trials(states=(TrialState.RUNNING,))
    trial_runs = {r.data.tags["trial_number"]: r for r in runs("trial")}
    for trial in study.trials:
        if str(trial.number) not in trial_runs:  # killed before its MLflow run existed
            assert trial.state == TrialState.FAIL
            continue
        run = trial_runs[str(trial.number)]
        assert run.data.tags["optuna_state"] == trial.state.name


def test_trial_budget_scales_schedule_and_evaluation():
    from resnet.core.presets import build_sweep, build_tune
    from resnet.core.tune_config import trial_budget

    cell = build_sweep("paper", {}, {}).cells()[0]
    short = trial_budget(cell, build_tune("paper", {}))
    assert short.iterations == 16000 and short.milestones == (8000, 12000)
    assert (short.eval_every, short.log_every) == (250, 25)
    assert (short.lr, short.weight_decay, short.seed) == (cell.lr, cell.weight_decay, cell.seed)
    # The paper's cells train on all 50k images; their trials keep a validation split.
    assert cell.val_size == 0 and short.val_size is None


def test_the_quick_presets_trials_train_on_a_seed_no_report_uses():
    from resnet.core.config import ConfigError
    from resnet.core.presets import build_sweep, build_tune
    from resnet.core.tune_config import trial_budget

    tune = build_tune("quick", {})
    assert tune.train_seed == 100
    cells = build_sweep("quick", {"seeds": [0, 1, 2]}, {}).cells()
    assert {trial_budget(cell, tune).seed for cell in cells} == {100}
    assert {cell.seed for cell in cells} == {0, 1, 2}  # the judged runs keep theirs
    with pytest.raises(ConfigError, match=r"tune\.train_seed must be zero or positive, got -1"):
        build_tune("quick", {"train_seed": -1})


def test_the_space_is_the_presets_own_and_int_fields_draw_ints(workdir):
    from resnet.core.config import ConfigError
    from resnet.core.presets import build_tune
    from resnet.core.tune_config import ParamRange
    from resnet.runner.tuning import suggest

    bare = workdir / "bare.toml"
    bare.write_text("[tune]\ntrials = 2\n")
    with pytest.raises(ConfigError, match=r"\[tune.space\] names no parameter to tune"):
        build_tune(str(bare), {})  # no space written anywhere else to fall back on
    assert [(r.name, r.low, r.high, r.log) for r in build_tune("paper", {}).space] == [
        ("lr", 1e-3, 1.0, True),
        ("weight_decay", 1e-5, 1e-2, True),
    ]
    assert build_tune("quick", {}).names == ("lr", "weight_decay")
    trial = optuna.create_study().ask()
    drawn = suggest(trial, ParamRange("warmup_iterations", 0, 10))
    assert isinstance(drawn, int) and 0 <= drawn <= 10


def test_pruners_by_name():
    from resnet.core.presets import build_sweep, build_tune
    from resnet.runner.tuning import make_pruner

    cell = build_sweep("smoke", {}, {}).cells()[0]
    hyperband = build_tune("smoke", {"pruner": "hyperband"})
    assert isinstance(make_pruner(hyperband, cell), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner(build_tune("smoke", {}), cell), optuna.pruners.MedianPruner)


def test_the_median_pruner_waits_for_the_start_up_trials_and_half_of_each_trial():
    from resnet.core.presets import build_sweep, build_tune
    from resnet.runner.tuning import make_pruner

    cell = build_sweep("smoke", {}, {}).cells()[0]
    pruner = make_pruner(build_tune("smoke", {"startup_trials": 3}), cell)
    assert pruner._n_startup_trials == 3 and pruner._n_warmup_steps == cell.iterations // 2


def test_studies_of_one_sweep_draw_different_points():
    from resnet.core.presets import build_tune
    from resnet.runner.tuning import make_sampler, sampler_seed

    tune = build_tune("quick", {})
    names = [f"depth-quick/{net}" for net in ("plain-20", "plain-56", "residual-20")]
    seeds = {sampler_seed(tune.seed, name, 0, "") for name in names}
    assert len(seeds) == len(names)
    first_points = set()
    for seed in seeds:
        study = optuna.create_study(sampler=make_sampler(tune, seed))
        trial = study.ask()
        first_points.add(trial.suggest_float("lr", 0.01, 0.5, log=True))
    assert len(first_points) == len(names)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[tune]\ntrails = 3\n", "unknown key 'tune.trails'"),
        ("[tune]\npruner = 'asha'\n", "unknown pruner 'asha'"),
        ("[tune.space]\nlr = { low = 1.0, high = 0.1 }\n", "tune.space.lr: low must be below high"),
        ("[tune]\nlr_min = 0.1\n", "unknown key 'tune.lr_min' (bounds go in [tune.space] now"),
        ("[tune.space]\nlrr = { low = 0.1, high = 1 }\n", "unknown parameter 'lrr' (allowed: "),
        ("[tune.space]\ndepth = { low = 8, high = 14 }\n", "'depth' is set by the sweep's grid"),
        ("[tune.space]\nschedule = { low = 0, high = 1 }\n", "'schedule' is not a numeric field"),
        ("[tune.space]\nlr = { low = 0, high = 1, log = true }\n", "log = true needs low > 0"),
        ("[tune.space]\nlr = { low = 0.1 }\n", "tune.space.lr needs low and high"),
        ("[tune.space]\nlr = { low = 0.1, hi = 1 }\n", "unknown key 'tune.space.lr.hi'"),
        ("[tune.space]\nlr = 0.1\n", "tune.space.lr must be a table like { low ="),
        ("[tune.space]\nbatch_size = { low = 16, high = 64.5 }\n", "must be whole numbers"),
        ("[tune.space]\nmomentum = { low = 0.5, high = 1 }\n", "high = 1 does not fit: momentum"),
    ],
)
def test_bad_tune_section_is_one_line_and_exit_2(text, expected, workdir, capsys):
    preset = workdir / "bad.toml"
    preset.write_text("[data]\ndataset = 'synthetic'\n" + text)
    assert main(["--preset", str(preset), "--tune"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not (workdir / "mlruns").exists()


@pytest.mark.parametrize("hang_at", [5, 20])  # 20: the last step, which evaluates
def test_a_worker_stuck_in_a_trial_lets_it_go_and_its_retry_completes(
    workdir, synthetic16, capsys, monkeypatch, hang_at
):
    import resnet.core.train
    from resnet.core.presets import build_sweep, build_tune
    from resnet.runner.tuning import StudyRunner
    from resnet.tracking.store import Store, SweepRun

    sweep = build_sweep("smoke", {}, {"iterations": 20})
    store = Store(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    sweep_run = SweepRun(store, store.experiment_id(sweep.experiment_name), sweep, tuned=True)
    storage = open_storage(str(workdir / JOURNAL), heartbeat_interval=1, grace_period=2)
    tune = build_tune("smoke", {"trials": 1, "iterations": 20, "pruner": "none"})
    runner = StudyRunner(sweep_run, sweep.cells()[0], tune, storage)

    step, calls, exits = resnet.core.train.train_step, [], []

    def hangs_once(*args):
        calls.append(1)
        if len(calls) == hang_at:  # a hung device call: no step for longer than the stall limit
            time.sleep(1.5 + 2 + 1.5)  # stall limit, grace period, a heartbeat to spare
            requeue_dead_owners(runner.study)  # what another worker does
            deadline = time.monotonic() + 10
            while not exits and time.monotonic() < deadline:  # the heartbeat thread learns it
                time.sleep(0.1)
        return step(*args)

    monkeypatch.setattr(resnet.core.train, "train_step", hangs_once)
    runner.run(synthetic16, stall_limit=1.5, on_stuck=lambda: exits.append("exit"))

    assert exits == ["exit"]  # it would have exited, had it stayed stuck
    first, retry = runner.study.trials
    assert (first.state, retry.state) == (TrialState.FAIL, TrialState.COMPLETE)
    assert retry.params == first.params  # the same values, tried again
    assert len(calls) == hang_at + 20  # the stuck trial stopped at that step
    by_number = {r.data.tags["trial_number"]: r for r in runs("trial")}
    assert by_number["0"].data.tags["optuna_state"] == "FAIL"
    assert by_number["0"].info.status == "FAILED"
    reason = by_number["0"].data.tags["failure_reason"]
    assert f"another worker took the run over; stopped at iteration {hang_at}" in reason
    logged = client().get_metric_history(by_number["0"].info.run_id, "train_loss")
    assert all(m.step < hang_at for m in logged)  # nothing logged once it was taken over
    assert by_number["1"].data.tags["optuna_state"] == "COMPLETE"
    err = capsys.readouterr().err
    assert "no training step in 2 s" in err and "it exits (3)" in err


def test_an_untuned_trial_that_failed_is_enqueued_again_and_only_once(workdir):
    """Every study keeps a live untuned trial: a worker reopening the study after its untuned
    trial failed (Ctrl-C, a crash) enqueues it again; a reopening that finds one waiting, or a
    read-only --use-tuned, adds none."""
    from resnet.core.presets import build_sweep, build_tune
    from resnet.runner.tuning import StudyRunner, is_untuned_trial
    from resnet.tracking.store import Store, SweepRun

    sweep = build_sweep("smoke", {}, {"iterations": 20})
    store = Store(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    sweep_run = SweepRun(store, store.experiment_id(sweep.experiment_name), sweep, tuned=True)
    storage = open_storage(str(workdir / JOURNAL))
    tune = build_tune("smoke", {"trials": 2})
    cell = sweep.cells()[0]

    def untuned_states(runner):
        return [t.state for t in runner.study.trials if is_untuned_trial(t)]

    first = StudyRunner(sweep_run, cell, tune, storage)
    assert untuned_states(first) == [TrialState.WAITING]
    assert untuned_states(StudyRunner(sweep_run, cell, tune, storage)) == [TrialState.WAITING]
    trial = first.study.ask()  # the untuned trial, then interrupted
    first.study.tell(trial, state=TrialState.FAIL)
    assert untuned_states(StudyRunner(sweep_run, cell, tune, storage, run_trials=False)) == [
        TrialState.FAIL
    ]
    again = StudyRunner(sweep_run, cell, tune, storage)
    assert untuned_states(again) == [TrialState.FAIL, TrialState.WAITING]
    assert len({r.info.run_id for r in runs("tuning")}) == 1  # one tuning run for the study


def test_a_log_scaled_space_refuses_an_untuned_value_of_zero(workdir, capsys):
    smoke = ["--preset", "smoke", "--weight-decay", "0", "--no-progress", "--no-report"]
    assert main([*smoke, "--tune"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot hold the run's own weight_decay = 0" in err
    assert not (workdir / "mlruns").exists()
