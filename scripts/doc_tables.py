"""The docs' tables of verdicts, generated from the committed runs so that they cannot drift.

    .venv/bin/python scripts/doc_tables.py           # rewrite every generated table
    .venv/bin/python scripts/doc_tables.py --check   # exit 1 when a doc is out of date

Each table sits in a doc between `<!-- table:NAME -->` and `<!-- /table:NAME -->`; everything
between the two lines is replaced. tests/test_doc_tables.py runs the check.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from analysis.comparison import contrast_text, verdict_text  # noqa: E402
from analysis.coverage import (  # noqa: E402
    REPEATS,
    RUN_LEVEL,
    SEED_LEVEL,
    SEED_SLOPE,
    TRUE_PENALTY,
    coverage,
    per_seed_interval,
    pooled_line_interval,
)
from analysis.effects import (  # noqa: E402
    DEFAULT_MARGIN,
    Outcome,
    Penalty,
    fit_penalty,
    outcomes_of_rows,
)
from analysis.markdown import markdown_table  # noqa: E402
from analysis.stats import contrast, degradation_verdict, signed, summary_table  # noqa: E402

MEASURED = ROOT / "tests" / "data" / "measured"
QUICK = ROOT / "docs" / "quick-study"
FOUR_DEPTHS = ROOT / "docs" / "quick-study-four-depths"
MARGINS = (1.0, 1.5, 2.0, 3.0)
NINE_SEEDS = FOUR_DEPTHS / "cells-seeds-0-8.csv"
TUNED = ROOT / "docs" / "quick-study-tuned"


@dataclass(frozen=True)
class RunSet:
    label: str  # the machine, the precision and the preset
    path: Path
    seeds: tuple[int, ...]

    def runs(self) -> pd.DataFrame:
        runs = pd.read_csv(self.path)
        if "status" not in runs:
            runs = runs.assign(status="finished")
        return runs[runs["seed"].isin(self.seeds) & (runs["status"] == "finished")]

    @property
    def name(self) -> str:
        return f"{self.label}, {seeds_text(self.seeds)}"


def seeds_text(seeds: tuple[int, ...]) -> str:
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]} to {seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


DESIGN = "depths 20 and 56, 180 iterations, AMD EPYC Zen 5 (AVX512-BF16), bf16"
DEFAULT_RUNS = RunSet(DESIGN, QUICK / "cells.csv", (0, 1, 2, 3, 4))
FRESH_SEEDS_RUNS = RunSet(DESIGN, QUICK / "seeds-20-24" / "cells.csv", (20, 21, 22, 23, 24))
# The README's command once the sweep chose its worker layout by timing: two one-thread workers.
TWO_WORKER_RUNS = RunSet(DESIGN, QUICK / "readme-b5ad1e5" / "cells.csv", (0, 1, 2, 3, 4))
EARLIER = "four depths, 360 iterations"
RUN_SETS = [
    DEFAULT_RUNS,
    FRESH_SEEDS_RUNS,
    RunSet(
        "depths 20 and 56, 180 iterations, lr and weight decay tuned per net (16 trials), "
        "AMD EPYC Zen 5 (AVX512-BF16), bf16",
        TUNED / "cells.csv",
        (0, 1, 2, 3, 4),
    ),
    RunSet(f"{EARLIER}, AMD EPYC Zen 5 (AVX512-BF16), bf16", FOUR_DEPTHS / "cells.csv", (0,)),
    RunSet(f"{EARLIER}, AMD EPYC Zen 5 (AVX512-BF16), bf16", FOUR_DEPTHS / "cells.csv", (0, 1, 2)),
    RunSet(f"{EARLIER}, AMD EPYC Zen 5 (AVX512-BF16), bf16", NINE_SEEDS, tuple(range(9))),
    RunSet(
        f"{EARLIER} with flips, Intel Xeon (AMX), bf16",
        MEASURED / "quick-bf16-xeon-amx-seeds012.csv",
        (0,),
    ),
    RunSet(
        f"{EARLIER} with flips, Intel Xeon (AMX), bf16",
        MEASURED / "quick-bf16-xeon-amx-seeds012.csv",
        (0, 1, 2),
    ),
    RunSet(
        f"{EARLIER} with flips, Intel Xeon (AMX), fp32",
        MEASURED / "quick-fp32-xeon-amx-seed0.csv",
        (0,),
    ),
    RunSet(
        f"{EARLIER}, lr and weight decay tuned per net, AMD EPYC Zen 5 (AVX512-BF16), bf16",
        ROOT / "docs" / "quick-study-tuned-four-depths" / "cells.csv",
        (0, 1, 2),
    ),
    RunSet(
        f"{EARLIER}, AMD EPYC Zen 3 (AVX2 only), fp32",
        MEASURED / "quick-fp32-epyc-zen3-seed0.csv",
        (0,),
    ),
]


def judged(runs: pd.DataFrame, arch: str) -> str:
    """'+21.7 (+20.2 to +23.3): degradation', or '+0.4: untested' with one seed: as
    analysis.compare words it."""
    return verdict_text(degradation_verdict(runs, arch, DEFAULT_MARGIN))


def contrasted(runs: pd.DataFrame) -> str:
    return contrast_text(contrast(runs))


def compare_source(s: RunSet, root: Path = ROOT) -> str:
    """The run set as analysis.compare takes it: LABEL=CSV#SEEDS."""
    return f"{s.name}={(root / s.path.relative_to(ROOT)).as_posix()}#{','.join(map(str, s.seeds))}"


