"""Every generated table in the docs is what scripts/doc_tables.py makes from the committed
runs today: a changed run file or verdict rule that leaves a doc stale fails here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))

import doc_tables


def test_the_generated_tables_are_up_to_date():
    assert doc_tables.stale_docs() == []


def test_a_stale_table_is_found_and_rewritten():
    text = "a\n<!-- table:margin-history -->\nold\n<!-- /table:margin-history -->\nb\n"
    fresh = doc_tables.regenerated(text)
    assert "old" not in fresh and "| runs | δ = 1 |" in fresh
    assert fresh.startswith("a\n<!-- table:margin-history -->\n") and fresh.endswith("-->\nb\n")
