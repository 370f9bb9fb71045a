"""The rule that chose the crossing preset's training length, run again by anyone.

    .venv/bin/python scripts/choose_crossing_budget.py  # train what is missing, judge
    .venv/bin/python scripts/choose_crossing_budget.py --judge-only

The rule, fixed before the runs of the 5,760-iteration candidate were seen (those of 2,880 and
11,520 came first, as probes; docs/crossing/README.md tells that story):

1. Candidates: cosine schedules of 2,880, 5,760 and 11,520 iterations (warm-up 2.5 % of them)
   on all 55k Fashion-MNIST training images at 14x14 with random 2-pixel crops, lr 0.05:
   `docs/crossing/rule-2880.toml`, `rule-5760.toml` and `crops.toml`.
2. Each trains plain and residual nets of depth 20 and 56 on seed 100, which no report uses.
3. A candidate shows the crossing when every one of its runs finished and trained stably, and
   at its end residual-56's training error is below residual-20's by at least 0.3 points (a tie
   is not a crossing) while plain-56's is at least 5 points above plain-20's (the issue's bar
   for degradation).
4. The shortest candidate that shows it is chosen.

The rule judges *training* error, as the figure it chooses for does: the crossing is a claim
about how well each net fits its training set. Validation error is not a proxy for it here:
on 5,000 images its noise (about 0.4 points a run) is as large as the effect. The test set
chooses nothing, and the seeds the preset reports (0, 1, 2) were not run before the choice.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlflow import MlflowClient  # noqa: E402

from analysis.markdown import markdown_table  # noqa: E402
from resnet.tracking.schema import DEFAULT_TRACKING_URI, Metric, Tag  # noqa: E402

PRESETS = {  # iterations -> the candidate's preset
    2880: ROOT / "docs" / "crossing" / "rule-2880.toml",
    5760: ROOT / "docs" / "crossing" / "rule-5760.toml",
    11520: ROOT / "docs" / "crossing" / "crops.toml",
}
SEED = 100
NETS = [(arch, depth) for arch in ("plain", "residual") for depth in (20, 56)]
RESIDUAL_LEAD = 0.3  # points of training error residual-56 must be below residual-20
PLAIN_GAP = 5.0  # points of training error plain-56 must be above plain-20


def experiment_name(iterations: int) -> str:
    return f"crossing-{iterations}"


def train(iterations: int, uri: str) -> None:
    """One candidate's sweep, all four nets; finished runs of an earlier call are reused."""
    command = [
        sys.executable,
        str(ROOT / "experiments" / "depth_sweep.py"),
        f"--preset={PRESETS[iterations]}",
        "--archs=plain,residual",
        f"--experiment={experiment_name(iterations)}",
        f"--tracking-uri={uri}",
        "--no-report",
    ]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def final_errors(iterations: int, uri: str) -> dict:
    """Each net's final training error (%) on the rule's seed, from its FINISHED, stable run in
    the candidate's experiment, whichever sweep trained it (a net missing here was not trained,
    is unfinished or trained unstably)."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(experiment_name(iterations))
    if experiment is None:
        return {}
    runs = client.search_runs(
        [experiment.experiment_id],
        f"tags.{Tag.KIND} = 'cell' and tags.{Tag.SEED} = '{SEED}' and "
        f"tags.{Tag.STABLE} = 'true' and attributes.status = 'FINISHED'",
    )
    return {
        (run.data.tags[Tag.ARCH], int(run.data.tags[Tag.DEPTH])): 100
        * run.data.metrics[Metric.TRAIN_ERROR]
        for run in runs
    }


def gap(errors: dict, arch: str) -> float | None:
    """Depth 56's training error minus depth 20's, in points; None where one is missing."""
    if (arch, 56) in errors and (arch, 20) in errors:
        return errors[arch, 56] - errors[arch, 20]
    return None


def judge(iterations: int, uri: str) -> dict:
    """The candidate's row: its four final training errors, the two gaps, and the verdict. The
    residual pair is judged first: a candidate where it ties needs no plain runs to fail."""
    errors = final_errors(iterations, uri)
    row: dict = {"iterations": iterations}
    for arch, depth in NETS:
        row[f"{arch}-{depth} train %"] = errors.get((arch, depth))
    plain, residual = gap(errors, "plain"), gap(errors, "residual")
    row["plain 56-20"], row["residual 56-20"] = plain, residual
    if residual is None:
        verdict = "cannot judge: a residual net not finished stably"
    elif residual > -RESIDUAL_LEAD:
        verdict = f"no: residual-56 not {RESIDUAL_LEAD} points below residual-20"
    elif plain is None:
        verdict = "cannot judge: a plain net not finished stably"
    elif plain < PLAIN_GAP:
        verdict = f"no: plain-56 not {PLAIN_GAP:g} points above plain-20"
    else:
        verdict = "yes"
    row["shows the crossing"] = verdict
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    p.add_argument("--judge-only", action="store_true", help="train nothing; judge what is there")
    args = p.parse_args()
    if not args.judge_only:
        for iterations in PRESETS:
            train(iterations, args.tracking_uri)
    rows = [judge(iterations, args.tracking_uri) for iterations in PRESETS]
    print(markdown_table(pd.DataFrame(rows)))
    shown = [row["iterations"] for row in rows if row["shows the crossing"] == "yes"]
    if not shown:
        print("No candidate shows the crossing: no choice.")
        return 1
    print(f"Chosen: {min(shown)} iterations, the shortest candidate that shows the crossing.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