TUNED_SOURCES = {  # label: the CSV, from the project's root
    "untuned": "docs/quick-study-tuned/untuned-cells.csv",
    "tuned": "docs/quick-study-tuned/cells.csv",
}
COMPARE_OUT = {
    "every-machine": "docs/compare/every-machine",
    "tuned": "docs/compare/tuned-vs-untuned",
}


def compare_args(which: str, root: Path = Path(".")) -> list[str]:
    """The sources of a committed comparison, their paths under `root` (the project's root by
    default, as the docs' commands run from it)."""
    if which == "every-machine":
        return [compare_source(s, root) for s in RUN_SETS]
    return [f"{label}={(root / path).as_posix()}" for label, path in TUNED_SOURCES.items()]


def every_machine() -> str:
    """analysis.compare's verdict table of every committed set of quick-study runs."""
    from analysis.comparison import compare, verdict_table

    return markdown_table(verdict_table(compare(compare_args("every-machine", ROOT), None)))


def compare_commands() -> str:
    """The commands that write docs/compare/ (and so the tables drawn from it)."""
    blocks = []
    for which, out in COMPARE_OUT.items():
        words = [
            "python -m analysis.compare",
            *map(shlex.quote, compare_args(which)),
            f"--out {out}",
        ]
        blocks.append(" \\\n    ".join(words))
    return "```bash\n" + "\n".join(blocks) + "\n```"


def margin_history() -> str:
    rows = []
    for s in RUN_SETS:
        row = {"runs": s.name}
        for margin in MARGINS:
            plain = degradation_verdict(s.runs(), "plain", margin).outcome
            residual = degradation_verdict(s.runs(), "residual", margin).outcome
            row[f"δ = {margin:g}"] = f"{plain} / {residual}"
        rows.append(row)
    return markdown_table(pd.DataFrame(rows))


def disjoint_coverage() -> str:
    """Each disjoint set of the nine seeds: its 90 % interval against the nine-seed estimate."""
    runs = pd.read_csv(NINE_SEEDS)
    rows = []
    for arch in ("plain", "residual"):
        mine = runs[runs["arch"] == arch]
        target = penalty_of(mine).estimate
        for size in (2, 3, 4):
            for start in range(0, 9 - size + 1, size):
                seeds = tuple(range(start, start + size))
                low, high = penalty_of(mine[mine["seed"].isin(seeds)]).interval()
                rows.append(
                    {
                        "arch": arch,
                        "seeds": ", ".join(map(str, seeds)),
                        "90 % CI": f"{signed(low)} to {signed(high)}",
                        "all nine": signed(target),
                        "covers it": "yes" if low <= target <= high else "no",
                    }
                )
    table = pd.DataFrame(rows)
    hits = (table["covers it"] == "yes").sum()
    return (
        f"{markdown_table(table)}\n\n{hits} of {len(table)} intervals cover the nine-seed estimate."
    )


