import os

# pytest-xdist runs one test process per core; each of them (and every sweep a test starts)
# keeps to one thread, as more OpenMP threads than cores spin against each other. Set before
# torch is imported, which reads it then.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from resnet.data import load


@pytest.fixture(scope="session")
def synthetic16():
    """The smoke preset's data set: generated 3x16x16 images, 10 classes."""
    return load("synthetic", image_size=16)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory, so the default ./mlruns store is the test's own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path
