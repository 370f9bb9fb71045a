"""`precision = "auto"`: bf16 autocast where the hardware runs it natively, fp32 elsewhere.

On a CPU without AVX512-BF16 or AMX (most AVX2 laptops and servers), oneDNN emulates bf16, and
a ResNet-20 training step ran 11 times slower in bf16 than in fp32 on a 2-core AVX2 CPU (29
against 318 images/s); with AVX512-BF16 it ran 1.9 times faster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: a bad precision is refused before torch loads
    import torch

AUTO = "auto"
PRECISIONS = ("fp32", "bf16")  # what a run computes in; AUTO is made one of them before it runs


def precision_problem(name: object) -> str | None:
    """Why `name` is not a precision a run can compute in, or None."""
    if name in PRECISIONS:
        return None
    return f"unknown precision {name!r} (allowed: fp32, bf16, auto)"


def concrete_precision(name: str, device: torch.device) -> str:
    """AUTO made concrete for `device`; any other name as it is."""
    return native_precision(device)[0] if name == AUTO else name


def native_precision(device: torch.device) -> tuple[str, str]:
    """The faster of bf16 and fp32 on `device`, and why, e.g. ("fp32", "no AVX512-BF16 or AMX")."""
    import torch

    if device.type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False):
            return "bf16", "the GPU has bf16"
        return "fp32", "the GPU has no native bf16"
    if device.type == "cpu":
        if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
            return "bf16", "the CPU has AVX512-BF16 or AMX"
        return "fp32", "the CPU has no AVX512-BF16 or AMX, so bf16 would be emulated and slower"
    return "fp32", f"bf16 is not tuned for {device.type} here"


def slow_precision_warning(device: torch.device, precision: str) -> str | None:
    """A warning for bf16 asked for on a CPU that only emulates it, else None."""
    if precision == "bf16" and device.type == "cpu" and native_precision(device)[0] == "fp32":
        return (
            "warning: bf16 is emulated on this CPU (no AVX512-BF16 or AMX) and runs many times "
            "slower than fp32; --precision auto picks the faster one"
        )
    return None


def fp32_math(precision: str, device: torch.device) -> str:
    """How float32 matrix products and convolutions compute: "ieee" (true fp32) for an fp32
    run on every device, since on GPUs cuDNN's convolutions default to TF32 (a 10-bit
    mantissa); a bf16 run computes its convolutions in bf16 under autocast and lets the fp32
    math left outside it use TF32 on CUDA ("tf32"), as PyTorch's convolutions do by default."""
    return "tf32" if precision == "bf16" and device.type == "cuda" else "ieee"


def set_fp32_math(precision: str, device: torch.device) -> str:
    """Set PyTorch's fp32 precision flags for a run; the setting, as runs record it."""
    import torch

    setting = fp32_math(precision, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.fp32_precision = setting
        torch.backends.cudnn.conv.fp32_precision = setting
    else:  # oneDNN may otherwise be allowed to compute fp32 in bf16 or TF32
        torch.backends.mkldnn.fp32_precision = setting
    return setting