def simulated_coverage() -> str:
    rows = []
    for seeds in (1, 2, 3, 5):
        per_seed = "no interval" if seeds == 1 else f"{coverage(seeds, per_seed_interval):.3f}"
        former = coverage(seeds, pooled_line_interval)
        rows.append(
            {
                "seeds": seeds,
                "per-seed interval": per_seed,
                "one line through every run (former)": f"{former:.3f}",
            }
        )
    note = (
        f"Share of {REPEATS} simulated sweeps whose 90 % interval holds the true penalty "
        f"(+{TRUE_PENALTY} points; per-seed slope SD {SEED_SLOPE}, level SD {SEED_LEVEL}, run SD "
        f"{RUN_LEVEL}; analysis/coverage.py)."
    )
    return f"{markdown_table(pd.DataFrame(rows))}\n\n{note}"


def seed_spread() -> str:
    """Per arch, over the nine seeds: how the penalty varies from seed to seed, what one seed's
    line suggests, whether the seed is a block, and whether a straight line fits."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    runs = pd.read_csv(NINE_SEEDS).assign(error=lambda r: 100 * r["train_error"])
    rows, penalties = [], {}
    for arch in ("plain", "residual"):
        mine = runs[runs["arch"] == arch]
        penalty = penalty_of(mine)
        penalties[arch] = penalty.per_seed
        one_seed = [
            fit_penalty(seed["depth"], seed["error"], seed["seed"]).per_seed[0]
            for _, seed in mine.groupby("seed")
        ]
        line_se = [line_standard_error(seed) for _, seed in mine.groupby("seed")]
        blocks = anova_lm(
            smf.ols("error ~ C(depth)", mine).fit(),
            smf.ols("error ~ C(depth) + C(seed)", mine).fit(),
        )
        fit = anova_lm(
            smf.ols("error ~ depth + C(seed)", mine).fit(),
            smf.ols("error ~ C(depth) + C(seed)", mine).fit(),
        )
        rows.append(
            {
                "arch": arch,
                "per-seed penalty SD": f"{pd.Series(one_seed).std():.2f}",
                "one seed's SE from its line (mean)": f"{pd.Series(line_se).mean():.2f}",
                "seed as a block, F-test p": f"{blocks['Pr(>F)'].iloc[1]:.2g}",
                "straight line, lack-of-fit p": f"{fit['Pr(>F)'].iloc[1]:.2g}",
            }
        )
    r = pd.Series(penalties["plain"]).corr(pd.Series(penalties["residual"]))
    note = f"Correlation of a seed's plain and residual penalties: r = {r:.2f} (nine seeds)."
    return f"{markdown_table(pd.DataFrame(rows))}\n\n{note}"


def line_standard_error(seed: pd.DataFrame) -> float:
    """The standard error of one seed's penalty from the scatter of its depths about its line."""
    import statsmodels.api as sm

    fit = sm.OLS(seed["error"], sm.add_constant(seed["depth"].astype(float))).fit()
    return float(fit.bse.iloc[1] * (seed["depth"].max() - seed["depth"].min()))


def second_look() -> str:
    """At the margin's boundary (a true penalty of exactly +δ), how often a wrong "below the
    margin" answer comes out of the quick preset's design in one look, and when an inconclusive
    first look is followed by as many seeds again and all of them judged."""
    import tomllib

    import numpy as np

    preset = tomllib.loads((ROOT / "resnet" / "configs" / "quick.toml").read_text())
    seeds, iterations = len(preset["sweep"]["seeds"]), preset["train"]["iterations"]
    rule = pd.read_csv(QUICK / "design-rule" / "runs.csv")
    rule = rule[(rule["iterations"] == iterations) & (rule["arch"] == "residual")]
    wide = rule.pivot(index="seed", columns="depth", values="train_error")
    sd = float((100 * (wide[56] - wide[20])).std())
    rng = np.random.default_rng(0)
    draws = rng.normal(DEFAULT_MARGIN, sd, (SECOND_LOOK_DRAWS, 2 * seeds))
    first = outcomes_of_rows(draws[:, :seeds], DEFAULT_MARGIN)
    both = outcomes_of_rows(draws, DEFAULT_MARGIN)
    below = {Outcome.NO_DEGRADATION, Outcome.SMALL_PENALTY, Outcome.DEEPER_IS_BETTER}
    one_look = np.mean([w in below for w in first])
    second = [f == Outcome.INCONCLUSIVE and b in below for f, b in zip(first, both, strict=True)]
    two_looks = one_look + np.mean(second)
    return (
        f"With the preset's {seeds} seeds at {iterations} iterations and the rule seeds' residual "
        f"spread (SD {sd:.2f} points), a true penalty of exactly +{DEFAULT_MARGIN:g} points is "
        f"called below the margin {100 * one_look:.1f} % of the time in one look, and "
        f"{100 * two_looks:.1f} % when an inconclusive first look is followed by {seeds} more "
        f"seeds and all {2 * seeds} are judged ({SECOND_LOOK_DRAWS:,} simulated studies)."
    )


