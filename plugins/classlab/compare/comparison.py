"""Model comparison: every classification model on a dataset, side by side.

Pure functions over field values: labels, confidences and logits are read in
bulk with ``view.values`` and every metric is computed with numpy, so a
comparison of several models on 70,000 samples takes well under a second of
arithmetic. The App panel ``model_comparison`` and :func:`write_report` show
exactly what :func:`compare_models` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from classlab import defaults
from classlab.compare.agreement import _agreement_of
from classlab.compare.fields import display_name, evaluated_fields, model_info
from classlab.compare.metrics import (
    confusion,
    encode,
    expected_calibration_error,
    per_class_scores,
    top_k_accuracy,
)
from classlab.compare.predictions import load_predictions
from classlab.errors import EmptyViewError, FieldError, InputError
from classlab.validation import require_classification_field, require_nonempty

logger = logging.getLogger("classlab")


# ---------------------------------------------------------------- comparison


def _resolve_fields(dataset, view, fields, gt_field, notes, evals=None) -> list[str]:
    require_classification_field(view, gt_field, "ground-truth field")
    evals = evaluated_fields(dataset) if evals is None else evals
    if fields is None:
        fields = [e["field"] for e in evals if e["gt_field"] == gt_field]
        other = [e for e in evals if e["gt_field"] != gt_field]
        for e in other:
            notes.append(
                f"{e['field']!r} was evaluated against {e['gt_field']!r}, not {gt_field!r}: "
                f"left out (compare with gt_field={e['gt_field']!r}, or pick it explicitly)."
            )
        if not fields:
            raise FieldError(
                f"No classification field is evaluated against {gt_field!r}. Evaluate a "
                "prediction field first (the panel's Evaluate button, or "
                "dataset.evaluate_classifications(field, gt_field=...))."
            )
    fields = list(dict.fromkeys(fields))
    for f in fields:
        require_classification_field(view, f, "prediction field")
        if f == gt_field:
            raise InputError(f"{f!r} is the ground-truth field: pick prediction fields")
        mismatch = [e for e in evals if e["field"] == f and e["gt_field"] != gt_field]
        if mismatch and not any(mismatch[0]["field"] in n for n in notes):
            notes.append(
                f"{f!r} was evaluated against {mismatch[0]['gt_field']!r}; "
                f"its metrics here are computed against {gt_field!r}."
            )
    return fields


def _logit_classes(dataset, field, info, width) -> list | None:
    for cand in (
        (info.get(field) or {}).get("classes"),
        dataset.classes.get(field),
        dataset.default_classes,
    ):
        if cand and len(cand) == width:
            return list(cand)
    return None


def compare_models(
    dataset_or_view,
    fields: Sequence[str] | None = None,
    gt_field: str = defaults.GROUND_TRUTH,
    baseline: str | None = None,
    top_k: int = 5,
    agreement_pair: tuple[str, str] | None = None,
    *,
    evals: list[dict] | None = None,
) -> dict[str, Any]:
    """Compares classification models on the same samples.

    Args:
        dataset_or_view: the samples to compare on
        fields: prediction fields (default: every field evaluated against ``gt_field``)
        gt_field: the ground-truth Classification field
        baseline: the field the per-class deltas are measured against (default: the first)
        top_k: ``k`` of the top-k accuracy (for models with logits)
        agreement_pair: models (A, B) whose agreement is computed from the same
            read (default: none); a name that is not compared falls back to the
            first two fields
        evals: :func:`~classlab.compare.fields.evaluated_fields` of the dataset, when
            the caller has already read them (the panel reads them once per refresh)

    Returns:
        a dict with ``fields``, ``gt_field``, ``baseline``, ``n_samples`` (the
        intersection compared on), ``notes`` (list of str), ``summary`` and
        ``per_class`` (pandas DataFrames), ``confusion`` (``{field: {"classes",
        "matrix"}}``), ``learning_curves`` (``{field: history}``), ``display``
        (``{field: label}``), ``classes``, and ``agreement`` (as :func:`agreement`
        plus ``"a"``/``"b"``, on the compared samples) when ``agreement_pair`` is given.

    Raises:
        FieldError: no evaluated models, or a field is missing / not Classification
        EmptyViewError: no sample has a label in every field
    """
    view = dataset_or_view
    dataset = view._dataset
    require_nonempty(view)
    notes: list[str] = []
    fields = _resolve_fields(dataset, view, fields, gt_field, notes, evals)
    if len(fields) == 1:
        notes.append("Only one model: agreement and deltas need a second one.")
    baseline = baseline if baseline in fields else fields[0]
    data = _load(view, fields, gt_field, notes)
    info = model_info(dataset)
    tables = field_tables(dataset, fields, info, data, top_k)
    return assemble(fields, gt_field, baseline, notes, info, data, tables, agreement_pair)


def assemble(fields, gt_field, baseline, notes, info, data, tables, agreement_pair) -> dict:
    """:func:`compare_models`' dict from the per-field tables of :func:`field_tables`
    (the baseline only changes the delta columns)."""
    import pandas as pd

    classes, summary, per_class, cms = tables
    per_class = dict(per_class)
    for f in fields:
        if f != baseline:
            per_class[f"{f}_f1_delta"] = per_class[f"{f}_f1"] - per_class[f"{baseline}_f1"]
    return {
        "agreement": _agreement_for(data, fields, agreement_pair),
        "fields": fields,
        "gt_field": gt_field,
        "baseline": baseline,
        "n_samples": len(data["gt"]),
        "notes": notes,
        "classes": classes,
        "summary": pd.DataFrame(summary),
        "per_class": pd.DataFrame(per_class),
        "confusion": cms,
        "learning_curves": {
            f: info[f]["history"] for f in fields if (info.get(f) or {}).get("history")
        },
        "display": {f: display_name(f, info.get(f)) for f in fields},
    }


def _load(view, fields, gt_field, notes) -> dict:
    """:func:`load_predictions`, with a note on the samples left out; never empty."""
    data = load_predictions(view, fields, gt_field)
    if data["n_dropped"]:
        notes.append(
            f"Compared on the {len(data['gt'])} samples that have a label in {gt_field!r} and "
            f"every model ({data['n_dropped']} of {data['n_total']} left out)."
        )
    if len(data["gt"]) == 0:
        raise EmptyViewError(
            "No sample has a label in the ground truth and in every chosen model: "
            "the fields cover different samples. Compare fewer models."
        )
    return data


def field_tables(dataset, fields, info, data, top_k):
    """``(classes, summary rows, per-class columns, confusion matrices)`` of every model
    (no baseline deltas: :func:`assemble` adds them)."""
    classes, gt_idx, pred_idx = encode(data["gt"], data["preds"])
    k = len(classes)
    summary, per_class, cms = [], {"class": classes}, {}
    for f in fields:
        cm = confusion(gt_idx, pred_idx[f], k)
        sc = per_class_scores(cm)
        correct = pred_idx[f] == gt_idx
        present = (sc["support"] > 0) | (cm.sum(axis=0) > 0)
        summary.append(_summary_row(dataset, f, info, data, sc, present, correct, top_k))
        for m in ("precision", "recall", "f1"):
            per_class[f"{f}_{m}"] = sc[m]
        per_class[f"{f}_support"] = sc["support"].astype(int)
        cms[f] = {"classes": classes, "matrix": cm.tolist()}
    return classes, summary, per_class, cms


def _agreement_for(data, fields, pair) -> dict | None:
    """The agreement of ``pair`` (falling back to the first two fields), or None."""
    if pair is None or len(fields) < 2:
        return None
    a, b = pair
    a = a if a in fields else fields[0]
    b = b if b in fields and b != a else next(f for f in fields if f != a)
    return _agreement_of(data, a, b)


LATENCY_COLUMNS = {
    (runtime, batch): f"latency_{runtime}_{batch}"
    for runtime in ("torch", "onnx")
    for batch in ("1", "256")
}


def latency_columns(latency: dict | None) -> dict:
    """``latency_<runtime>_<batch>`` (CPU ms per image) from a model record's
    ``latency_ms`` (``{"torch": {"1": ms, "256": ms}, "onnx": {...}}``); None where absent."""
    latency = latency if isinstance(latency, dict) else {}
    out = {}
    for (runtime, batch), col in LATENCY_COLUMNS.items():
        per_batch = latency.get(runtime)
        value = per_batch.get(batch) if isinstance(per_batch, dict) else None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        out[col] = float(value) if ok else None
    return out


def _summary_row(dataset, f, info, data, sc, present, correct, top_k) -> dict:
    rec = info.get(f) or {}
    row = {
        "model": display_name(f, rec),
        "field": f,
        "n": len(correct),
        "accuracy": float(correct.mean()),
        "precision": float(sc["precision"][present].mean()),
        "recall": float(sc["recall"][present].mean()),
        "f1": float(sc["f1"][present].mean()),
        f"top{top_k}_accuracy": None,
        "mean_confidence": None,
        "ece": expected_calibration_error(data["confidence"][f], correct),
        "num_params": rec.get("num_params"),
        "train_seconds": rec.get("train_seconds"),
        "images_per_second": rec.get("images_per_second"),
        **latency_columns(rec.get("latency_ms")),
        "random_weights": bool(rec.get("random_weights")),
    }
    conf = data["confidence"][f]
    if (~np.isnan(conf)).any():
        row["mean_confidence"] = float(np.nanmean(conf))
    if f in data["logits"]:
        lg = data["logits"][f]
        cls = _logit_classes(dataset, f, info, lg.shape[1])
        if cls is not None:
            _, gi, _ = encode(data["gt"], {}, classes=cls)
            row[f"top{top_k}_accuracy"] = top_k_accuracy(lg, gi, top_k)
    return row
