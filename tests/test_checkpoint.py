"""Checkpoints: atomic, safe to load, and a resumed run ends bit for bit where an uninterrupted
one does (on CPU, with the same seed)."""

import pickle

import pytest
import torch

from resnet.core.checkpoint import CheckpointError, load, save_atomic
from resnet.core.config import RunConfig
from resnet.core.train import Interrupted, Supervision, train


def config(**changes):
    base = dict(
        arch="residual",
        depth=8,
        dataset="synthetic",
        image_size=16,
        iterations=40,
        batch_size=32,
        lr=0.05,
        schedule="step",
        milestones=(25,),
        warmup_iterations=5,
        crop_pad=2,
        flip=True,
        log_every=7,
        eval_every=20,
        eval_batch_size=500,
        precision="fp32",
        device="cpu",
    )
    return RunConfig(**{**base, **changes})


class Recorder:
    def __init__(self):
        self.logged = {}

    def log_metrics(self, metrics, step):
        assert step not in self.logged, f"step {step} logged twice"
        self.logged[step] = {k: v for k, v in metrics.items() if k != "images_per_sec"}


def test_a_resumed_run_ends_bit_for_bit_like_an_uninterrupted_one(synthetic16, tmp_path):
    reference, whole = Recorder(), None
    whole = train(config(), synthetic16, reference, progress=False)

    path = tmp_path / "checkpoint.pt"
    first, stops = Recorder(), iter([False] * 12 + [True])
    stop_after_13 = Supervision(path, every=5, should_stop=lambda: next(stops))
    with pytest.raises(Interrupted, match="after iteration 13"):
        train(config(), synthetic16, first, progress=False, supervision=stop_after_13)
    assert load(path)["iteration"] == 13

    second = Recorder()
    resumed = train(
        config(), synthetic16, second, progress=False, supervision=Supervision(path, every=5)
    )
    assert set(first.logged) | set(second.logged) == set(reference.logged)
    assert not set(first.logged) & set(second.logged)
    assert {**first.logged, **second.logged} == reference.logged
    untimed = lambda metrics: {k: v for k, v in metrics.items() if k != "images_per_sec"}  # noqa: E731
    assert untimed(resumed.metrics) == untimed(whole.metrics)  # exactly equal
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_saving_is_atomic_and_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "run" / "checkpoint.pt"
    save_atomic(path, {"iteration": 3, "w": torch.ones(2)})
    assert load(path)["iteration"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no partial file left

    class Evil:
        def __reduce__(self):
            return (print, ("pickle ran code",))

    torch.save({"iteration": 1, "x": Evil()}, path)
    with pytest.raises(CheckpointError, match="unreadable") as refused:
        load(path)
    assert "weights_only" not in str(refused.value)  # never steered towards unsafe loading


def test_a_truncated_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_atomic(path, {"iteration": 3, "w": torch.ones(1000)})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"checkpoint .* is unreadable"):
        load(path)


def test_a_checkpoint_of_another_net_does_not_fit_and_says_so(synthetic16, tmp_path):
    path = tmp_path / "checkpoint.pt"
    stops = iter([False, False, True])
    stop_after_3 = Supervision(path, every=50, should_stop=lambda: next(stops))
    with pytest.raises(Interrupted):
        train(config(depth=8), synthetic16, progress=False, supervision=stop_after_3)
    deeper = Supervision(path, every=50)
    with pytest.raises(CheckpointError, match=r"is not this cell's.*\(depth, config_hash differ"):
        train(config(depth=14), synthetic16, progress=False, supervision=deeper)
    unnamed = {k: v for k, v in load(path).items() if k != "cell"}  # as saved before the record
    save_atomic(path, unnamed)
    with pytest.raises(CheckpointError, match="does not fit this run"):
        train(config(depth=14), synthetic16, progress=False, supervision=deeper)


def test_an_owner_is_its_process_not_just_its_pid():
    import socket
    import subprocess
    from types import SimpleNamespace

    from resnet.tracking.liveness import lease, owner_alive, process_start

    def run(owner):
        return SimpleNamespace(data=SimpleNamespace(tags={"owner": owner}))

    host = socket.gethostname()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        start = process_start(sleeper.pid)
        assert owner_alive(run(f"{host}:{sleeper.pid}:{start}"))
        assert not owner_alive(run(f"{host}:{sleeper.pid}:{start}1"))  # the pid was reused
        assert not owner_alive(run(lease()["owner"]))  # this process: an attempt that ended
        # alive but found dead by the queue (a stuck worker): its cell's retry takes the run
        stuck = f"{host}:{sleeper.pid}:{start}"
        assert not owner_alive(run(stuck), dead_owner=stuck)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not owner_alive(run(f"{host}:{sleeper.pid}:{start}"))


def test_a_checkpoint_names_its_cell_and_another_cells_is_refused(synthetic16, tmp_path):
    """plain-8's state fits residual-8's net exactly (option A shortcuts have no weights): only
    the record of whose it is tells them apart."""
    path = tmp_path / "checkpoint.pt"
    stops = iter([False, False, True])
    stop_after_3 = Supervision(path, every=50, run_id="a" * 32, should_stop=lambda: next(stops))
    with pytest.raises(Interrupted):
        train(config(arch="plain"), synthetic16, progress=False, supervision=stop_after_3)
    assert load(path)["cell"] == {
        "run_id": "a" * 32,
        "arch": "plain",
        "depth": 8,
        "seed": 0,
        "config_hash": config(arch="plain").identity(),
    }
    refusals = {
        "arch, config_hash differ": (config(), "a" * 32),
        "run_id differ": (config(arch="plain"), "b" * 32),
        "seed, config_hash differ": (config(arch="plain", seed=1), "a" * 32),
        "config_hash differ": (config(arch="plain", lr=0.01), "a" * 32),
    }
    for differ, (other, run_id) in refusals.items():
        with pytest.raises(CheckpointError, match="is not this cell's") as refused:
            train(other, synthetic16, progress=False, supervision=Supervision(path, run_id=run_id))
        assert f"({differ})" in str(refused.value) and "\n" not in str(refused.value)
    own = Supervision(path, run_id="a" * 32)
    same = train(config(arch="plain"), synthetic16, progress=False, supervision=own)
    assert same.status == "finished"  # its own cell resumes it


def test_a_tampered_checkpoint_is_refused_without_torchs_pickle_warning(tmp_path, recwarn):
    path = tmp_path / "checkpoint.pt"
    torch.save({"iteration": 1, "x": torch.ones(2)}, path, pickle_protocol=4)
    with pytest.raises(CheckpointError, match="unreadable"):
        load(path)
    path.write_bytes(pickle.dumps({"iteration": 1}, protocol=5))
    with pytest.raises(CheckpointError, match="unreadable"):
        load(path)
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]