SECOND_LOOK_DRAWS = 20_000


def penalty_of(runs: pd.DataFrame):
    return fit_penalty(runs["depth"], 100 * runs["train_error"], runs["seed"])


def net_table(path: Path) -> str:
    runs = pd.read_csv(path)
    table = summary_table(runs, "")
    rows = [
        {
            "net": f"{r.arch}-{r.depth}",
            "n": r.n,
            "train error %": f"{r.train_error_mean:.2f} ± {r.train_error_std:.2f}",
            "test error %": f"{r.test_error_mean:.2f} ± {r.test_error_std:.2f}",
        }
        for r in table.itertuples()
    ]
    return markdown_table(pd.DataFrame(rows))


def verdict_lines() -> str:
    """What the report says of the default design's runs, for each seed set: its headlines."""
    blocks = []
    two_workers = ", two one-thread workers (the layout the sweep now times and picks here)"
    labelled = [(DEFAULT_RUNS, ""), (FRESH_SEEDS_RUNS, ""), (TWO_WORKER_RUNS, two_workers)]
    for s, label in labelled:
        runs = s.runs()
        lines = [
            f"- **{a}**: {degradation_verdict(runs, a).headline}" for a in ("plain", "residual")
        ]
        lines.append(f"- **plain vs residual**: {contrast(runs).sentence}")
        heading = f"`--seeds {','.join(map(str, s.seeds))}`{label}:"
        blocks.append("\n".join([heading, "", *lines]))
    return "\n\n".join(blocks)


def design_rule() -> str:
    """The design rule's output on its committed runs (scripts/choose_quick_design.py)."""
    import choose_quick_design as rule

    runs = pd.read_csv(rule.RECORDED)
    rows = rule.candidate_rows(runs)
    table = pd.DataFrame(rows)
    probabilities = [c for c in table if c.startswith("P(")]
    table[probabilities] = table[probabilities].map(lambda v: f"{v:.3f}")
    winner = rule.choose(rows)
    chosen = f"Chosen: {winner['seeds']} seeds at {winner['iterations']} iterations."
    return "\n".join(rule.measured_lines(runs)) + f"\n\n{markdown_table(table)}\n\n{chosen}"


def schedule_rule() -> str:
    """The second look's output on its committed runs (scripts/choose_quick_schedule.py)."""
    import choose_quick_schedule as rule

    runs, commands = pd.read_csv(rule.RUNS_CSV), pd.read_csv(rule.COMMANDS_CSV)
    rows = rule.candidate_rows(runs, commands)
    measured = "\n".join(rule.measured_lines(runs, commands))
    return f"{measured}\n\n{rule.judged(rows)}\n\n{rule.chosen_line(rule.choose(rows))}"


def rule_against_runs() -> str:
    """The residual per-seed penalties the design rule measured, against the default design's
    runs and the one-thread rerun of two of their seeds."""
    import numpy as np

    rule = pd.read_csv(QUICK / "design-rule" / "runs.csv")
    rule = rule[rule["iterations"] == 180]
    second = pd.read_csv(QUICK / "design-rule-2" / "runs.csv")
    second = second[second["candidate"] == "A"]
    threads = pd.read_csv(QUICK / "thread-check.csv")
    sets = [
        ("design rule, seeds 300 to 307", "1 (two workers)", rule),
        ("README's command, seeds 0 to 4", "2", DEFAULT_RUNS.runs()),
        ("the same, seeds 20 to 24", "2", FRESH_SEEDS_RUNS.runs()),
        ("seeds 1 and 2 rerun", "1 (two workers)", threads[threads["threads"] == 1]),
        ("seeds 1 and 2 as first run", "2", threads[threads["threads"] == 2]),
        ("second look, candidate A, seeds 400 to 407", "2", second),
    ]
    rows, every_seed = [], []
    for name, count, runs in sets:
        values = residual_penalties(runs)
        if "rerun" not in name and "first run" not in name:  # each seed once
            every_seed.extend(values)
        rows.append(penalty_row(name, count, values))
    pooled = np.array(every_seed)
    rows.append(penalty_row("every seed above, once each", "1 or 2", pooled, listed=False))
    return markdown_table(pd.DataFrame(rows))


