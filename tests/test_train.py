import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resnet.core.config import RunConfig
from resnet.core.precision import set_fp32_math
from resnet.core.schedule import ErrorWarmup, base_multiplier
from resnet.core.step import compile_for_training, evaluate, recompile_limit_name
from resnet.core.train import HEALTH_CHECK_EVERY, train


def tiny(**changes):
    base = dict(
        arch="residual",
        depth=8,
        dataset="synthetic",
        image_size=16,
        iterations=30,
        batch_size=32,
        lr=0.05,
        schedule="cosine",
        warmup_iterations=5,
        log_every=10,
        eval_every=15,
        eval_batch_size=500,
        precision="fp32",
        device="cpu",
    )
    return RunConfig(**{**base, **changes})


class Recorder:
    def __init__(self):
        self.logged = []

    def log_metrics(self, metrics, step):
        self.logged.append((step, dict(metrics)))

    def values(self):
        """Everything logged but the timing, which no seed controls."""
        return [(s, {k: v for k, v in m.items() if k != "images_per_sec"}) for s, m in self.logged]


def test_training_learns_the_synthetic_task(synthetic16):
    result = train(tiny(iterations=60), synthetic16, progress=False)
    assert result.finished
    assert result.metrics["val_error"] < 0.3  # chance is 0.9


def test_same_seed_same_metrics_on_cpu(synthetic16):
    a, b = Recorder(), Recorder()
    train(tiny(), synthetic16, tracker=a, progress=False)
    train(tiny(), synthetic16, tracker=b, progress=False)
    assert a.values() == b.values()
    c = Recorder()
    train(tiny(seed=1), synthetic16, tracker=c, progress=False)
    assert c.values() != a.values()


def test_metrics_are_logged_at_log_and_eval_points(synthetic16):
    rec = Recorder()
    train(tiny(), synthetic16, tracker=rec, progress=False)
    steps = [step for step, _ in rec.logged]
    assert steps == [10, 15, 20, 30]
    assert set(rec.logged[1][1]) == {
        "train_loss",
        "train_error",
        "lr",
        "images_per_sec",
        "val_loss",
        "val_error",
        "test_loss",
        "test_error",
    }
    assert "val_error" not in rec.logged[0][1]
    for _, metrics in rec.logged:
        assert all(0 <= metrics[k] <= 1 for k in metrics if k.endswith("_error"))


def test_a_loss_above_the_limit_ends_as_diverged_with_the_iteration(synthetic16, training_loss):
    # The detector is handed the loss of a blown-up run from iteration 7 on, so the outcome does
    # not hang on whether one CPU's kernels happen to diverge at a given lr.
    training_loss(lambda loss, step: loss * 1e3 if step >= 7 else loss)
    result = train(tiny(), synthetic16, progress=False)
    assert result.status == "diverged"
    assert "at iteration 7 (above the limit" in result.failure
    assert result.iterations <= 7 + HEALTH_CHECK_EVERY


def test_nan_loss_is_caught_as_non_finite(synthetic16, training_loss):
    training_loss(lambda loss, step: loss * float("nan") if step == 7 else loss)
    result = train(tiny(), synthetic16, progress=False)
    assert result.status == "diverged"
    assert "at iteration 7 (non-finite)" in result.failure


def test_an_overflow_in_the_optimizer_ends_as_diverged_not_a_crash(synthetic16, monkeypatch):
    # A weight decay beyond float32 (which the config's bounds refuse) makes torch's SGD raise
    # "value cannot be converted to type float without overflow" at its first step.
    import resnet.core.train as train_module

    real = train_module.make_optimizer
    monkeypatch.setattr(
        train_module,
        "make_optimizer",
        lambda params, lr, momentum, wd: real(params, lr, momentum, 1e39),
    )
    result = train(tiny(), synthetic16, progress=False)
    assert result.status == "diverged"
    assert result.failure.startswith("diverged: overflow at iteration 1 (")
    assert "without overflow" in result.failure


