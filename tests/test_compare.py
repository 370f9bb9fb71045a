"""analysis.compare: sweeps side by side, from the committed runs' CSV exports and from MLflow."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.compare import main
from analysis.comparison import agreement_lines, compare, net_change_table, verdict_table

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
    assert "cannot be compared (one seed, no interval): nine and one; shifted and one" in lines[0]
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
        ([str(SEEDS_0_4), str(SEEDS_20_24), "--margin", "0"], "--margin must be in (0, 100)"),
        ([str(SEEDS_0_4), "nobody"], "no MLflow store"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, expected, workdir, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not (workdir / "reports").exists()


def test_a_seed_set_of_one_file_and_each_net_against_the_first_sweep(tmp_path):
    """`#SEEDS` keeps those seeds only; the nets table pairs each net by seed with the first
    sweep's (checked against the difference computed here)."""
    base = pd.read_csv(FOUR_DEPTHS)
    worse = base.assign(train_error=base["train_error"] + 0.01 * base["seed"])  # seed s: +s points
    worse.to_csv(tmp_path / "worse.csv", index=False)
    judged = compare([f"first={FOUR_DEPTHS}#0,1,2", f"worse={tmp_path / 'worse.csv'}#1,2,3"], None)
    assert judged[0].sweep.seeds == [0, 1, 2] and judged[1].sweep.seeds == [1, 2, 3]
    nets = net_change_table(judged)
    assert len(nets) == 8  # 2 archs x 4 depths
    assert set(nets["paired seeds"]) == {2}  # seeds 1 and 2 only
    assert set(nets["change (points)"]) == {"+1.50"}  # (1 + 2) / 2 points
    half = stats.t.ppf(0.95, 1) * np.std([1.0, 2.0], ddof=1) / np.sqrt(2)  # two-sided 90 %
    assert set(nets["90 % CI"]) == {f"{1.5 - half:+.1f} to {1.5 + half:+.1f}"}


def test_bad_seed_sets_are_one_line(workdir, capsys):
    assert main([f"{SEEDS_0_4}#0,x", f"{SEEDS_20_24}", "--out", "cmp"]) == 2
    err = capsys.readouterr().err
    assert "the seeds after # must be whole numbers separated by commas" in err
    assert len(err.strip().splitlines()) == 1
    assert main([f"{SEEDS_0_4}#0,7", f"{SEEDS_20_24}", "--out", "cmp"]) == 2
    assert "no finished run of seed 7" in capsys.readouterr().err
    assert not (workdir / "cmp").exists()


def test_many_sweeps_count_the_pairs_that_agree_and_name_those_that_differ():
    sources = [f"s{i}={FOUR_DEPTHS}#{i},{i + 1}" for i in range(5)]
    lines = agreement_lines(compare(sources, None))
    assert "10 pairs agree within their intervals" in lines[1]  # residual nets


def test_the_compare_command_on_the_committed_csvs_gives_the_every_machine_table(
    tmp_path, monkeypatch
):
    """docs/QUICK-STUDY.md's every-machine table is this command's table.csv."""
    import sys

    sys.path.insert(0, str(DOCS.parent / "scripts"))
    from doc_tables import compare_args

    from analysis.markdown import markdown_table

    monkeypatch.chdir(DOCS.parent)  # the sources are relative to the project's root
    assert main([*compare_args("every-machine"), "--out", str(tmp_path / "cmp")]) == 0
    table = pd.read_csv(tmp_path / "cmp" / "table.csv", dtype=str, keep_default_na=False)
    doc = (DOCS / "QUICK-STUDY.md").read_text()
    block = doc.split("<!-- table:every-machine -->\n")[1].split("\n<!-- /table")[0]
    assert markdown_table(table) == block
    assert len(table) == 11
    committed = DOCS / "compare" / "every-machine"  # the committed example is that output
    for name in ("table.csv", "nets.csv", "report.md"):
        assert (tmp_path / "cmp" / name).read_text() == (committed / name).read_text()
