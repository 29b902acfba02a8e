"""Plotly figures of a comparison, as plain dicts (the panel sends them to the
App as they are; :func:`classlab.compare.report.write_report` wraps them in
``plotly.graph_objects.Figure``)."""

from __future__ import annotations

import math
from typing import Any

LEGEND = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "xanchor": "left"}
PLOT_CONFIG = {"responsive": True, "displaylogo": False}  # fits the panel's width


def f1_bars(result: dict) -> list[dict]:
    """Grouped bar traces: per-class F1 of every model (click a bar: that model's
    mistakes on that class)."""
    pc = result["per_class"]
    return [
        {
            "type": "bar",
            "name": result["display"][f],
            "x": list(pc["class"]),
            "y": [round(float(v), 4) for v in pc[f"{f}_f1"]],
            "ids": [f"{f}|{c}" for c in pc["class"]],
        }
        for f in result["fields"]
    ]


def delta_f1_bars(result: dict) -> list[dict]:
    """Per-class F1 minus the baseline's, one bar trace per other model."""
    pc, base = result["per_class"], result["baseline"]
    return [
        {
            "type": "bar",
            "name": f"{result['display'][f]} - {result['display'][base]}",
            "x": list(pc["class"]),
            "y": [round(float(v), 5) for v in pc[f"{f}_f1_delta"]],
            "ids": [f"{f}|{c}" for c in pc["class"]],
        }
        for f in result["fields"]
        if f != base
    ]


