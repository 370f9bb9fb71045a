"""`python -m analysis.report --experiment NAME`: figures, table and verdict of a sweep.

Writes reports/<experiment>/ (report.md, table.csv, cells.csv, figures/*.png and *.svg) and logs
the same files under `report/` to the sweep's parent run, so they show in the MLflow UI. The
report itself is `analysis.reporting`; this is its command line, which answers --help and a bad
flag before pandas, matplotlib or MLflow load.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from analysis.flag_checks import check_margin, check_out, checked_then_run
from resnet.command_line import InputError, OneLineParser, bad_input, tolerant_output
from resnet.paths import PathError, escaped, shown
from resnet.tracking.address import AddressError, masked
from resnet.tracking.schema import DEFAULT_TRACKING_URI, Metric

PROG = "analysis.report"
EVAL_METRICS = (Metric.TEST_ERROR, Metric.VAL_ERROR)
EXIT_INTERRUPTED = 130
AS_IT_WAS = "a report is swapped in whole or not at all (the one there, if any, is as it was)"


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m analysis.report",
        description="Draw the figures, table and verdict of a depth sweep from MLflow.",
    )
    p.add_argument(
        "--experiment", required=True, help="MLflow experiment, e.g. depth-quick-fashion-mnist"
    )
    p.add_argument(
        "--tracking-uri",
        help=f"MLflow tracking URI (default: MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI})",
    )
    p.add_argument("--sweep-run", help="the sweep's parent run id (default: the newest sweep)")
    p.add_argument("--out", default="reports", help="folder for reports (default: reports)")
    p.add_argument(
        "--eval-metric",
        default=Metric.TEST_ERROR,
        choices=EVAL_METRICS,
        help="the solid curves of the figures (default: test_error)",
    )
    p.add_argument(
        "--margin",
        type=float,
        help="the verdict's margin in points of training error (default: the sweep's own)",
    )
    p.add_argument("--no-log", action="store_true", help="do not log the report to MLflow")
    return p


def checked_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The flags, each checked before the store is read."""
    args = make_parser().parse_args(argv)
    check_margin(args.margin)
    check_out(args.out, "reports")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return checked_then_run(PROG, argv, checked_args, write)


def write(args: argparse.Namespace) -> int:
    """The report the checked flags ask for; the exit code."""
    try:
        from analysis.collect import CollectError  # pandas, matplotlib and MLflow from here
        from analysis.reporting import ReportOptions, print_written, write_report

        options = ReportOptions(args.eval_metric, log=not args.no_log, margin=args.margin)
        written = write_report(
            args.experiment, args.tracking_uri, args.sweep_run, args.out, options
        )
    except (InputError, CollectError, AddressError, PathError) as exc:
        return bad_input(PROG, masked(str(exc)))
    except OSError as exc:  # a full disk, a folder turned read-only: nothing half-written
        return failed(f"{os_error_line(exc)}; {AS_IT_WAS}")
    except KeyboardInterrupt:
        return failed(f"interrupted; {AS_IT_WAS}", EXIT_INTERRUPTED)
    print_written(written)
    return 0


def os_error_line(exc: OSError) -> str:
    """What the file system refused, in one line: its reason and the path it refused."""
    reason = exc.strerror or type(exc).__name__
    where = f" ({shown(exc.filename)})" if exc.filename else ""
    return f"the report could not be written: {reason}{where}"


def failed(message: str, code: int = 1) -> int:
    """One line on stderr (a password hidden, control characters escaped): the exit code."""
    print(f"{PROG}: error: {escaped(masked(message))}", file=sys.stderr)
    return code


if __name__ == "__main__":
    tolerant_output()
    sys.exit(main())
