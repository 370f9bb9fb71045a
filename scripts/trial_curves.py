"""Every tuning trial's validation error at each evaluation, from an MLflow store, as CSV: the
evidence of how well a trial's early error ranks its final one (docs/TUNING.md).

    .venv/bin/python scripts/trial_curves.py --experiment depth-quick-fashion-mnist \\
        --out docs/quick-study-tuned/trial-curves.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.collect import open_client  # noqa: E402
from resnet.tracking.schema import DEFAULT_TRACKING_URI, Kind, Metric, Tag  # noqa: E402


def trial_curves(experiment: str, uri: str) -> pd.DataFrame:
    """study, arch, depth, trial number, state, lr, weight decay, step, val_error."""
    client = open_client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"no experiment {experiment!r} in {uri}")
    rows = []
    for run in client.search_runs([found.experiment_id], f"tags.{Tag.KIND} = '{Kind.TRIAL}'"):
        tags, params = run.data.tags, run.data.params
        for point in client.get_metric_history(run.info.run_id, Metric.VAL_ERROR):
            rows.append(
                {
                    "study": tags[Tag.STUDY],
                    "arch": tags.get(Tag.ARCH),
                    "depth": int(tags.get(Tag.DEPTH, 0)),
                    "number": int(tags[Tag.TRIAL_NUMBER]),
                    "untuned": tags.get(Tag.UNTUNED_TRIAL) == "true",
                    "state": tags.get(Tag.OPTUNA_STATE),
                    "lr": float(params["lr"]),
                    "weight_decay": float(params["weight_decay"]),
                    "step": point.step,
                    "val_error": point.value,
                }
            )
    return pd.DataFrame(rows).sort_values(["study", "number", "step"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", required=True)
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    trial_curves(args.experiment, args.tracking_uri).to_csv(args.out, index=False)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
