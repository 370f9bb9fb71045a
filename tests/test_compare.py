"""analysis.compare: sweeps side by side, from the committed runs' CSV exports and from MLflow."""

from pathlib import Path

import pandas as pd
import pytest

from analysis.compare import main
from analysis.comparison import agreement_lines, compare, verdict_table

DOCS = Path(__file__).resolve().parents[1] / "docs"
SEEDS_0_4 = DOCS / "quick-study" / "cells.csv"
SEEDS_20_24 = DOCS / "quick-study" / "seeds-20-24" / "cells.csv"
FOUR_DEPTHS = DOCS / "quick-study-four-depths" / "cells-seeds-0-8.csv"


def test_the_committed_quick_studies_side_by_side(workdir, capsys):
    argv = [f"seeds 0-4={SEEDS_0_4}", f"seeds 20-24={SEEDS_20_24}", "--out", "cmp"]
    assert main(argv) == 0
    report = (workdir / "cmp" / "report.md").read_text()
    # The verdicts are the reports' own (docs/QUICK-STUDY.md's generated verdict lines).
    # (the committed CSVs are from before the machine columns: those stay blank)
    assert "| seeds 0-4 | 0 to 4 | 20 |  |  |  | +25.3 (+18.8 to +31.9): degradation |" in report
    assert "+3.0 (+0.3 to +5.8): inconclusive" in report
    assert "- plain nets: agree within their intervals: seeds 0-4 and seeds 20-24." in report
    for figure in ("penalties.png", "error_vs_depth.png"):
        assert (workdir / "cmp" / "figures" / figure).stat().st_size > 0
    table = pd.read_csv(workdir / "cmp" / "table.csv")
    assert list(table["sweep"]) == ["seeds 0-4", "seeds 20-24"]
    assert "Comparison (table, figures, agreement)" in capsys.readouterr().out


def test_intervals_apart_differ_and_one_seed_compares_with_none(tmp_path):
    base = pd.read_csv(FOUR_DEPTHS)
    shifted = base.assign(train_error=base["train_error"] + (base["depth"] - 20) / 56 * 0.3)
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    base[base["seed"] == 0].to_csv(tmp_path / "one-seed.csv", index=False)
    judged = compare(
        [
            f"nine={FOUR_DEPTHS}",
            f"shifted={tmp_path / 'shifted.csv'}",
            f"one={tmp_path / 'one-seed.csv'}",
        ],
        None,
    )
    lines = agreement_lines(judged)
    assert lines[0].startswith("- plain nets: **differ** (intervals apart): nine and shifted")
    assert "not comparable (one seed, no interval): nine and one; shifted and one" in lines[0]
    assert verdict_table(judged)["seeds"].tolist() == ["0 to 8", "0 to 8", "0"]


def test_a_sweep_from_mlflow_compares_with_a_csv(smoke_sweep):
    """The shared smoke sweep, read only: by experiment, and by its sweep run's id."""
    from analysis.collect import collect

    sweep_id = collect("depth-smoke-synthetic", smoke_sweep.uri).sweep_run_id
    sources = ["depth-smoke-synthetic", f"by id=depth-smoke-synthetic@{sweep_id}"]
    judged = compare([*sources, f"csv={SEEDS_0_4}"], smoke_sweep.uri)
    assert [j.sweep.label for j in judged] == ["depth-smoke-synthetic", "by id", "csv"]
    assert len(judged[0].sweep.cells) == len(judged[1].sweep.cells) > 0
    table = verdict_table(judged)
    assert table["machine"][0].startswith("cpu (") and table["precision"][0] in ("fp32", "bf16")
    assert float(table["net minutes"][0]) > 0 and table["machine"][2] == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([str(SEEDS_0_4)], "give two sources or more to compare, got 1"),
        ([str(SEEDS_0_4), "missing.csv"], "missing.csv: no such CSV file"),
        ([str(SEEDS_0_4), str(SEEDS_20_24), "--margin", "0"], "--margin must be between"),
        ([str(SEEDS_0_4), "nobody"], "no MLflow store"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, expected, workdir, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not (workdir / "reports").exists()