def residual_penalties(runs: pd.DataFrame):
    residual = runs[runs["arch"] == "residual"]
    wide = residual.pivot(index="seed", columns="depth", values="train_error")
    return 100 * (wide[56] - wide[20]).to_numpy()


def penalty_row(name: str, threads: str, values, listed: bool = True) -> dict:
    """Per-seed residual penalties, their mean and spread, and the mean's 90 % interval."""
    penalty = Penalty(tuple(float(v) for v in values))
    bounds = penalty.interval()
    return {
        "residual runs at 180 iterations": name,
        "threads a net": threads,
        "per-seed 56 - 20 (points)": (
            ", ".join(signed(v) for v in values) if listed else f"{len(values)} seeds"
        ),
        "mean": signed(penalty.estimate),
        "SD": f"{penalty.sd:.2f}" if penalty.sd is not None else "",
        "90 % CI": f"{signed(bounds[0])} to {signed(bounds[1])}" if bounds else "",
    }


def default_net_table() -> str:
    return net_table(DEFAULT_RUNS.path)


def pruner_text(pruner: str, startup: int) -> str:
    """What each pruner setting does, as resnet.runner.tuning.make_pruner builds it."""
    return {
        "none": "none: every trial trains to its end",
        "median": f"median, after {max(1, startup)} trials and in a trial's second half only",
        "hyperband": "Hyperband, from the first evaluation to the trial's end",
    }[pruner]


def tune_settings() -> str:
    """Each preset's [tune] section as `--tune` reads it (resnet/configs/*.toml)."""
    from resnet.core.presets import build_sweep, build_tune, preset_names, read_preset
    from resnet.core.tune_config import trial_budget

    rows = []
    for name in preset_names():
        if not read_preset(name)[3]:
            continue  # no [tune] section: --tune asks for one
        tune = build_tune(name, {})
        cell = build_sweep(name, {}, {}).cells()[0]
        trial = trial_budget(cell, tune)
        length = "the whole run" if trial.iterations == cell.iterations else "shortened"
        rows.append(
            {
                "preset": name,
                "trials a study": tune.trials,
                "random start-up (untuned first)": tune.startup_trials,
                "iterations a trial": f"{trial.iterations} ({length})",
                "pruner": pruner_text(tune.pruner, tune.startup_trials),
                "trial seed": "the cell's" if tune.train_seed is None else tune.train_seed,
                "space": "; ".join(
                    f"{r.name} {r.low:g} to {r.high:g}{' (log)' if r.log else ''}"
                    for r in tune.space
                ),
            }
        )
    return markdown_table(pd.DataFrame(rows))


def trial_rank() -> str:
    """Per study of the quick tuned study: how well a trial's validation error at its first
    evaluation ranks its final one (Spearman's rho over the study's completed trials), and
    whether the first evaluation's best trial was the final best."""
    from scipy.stats import spearmanr

    curves = pd.read_csv(TUNED / "trial-curves.csv")
    curves = curves[curves["state"] == "COMPLETE"]
    rows = []
    for (arch, depth), mine in curves.groupby(["arch", "depth"]):
        first_step, last_step = mine["step"].min(), mine["step"].max()
        at = mine.pivot_table(index="number", columns="step", values="val_error")
        at = at[[first_step, last_step]].dropna()
        rho = spearmanr(at[first_step], at[last_step]).statistic
        rows.append(
            {
                "net": f"{arch}-{depth}",
                "completed trials": len(at),
                "first evaluation": f"iteration {first_step} (1,000 images)",
                "final": f"iteration {last_step} (every image)",
                "Spearman's rho": f"{rho:.2f}",
                "best early is best at the end": "yes"
                if at[first_step].idxmin() == at[last_step].idxmin()
                else "no",
            }
        )
    return markdown_table(pd.DataFrame(rows))


