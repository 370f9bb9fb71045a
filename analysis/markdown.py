"""Markdown tables from pandas frames, without extra dependencies."""

from __future__ import annotations

import math

import pandas as pd


def cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, headers: dict[str, str] | None = None) -> str:
    """`frame` as a GitHub Markdown table; `headers` renames columns."""
    headers = headers or {}
    names = [headers.get(c, c) for c in frame.columns]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell_text(v) for v in row) + " |")
    return "\n".join(lines)
