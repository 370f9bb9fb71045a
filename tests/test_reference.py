"""A sweep held against the committed reference runs of its design (analysis/reference.py)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.reference import (
    Mine,
    Reference,
    consistency_line,
    design_settings,
    prediction_check,
    read_references,
)
from resnet.core.presets import build_sweep


@pytest.fixture(scope="module")
def quick_reference() -> Reference:
    (found,) = [r for r in read_references() if r.preset == "quick"]
    return found


def quick_params(**changed: str) -> dict[str, str]:
    return {**build_sweep("quick", {}, {"precision": "fp32"}).to_params(), **changed}


def test_each_reference_lists_its_presets_settings_as_they_are_now():
    """A preset changed without new reference runs fails here, not silently in a report."""
    for reference in read_references():
        params = build_sweep(reference.preset, {}, {"precision": "fp32"}).to_params()
        assert reference.settings == design_settings(params), reference.name
        assert len(reference.cells()) > 0


def test_the_prediction_interval_is_the_textbook_one():
    reference, mine = np.array([10.0, 12.0, 11.0, 13.0]), np.array([11.0, 14.0])
    check = prediction_check("net", mine, reference)
    half = stats.t.ppf(0.995, 3) * np.std(reference, ddof=1) * np.sqrt(1 / 4 + 1 / 2)
    assert check.value == pytest.approx(12.5)
    assert (check.low, check.high) == pytest.approx((11.5 - half, 11.5 + half))
    assert prediction_check("net", mine, np.array([10.0])) is None  # no spread measured


def test_reference_seeds_are_consistent_with_their_own_reference(quick_reference):
    cells = quick_reference.cells()
    mine = Mine(cells[cells["seed"].isin([0, 1, 2])], quick_params(), "exp@abc")
    line = consistency_line(mine, [quick_reference])
    assert ": consistent:" in line and "10 seeds" in line
    assert "python -m analysis.compare 'this run=exp@abc'" in line
    assert "docs/quick-study/cells.csv" in line


def test_a_run_far_outside_the_reference_spread_is_named(quick_reference):
    cells = quick_reference.cells()
    cells = cells[cells["seed"].isin([0, 1])].copy()
    worse = (cells["arch"] == "residual") & (cells["depth"] == 56)
    cells.loc[worse, "train_error"] += 0.15  # 15 points worse
    line = consistency_line(Mine(cells, quick_params(), "exp@abc"), [quick_reference])
    assert ": not consistent: " in line
    assert "residual-56" in line and "residual penalty" in line
    assert "plain-20" not in line and "plain penalty" not in line


def test_one_seed_is_held_against_the_spread_of_one_seed(quick_reference):
    cells = quick_reference.cells()
    one = cells[cells["seed"] == 3]
    line = consistency_line(Mine(one, quick_params(), "exp@abc"), [quick_reference])
    assert ": consistent:" in line


def test_other_settings_other_presets_and_tuned_sweeps_are_not_compared(quick_reference):
    cells = quick_reference.cells()
    changed = consistency_line(
        Mine(cells, quick_params(iterations="360"), "e@r"), [quick_reference]
    )
    assert "settings differ" in changed and "iterations 360 (reference 180)" in changed
    # How a run is watched or how fast it goes does not matter.
    watched = quick_params(precision="bf16", log_every="10", compile="True", device="cuda")
    assert "consistent" in consistency_line(Mine(cells, watched, "e@r"), [quick_reference])
    other = consistency_line(Mine(cells, quick_params(preset="paper"), "e@r"), [quick_reference])
    assert other == "Reference runs: none for preset paper, so no comparison."
    tuned = Mine(cells, quick_params(), "e@r", tuned=("lr", "weight_decay"))
    assert "tuned lr, weight_decay per net" in consistency_line(tuned, [quick_reference])


def test_the_compare_command_names_a_store_other_than_the_default(quick_reference):
    cells = quick_reference.cells()
    mine = Mine(cells, quick_params(), "my exp@abc", "--tracking-uri sqlite:///x.db")
    line = consistency_line(mine, [quick_reference])
    assert "'this run=my exp@abc'" in line and line.endswith("--tracking-uri sqlite:///x.db`")


def test_no_reference_file_means_no_reference(tmp_path):
    assert read_references(tmp_path / "missing.toml") == []
    cells = pd.DataFrame(columns=["arch", "depth", "seed", "train_error"])
    line = consistency_line(Mine(cells, quick_params(), "e@r"), [])
    assert line == "Reference runs: none for preset quick, so no comparison."


def test_the_reports_line_names_no_store_for_the_default_one(quick_reference, workdir, monkeypatch):
    """The report's own line: no --tracking-uri for the default store, even once MLflow has
    set MLFLOW_TRACKING_URI to it (as reading a store does), and the flag for another."""
    from types import SimpleNamespace

    from analysis.reporting import reference_line

    study = SimpleNamespace(
        finished=quick_reference.cells(),
        params=quick_params(preset="quick"),
        experiment="depth-quick-fashion-mnist",
        sweep_run_id="abc",
        tuned_params={},
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    line = reference_line(study, "sqlite:///mlruns/mlflow.db")
    assert line.endswith("docs/quick-study/seeds-20-24/cells.csv'`")
    other = reference_line(study, "sqlite:///elsewhere/mlflow.db")
    assert other.endswith("--tracking-uri sqlite:///elsewhere/mlflow.db`")