def tuned_vs_untuned() -> str:
    """analysis.compare's nets table of the quick tuned study against its untuned twin (paired
    by seed), with each net's tuned values and what tuning did."""
    from analysis.comparison import compare, net_change_table
    from analysis.tuning_effect import tuning_effects

    untuned, tuned = compare(compare_args("tuned", ROOT), None)
    table = net_change_table([untuned, tuned]).drop(columns="sweep")
    cells = tuned.sweep.cells
    values = cells.groupby(["arch", "depth"])[["lr", "weight_decay"]].first()
    nets = [tuple(net.rsplit("-", 1)) for net in table["net"]]
    table.insert(1, "tuned lr", [f"{values.loc[(a, int(d)), 'lr']:.3g}" for a, d in nets])
    wd = [f"{values.loc[(a, int(d)), 'weight_decay']:.2g}" for a, d in nets]
    table.insert(2, "tuned weight decay", wd)
    table["outcome"] = [e.outcome for e in tuning_effects(cells, untuned.sweep.cells)]
    return markdown_table(table.rename(columns={"first %": "untuned %", "this %": "tuned %"}))


def tuned_headline() -> str:
    """The README's sentence on the quick tuned study: its verdict, and where tuning failed."""
    from analysis.tuning_effect import failed_nets, tuning_effects

    tuned = pd.read_csv(TUNED / "cells.csv")
    tuned = tuned[tuned["status"] == "finished"]
    failed = failed_nets(tuning_effects(tuned, pd.read_csv(TUNED / "untuned-cells.csv")))
    seeds = seeds_text(tuple(sorted(int(s) for s in tuned["seed"].unique())))
    verdicts = "; ".join(f"{arch} {judged(tuned, arch)}" for arch in ("plain", "residual"))
    failures = (
        f"tuning failed (tuned worse than untuned beyond the seed noise) for {', '.join(failed)}"
        if failed
        else "no net trained worse tuned than untuned beyond the seed noise"
    )
    return f"With each net's own tuned lr and weight decay ({seeds}): {verdicts}; {failures}."


def compare_quick() -> str:
    """analysis.compare on the two committed seed sets of the default design."""
    from analysis.comparison import agreement_lines, compare, verdict_table

    judged = compare(
        [f"seeds 0-4={DEFAULT_RUNS.path}", f"seeds 20-24={FRESH_SEEDS_RUNS.path}"], None
    )
    return markdown_table(verdict_table(judged)) + "\n\n" + "\n".join(agreement_lines(judged))


def compile_quick() -> str:
    """scripts/compile_cost.py's committed output: its table, below its header line."""
    text = (ROOT / "docs" / "benchmarks" / "compile-quick.md").read_text(encoding="utf-8")
    header, _, table = text.strip().partition("\n\n")
    return f"{header}:\n\n{table}"


def crossing_text(iteration) -> str:
    """A seed's crossing iteration, or "none" where residual-56 never stays below (an empty
    cell, read as NaN, which also turns the column's numbers into floats)."""
    return "none" if iteration is None or pd.isna(iteration) else str(int(iteration))


def suite_time() -> str:
    """The suite's newest recorded time for each kind of machine (scripts/suite_time.py),
    the newest first."""
    times = pd.read_csv(ROOT / "docs" / "benchmarks" / "suite-time.csv", dtype={"commit": str})
    newest = times.iloc[::-1].drop_duplicates(["cpu", "cores", "native_bf16"])
    return "\n".join(suite_time_line(row) for row in newest.itertuples())


def suite_time_line(row) -> str:
    minutes, seconds = divmod(round(row.seconds), 60)
    bf16 = "with native bf16" if row.native_bf16 else "without native bf16"
    return (
        f"- {row.tests} tests in {minutes} min {seconds:02d} s on a {row.cores}-core {row.cpu} "
        f"{bf16}, at {row.commit} ({row.date}; [suite-time.csv](docs/benchmarks/suite-time.csv))"
    )


