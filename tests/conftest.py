import atexit
import os
import shutil
import tempfile

# pytest-xdist runs one test process per core; each of them (and every sweep a test starts)
# keeps to one thread, as more OpenMP threads than cores spin against each other. Set before
# torch is imported, which reads it then.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Test sweeps start training at once: a projection times a few steps per net (2 s of a smoke
# sweep), and the suite starts dozens of sweeps. The tests of the projection turn it back on.
os.environ.setdefault("DEPTH_SWEEP_NO_PROJECTION", "1")
# Compiled tests cache their kernels (and precompiled headers, 160 MB each) in a folder of this
# test run, removed when it ends, rather than in the user's cache for good. The xdist workers
# and the sweeps the tests start inherit it.
if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="test-inductor-cache-")
    atexit.register(shutil.rmtree, os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)

import pytest
from mlflow_stores import new_store
from services import mlflow_server, postgres  # noqa: F401 (fixtures of several modules)
from smoke_sweep import SmokeSweep
from smoke_sweep import smoke_sweep as run_smoke_sweep

from resnet.core.data import load


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "heavy(seconds): a test that runs for tens of seconds on two cores (sweeps in their own "
        "processes); heavy tests start first, the heaviest first",
    )
    # pytest-xdist hands each process a long run of consecutive tests at the start; one at a
    # time instead, so that the heavy tests, first, spread over the processes and no process
    # is left with one at the end while the others are done.
    if getattr(config.option, "maxschedchunk", 0) is None:
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(items):
    def weight(item) -> float:
        marker = item.get_closest_marker("heavy")
        return marker.args[0] if marker else 0

    items.sort(key=weight, reverse=True)  # stable: the others keep their order


TEST_PASSED = pytest.StashKey[dict]()  # each phase of a test reported so far: passed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(TEST_PASSED, {})[report.when] = report.passed
    return report


@pytest.fixture
def tmp_path(tmp_path, request):
    """pytest's tmp_path, emptied when its test passes but not removed. The suite writes about
    half a GB of stores and checkpoints, and a machine's disk may be small; removed (pytest's
    own "failed" retention), the folder's name would go to the next test of the same name, in
    whose process MLflow's stores, cached by URI, still hold the removed database open: "attempt
    to write a readonly database". A failed or skipped test's folder is kept whole (its setup
    and call are judged: the teardown, this, is not over yet)."""
    yield tmp_path
    if all(request.node.stash.get(TEST_PASSED, {}).values()):
        for entry in list(tmp_path.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def synthetic16():
    """The smoke preset's data set: generated 3x16x16 images, 10 classes."""
    return load("synthetic", image_size=16)


@pytest.fixture
def store_workdir(workdir):
    """`workdir` with its default store ./mlruns/mlflow.db already created (empty): see
    mlflow_stores.py."""
    new_store(workdir / "mlruns")
    return workdir


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory, so the default ./mlruns store is the test's own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def no_tracking_uri_from_earlier_tests():
    """MLflow's set_tracking_uri (the analysis calls it) also sets MLFLOW_TRACKING_URI: each
    test starts and ends without it, so that no sweep a later test starts uses that store."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def training_loss(monkeypatch):
    """`change(loss, step) -> loss` applied to every training loss the trainer computes from
    now on (step counts from 1 in this process; evaluations are left alone): tests hand the
    trainer a run that diverges or climbs whatever the CPU's rounding, where a huge lr
    diverges on one CPU's kernels and not on another's."""
    import resnet.core.step as step_module

    real = step_module.F.cross_entropy

    def patch(change):
        steps = {"n": 0}

        def changed(logits, labels, *args, **kwargs):
            loss = real(logits, labels, *args, **kwargs)
            if kwargs.get("reduction") == "sum":  # an evaluation's
                return loss
            steps["n"] += 1
            return change(loss, steps["n"])

        monkeypatch.setattr(step_module.F, "cross_entropy", changed)

    return patch


@pytest.fixture
def losses_blow_up(training_loss):
    """Every training loss from the 5th step on, times 1000: far above the divergence limit."""
    training_loss(lambda loss, step: loss * 1e3 if step >= 5 else loss)


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory) -> SmokeSweep:
    """The smoke preset swept once for the whole test run, read-only (see smoke_sweep.py)."""
    return run_smoke_sweep(tmp_path_factory)
