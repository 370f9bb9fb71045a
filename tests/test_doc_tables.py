"""Every generated table in the docs is what scripts/doc_tables.py makes from the committed
runs today: a changed run file or verdict rule that leaves a doc stale fails here."""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))

import doc_tables


def test_the_generated_tables_are_up_to_date():
    assert doc_tables.stale_docs() == []


def test_a_stale_table_is_found_and_rewritten():
    text = "a\n<!-- table:margin-history -->\nold\n<!-- /table:margin-history -->\nb\n"
    fresh = doc_tables.regenerated(text)
    assert "old" not in fresh and "| runs | δ = 1 |" in fresh
    assert fresh.startswith("a\n<!-- table:margin-history -->\n") and fresh.endswith("-->\nb\n")


def test_a_seed_that_never_crosses_reads_none_and_the_others_stay_whole(tmp_path):
    (tmp_path / "crossings.csv").write_text("seed,crossing\n1,2304\n2,\n")
    crossings = pd.read_csv(tmp_path / "crossings.csv").set_index("seed")["crossing"]
    shown = [doc_tables.crossing_text(crossings.get(seed)) for seed in (1, 2, 3)]
    assert shown == ["2304", "none", "none"]
