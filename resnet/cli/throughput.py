"""Command line of the worker-throughput benchmark: validate, measure each worker count, print
the table, optionally write JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

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
from resnet.core.bounds import MAX_CELLS, MAX_ITERATIONS, MAX_PROCESSES
from resnet.core.device import DEVICES, device_name, resolve_device
from resnet.core.precision import concrete_precision

SWEEP = [sys.executable, "-m", "resnet.cli.sweep"]  # experiments/depth_sweep.py's command


def make_parser() -> OneLineParser:
    p = OneLineParser(
        prog="worker_throughput.py",
        description="Sweep throughput (training images/s over all cells) with several worker "
        "processes sharing one device.",
    )
    p.add_argument("--workers", type=comma_list(int, "--workers"), default=[1, 2, 4, 8])
    p.add_argument("--arch", default="residual")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--cells", type=int, default=16, help="seeds of the net: the cells to run")
    p.add_argument("--iterations", type=int, default=500, help="per cell")
    p.add_argument("--precision", default="auto", help="fp32, bf16 or auto (default)")
    p.add_argument("--device", default="auto", help=f"{DEVICES} (default: auto)")
    p.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    return p


def checked_flags(args) -> None:
    """Every flag that can be checked without torch (the device's name, not whether it is
    there; a precision by name, "auto" later)."""
    for workers in args.workers:
        check_range("--workers", workers, 1, MAX_PROCESSES)
    check_range("--cells", args.cells, 1, MAX_CELLS)
    check_range("--iterations", args.iterations, 4, MAX_ITERATIONS)
    check_names(args.device, args.precision)
    check_run_fields(arch=args.arch, depth=args.depth)
    if args.json is not None:
        check_json_path(args.json)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as a command: its terminal may not take every character
        tolerant_output()
    try:
        args = make_parser().parse_args(argv)
        checked_flags(args)
        check_device(args.device)  # torch from here
        device = resolve_device(args.device)
        precision = concrete_precision(args.precision, device)
        check_run_fields(arch=args.arch, depth=args.depth, precision=precision)
    except InputError as exc:
        return bad_input("worker_throughput.py", str(exc))
    from resnet.bench.throughput import measure, table  # MLflow and torch from here

    print(
        f"{args.arch}-{args.depth}, {args.cells} cells of {args.iterations} iterations, "
        f"{args.precision}, on {device_name(device)}",
        file=sys.stderr,
    )
    rows = []
    for workers in args.workers:
        rows.append(measure(args, workers, SWEEP))
        print(f"workers {workers}: {rows[-1]['images_per_sec']:,.0f} images/s", file=sys.stderr)
    print(table(rows))
    if args.json:
        report = {
            "device": device_name(device),
            "config": vars(args) | {"json": None},
            "results": rows,
        }
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0
