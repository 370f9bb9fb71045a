"""A run's data sets as MLflow dataset inputs: the training, validation and test splits, each
with MLflow's digest, source, schema and sizes, so the runs table's Dataset column and each run's
Datasets section show what it was trained and evaluated on."""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow.data
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.entities import DatasetInput, InputTag

from resnet.core.data import Dataset, Split
from resnet.tracking.schema import Context, Tag

GENERATOR = "resnet.core.data.load_synthetic"  # where generated data comes from

# Digests read the images: computed once per data set in a process, not once per run.
_cache: dict[int, tuple[Dataset, list[DatasetInput]]] = {}


def dataset_inputs(dataset: Dataset) -> list[DatasetInput]:
    """The splits of `dataset` as inputs to log; an empty validation split is left out."""
    cached = _cache.get(id(dataset))
    if cached is not None and cached[0] is dataset:
        return cached[1]
    splits = ((Context.TRAINING, dataset.train), (Context.VALIDATION, dataset.val))
    splits += ((Context.TEST, dataset.test),)
    inputs = [split_input(dataset, split, context) for context, split in splits if len(split)]
    _cache[id(dataset)] = (dataset, inputs)
    return inputs


def split_input(dataset: Dataset, split: Split, context: str) -> DatasetInput:
    logged = mlflow.data.from_numpy(
        split.images.cpu().numpy(),
        targets=split.labels.cpu().numpy(),
        source=data_source(dataset),
        name=dataset.name,
    )
    return DatasetInput(logged._to_mlflow_entity(), [InputTag(Tag.DATASET_CONTEXT, context)])


def data_source(dataset: Dataset) -> DatasetSource:
    if not dataset.source:
        return CodeDatasetSource({"generator": GENERATOR})
    with warnings.catch_warnings():  # MLflow registers its local source twice, and says so
        warnings.simplefilter("ignore", UserWarning)
        return resolve_dataset_source(Path(dataset.source).as_uri())
