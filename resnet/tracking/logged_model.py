"""A trained net as an MLflow logged model: listed in the experiment's Models view, linked to its
run and to the run's final metrics, and loadable with `mlflow.pytorch.load_model`.

The model takes images as floats in [0, 1] (the data set's standardisation is inside it) and
returns class logits. It is saved as a pickle of the module, which loads where this package is
installed; MLflow's other format (torch.export) costs seconds per net on a CPU.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from collections.abc import Iterator

import mlflow
import mlflow.pytorch
import numpy as np
import torch
from mlflow import MlflowClient
from mlflow.models import infer_signature

from resnet.core.data import Dataset
from resnet.core.models import Standardized
from resnet.tracking.client import fluent_uri

EXAMPLE_IMAGES = 2  # the input example: this many test images
# Given, so that MLflow does not infer them (which runs a subprocess per model).
PIP_REQUIREMENTS = (
    f"torch=={torch.__version__.split('+')[0]}",  # without the local build tag (+cu130, +cpu)
    f"mlflow=={mlflow.__version__}",
    f"numpy=={np.__version__}",
)


def shareable(model: torch.nn.Module, dataset: Dataset) -> Standardized:
    """A CPU, fp32, eval-mode copy of the trained net with the standardisation in front."""
    net = copy.deepcopy(model).float().cpu().eval()
    return Standardized(net, dataset.mean.float().cpu(), dataset.std.float().cpu()).eval()


def example_images(dataset: Dataset) -> np.ndarray:
    return dataset.test.images[:EXAMPLE_IMAGES].cpu().float().div(255).numpy()


def log_net(uri: str, run_id: str, name: str, model: torch.nn.Module, dataset: Dataset, step: int):
    """Log the trained `model` of run `run_id` as the logged model `name`; the run's metrics
    at `step` (its final ones) are linked to it. Returns MLflow's ModelInfo."""
    net = shareable(model, dataset)
    example = example_images(dataset)
    with torch.no_grad():
        logits = net(torch.from_numpy(example)).numpy()
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    # Made here: log_model alone would put it in the default experiment, not the run's.
    logged = client.create_logged_model(
        run.info.experiment_id, name, source_run_id=run_id, params=run.data.params
    )
    with fluent_uri(uri), quiet_mlflow():
        return mlflow.pytorch.log_model(
            net,
            name=name,
            model_id=logged.model_id,
            run_id=run_id,
            step=step,
            signature=infer_signature(example, logits),
            input_example=example,
            pip_requirements=list(PIP_REQUIREMENTS),
            serialization_format="pickle",
        )


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's INFO lines and warnings about a model it has been told everything about would
    be printed once per net, between the progress bars."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
