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

from classlab import defaults, records
from classlab.errors import FieldError, InputError
from classlab.metrics import (
    agreement_masks,
    confusion,
    encode,
    expected_calibration_error,
    per_class_scores,
    top_k_accuracy,
)
from classlab.validation import classification_fields, require_classification_field

logger = logging.getLogger("classlab")

AGREEMENT = ("both_right", "only_a_right", "only_b_right", "both_wrong_same", "both_wrong_diff")
AGREEMENT_LABELS = {
    "both_right": "both right",
    "only_a_right": "only A right",
    "only_b_right": "only B right",
    "both_wrong_same": "both wrong, same label",
    "both_wrong_diff": "both wrong, different labels",
}


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


def unevaluated_fields(dataset, gt_field: str = defaults.GROUND_TRUTH) -> list[str]:
    """Classification fields (other than ``gt_field``) with no evaluation yet."""
    done = {e["field"] for e in evaluated_fields(dataset)}
    return [f for f in classification_fields(dataset) if f != gt_field and f not in done]


def evaluate_field(
    dataset, field: str, gt_field: str = defaults.GROUND_TRUTH, eval_key: str | None = None
) -> str:
    """Runs FiftyOne's ``evaluate_classifications`` on ``field``; returns the eval key.

    Raises:
        FieldError: ``field`` or ``gt_field`` is not a Classification field
    """
    require_classification_field(dataset, field, "prediction field")
    require_classification_field(dataset, gt_field, "ground-truth field")
    eval_key = eval_key or f"eval_{field}"
    if eval_key in dataset.list_evaluations():
        raise InputError(f"Evaluation key {eval_key!r} exists: pass another eval_key")
    dataset.evaluate_classifications(field, gt_field=gt_field, eval_key=eval_key)
    return eval_key


def model_info(dataset) -> dict[str, dict]:
    """What ClassLab knows about each prediction field, from its run records.

    Returns:
        ``{field: {"kind", "run_key", "num_params", "train_seconds",
        "images_per_second", "history", "classes", "random_weights", "display"}}``
        for fields written by ClassLab's LeNet or CLIP runs.
    """
    info: dict[str, dict] = {}
    for run_key, rec in records.list_records(dataset, "models").items():
        for field in rec.get("applied_to") or []:
            info[field] = {
                "kind": "lenet",
                "run_key": run_key,
                "num_params": rec.get("num_params"),
                "train_seconds": rec.get("train_seconds"),
                "images_per_second": rec.get("images_per_second"),
                "history": rec.get("history") or [],
                "classes": rec.get("classes"),
                "random_weights": False,
            }
    for field, rec in records.list_records(dataset, "clip").items():
        random = bool(rec.get("random_weights"))
        info.setdefault(field, {}).update(kind="clip", random_weights=random)
        info[field].setdefault("classes", rec.get("classes"))
    for field, d in info.items():
        d["display"] = display_name(field, d)
    return info


def display_name(field: str, info: dict | None = None) -> str:
    """The label of a model everywhere: its field, flagged when CLIP had random weights."""
    if info and info.get("random_weights"):
        return f"{field} (random weights)"
    return field


# ------------------------------------------------------------------- loading


def _labels(values: Sequence) -> np.ndarray:
    return np.array([v if v is not None else "" for v in values], dtype=object)


def load_predictions(view, fields: Sequence[str], gt_field: str) -> dict[str, Any]:
    """Reads ids, ground truth, labels, confidences and logits in one pass.

    Only samples where the ground truth and every field have a label are kept
    (the intersection); ``n_dropped`` says how many were left out.
    """
    paths = ["id", f"{gt_field}.label"]
    for f in fields:
        paths += [f"{f}.label", f"{f}.confidence"]
    cols = view.values(paths)
    ids = np.array(cols[0], dtype=object)
    gt = _labels(cols[1])
    preds = {f: _labels(cols[2 + 2 * i]) for i, f in enumerate(fields)}
    confs = {
        f: np.array([np.nan if c is None else c for c in cols[3 + 2 * i]], dtype=float)
        for i, f in enumerate(fields)
    }
    keep = gt != ""
    for f in fields:
        keep &= preds[f] != ""
    logits = {}
    for f in fields:
        if view.exists(f"{f}.logits").limit(1).count():
            logits[f] = _logit_matrix(view.values(f"{f}.logits", _raw=True))[keep]
    return {
        "ids": ids[keep],
        "gt": gt[keep],
        "preds": {f: p[keep] for f, p in preds.items()},
        "confidence": {f: c[keep] for f, c in confs.items()},
        "logits": logits,
        "n_total": len(ids),
        "n_dropped": int((~keep).sum()),
        "n_labelled": {f: int((preds[f] != "").sum()) for f in fields},
    }


