"""`python -m analysis.compare SOURCE SOURCE ...`: several sweeps side by side.

A SOURCE is an MLflow experiment (its newest sweep), EXPERIMENT@SWEEP_RUN_ID, or a CSV export
of a sweep's cells (a report's cells.csv); LABEL=SOURCE names it in the tables and figures.
Writes reports/compare/ (report.md, table.csv, figures/). The comparison itself is
`analysis.comparison`; this command line answers --help and a bad flag before it loads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.flag_checks import check_margin, check_out, checked_then_run
from analysis.sources import parse_source
from resnet.command_line import InputError, OneLineParser, bad_input, tolerant_output
from resnet.tracking.address import AddressError, masked
from resnet.tracking.schema import DEFAULT_TRACKING_URI

PROG = "analysis.compare"


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m analysis.compare",
        description="Several depth sweeps side by side: verdicts, penalties with their "
        "intervals, error against depth, and which sweeps agree.",
    )
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="an MLflow experiment, EXPERIMENT@SWEEP_RUN_ID or a sweep's cells.csv; "
        "LABEL=SOURCE names it, SOURCE#0,1,2 keeps those seeds only",
    )
    p.add_argument(
        "--tracking-uri",
        help=f"MLflow tracking URI (default: MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI})",
    )
    p.add_argument("--out", default="reports/compare", help="folder (default: reports/compare)")
    p.add_argument(
        "--margin", type=float, help="the verdict's margin in points (default: the verdict's own)"
    )
    return p


def checked_args(argv: Sequence[str] | None) -> argparse.Namespace:
    args = make_parser().parse_args(argv)
    if len(args.sources) < 2:
        raise InputError(f"give two sources or more to compare, got {len(args.sources)}")
    check_margin(args.margin)
    for source in map(parse_source, args.sources):
        if source.is_csv and not Path(source.spec).is_file():
            raise InputError(f"{source.spec}: no such CSV file")
    check_out(args.out, "reports/compare")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return checked_then_run(PROG, argv, checked_args, compare_sweeps)


def compare_sweeps(args: argparse.Namespace) -> int:
    """The comparison the checked flags ask for; the exit code."""
    try:
        from analysis.collect import CollectError  # pandas, matplotlib and MLflow from here
        from analysis.comparison import agreement_lines, compare, write_comparison
        from analysis.effects import DEFAULT_MARGIN

        margin = DEFAULT_MARGIN if args.margin is None else args.margin
        judged = compare(args.sources, args.tracking_uri, margin)
    except (InputError, CollectError, AddressError) as exc:
        return bad_input(PROG, masked(str(exc)))
    path = write_comparison(judged, Path(args.out), margin)
    print("\n".join(agreement_lines(judged)))
    print(f"Comparison (table, figures, agreement): {path}")
    return 0


if __name__ == "__main__":
    tolerant_output()
    sys.exit(main())