def test_float_settings_beyond_what_float32_carries_are_refused():
    for field, value in (("lr", 1e39), ("weight_decay", 1e300), ("error_warmup_lr", 1e7)):
        with pytest.raises(ValueError, match=rf"{field} must be in \S0, 1000000\]"):
            tiny(**{field: value})
    with pytest.raises(ValueError, match=r"divergence_factor must be in \(1, 1000000\]"):
        tiny(divergence_factor=1e300)


def test_evaluation_changes_neither_weights_nor_bn_statistics(synthetic16):
    result = train(tiny(iterations=10), synthetic16, progress=False)
    model = result.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    evaluate(model, synthetic16.val, synthetic16, tiny())
    assert model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_bf16_autocast_trains(synthetic16):
    # Evaluated at the end only: bf16 is emulated, and slow, on CPUs without AVX512-BF16.
    config = tiny(precision="bf16", iterations=60, eval_every=60)
    result = train(config, synthetic16, progress=False)
    assert result.finished and result.metrics["val_error"] < 0.5


def test_plain_and_residual_of_one_seed_share_initial_weights_and_batches(synthetic16, monkeypatch):
    import resnet.core.train as train_module

    seen = {}
    real = train_module.crop_flip

    def record(images, *args, **kwargs):
        seen.setdefault(current, []).append(images.clone())
        return real(images, *args, **kwargs)

    monkeypatch.setattr(train_module, "crop_flip", record)
    initial = {}
    for current in ("plain", "residual"):
        config = tiny(arch=current, iterations=8)
        initial[current] = train_module.build_model(config, synthetic16, torch.device("cpu"))
        train(config, synthetic16, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(seen["plain"], seen["residual"], strict=True))
    plain, residual = (initial[k].state_dict() for k in ("plain", "residual"))
    assert all(torch.equal(plain[k], residual[k]) for k in plain)


