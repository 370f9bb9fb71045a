"""What a net's run carries for the MLflow UI beside its metrics: the trained net as a logged
model that loads back with MLflow's own API, and the machine's use while it trained."""

import time

import mlflow
import mlflow.pytorch
import pytest
import torch

from resnet.core.augment import normalize
from resnet.core.config import RunConfig, SweepConfig
from resnet.core.models import build
from resnet.tracking.cell_run import CellRun
from resnet.tracking.store import Store, SweepRun


@pytest.fixture
def cell_run(store_workdir, synthetic16):
    """A net's run in a new store, as a sweep opens it."""
    config = RunConfig(arch="residual", depth=8, dataset="synthetic", image_size=16)
    sweep = SweepConfig(archs=("residual",), depths=(8,), base=RunConfig(dataset="synthetic"))
    store = Store("sqlite:///mlruns/mlflow.db")
    sweep_run = SweepRun(store, store.experiment_id(sweep.experiment_name), sweep)
    return CellRun.create(sweep_run, config), config


def trained_net(synthetic16) -> torch.nn.Module:
    """A few steps of training, so that batch norm's running statistics are not the defaults."""
    torch.manual_seed(0)
    net = build("residual", 8)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for start in range(0, 256, 64):
        images = synthetic16.train.images[start : start + 64]
        x = normalize(images, synthetic16.mean, synthetic16.std)
        loss = torch.nn.functional.cross_entropy(
            net(x), synthetic16.train.labels[start : start + 64]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def test_the_logged_net_loads_back_and_predicts_as_the_trained_one(cell_run, synthetic16):
    cell, config = cell_run
    net = trained_net(synthetic16)
    cell.log_metrics({"train_error": 0.5, "test_error": 0.4}, step=60)
    cell.log_model(net, synthetic16, config.name, step=60)

    client = cell.store.client
    run = client.get_run(cell.run_id)
    (output,) = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.name == config.name and logged.status == "READY"
    assert logged.experiment_id == run.info.experiment_id  # not the Default experiment
    assert logged.source_run_id == cell.run_id
    assert {(m.key, m.value, m.step) for m in logged.metrics} == {
        ("train_error", 0.5, 60),
        ("test_error", 0.4, 60),
    }
    assert logged.params["depth"] == "8"

    mlflow.set_tracking_uri(cell.store.client_uri)
    loaded = mlflow.pytorch.load_model(f"models:/{output.model_id}")
    images = synthetic16.test.images[:50]
    with torch.no_grad():
        expected = net(normalize(images, synthetic16.mean, synthetic16.std))  # as in training
        got = loaded(images.float() / 255)  # images in [0, 1], as the signature says
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(got.argmax(1), expected.argmax(1))
    signature = mlflow.models.get_model_info(f"models:/{output.model_id}").signature
    assert signature.inputs.inputs[0].shape == (-1, 3, 16, 16)
    assert signature.outputs.inputs[0].shape == (-1, 10)


def test_a_net_shorter_than_one_sampling_interval_still_gets_its_system_metrics(cell_run):
    cell, _ = cell_run
    with cell.system_metrics():
        time.sleep(0.5)  # MLflow samples every 10 s: none would be published in this time
    metrics = cell.store.client.get_run(cell.run_id).data.metrics
    assert "system/cpu_utilization_percentage" in metrics
    assert "system/system_memory_usage_megabytes" in metrics


@pytest.mark.parametrize("enabled", [True, False])
def test_system_metrics_are_logged_while_a_net_trains_unless_turned_off(
    cell_run, monkeypatch, enabled
):
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    cell, _ = cell_run
    with cell.system_metrics(enabled):
        time.sleep(1)
    metrics = cell.store.client.get_run(cell.run_id).data.metrics
    system = {key for key in metrics if key.startswith("system/")}
    if enabled:
        assert {
            "system/cpu_utilization_percentage",
            "system/system_memory_usage_megabytes",
        } <= system
    else:
        assert not system
