"""The crossing study's seed-by-seed page (scripts/crossing_report.py) on constructed runs:
the plan's seeds tested, the earlier seed only beside them."""

from __future__ import annotations

import pandas as pd
import pytest
from script_modules import load_script


@pytest.fixture(scope="module")
def report():
    return load_script("crossing_report")


def cells(gaps: dict[int, tuple[float, float]]) -> pd.DataFrame:
    """Finished runs: per seed, (plain gap, residual gap) in points over a 7 % shallow net."""
    rows = []
    for seed, by_arch in gaps.items():
        for arch, gap in zip(("plain", "residual"), by_arch, strict=True):
            for depth, error in ((20, 0.07), (56, 0.07 + gap / 100)):
                rows.append(
                    dict(
                        cell=f"{arch}-{depth}-s{seed}",
                        arch=arch,
                        depth=depth,
                        seed=seed,
                        status="finished",
                        train_error=error,
                        test_error=error + 0.01,
                    )
                )
    return pd.DataFrame(rows)


def test_the_page_tests_the_plans_seeds_and_adds_the_earlier_one_beside(report):
    plan = cells({1: (4.0, -1.0), 2: (5.0, -0.8), 3: (4.5, -1.2), 4: (5.5, -0.9)})
    earlier = cells({0: (4.7, -1.2)})
    times = pd.DataFrame({"seed": [1, 1, 2], "training minutes": [10.0, 20.0, 5.0]})
    page = report.seeds_markdown(plan, earlier, times)
    tested, beside = page.split("## Not pre-registered")
    assert "seeds 1, 2, 3, 4" in tested and "degradation" in tested
    assert "deeper is better" in tested
    assert "seeds 0, 1, 2, 3, 4" in beside
    table = report.seed_table(pd.concat([earlier, plan]))
    assert list(table["seed"]) == [0, 1, 2, 3, 4]
    assert table.set_index("seed").loc[2, "plain 56-20"] == 5.0
    assert table.set_index("seed").loc[0, "residual-56 test %"] == pytest.approx(6.8)
    assert "| 1 | 30.00 |" in page  # a seed's nets' minutes, summed


def test_an_unfinished_net_leaves_its_seeds_penalty_blank(report):
    partial = cells({1: (4.0, -1.0)})
    partial.loc[partial["cell"] == "residual-56-s1", "status"] = "running"
    row = report.seed_table(partial).iloc[0]
    assert row["plain 56-20"] == 4.0 and pd.isna(row["residual 56-20"])
