"""Where residual-56 drops below residual-20 for good (scripts/crossing_figure.py), on
constructed curves: the iteration, none, curves of different lengths, the seeds' spread."""

from __future__ import annotations

import pandas as pd
import pytest
from script_modules import load_script


@pytest.fixture(scope="module")
def fig():
    return load_script("crossing_figure")


def series(values: list[float], step: int = 100) -> pd.Series:
    return pd.Series(values, index=[step * (i + 1) for i in range(len(values))])


def test_the_crossing_is_where_the_deep_net_stays_below_to_the_end(fig):
    shallow = series([50, 40, 30, 20, 15, 12])
    assert fig.crossing(shallow, series([60, 39, 31, 19, 14, 11])) == 400  # dips at 200, back
    assert fig.crossing(shallow, series([60, 45, 35, 25, 16, 13])) is None  # never below
    assert fig.crossing(shallow, series([49, 39, 29, 19, 14, 11])) == 100  # below throughout
    assert fig.crossing(shallow, series([60, 39, 29])) == 200  # a curve still being logged


def curves(seed_values: dict[int, dict[tuple[str, int], list[float]]]) -> pd.DataFrame:
    rows = []
    for seed, nets in seed_values.items():
        for (arch, depth), values in nets.items():
            for i, value in enumerate(values):
                rows.append(
                    dict(
                        arch=arch,
                        depth=depth,
                        seed=seed,
                        metric="train_error",
                        step=100 * (i + 1),
                        value=value / 100,
                    )
                )
    return pd.DataFrame(rows)


def four(plain20, plain56, residual20, residual56):
    return {
        ("plain", 20): plain20,
        ("plain", 56): plain56,
        ("residual", 20): residual20,
        ("residual", 56): residual56,
    }


def test_each_seed_gets_its_crossing_and_the_seeds_range_is_drawn(fig):
    table = curves(
        {
            1: four([40, 30, 20], [50, 45, 40], [40, 30, 20], [45, 28, 18]),
            2: four([42, 31, 21], [52, 47, 41], [41, 31, 21], [46, 33, 23]),
        }
    )
    rows = fig.seed_rows(table, window=1).set_index("seed")
    assert rows.loc[1, "crossing"] == 200 and pd.isna(rows.loc[2, "crossing"])
    assert rows.loc[1, "plain_gap_at_end"] == 20.0 and rows.loc[2, "residual_gap_at_end"] == 2.0
    low, high = fig.seed_band(table, "residual", 56, window=1)
    assert list(low.round(6)) == [45, 28, 18] and list(high.round(6)) == [46, 33, 23]
    gaps = fig.arch_gaps(table, "residual", [1, 2], window=1)
    assert [list(g.round(6)) for g in gaps] == [[5, -2, -2], [5, 2, 2]]


def test_the_gap_panel_holds_a_large_plain_gap_and_keeps_its_floor(fig):
    """The short crossing's plain gap (about +10 points) stays in view; a gap within 8 points
    keeps the panel at 8, where the residual gap's sign changes show."""
    plain = series([30, 12, 11, 10, 9.8, 9.7, 9.7, 9.6])
    residual = series([3, 0.5, 0.1, -0.2, -0.5, -0.6, -0.7, -0.7])
    assert fig.gap_panel_top([plain, residual]) == pytest.approx(13.0)  # 11 + 2: 30 and 12 left out
    assert fig.gap_panel_top([plain - 6, residual]) == 8.0