def test_schedules():
    step = base_multiplier(RunConfig(iterations=100, milestones=(50, 75)))
    assert [step(i) for i in (0, 49, 50, 74, 75, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    cosine = base_multiplier(RunConfig(iterations=100, schedule="cosine", warmup_iterations=10))
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(10) == pytest.approx(1.0) and cosine(55) == pytest.approx(0.5)
    assert cosine(99) < 0.001


def test_error_warmup_holds_the_small_lr_until_the_error_drops(synthetic16):
    rec = Recorder()
    config = tiny(
        depth=14,
        schedule="constant",
        warmup_iterations=0,
        error_warmup_lr=0.005,
        error_warmup_until=0.5,
        error_warmup_min_depth=14,
        iterations=100,
        log_every=10,
        eval_every=100,
    )
    train(config, synthetic16, tracker=rec, progress=False)
    logged = [(m["lr"], m["train_error"]) for _, m in rec.logged]
    switch = next(i for i, (lr, _) in enumerate(logged) if lr == pytest.approx(0.05))
    assert switch > 0, "the warm-up lr must come first"
    assert all(lr == pytest.approx(0.005) for lr, _ in logged[:switch])
    assert all(error >= 0.5 for _, error in logged[: switch - 1])  # still above the level
    assert all(lr == pytest.approx(0.05) for lr, _ in logged[switch:])  # and never back
    assert not dataclasses.replace(config, depth=8).uses_error_warmup


def test_every_distinct_net_is_compiled_and_trains_as_it_does_eager(synthetic16):
    """torch stops compiling a function after a few distinct graphs (8 by default) and runs
    the further ones eager, silently; a sweep has more distinct nets than that. Compiled, a net
    trains as it does eager and keeps its plain weight names."""
    from torch._dynamo.utils import counters

    before = counters["stats"]["unique_graphs"]
    compiled = []
    with torch._dynamo.config.patch(**{recompile_limit_name(): 1}):
        for arch, shortcut in (("plain", "A"), ("residual", "B")):  # compiled by no other test
            config = tiny(arch=arch, shortcut=shortcut, iterations=10, compile=True)
            compiled.append(train(config, synthetic16, progress=False))
    assert counters["stats"]["unique_graphs"] - before == 2
    eager = train(dataclasses.replace(config, compile=False), synthetic16, progress=False)
    result = compiled[-1]  # the residual net's, as the config above
    assert result.finished
    assert result.compile_seconds > 0 and eager.compile_seconds is None  # a run param
    assert list(result.model.state_dict()) == list(eager.model.state_dict())  # no _orig_mod.
    # Fused kernels round differently, so close rather than equal.
    assert result.metrics["val_loss"] == pytest.approx(eager.metrics["val_loss"], rel=0.05)
    assert RunConfig(compile=True).identity() == RunConfig().identity()


def test_on_a_gpu_the_compiled_model_replays_cuda_graphs(monkeypatch):
    modes = []
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: modes.append(mode) or model)
    for device in ("cuda", "cuda:1", "cpu"):
        compile_for_training(torch.nn.Linear(1, 1), torch.device(device))
    assert modes == ["reduce-overhead", "reduce-overhead", None]


def test_error_warmup_never_raises_the_lr():
    config = RunConfig(depth=110, lr=0.001, error_warmup_lr=0.01, error_warmup_min_depth=110)
    assert ErrorWarmup(config).factor == 1.0
    assert ErrorWarmup(dataclasses.replace(config, lr=0.1)).factor == pytest.approx(0.1)


def test_a_logged_loss_above_the_first_one_is_noted_as_unstable(
    synthetic16, training_loss, monkeypatch
):
    # From the 21st training step on, each loss reads 5 (chance is ln 10 = 2.3; the divergence
    # limit 23): a climb that no CPU's rounding can undo.
    training_loss(lambda loss, step: loss - loss.detach() + 5.0 if step > 20 else loss)
    rec = Recorder()
    config = tiny(iterations=40, log_every=5, eval_every=40)
    result = train(config, synthetic16, tracker=rec, progress=False)
    losses = [m["train_loss"] for _, m in rec.logged]
    step, loss = next((s, m["train_loss"]) for s, m in rec.logged if m["train_loss"] > losses[0])
    assert step == 25 and loss == pytest.approx(5.0)
    assert result.finished and not result.stable
    assert result.loss_rise == (
        f"training loss {loss:.4g} at iteration {step} above the first logged {losses[0]:.4g}"
    )
    monkeypatch.undo()  # the trainer's own losses again
    assert train(tiny(), synthetic16, progress=False).stable


@pytest.mark.parametrize(
    ("precision", "device", "expected"),
    [("fp32", "cuda", "ieee"), ("bf16", "cuda", "tf32"), ("fp32", "cpu", "ieee")],
)
def test_fp32_means_fp32_on_every_device(precision, device, expected):
    # Set without a GPU: the flags are PyTorch's process-wide settings, read by cuDNN and cuBLAS.
    saved = (
        torch.backends.cuda.matmul.fp32_precision,
        torch.backends.cudnn.conv.fp32_precision,
        torch.backends.mkldnn.fp32_precision,
    )
    try:
        assert set_fp32_math(precision, torch.device(device)) == expected
        if device == "cuda":
            assert torch.backends.cuda.matmul.fp32_precision == expected
            assert torch.backends.cudnn.conv.fp32_precision == expected
        else:
            assert torch.backends.mkldnn.fp32_precision == expected
    finally:
        (
            torch.backends.cuda.matmul.fp32_precision,
            torch.backends.cudnn.conv.fp32_precision,
            torch.backends.mkldnn.fp32_precision,
        ) = saved


def test_compiling_on_a_cpu_says_nothing_of_a_missing_cuda_runtime(tmp_path):
    """torch warns 'No CUDA runtime is found' when its C++ extension tools load beside a CUDA
    toolkit folder without a GPU, as compiling for the CPU makes them; the warning is a check
    that the folder exists, shown here by a toolkit folder of our own."""
    script = (
        "import torch\n"
        "from resnet.core.step import quiet_about_a_missing_cuda_runtime\n"
        "{quiet}"
        "import torch.utils.cpp_extension\n"
    )
    env = {**os.environ, "CUDA_HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).parents[1])}
    said = {}
    for quiet in (False, True):
        code = script.format(quiet="quiet_about_a_missing_cuda_runtime()\n" if quiet else "")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        said[quiet] = "No CUDA runtime is found" in done.stderr
    assert said == {False: True, True: False}
