"""The names of the metrics that training logs, in one place: the trainer logs them by these
names, and the MLflow schema (resnet/tracking/schema.py), hence the analysis, reads them."""


class Metric:
    TRAIN_ERROR = "train_error"
    VAL_ERROR = "val_error"
    TEST_ERROR = "test_error"
    TRAIN_LOSS = "train_loss"
    VAL_LOSS = "val_loss"
    TEST_LOSS = "test_loss"
    LR = "lr"
    IMAGES_PER_SEC = "images_per_sec"


def split_metrics(split: str) -> tuple[str, str]:
    """The (loss, error) metric names of an evaluated split: val_loss, val_error, ..."""
    return f"{split}_loss", f"{split}_error"
