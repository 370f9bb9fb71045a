"""The package's architecture, kept: imports run down the layers, and functions stay small."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES, MAX_PARAMS = 60, 6
# What each layer may import (besides itself); see the layout map in docs/CONTRIBUTING.md.
ALLOWED = {
    "resnet.core": set(),
    "resnet.tracking": {"resnet.core"},
    "resnet.runner": {"resnet.core", "resnet.tracking"},
    "resnet.cli": {"resnet.core", "resnet.tracking", "resnet.runner", "resnet.bench", "analysis"},
    "resnet.bench": {"resnet.core", "resnet.tracking", "resnet.runner", "resnet.cli"},
    "analysis": {"resnet.tracking.schema", "resnet.tracking.address"},
}


def source_files() -> list[Path]:
    return sorted(
        [*ROOT.joinpath("resnet").rglob("*.py"), *ROOT.joinpath("analysis").rglob("*.py")]
    )


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def layer_of(module: str) -> str | None:
    """The layer a module belongs to: the longest ALLOWED key it falls under."""
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def project_imports(tree: ast.AST) -> list[str]:
    """Every project module a file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return [m for m in found if m.split(".")[0] in ("resnet", "analysis")]


def allowed(importer: str, imported: str) -> bool:
    layer = layer_of(importer)
    if layer_of(imported) == layer or imported in ("resnet", "analysis"):
        return True
    return any(imported == a or imported.startswith(a + ".") for a in ALLOWED[layer])


def test_every_module_belongs_to_a_layer():
    stray = [module_name(p) for p in source_files() if layer_of(module_name(p)) is None]
    assert stray in ([], ["resnet.__init__"])


def test_imports_only_go_down_the_layers():
    wrong = []
    for path in source_files():
        importer = module_name(path)
        if layer_of(importer) is None:
            continue
        for imported in project_imports(ast.parse(path.read_text())):
            if not allowed(importer, imported):
                wrong.append(f"{importer} imports {imported}")
    assert wrong == []


@pytest.mark.parametrize(
    ("importer", "imported", "ok"),
    [
        ("resnet.core.train", "resnet.tracking.store.Store", False),
        ("resnet.tracking.store", "resnet.runner.sweep.run_sweep", False),
        ("resnet.runner.sweep", "resnet.cli.common.InputError", False),
        ("analysis.collect", "resnet.core.models", False),
        ("analysis.collect", "resnet.tracking.schema.Tag", True),
        ("resnet.cli.sweep", "analysis.report.write_report", True),
    ],
)
def test_the_layer_check_itself_tells_right_from_wrong(importer, imported, ok):
    assert allowed(importer, imported) is ok


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
    """core/ cannot import the schema, so the names it logs are checked against it here."""
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
    named = {v for k, v in vars(Metric).items() if k.isupper()}
    assert logged and logged <= named, logged - named
