"""Evaluating any Classification field against ground truth (top-k when logits exist)."""

from __future__ import annotations

import logging

from classlab import defaults
from classlab.errors import InputError
from classlab.validation import require_classification_field, require_nonempty

logger = logging.getLogger("classlab")


def logits_classes(view, pred_field: str) -> list[str] | None:
    """The class list that orders ``pred_field``'s logits, or None when it has no logits.

    Looked up in the model registry and the linear probes' records (the run that
    wrote the field), then in ClassLab's CLIP records, then the dataset's
    ``default_classes``; the first list as long as the logits wins.
    """
    from fiftyone import ViewField as F

    from classlab import records
    from classlab.probe.checks import KIND as PROBE_KIND

    first = view.match(F(f"{pred_field}.logits").exists()).limit(1)
    values = first.values(f"{pred_field}.logits")
    if not values:
        return None
    n = len(values[0])
    dataset = view._dataset
    candidates = [
        r.get("classes")
        for kind in ("models", PROBE_KIND)
        for r in records.list_records(dataset, kind).values()
        if pred_field in (r.get("applied_to") or [])
    ]
    clip = records.get_record(dataset, "clip", pred_field) or {}
    candidates += [clip.get("classes"), dataset.default_classes]
    return next((list(c) for c in candidates if c and len(c) == n), None)


def check_eval_fields(view, pred_field: str, gt_field: str) -> None:
    """Both fields hold Classification labels, and they are two different fields.

    Raises:
        FieldError / InputError: naming ``pred_field`` or ``gt_field``
    """
    require_classification_field(view, pred_field, "pred_field")
    require_classification_field(view, gt_field, "gt_field")
    if pred_field == gt_field:
        raise InputError(
            f"gt_field and pred_field are both {gt_field!r}: pick the ground truth in gt_field "
            "and another field of predictions in pred_field"
        )


def check_eval_key(dataset, eval_key: str, overwrite: bool = False, taken=()) -> str:
    """Checks that ``eval_key`` is a valid, free evaluation key (or ``overwrite``).

    FiftyOne writes a per-sample field named ``eval_key``: so it must be a Python
    identifier, not a built-in field, not one of the fields of the call (``taken``),
    and not an existing field that is not this evaluation's. Schema look-ups only.

    Raises:
        InputError / FieldError: naming ``eval_key`` and what to do
    """
    from classlab.errors import FieldError

    if not isinstance(eval_key, str) or not eval_key.isidentifier():
        raise InputError(
            f"eval_key {eval_key!r} is not valid: use letters, digits and underscores, "
            "not starting with a digit (e.g. eval_lenet)"
        )
    builtin = set(dataset._get_default_sample_fields(include_private=True)) | {"id"}
    if eval_key in builtin or eval_key in set(taken):
        raise FieldError(
            f"eval_key {eval_key!r} names a field this call reads or writes (or a built-in "
            "field): FiftyOne stores each sample's result in a field of that name. Pick "
            "another eval_key."
        )
    exists = eval_key in dataset.list_evaluations()
    if not exists and dataset.has_field(eval_key):
        raise FieldError(
            f"eval_key {eval_key!r} is the name of an existing field that is not an "
            "evaluation: pick another eval_key."
        )
    if exists and not overwrite:
        raise FieldError(
            f"The evaluation {eval_key!r} already exists on the dataset: pick another eval_key, "
            "or pass overwrite=True to replace it."
        )
    return eval_key


def check_k(k) -> int:
    """``k`` (top-k) is an integer >= 1."""
    try:
        ok = not isinstance(k, bool) and int(k) >= 1 and float(k) == int(k)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise InputError(f"k must be an integer >= 1 (1: plain accuracy), got {k!r}")
    return int(k)


def evaluate_predictions(
    view,
    pred_field: str,
    gt_field: str = defaults.GROUND_TRUTH,
    eval_key: str = defaults.EVAL_LENET,
    k: int = 1,
    overwrite: bool = True,
) -> dict:
    """FiftyOne's classification evaluation of the samples that have ground truth.

    The run is the one ``evaluate_classifications`` makes (``"simple"``, or
    ``"top-k"``), built a chunk at a time (:func:`classlab.lenet.eval_run.evaluate_in_chunks`)
    so memory does not grow with the view beyond the run's own per-sample results.

    Args:
        view: the samples
        pred_field: a Classification field of predictions
        gt_field: the Classification ground truth
        eval_key: where FiftyOne stores the evaluation (per-sample ``<eval_key>`` field)
        k: ``k > 1`` uses the ``"top-k"`` method (needs logits and their class list)
        overwrite: replace an existing evaluation with the same key

    Returns:
        ``{eval_key, num_evaluated, accuracy, precision, recall, f1 (weighted), top_k?}``
    """
    from fiftyone import ViewField as F

    from classlab.lenet.eval_run import evaluate_in_chunks

    check_eval_fields(view, pred_field, gt_field)
    k = check_k(k)
    dataset = view._dataset
    check_eval_key(dataset, eval_key, overwrite, (pred_field, gt_field))
    scored = view.match(F(gt_field).exists() & F(pred_field).exists())
    require_nonempty(scored, f"view of samples with both {pred_field!r} and {gt_field!r}")
    classes = None
    if k > 1:
        classes = logits_classes(scored, pred_field)
        if classes is None:
            raise InputError(
                f"Top-{k} evaluation needs logits and their class list in {pred_field!r}; "
                "this field has none. Use k=1."
            )
        if k > len(classes):
            raise InputError(f"k must be at most the number of classes ({len(classes)}), got {k}")
    if eval_key in dataset.list_evaluations():
        dataset.delete_evaluation(eval_key)
    # FiftyOne's evaluation run (same config, results and eval field), read and stored
    # a chunk at a time
    results = evaluate_in_chunks(scored, pred_field, gt_field, eval_key, classes, k)
    report = results.report()
    avg = report.get("weighted avg", {})
    out = {
        "eval_key": eval_key,
        "num_evaluated": len(scored),
        "accuracy": scored.match(F(f"{pred_field}.label") == F(f"{gt_field}.label")).count()
        / len(scored),
        "precision": float(avg.get("precision", 0.0)),
        "recall": float(avg.get("recall", 0.0)),
        "f1": float(avg.get("f1-score", 0.0)),
    }
    if k > 1:
        out[f"top_{k}_accuracy"] = float(results.metrics()["accuracy"])
    logger.info("Evaluated %r against %r: accuracy %.4f", pred_field, gt_field, out["accuracy"])
    return out
