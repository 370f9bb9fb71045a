"""Command line of the benchmark: validate, measure, print the table, optionally write JSON.
The flags are checked before torch loads (the benchmark's modules are imported where first
needed), so that --help and a bad value answer at once."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from resnet.cli.common import (
    check_device,
    check_json_path,
    check_names,
    check_range,
    check_run_fields,
)
from resnet.command_line import (
    InputError,
    OneLineParser,
    bad_input,
    comma_list,
    tolerant_output,
)
from resnet.core.allocator import keep_freed_memory
from resnet.core.bounds import (
    MAX_BATCH,
    MAX_GENERATED_IMAGES,
    MAX_ITERATIONS,
    MAX_PROCESSES,
)
from resnet.core.datasets import CIFAR_TRAIN_IMAGES as TRAIN_IMAGES
from resnet.core.device import DEVICES, device_name, resolve_device
from resnet.core.precision import (
    concrete_precision,
    slow_precision_warning,
)

if TYPE_CHECKING:
    from resnet.bench.benchmark import BenchCase, Measured

LOADER_WORKERS = min(8, os.cpu_count() or 1)  # as a reproduction on this machine would set it


def make_parser() -> OneLineParser:
    p = OneLineParser(
        prog="benchmark.py",
        description="Images/s of (a) the bare training step, (b) our full training loop and "
        "(c) the usual PIL + DataLoader pipeline (fp32), interleaved in rounds, on generated "
        "CIFAR-shaped data.",
    )
    p.add_argument("--archs", type=comma_list(str, "--archs"), default=["residual"])
    p.add_argument("--depths", type=comma_list(int, "--depths"), default=[20, 56])
    p.add_argument(
        "--precision",
        default="auto",
        help="of (a) and (b): fp32, bf16, or auto (default: bf16 where the device has it natively)",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default="auto", help=f"{DEVICES} (default: auto)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median reported)")
    p.add_argument("--steps", type=int, default=20, help="training steps per round and kind")
    p.add_argument(
        "--workers",
        type=int,
        default=LOADER_WORKERS,
        help="DataLoader workers of the reference pipeline (default: one per CPU core, at "
        f"most 8: {LOADER_WORKERS} here)",
    )
    p.add_argument("--no-channels-last", action="store_true", help="(a) and (b) in NCHW")
    p.add_argument("--compile", action="store_true", help="torch.compile (a) and (b)")
    p.add_argument(
        "--variants",
        action="store_true",
        help="(a) and (b) eager and compiled, each channels-last and NCHW, side by side in one "
        "run (instead of --compile and --no-channels-last)",
    )
    p.add_argument(
        "--default-malloc",
        action="store_true",
        help="leave glibc's malloc thresholds as they are, to measure what fixing them gains",
    )
    p.add_argument(
        "--images",
        type=int,
        default=TRAIN_IMAGES,
        help=f"generated training images (default: {TRAIN_IMAGES}, as CIFAR-10's split)",
    )
    p.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    return p


def checked_args(args) -> None:
    """Every flag that can be checked without torch."""
    check_range("--batch-size", args.batch_size, 1, MAX_BATCH)
    check_range("--rounds", args.rounds, 1, MAX_ITERATIONS)
    check_range("--steps", args.steps, 1, MAX_ITERATIONS)
    check_range("--images", args.images, 1, MAX_GENERATED_IMAGES)
    check_range("--workers", args.workers, 0, MAX_PROCESSES)
    check_names(args.device, args.precision)
    for flag, values in (("--archs", args.archs), ("--depths", args.depths)):
        if len(set(values)) != len(values):  # the results are keyed by (arch, depth)
            raise InputError(f"{flag} has repeated values: {values} (each net is timed once)")
    for arch in args.archs:
        for depth in args.depths:
            check_run_fields(arch=arch, depth=depth)
    variants_of(args)
    if args.batch_size > args.images:
        raise InputError(f"--batch-size {args.batch_size} exceeds the {args.images} images")
    if args.json is not None:
        check_json_path(args.json)


def cases_from_args(args) -> list[BenchCase]:
    """The nets to time; the flags checked first, then the device (torch from here)."""
    from resnet.bench.benchmark import BenchCase

    checked_args(args)
    check_device(args.device)
    args.precision = concrete_precision(args.precision, resolve_device(args.device))
    cases = []
    for arch in args.archs:
        for depth in args.depths:
            check_run_fields(arch=arch, depth=depth, precision=args.precision)
            base = BenchCase(arch, depth, args.precision, args.batch_size, args.device)
            cases += [replace(base, channels_last=c, compile=k) for k, c in variants_of(args)]
    return cases


def variants_of(args) -> list[tuple[bool, bool]]:
    """(compile, channels_last) of each case of a net: the four with --variants."""
    if args.variants:
        if args.compile or args.no_channels_last:
            raise InputError(
                "--variants times every layout and compilation; drop --compile and "
                "--no-channels-last"
            )
        return [(False, True), (False, False), (True, True), (True, False)]
    return [(args.compile, not args.no_channels_last)]


def machine() -> dict[str, str]:
    import torch

    device = resolve_device("auto")
    return {
        "device": device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "cpu_cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def set_malloc(default: bool) -> str:
    """Keep freed memory as `depth_sweep.py` does unless `default`; says which one holds."""
    return "freed memory kept" if not default and keep_freed_memory() else "default"


def rows(results: list[Measured], peak: float) -> list[dict]:
    from resnet.bench.benchmark import KINDS

    table = []
    for m in results:
        ips = {kind: m.ips(kind) for kind in KINDS}
        trainer_flops = ips["trainer"] * m.train_flops_per_image
        table.append(
            {
                "config": m.case.name,
                "step_ips": ips["step"],
                "trainer_ips": ips["trainer"],
                "reference_ips": ips["reference"],
                "trainer_vs_step": ips["trainer"] / ips["step"],
                "trainer_vs_reference": ips["trainer"] / ips["reference"],
                "train_gflops_per_image": m.train_flops_per_image / 1e9,
                "trainer_tflops": trainer_flops / 1e12,
                "trainer_fraction_of_peak": trainer_flops / peak,
            }
        )
    return table


def print_table(table: list[dict], peak: float, precision: str) -> None:
    print(
        "\n| config | (a) step img/s | (b) trainer img/s | (c) reference img/s (fp32) | "
        "(b)/(a) | (b)/(c) | (b) TFLOP/s | (b) / peak |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print(
            f"| {r['config']} | {r['step_ips']:.0f} | {r['trainer_ips']:.0f} | "
            f"{r['reference_ips']:.0f} | {r['trainer_vs_step']:.2f} | "
            f"{r['trainer_vs_reference']:.2f} | {r['trainer_tflops']:.3f} | "
            f"{100 * r['trainer_fraction_of_peak']:.1f} % |"
        )
    print(
        f"\npeak: {peak / 1e12:.3f} TFLOP/s, measured with {precision} 2048x2048 matmuls; "
        "training FLOPs per image = 3 x forward MACs x 2"
    )


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as a command: its terminal may not take every character
        tolerant_output()
    try:
        args = make_parser().parse_args(argv)
        checked_args(args)  # before torch loads
        cases = cases_from_args(args)
    except InputError as exc:
        return bad_input("benchmark.py", str(exc))
    from resnet.bench.benchmark import BenchPlan, measure, peak_flops

    warning = slow_precision_warning(resolve_device(args.device), args.precision)
    if warning:
        print(warning, file=sys.stderr)
    info = machine() | {"malloc": set_malloc(args.default_malloc)}
    print(", ".join(f"{k}: {v}" for k, v in info.items()), file=sys.stderr)
    plan = BenchPlan(args.rounds, args.steps, args.workers, images=args.images)
    results = measure(cases, plan, report=lambda line: print(line, file=sys.stderr))
    peak = peak_flops(resolve_device(args.device), args.precision)
    table = rows(results, peak)
    print_table(table, peak, args.precision)
    if args.json is not None:
        body = {
            "machine": info,
            "command": "python experiments/benchmark.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "peak_flops": peak,
            "rounds": args.rounds,
            "steps": args.steps,
            "results": {r["config"]: r for r in table},
        }
        args.json.write_text(json.dumps(body, indent=2))
    return 0
