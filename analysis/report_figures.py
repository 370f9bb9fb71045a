"""A report's figures: every one the data allows, drawn and saved (PNG and SVG), and the
report's section that shows them, each under its title."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from analysis import figures
from analysis.collect import Study
from analysis.frames import arch_order
from analysis.search_figure import search_figure
from analysis.stats import Contrast
from resnet.tracking.schema import RESPONSES_FILE, Metric


def draw(study: Study, eval_metric: str, contrasted: Contrast | None = None) -> dict[str, Figure]:
    """Every figure the data allows, by file stem."""
    drawn = {
        "curves": figures.curves_figure(study.curves, eval_metric),
        "error_vs_depth": figures.depth_figure(study.cells, contrasted),
    }
    for arch in arch_order(study.finished):
        if study.finished[study.finished["arch"] == arch]["depth"].nunique() >= 2:
            drawn[f"{arch}_shallow_vs_deep"] = figures.shallow_deep_figure(
                study.curves, arch, eval_metric
            )
    if not study.tuning.empty:
        drawn["tuning"] = figures.tuning_figure(study.tuning, study.trials, study.tuned_params)
        if study.tuned_params and not study.trials.empty:
            drawn["search"] = search_figure(
                study.trials, study.tuning, study.tuned_params, study.space
            )
    if not study.responses.empty:
        drawn["layer_responses"] = figures.responses_figure(study.responses)
    return drawn


def save_figures(drawn: dict[str, Figure], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, fig in drawn.items():
        for suffix in (".png", ".svg"):
            path = folder / f"{stem}{suffix}"
            fig.savefig(path, dpi=150 if suffix == ".png" else None)
            paths.append(path)
    return paths


def figure_lines(drawn: dict[str, Figure], eval_metric: str) -> list[str]:
    lines = ["## Figures", ""]
    for stem in drawn:
        lines += [
            f"### {figure_title(stem, eval_metric)}",
            "",
            f"![{stem}](figures/{stem}.png)",
            "",
        ]
        if stem == "layer_responses":
            lines += [RESPONSES_NOTE, ""]
    return lines


def figure_title(stem: str, eval_metric: str) -> str:
    solid = "validation" if eval_metric == Metric.VAL_ERROR else "test"
    arch = stem.removesuffix("_shallow_vs_deep")
    titles = {
        "curves": f"Training (dashed) and {solid} (solid) error against iterations (Figure 6)",
        "error_vs_depth": "Final training and test error against depth",
        "tuning": "Tuning: best values and trials",
        "search": "Each study's trials, coloured by validation error (ringed: untuned; star: "
        "chosen; cross: pruned or failed)",
        "layer_responses": "Standard deviation of layer responses (Figure 7)",
        f"{arch}_shallow_vs_deep": f"{arch} nets, 20 vs 56 layers or shallowest vs deepest"
        + (" (Figure 1)" if arch == "plain" else ""),
    }
    return titles.get(stem, stem)


RESPONSES_NOTE = (
    f"Each finished run logs `{RESPONSES_FILE}` when training ends: the std of every 3x3 "
    "layer's output after BN and before the addition and ReLU, over a fixed sample of "
    "validation images (training images without a validation split), in eval mode (BN running "
    "statistics) and fp32. Lines are the mean over seeds; "
    "dashed lines are plain nets."
)
