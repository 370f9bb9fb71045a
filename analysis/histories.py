"""What each finished cell logged over its training: its metric curves, and Figure 7's layer
responses (an artifact)."""

from __future__ import annotations

import tempfile

import pandas as pd
from mlflow import MlflowClient

from analysis.frames import RESIDUAL
from resnet.tracking.schema import RESPONSES_FILE, Metric

CURVE_METRICS = (Metric.TRAIN_ERROR, Metric.VAL_ERROR, Metric.TEST_ERROR)


def curve_table(client: MlflowClient, cells: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for cell in cells[cells["run_id"].notna()].itertuples():
        for metric in CURVE_METRICS:
            for point in client.get_metric_history(cell.run_id, metric):
                rows.append(
                    (
                        cell.run_id,
                        cell.arch,
                        cell.residual,
                        cell.depth,
                        cell.seed,
                        cell.status,
                        metric,
                        point.step,
                        point.value,
                    )
                )
    columns = ["run_id", "arch", RESIDUAL, "depth", "seed", "status", "metric", "step", "value"]
    return pd.DataFrame(rows, columns=columns)


def response_table(client: MlflowClient, cells: pd.DataFrame) -> pd.DataFrame:
    """Figure 7's layer responses, logged by each finished run as an artifact."""
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in cells[cells["status"] == "finished"].itertuples():
            listed = {f.path for f in client.list_artifacts(cell.run_id)}
            if RESPONSES_FILE not in listed:
                continue  # runs from before responses were logged
            path = client.download_artifacts(cell.run_id, RESPONSES_FILE, tmp)
            frame = pd.read_csv(path).assign(
                arch=cell.arch, residual=cell.residual, depth=cell.depth, seed=cell.seed
            )
            frames.append(frame)
    columns = ["arch", RESIDUAL, "depth", "seed", "layer", "index", "std"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
