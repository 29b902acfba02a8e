"""Plotly figures of a comparison, as plain dicts (the panel sends them to the
App as they are; :func:`classlab.compare.report.write_report` wraps them in
``plotly.graph_objects.Figure``)."""

from __future__ import annotations

import math
from typing import Any


def f1_bars(result: dict) -> list[dict]:
    """Grouped bar traces: per-class F1 of every model."""
    pc = result["per_class"]
    return [
        {
            "type": "bar",
            "name": result["display"][f],
            "x": list(pc["class"]),
            "y": [round(float(v), 4) for v in pc[f"{f}_f1"]],
        }
        for f in result["fields"]
    ]


def confusion_heatmap(result: dict, field: str) -> list[dict]:
    """One heatmap trace: rows = ground truth, columns = prediction (counts)."""
    cm = result["confusion"][field]
    return [
        {
            "type": "heatmap",
            "z": cm["matrix"],
            "x": cm["classes"],
            "y": cm["classes"],
            "colorscale": "Blues",
            "hovertemplate": "truth %{y}<br>predicted %{x}<br>%{z} samples<extra></extra>",
        }
    ]


def learning_curves(result: dict, metric: str = "loss") -> list[dict]:
    """Line traces of train/val ``metric`` ("loss" or "acc") per epoch, all models overlaid."""
    traces = []
    for field, history in result["learning_curves"].items():
        epochs = [h.get("epoch") for h in history]
        for split, dash in (("train", "solid"), ("val", "dash")):
            ys = [h.get(f"{split}_{metric}") for h in history]
            if any(y is not None for y in ys):
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "name": f"{result['display'][field]} {split}",
                        "x": epochs,
                        "y": ys,
                        "line": {"dash": dash},
                    }
                )
    return traces


def layout(title: str, xaxis: str = "", yaxis: str = "", **extra: Any) -> dict:
    """A compact plotly layout."""
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": xaxis}},
        "yaxis": {"title": {"text": yaxis}},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
        "height": 360,
        **extra,
    }


def fmt(value: Any, digits: int = 4) -> str:
    """How a table cell is shown (the panel and the tests use this one rule)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if hasattr(value, "item"):  # numpy scalar
        return fmt(value.item(), digits)
    return str(value)


# Columns that hold counts (shown as integers with thousands separators, even
# when a missing value made pandas store the column as float) and rates.
COUNT_COLUMNS = {"n", "num_params", "support", "count"}
ONE_DECIMAL_COLUMNS = {"train_seconds", "images_per_second"}


def fmt_cell(column: str, value: Any, digits: int = 4) -> str:
    """How the cell of ``column`` is shown: counts as ``120,550``, seconds and rates
    with one decimal, other numbers with ``digits`` decimals."""
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    is_count = column in COUNT_COLUMNS or column.endswith("_support")
    if is_count and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{int(round(value)):,}"
    if column in ONE_DECIMAL_COLUMNS and isinstance(value, (int, float)):
        return f"{value:,.1f}"
    return fmt(value, digits)


def table_rows(frame, digits: int = 4) -> list[dict]:
    """A DataFrame as a list of ``{column: formatted cell}`` dicts."""
    return [
        {col: fmt_cell(col, val, digits) for col, val in zip(frame.columns, row)}
        for row in frame.itertuples(index=False, name=None)
    ]
