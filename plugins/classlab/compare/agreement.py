"""Two models on the same samples: agreement categories, fixed vs broken, and the views
behind each cell of the panel."""

from __future__ import annotations

from classlab import defaults
from classlab.compare.metrics import agreement_masks
from classlab.compare.predictions import load_predictions
from classlab.errors import InputError
from classlab.validation import require_classification_field

AGREEMENT = ("both_right", "only_a_right", "only_b_right", "both_wrong_same", "both_wrong_diff")
AGREEMENT_LABELS = {
    "both_right": "both right",
    "only_a_right": "only A right",
    "only_b_right": "only B right",
    "both_wrong_same": "both wrong, same label",
    "both_wrong_diff": "both wrong, different labels",
}


# ------------------------------------------------------------------ agreement


def agreement(view, field_a: str, field_b: str, gt_field: str = defaults.GROUND_TRUTH) -> dict:
    """How two models agree, on the samples where both and the ground truth have labels.

    Returns:
        ``{"n", "counts": {category: int}, "ids": {category: [sample ids]}}``
        with the categories of :data:`AGREEMENT`.
    """
    for f in (field_a, field_b):
        require_classification_field(view, f, "prediction field")
    require_classification_field(view, gt_field, "ground-truth field")
    data = load_predictions(view, list(dict.fromkeys([field_a, field_b])), gt_field)
    return _agreement_of(data, field_a, field_b)


def _agreement_of(data: dict, field_a: str, field_b: str) -> dict:
    masks = agreement_masks(data["gt"], data["preds"][field_a], data["preds"][field_b])
    return {
        "a": field_a,
        "b": field_b,
        "n": len(data["gt"]),
        "n_dropped": data["n_dropped"],
        "counts": {c: int(m.sum()) for c, m in masks.items()},
        "ids": {c: data["ids"][m].tolist() for c, m in masks.items()},
    }


def fixed_vs_broken(view, field_a: str, field_b: str, gt_field: str = defaults.GROUND_TRUTH):
    """Samples that model B (e.g. after augmentation) fixed or broke relative to model A.

    Args:
        view: the samples
        field_a: the "before" model's prediction field
        field_b: the "after" model's prediction field
        gt_field: the ground truth

    Returns:
        ``{"n", "fixed", "broken", "still_right", "still_wrong"`` (counts)
        ``, "fixed_ids", "broken_ids"}``; fixed = A wrong and B right,
        broken = A right and B wrong.
    """
    agr = agreement(view, field_a, field_b, gt_field)
    c, ids = agr["counts"], agr["ids"]
    return {
        "n": agr["n"],
        "fixed": c["only_b_right"],
        "broken": c["only_a_right"],
        "still_right": c["both_right"],
        "still_wrong": c["both_wrong_same"] + c["both_wrong_diff"],
        "fixed_ids": ids["only_b_right"],
        "broken_ids": ids["only_a_right"],
    }


def agreement_view(view, field_a: str, field_b: str, category: str, gt_field: str):
    """The samples of one agreement category, as a view (an exact match expression)."""
    from fiftyone import ViewField as F

    if category not in AGREEMENT:
        raise InputError(f"category must be one of {', '.join(AGREEMENT)}, got {category!r}")
    for f, role in ((field_a, "model A"), (field_b, "model B"), (gt_field, "ground truth")):
        require_classification_field(view, f, role)
    gt, a, b = F(f"{gt_field}.label"), F(f"{field_a}.label"), F(f"{field_b}.label")
    ra, rb = a == gt, b == gt
    expr = {
        "both_right": ra & rb,
        "only_a_right": ra & ~rb,
        "only_b_right": ~ra & rb,
        "both_wrong_same": ~ra & ~rb & (a == b),
        "both_wrong_diff": ~ra & ~rb & (a != b),
    }[category]
    present = gt.exists() & a.exists() & b.exists()
    return view.match(present & expr)


def confusion_view(view, field: str, gt_field: str, true_label: str, pred_label=None):
    """Samples with ground truth ``true_label`` predicted as ``pred_label``; with
    ``pred_label=None``, every mistake on ``true_label``."""
    from fiftyone import ViewField as F

    require_classification_field(view, field, "prediction field")
    require_classification_field(view, gt_field, "ground-truth field")
    gt, p = F(f"{gt_field}.label"), F(f"{field}.label")
    if pred_label is None:
        return view.match((gt == true_label) & p.exists() & (p != true_label))
    return view.match((gt == true_label) & (p == pred_label))
