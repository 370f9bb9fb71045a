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
    page = report.seeds_markdown(report.STUDIES["crossing-study"], plan, earlier, times)
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


def test_each_plan_judges_its_halves_by_its_own_test(report):
    """A plain penalty above zero but within the margin shows the left panel by the short
    crossing's test (the search's), not by the crossing preset's (degradation only)."""
    small = cells({5: (1.0, -1.0), 6: (1.2, -0.8), 7: (0.9, -1.2), 8: (1.1, -0.9), 9: (1.0, -1.1)})
    short = report.shown_lines(small, report.STUDIES["crossing-short-study"])
    preset = report.shown_lines(small, report.STUDIES["crossing-study"])
    assert short == [
        "- the left panel (plain nets degrade) shown by the plan's test: **yes**",
        "- the middle panel (deeper residual nets train better) shown by the plan's test: **yes**",
    ]
    assert preset[0].endswith("**no**") and preset[1].endswith("**yes**")
    flat = cells({5: (1.0, 0.5), 6: (1.2, -0.8), 7: (0.9, 0.3), 8: (1.1, -0.2), 9: (1.0, 0.1)})
    assert report.shown_lines(flat, report.STUDIES["crossing-short-study"])[1].endswith("**no**")


def test_the_studies_name_plans_and_earlier_runs_that_exist(report):
    for study in report.STUDIES.values():
        assert (report.ROOT / study.plan).is_file()
        assert study.earlier is None or (report.ROOT / study.earlier).is_file()


def test_the_time_test_counts_every_command_over_the_plans_seeds(report, tmp_path):
    """Stopped commands count too: their work was kept and resumed, not redone."""
    study = report.STUDIES["crossing-short-study"]
    times = tmp_path / study.times
    times.parent.mkdir(parents=True)
    times.write_text("arguments,seconds,exit_code\na,1800,130\na,3600,0\n")
    (line,) = report.wall_time_lines(study, tmp_path)
    assert "90.0 minutes, 18.0 a seed: within the plan's 20 minutes a seed" in line
    times.write_text("arguments,seconds,exit_code\na,1800,130\na,4500,0\n")
    assert "21.0 a seed: over" in report.wall_time_lines(study, tmp_path)[0]
    assert report.wall_time_lines(report.STUDIES["crossing-study"], tmp_path) == []
