"""Which prediction fields a dataset holds, how they were evaluated, and what made them."""

from __future__ import annotations

import logging

from classlab import defaults, records
from classlab.errors import InputError
from classlab.validation import classification_fields, require_classification_field

logger = logging.getLogger("classlab")

# --------------------------------------------------------------------- discovery


def evaluated_fields(dataset) -> list[dict]:
    """Classification fields that have a FiftyOne classification evaluation.

    Returns:
        one dict per prediction field: ``{"field", "eval_key", "gt_field"}``
        (the most recent evaluation of a field wins). Evaluations whose
        prediction or ground-truth field was deleted are skipped.
    """
    present = set(classification_fields(dataset))
    found: dict[str, dict] = {}
    for key in dataset.list_evaluations():
        cfg = dataset.get_evaluation_info(key).config
        pred, gt = getattr(cfg, "pred_field", None), getattr(cfg, "gt_field", None)
        if getattr(cfg, "type", None) != "classification" or pred not in present:
            continue
        if gt not in present:
            continue
        found[pred] = {"field": pred, "eval_key": key, "gt_field": gt}
    return [found[f] for f in sorted(found)]


def unevaluated_fields(
    dataset, gt_field: str = defaults.GROUND_TRUTH, evals: list[dict] | None = None
) -> list[str]:
    """Classification fields (other than ``gt_field``) with no evaluation yet.

    ``evals``: :func:`evaluated_fields`, when the caller has already read them.
    """
    done = {e["field"] for e in (evaluated_fields(dataset) if evals is None else evals)}
    return [f for f in classification_fields(dataset) if f != gt_field and f not in done]


def evaluate_field(
    dataset, field: str, gt_field: str = defaults.GROUND_TRUTH, eval_key: str | None = None
) -> str:
    """FiftyOne's classification evaluation of ``field`` over the whole dataset (the run
    ``evaluate_classifications`` makes, built a chunk at a time:
    :func:`classlab.lenet.eval_run.evaluate_in_chunks`); returns the eval key.

    Raises:
        FieldError: ``field`` or ``gt_field`` is not a Classification field
    """
    from classlab.lenet.eval_run import evaluate_in_chunks

    require_classification_field(dataset, field, "prediction field")
    require_classification_field(dataset, gt_field, "ground-truth field")
    eval_key = eval_key or f"eval_{field}"
    if eval_key in dataset.list_evaluations():
        raise InputError(f"Evaluation key {eval_key!r} exists: pass another eval_key")
    evaluate_in_chunks(dataset, field, gt_field, eval_key)
    return eval_key


def model_info(dataset) -> dict[str, dict]:
    """What ClassLab knows about each prediction field, from its run records.

    Returns:
        ``{field: {"kind", "run_key", "num_params", "train_seconds",
        "images_per_second", "latency_ms", "history", "classes", "random_weights", "display"}}``
        for fields written by ClassLab's models (kind ``"lenet"``: LeNet-5 and the
        torchvision backbones), linear probes (kind ``"linear_probe"``, no history nor
        latency unless its record has them) or CLIP zero-shot runs (kind ``"clip"``).
        A field written by a model and then by a probe shows the probe (records keep
        no apply time; the probe is the newer kind).
    """
    from classlab.probe.checks import KIND as PROBE_KIND

    info: dict[str, dict] = {}
    for kind, source in (("lenet", "models"), (PROBE_KIND, PROBE_KIND)):
        for run_key, rec in records.list_records(dataset, source).items():
            for field in rec.get("applied_to") or []:
                info[field] = _run_info(kind, run_key, rec)
    for field, rec in records.list_records(dataset, "clip").items():
        random = bool(rec.get("random_weights"))
        info.setdefault(field, {}).update(kind="clip", random_weights=random)
        info[field].setdefault("classes", rec.get("classes"))
    for field, d in info.items():
        d["display"] = display_name(field, d)
    return info


def _run_info(kind: str, run_key: str, rec: dict) -> dict:
    """One trained model's entry of :func:`model_info` (a model or a probe record)."""
    return {
        "kind": kind,
        "run_key": run_key,
        "num_params": rec.get("num_params"),
        "train_seconds": rec.get("train_seconds"),
        "images_per_second": rec.get("images_per_second"),
        "latency_ms": rec.get("latency_ms"),
        "history": rec.get("history") or [],
        "classes": rec.get("classes"),
        "random_weights": False,
    }


def display_name(field: str, info: dict | None = None) -> str:
    """The label of a model everywhere: its field, flagged when CLIP had random weights."""
    if info and info.get("random_weights"):
        return f"{field} (random weights)"
    return field