def _logit_matrix(values: list) -> np.ndarray:
    """An ``n x K`` float matrix (NaN rows where a sample has no logits) from raw
    database values: FiftyOne stores vectors as zlib-compressed ``np.save`` bytes.
    Decoding them with one ``np.load`` each takes minutes on 70,000 samples; here
    every blob is decompressed and the shared ``.npy`` header is parsed once."""
    vals = [_unpack(v) for v in values]
    arrays = [v for v in vals if isinstance(v, np.ndarray)]
    width = max((len(v) for v in arrays), default=0)
    out = np.full((len(vals), width), np.nan)
    rows = [i for i, v in enumerate(vals) if v is not None and len(v) == width]
    if rows:
        out[rows] = np.stack([vals[i] for i in rows]).astype(float)
    return out


def _unpack(value):
    """One stored vector as a 1-D array (or None)."""
    import io
    import zlib

    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=float).ravel()
    buf = zlib.decompress(bytes(value))
    header = _NPY_HEADERS.get(buf[:128])
    if header is None:
        f = io.BytesIO(buf)
        major, _ = np.lib.format.read_magic(f)
        read = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        _shape, _fortran, dtype = read(f)
        header = (f.tell(), dtype)
        _NPY_HEADERS[buf[:128]] = header
    offset, dtype = header
    return np.frombuffer(buf, dtype=dtype, offset=offset).ravel()


_NPY_HEADERS: dict[bytes, tuple] = {}


# ---------------------------------------------------------------- comparison


def _resolve_fields(dataset, view, fields, gt_field, notes) -> list[str]:
    require_classification_field(view, gt_field, "ground-truth field")
    evals = evaluated_fields(dataset)
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
    import pandas as pd

    from classlab.validation import require_nonempty

    view = dataset_or_view
    dataset = view._dataset
    require_nonempty(view)
    notes: list[str] = []
    fields = _resolve_fields(dataset, view, fields, gt_field, notes)
    if len(fields) == 1:
        notes.append("Only one model: agreement and deltas need a second one.")
    baseline = baseline if baseline in fields else fields[0]
    data = load_predictions(view, fields, gt_field)
    if data["n_dropped"]:
        notes.append(
            f"Compared on the {len(data['gt'])} samples that have a label in {gt_field!r} and "
            f"every model ({data['n_dropped']} of {data['n_total']} left out)."
        )
    if len(data["gt"]) == 0:
        from classlab.errors import EmptyViewError

        raise EmptyViewError(
            "No sample has a label in the ground truth and in every chosen model: "
            "the fields cover different samples. Compare fewer models."
        )
    info = model_info(dataset)
    classes, gt_idx, pred_idx = encode(data["gt"], data["preds"])
    k = len(classes)
    summary, per_class, cms = [], {"class": classes}, {}
    for f in fields:
        cm = confusion(gt_idx, pred_idx[f], k)
        sc = per_class_scores(cm)
        correct = pred_idx[f] == gt_idx
        present = (sc["support"] > 0) | (cm.sum(axis=0) > 0)
        row = _summary_row(dataset, f, info, data, sc, present, correct, top_k)
        summary.append(row)
        for m in ("precision", "recall", "f1"):
            per_class[f"{f}_{m}"] = sc[m]
        per_class[f"{f}_support"] = sc["support"].astype(int)
        cms[f] = {"classes": classes, "matrix": cm.tolist()}
    for f in fields:
        if f != baseline:
            per_class[f"{f}_f1_delta"] = per_class[f"{f}_f1"] - per_class[f"{baseline}_f1"]
    curves = {f: info[f]["history"] for f in fields if (info.get(f) or {}).get("history")}
    agr = None
    if agreement_pair is not None and len(fields) > 1:
        a, b = agreement_pair
        a = a if a in fields else fields[0]
        b = b if b in fields and b != a else next(f for f in fields if f != a)
        agr = _agreement_of(data, a, b)
    return {
        "agreement": agr,
        "fields": fields,
        "gt_field": gt_field,
        "baseline": baseline,
        "n_samples": len(data["gt"]),
        "notes": notes,
        "classes": classes,
        "summary": pd.DataFrame(summary),
        "per_class": pd.DataFrame(per_class),
        "confusion": cms,
        "learning_curves": curves,
        "display": {f: display_name(f, info.get(f)) for f in fields},
    }


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
