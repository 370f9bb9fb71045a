"""The command lines answer --help and bad input before torch, MLflow, Optuna or pandas load:
each case runs in a fresh interpreter, which then lists the heavy modules it imported."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "mlflow", "optuna", "pandas")
REPORT = f"""
print("HEAVY:" + ",".join(m for m in {HEAVY!r} if m in sys.modules), "CODE:" + str(code))
"""


def heavy_after(code: str) -> tuple[list[str], str]:
    """The heavy modules imported by `code`, which sets `code` to an exit code, and that code."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code + REPORT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    heavy, exit_code = done.stdout.strip().splitlines()[-1].split(" CODE:")
    return [m for m in heavy.removeprefix("HEAVY:").split(",") if m], exit_code


def command(module: str, argv: list[str]) -> str:
    return f"""
from {module} import main
try:
    code = main({argv!r})
except SystemExit as exit:
    code = exit.code
"""


SWEEP_BAD_INPUT = [
    ["--depths", "21"],
    ["--lr", "-1"],
    ["--preset", "no-such-preset"],
    ["--archs", "plain,nonet"],
    ["--dataset", "mnist"],
    ["--precision", "fp16"],
    ["--device", "tpu"],
    ["--tune", "--use-tuned"],
    ["--trials", "3"],
    ["--partition", "gpu"],
    ["--tracking-uri", "postgresql://user:secret@host/db"],
    ["--tracking-uri", "sqlite:///mlruns/mlflow.db#part"],
    ["--storage", "mysql://user:secret@host/db"],
]


REPORT_BAD_INPUT = [["--experiment", "x", "--margin", "200"], ["--experiment", "x", "--out", ""]]
BENCHMARK_BAD_INPUT = [
    ["--depths", "21"],
    ["--device", "tpu"],
    ["--precision", "fp16"],
    ["--steps", "0"],
]
THROUGHPUT_BAD_INPUT = [["--workers", "0"], ["--depth", "21"], ["--precision", "fp16"]]
COMPARE_BAD_INPUT = [["docs/quick-study/cells.csv"], ["a.csv", "b.csv#x"]]
CASES = [
    (module, argv)
    for module, bad in (
        ("resnet.cli.sweep", SWEEP_BAD_INPUT),
        ("analysis.report", REPORT_BAD_INPUT),
        ("resnet.cli.benchmark", BENCHMARK_BAD_INPUT),
        ("resnet.cli.throughput", THROUGHPUT_BAD_INPUT),
        ("analysis.compare", COMPARE_BAD_INPUT),
    )
    for argv in [["--help"], *bad]
]


@pytest.mark.parametrize(("module", "argv"), CASES)
def test_each_command_answers_before_the_heavy_imports(module, argv):
    heavy, code = heavy_after(command(module, argv))
    assert code == ("0" if argv == ["--help"] else "2")
    assert heavy == []


def test_the_probe_sees_a_heavy_import():
    """A valid sweep's settings make "auto" precision concrete, which asks torch."""
    settings = """
from resnet.cli.sweep import make_parser, settings_from_args
settings_from_args(make_parser().parse_args(["--precision", "auto"]))
code = 0
"""
    heavy, code = heavy_after(settings)
    assert code == "0" and "torch" in heavy