def zoomed_range(values, floor=None, ceiling=None, pad=0.15) -> list[float] | None:
    """An axis range around ``values`` (with a margin of ``pad`` of their spread),
    clipped to ``[floor, ceiling]``: bars of 0.99 vs 0.995 stay distinguishable."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return None
    low, high = min(vals), max(vals)
    margin = max((high - low) * pad, 1e-3)
    low, high = low - margin, high + margin
    if floor is not None:
        low = max(low, floor)
    if ceiling is not None:
        high = min(high, ceiling)
    return [round(low, 5), round(high, 5)]


def confusion_heatmap(result: dict, field: str, mode: str = "errors") -> list[dict]:
    """One heatmap trace (rows = ground truth, columns = prediction) with the counts
    written in the cells. ``mode="errors"``: the diagonal (correct) is left blank so
    the colour scale shows the mistakes; ``"log"``: every cell, colour on a log scale."""
    cm = result["confusion"][field]
    counts = cm["matrix"]
    if mode == "log":
        z = [[math.log10(1 + v) for v in row] for row in counts]
        peak = max((v for row in counts for v in row), default=1)
        ticks = [t for t in (1, 10, 100, 1000, 10000, 100000) if t <= max(peak, 1)]
        colorbar = {
            "title": {"text": "samples"},
            "tickvals": [math.log10(1 + t) for t in ticks],
            "ticktext": [f"{t:,}" for t in ticks],
        }
    else:
        z = [[None if i == j else v for j, v in enumerate(row)] for i, row in enumerate(counts)]
        colorbar = {"title": {"text": "mistakes"}}
    return [
        {
            "type": "heatmap",
            "name": result["display"][field],
            "z": z,
            "x": cm["classes"],
            "y": cm["classes"],
            "text": counts,
            "texttemplate": "%{text}",
            "colorscale": "Blues" if mode == "log" else "Reds",
            "showscale": True,
            "colorbar": colorbar,
            "hovertemplate": "truth %{y}<br>predicted %{x}<br>%{text} samples<extra></extra>",
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


def layout(title: str, xtitle: str = "", ytitle: str = "", **extra: Any) -> dict:
    """A compact plotly layout that fills the panel's width, with a legend."""
    out = {
        "title": {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        "xaxis": {"title": {"text": xtitle}, "automargin": True},
        "yaxis": {"title": {"text": ytitle}, "automargin": True},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
        "height": 360,
        "autosize": True,
        "showlegend": True,
        "legend": LEGEND,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def layouts(result: dict, cm_model: str, mode: str = "errors") -> dict[str, dict]:
    """The layout of every panel plot for ``result``: zoomed F1 and delta-F1 axes,
    integer epoch ticks, legends."""
    pc = result["per_class"]
    f1s = [v for f in result["fields"] for v in pc[f"{f}_f1"]]
    deltas = [v for f in result["fields"] if f != result["baseline"] for v in pc[f"{f}_f1_delta"]]
    what = "mistakes only (diagonal blank)" if mode == "errors" else "all, log colour scale"
    epochs = {"dtick": 1, "tick0": 0, "tickformat": "d"}
    return {
        "f1_plot": layout(
            "", "class", "F1", barmode="group", yaxis={"range": zoomed_range(f1s, 0, 1.0005)}
        ),
        "delta_plot": layout(
            "",
            "class",
            f"ΔF1 vs {result['display'][result['baseline']]}",
            barmode="group",
            yaxis={"range": zoomed_range([*deltas, 0.0])},
        ),
        "confusion_plot": layout(
            f"{result['display'][cm_model]}: {what}",
            "predicted",
            "truth",
            height=420,
            margin={"t": 70},
            yaxis={"autorange": "reversed"},
            xaxis={"type": "category"},
            showlegend=False,
        ),
        "loss_plot": layout("", "epoch", "loss", xaxis=epochs),
        "acc_plot": layout("", "epoch", "accuracy", xaxis=epochs),
    }


MISSING = "—"


def fmt(value: Any, digits: int = 4) -> str:
    """How a table cell is shown (the panel and the tests use this one rule)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if hasattr(value, "item"):  # numpy scalar
        return fmt(value.item(), digits)
    return str(value)


# Columns that hold counts (shown as integers with thousands separators, even
# when a missing value made pandas store the column as float) and rates.
COUNT_COLUMNS = {"n", "num_params", "support", "count", "label_issues"}
ONE_DECIMAL_COLUMNS = {"train_seconds", "images_per_second"}
LATENCY_PREFIX = "latency_"  # CPU ms per image: three decimals


def fmt_cell(column: str, value: Any, digits: int = 4) -> str:
    """How the cell of ``column`` is shown: counts as ``120,550``, seconds and rates
    with one decimal, other numbers with ``digits`` decimals."""
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    is_count = column in COUNT_COLUMNS or column.endswith("_support")
    if is_count and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{int(round(value)):,}"
    if column in ONE_DECIMAL_COLUMNS and isinstance(value, (int, float)):
        return f"{value:,.1f}"
    if column.startswith(LATENCY_PREFIX) and isinstance(value, (int, float)):
        return f"{value:.3f}"
    return fmt(value, digits)


def table_rows(frame, digits: int = 4) -> list[dict]:
    """A DataFrame as a list of ``{column: formatted cell}`` dicts."""
    return [
        {col: fmt_cell(col, val, digits) for col, val in zip(frame.columns, row)}
        for row in frame.itertuples(index=False, name=None)
    ]


def summary_rows(summary, sort_by: str | None = None, descending: bool = True) -> list[dict]:
    """:func:`table_rows` of the summary, sorted by ``sort_by`` (a column; missing
    values last); the summary's own order when ``sort_by`` is None or unknown."""
    if sort_by and sort_by in summary.columns:
        summary = summary.sort_values(
            sort_by, ascending=not descending, na_position="last", kind="stable"
        )
    return table_rows(summary)


def per_class_rows(result: dict) -> list[dict]:
    """:func:`table_rows` of the per-class table, with a ``label_issues`` column when
    a label-issues record exists (``result["label_issues"]``)."""
    frame = result["per_class"]
    issues = result.get("label_issues")
    if issues:
        frame = frame.assign(label_issues=[issues["counts"].get(c, 0) for c in frame["class"]])
    return table_rows(frame)