def cheaper_crossing() -> str:
    """The cheaper-crossing search judged on its committed records (scripts/cheaper_crossing.py
    --recorded): every candidate tried, and the outcome."""
    import cheaper_crossing as rule

    rows = rule.search("", recorded=True)
    name = rule.chosen(rows)
    outcome = f"Chosen: {name}." if name else "No candidate has passed (yet)."
    return f"{markdown_table(pd.DataFrame(rows).astype(object).fillna(''))}\n\n{outcome}"


def planned_crossing(study_name: str, seeds_too: bool) -> str:
    """A crossing study's pre-registered verdicts on its plan's seeds, whether each half of
    Figure 6 is shown by the plan's test, each seed's gaps, crossing iteration and training
    minutes (scripts/crossing_report.py's committed files); `seeds_too` adds every seed's row."""
    import crossing_report as report

    study = report.STUDIES[study_name]
    folder = ROOT / "docs" / study_name
    cells = pd.read_csv(folder / "cells.csv")
    plan = cells[cells["seed"].isin(study.seeds)]
    seeds = report.seed_table(plan)
    crossings = pd.read_csv(folder / "crossings.csv").set_index("seed")["crossing"]
    minutes = report.seed_minutes(pd.read_csv(folder / "net-times.csv"))

    def per_seed(values) -> str:
        return ", ".join(f"{v:+.2f}" if isinstance(v, float) else str(v) for v in values)

    lines = [
        *report.verdict_lines(plan),
        *report.shown_lines(plan, study),
        f"- per seed ({report.seeds_text(seeds['seed'])}), depth 56 minus 20: plain "
        f"{per_seed(seeds['plain 56-20'])}; residual {per_seed(seeds['residual 56-20'])}",
        "- residual-56 below residual-20 for good from iteration: "
        + ", ".join(crossing_text(crossings.get(seed)) for seed in seeds["seed"]),
        "- training minutes a seed, its four nets' summed (nets trained side by side each "
        "count in full): " + ", ".join(f"{minutes[seed]:.1f}" for seed in seeds["seed"]),
        *report.wall_time_lines(study, ROOT),
    ]
    if seeds_too:
        lines += ["", markdown_table(seeds.astype(object).fillna(""))]
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "verdict-lines": verdict_lines,
    "default-nets": default_net_table,
    "design-rule": design_rule,
    "rule-against-runs": rule_against_runs,
    "schedule-rule": schedule_rule,
    "every-machine": every_machine,
    "margin-history": margin_history,
    "coverage": disjoint_coverage,
    "simulated-coverage": simulated_coverage,
    "seed-spread": seed_spread,
    "second-look": second_look,
    "tune-settings": tune_settings,
    "trial-rank": trial_rank,
    "tuned-vs-untuned": tuned_vs_untuned,
    "tuned-headline": tuned_headline,
    "compare-quick": compare_quick,
    "compare-commands": compare_commands,
    "compile-quick": compile_quick,
    "cheaper-crossing": cheaper_crossing,
    "suite-time": suite_time,
    "crossing-study": partial(planned_crossing, "crossing-study", False),
    "crossing-study-seeds": partial(planned_crossing, "crossing-study", True),
    "crossing-short-study": partial(planned_crossing, "crossing-short-study", False),
    "crossing-short-study-seeds": partial(planned_crossing, "crossing-short-study", True),
}
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "docs" / "crossing" / "README.md",
]
BLOCK = re.compile(
    r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table:(?P=name) -->)", re.S
)


def regenerated(text: str) -> str:
    def fill(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise SystemExit(f"doc_tables: no table named {name!r} (known: {', '.join(TABLES)})")
        return f"{match[1]}{TABLES[name]()}\n{match[4]}"

    return BLOCK.sub(fill, text)


def stale_docs() -> list[Path]:
    return [doc for doc in DOCS if regenerated(doc.read_text()) != doc.read_text()]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    args = p.parse_args()
    stale = stale_docs()
    if args.check:
        for doc in stale:
            print(f"out of date: {doc.relative_to(ROOT)} (run scripts/doc_tables.py)")
        return 1 if stale else 0
    for doc in stale:
        doc.write_text(regenerated(doc.read_text()))
        print(f"rewrote the tables of {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
