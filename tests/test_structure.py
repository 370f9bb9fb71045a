"""The package's architecture, kept: imports run down the layers, core stays free of the tools
above it, and functions stay small. No exceptions: a rule that needs one is the wrong rule."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60
# A ceiling, not a target: data that travels together goes in a small typed object
# (SweepJob, Stores, SweepOptions, Ready) long before a function reaches it.
MAX_PARAMS = 7
# What each layer may import (besides itself); see the layout map in docs/CONTRIBUTING.md.
ALLOWED = {
    "resnet.command_line": {"resnet.paths"},
    "resnet.paths": set(),
    "resnet.core": {"resnet.paths"},
    "resnet.tracking": {"resnet.core", "resnet.paths"},
    "resnet.runner": {"resnet.core", "resnet.tracking", "resnet.paths"},
    "resnet.bench": {"resnet.core", "resnet.tracking", "resnet.runner"},
    "resnet.cli": {
        "resnet.command_line",
        "resnet.paths",
        "resnet.core",
        "resnet.tracking",
        "resnet.runner",
        "resnet.bench",
        "analysis",
    },
    "analysis": {
        "resnet.command_line",
        "resnet.paths",
        "resnet.core.bounds",  # the margin's default and range, the sweep's own
        "resnet.tracking.schema",
        "resnet.tracking.address",
        "resnet.tracking.client",
        "resnet.tracking.database",
        "resnet.tracking.liveness",
    },
    "experiments": {"resnet.cli", "resnet.core.startup"},
    "scripts": {"resnet.core", "resnet.tracking", "resnet.runner", "analysis"},
}
# What core, which trains one net, must never know of: the tracking, the queue, the shell.
FORBIDDEN_IN_CORE = ("mlflow", "optuna", "argparse")


def source_files() -> list[Path]:
    folders = ("resnet", "analysis", "experiments", "scripts")
    return sorted(p for folder in folders for p in ROOT.joinpath(folder).rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def layer_of(module: str) -> str | None:
    """The layer a module belongs to: the longest ALLOWED key it falls under."""
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def absolute(node: ast.ImportFrom, importer: str) -> str:
    """The module an import names, with a relative one (`from . import x`) resolved."""
    if node.level == 0:
        return node.module or ""
    package = importer.split(".")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])


def imports(tree: ast.AST, importer: str) -> list[str]:
    """Every module a file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node, importer)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def project_imports(tree: ast.AST, importer: str) -> list[str]:
    return [m for m in imports(tree, importer) if m.split(".")[0] in ("resnet", "analysis")]


def allowed(importer: str, imported: str) -> bool:
    layer = layer_of(importer)
    if layer_of(imported) == layer or imported in ("resnet", "analysis"):
        return True
    return any(imported == a or imported.startswith(a + ".") for a in ALLOWED[layer])


def test_every_module_belongs_to_a_layer():
    stray = [module_name(p) for p in source_files() if layer_of(module_name(p)) is None]
    assert stray == ["resnet.__init__"]


def test_imports_only_go_down_the_layers():
    wrong = []
    for path in source_files():
        importer = module_name(path)
        if layer_of(importer) is None:
            continue
        for imported in project_imports(ast.parse(path.read_text()), importer):
            if not allowed(importer, imported):
                wrong.append(f"{importer} imports {imported}")
    assert wrong == []


def test_core_knows_no_tracking_queue_or_command_line():
    found = []
    for path in ROOT.joinpath("resnet", "core").rglob("*.py"):
        importer = module_name(path)
        for imported in imports(ast.parse(path.read_text()), importer):
            if imported.split(".")[0] in FORBIDDEN_IN_CORE:
                found.append(f"{importer} imports {imported}")
    assert found == []


def test_no_module_names_the_command_line_package_outside_the_commands():
    """Not even as a string (a subprocess's `-m resnet.cli...`): workers start through the
    runner's own entry point."""
    named = [
        module_name(p)
        for p in source_files()
        if "resnet.cli" in p.read_text()
        and layer_of(module_name(p)) not in ("resnet.cli", "experiments")
    ]
    assert named == []


@pytest.mark.parametrize(
    ("importer", "imported", "ok"),
    [
        ("resnet.core.train", "resnet.tracking.store.Store", False),
        ("resnet.tracking.store", "resnet.runner.sweep.run_sweep", False),
        ("resnet.runner.sweep", "resnet.cli.common.InputError", False),
        ("resnet.bench.benchmark", "resnet.cli.sweep.main", False),
        ("analysis.collect", "resnet.core.models", False),
        ("analysis.collect", "resnet.tracking.schema.Tag", True),
        ("analysis.report", "resnet.command_line.OneLineParser", True),
        ("resnet.cli.sweep", "analysis.reporting.write_report", True),
        ("scripts.choose_quick_preset", "resnet.cli.sweep.main", False),
        ("experiments.depth_sweep", "resnet.cli.sweep.main", True),
    ],
)
def test_the_layer_check_itself_tells_right_from_wrong(importer, imported, ok):
    assert allowed(importer, imported) is ok


def test_relative_imports_are_resolved():
    tree = ast.parse("from . import store\nfrom ..core.config import RunConfig\n")
    assert imports(tree, "resnet.tracking.client") == [
        "resnet.tracking.store",
        "resnet.core.config.RunConfig",
    ]


def oversized(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        a = node.args
        params = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
        params = [p for p in params if p not in ("self", "cls")]
        lines = node.end_lineno - node.lineno + 1
        if lines > MAX_LINES or len(params) > MAX_PARAMS:
            found.append(f"{module_name(path)}.{node.name}: {lines} lines, {len(params)} params")
    return found


def test_functions_are_short_and_take_few_arguments():
    assert [f for path in source_files() for f in oversized(path)] == []


def test_the_metrics_training_logs_are_named_in_the_schema(synthetic16):
    """The names training logs (resnet/core/metrics.py) are those the schema gives."""
    from resnet.core.config import RunConfig
    from resnet.core.train import train
    from resnet.tracking.schema import Metric

    logged = set()

    class Names:
        def log_metrics(self, metrics: dict[str, float], step: int) -> None:
            logged.update(metrics)

    config = RunConfig(
        depth=8,
        dataset="synthetic",
        image_size=16,
        iterations=4,
        batch_size=16,
        log_every=2,
        eval_every=4,
        device="cpu",
        schedule="constant",
    )
    train(config, synthetic16, Names(), progress=False)
    named = {getattr(Metric, k) for k in dir(Metric) if k.isupper()}
    assert logged and logged <= named, logged - named
