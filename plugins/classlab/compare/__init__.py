"""Model comparison: metrics, side-by-side tables, agreement between two models,
plots for the panel and a static HTML report.

Public API::

    from classlab.compare import compare_models, agreement, fixed_vs_broken
    from classlab.compare.report import write_report
"""

from classlab.compare.agreement import (
    AGREEMENT,
    AGREEMENT_LABELS,
    agreement,
    agreement_view,
    confusion_view,
    fixed_vs_broken,
)
from classlab.compare.comparison import compare_models
from classlab.compare.fields import (
    display_name,
    evaluate_field,
    evaluated_fields,
    model_info,
    unevaluated_fields,
)
from classlab.compare.predictions import load_predictions

__all__ = [
    "AGREEMENT",
    "AGREEMENT_LABELS",
    "agreement",
    "agreement_view",
    "compare_models",
    "confusion_view",
    "display_name",
    "evaluate_field",
    "evaluated_fields",
    "fixed_vs_broken",
    "load_predictions",
    "model_info",
    "unevaluated_fields",
]
