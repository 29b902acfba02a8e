"""A static HTML report of a model comparison (tables + plotly figures), for scripts.

Next to the agreement of two models (fixed/broken), the paired test of B against A:
exact McNemar p-value and a bootstrap 95% interval (:mod:`classlab.compare.paired`).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path

from classlab import compare, defaults
from classlab.compare import plots as compare_plots

logger = logging.getLogger("classlab")


def write_report(
    path: str | Path,
    dataset_or_view,
    fields: Sequence[str] | None = None,
    gt_field: str = defaults.GROUND_TRUTH,
    baseline: str | None = None,
    agreement_pair: tuple[str, str] | None = None,
) -> Path:
    """Writes a self-contained HTML report of :func:`classlab.compare.compare_models`.

    Args:
        path: the ``.html`` file to write (parent directories are created)
        dataset_or_view: the samples
        fields, gt_field, baseline: as in ``compare_models``
        agreement_pair: two fields to show agreement for (default: the first two)

    Returns:
        the path written
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    result = compare.compare_models(
        dataset_or_view, fields, gt_field, baseline, agreement_pair=agreement_pair or (None, None)
    )
    parts = [
        f"<h1>Model comparison: {html.escape(dataset_or_view._dataset.name)}</h1>",
        (
            f"<p>{result['n_samples']} samples, ground truth "
            f"<code>{html.escape(gt_field)}</code>, "
            f"baseline <code>{html.escape(result['baseline'])}</code>.</p>"
        ),
    ]
    parts += [f"<p><em>{html.escape(n)}</em></p>" for n in result["notes"]]
    parts += ["<h2>Summary</h2>", result["summary"].to_html(index=False, float_format="%.4f")]
    parts += ["<h2>Per class</h2>", result["per_class"].to_html(index=False, float_format="%.4f")]
    figs = [go.Figure(compare_plots.f1_bars(result), compare_plots.layout("Per-class F1"))]
    for f in result["fields"]:
        title = f"Confusion: {result['display'][f]} (rows truth, columns prediction)"
        figs.append(
            go.Figure(compare_plots.confusion_heatmap(result, f), compare_plots.layout(title))
        )
    for metric in ("loss", "acc"):
        traces = compare_plots.learning_curves(result, metric)
        if traces:
            figs.append(
                go.Figure(traces, compare_plots.layout(f"Learning curves: {metric}", "epoch"))
            )
    agr = result["agreement"]
    if agr:
        rows = "".join(
            f"<tr><td>{compare.AGREEMENT_LABELS[c]}</td><td>{n}</td></tr>"
            for c, n in agr["counts"].items()
        )
        parts += [
            f"<h2>Agreement: A = {html.escape(agr['a'])}, B = {html.escape(agr['b'])}</h2>",
            f"<table border='1'>{rows}</table>",
            _paired_html(dataset_or_view, agr["a"], agr["b"], gt_field),
        ]
    for i, fig in enumerate(figs):
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<html><head><meta charset='utf-8'></head><body>" + "\n".join(parts) + "</body></html>"
    )
    logger.info("Wrote the comparison report to %s", path)
    return path


def _paired_html(view, field_a: str, field_b: str, gt_field: str) -> str:
    """The paired test of B against A (exact McNemar on fixed/broken, bootstrap 95%
    interval of the accuracy difference), next to the agreement table."""
    from classlab.compare.paired import paired_from_view
    from classlab.compare.stats import describe

    res = paired_from_view(view, field_a, field_b, gt_field)
    return (
        f"<p class='paired'>Paired test on {res['n']} samples: "
        f"{html.escape(describe(field_a, field_b, res))}</p>"
    )
