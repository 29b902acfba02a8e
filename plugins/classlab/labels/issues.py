"""Label issues by confident learning (cleanlab) from any field with logits.

:func:`find_label_issues` reads the given labels and the probabilities of one or
more prediction fields (their softmax; several fields are averaged), and calls
``cleanlab.filter.find_label_issues`` and ``cleanlab.rank.get_label_quality_scores``
(plain arrays in, plain arrays out). It writes:

- ``quality_field`` (float, lower = more likely wrong) on every sample it scored;
- ``suggestion_field``: a Classification (the predicted class, its probability) on
  every flagged sample (cleared on the others it scored);
- the tag ``tag`` on the flagged samples (removed from the others it scored);
- a record ``label_issues/<key>`` (:mod:`classlab.records`)::

    {"field": "lenet_oos",              # the prediction field(s), comma-joined
     "fields": ["lenet_oos"],
     "label_field": "ground_truth",
     "counts_per_class": {class: n},    # flagged samples per GIVEN label
     "counts_per_split": {tag: n},      # flagged samples per split tag (train/val/test)
     "num_flagged": n, "num_scored": n, "num_ok": n,
     "filter_by": ..., "method": ..., "tag": ..., "quality_field": ...,
     "suggestion_field": ..., "created_at": iso time}

Samples tagged ``ok_tag`` (reviewed and kept) are scored but never flagged again.
Probabilities should be out-of-sample and calibrated (:mod:`classlab.labels.oos`):
with in-sample or label-smoothed probabilities cleanlab flags little.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Sequence

import numpy as np

from classlab import defaults, records
from classlab.errors import EmptyViewError, FieldError, InputError
from classlab.progress import ProgressFn, as_progress

logger = logging.getLogger("classlab")

FILTER_BY = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
WRITE_CHUNK = 5000
SPLITS = defaults.SPLIT_TAGS


def check_choice(value, choices: Sequence[str], param: str) -> str:
    """``value`` is one of ``choices`` (cleanlab's names)."""
    if value not in choices:
        raise InputError(f"{param} must be one of {', '.join(choices)}, got {value!r}")
    return value


def as_fields(pred_fields) -> list[str]:
    """A field name or a list of them, as a non-empty list without duplicates."""
    fields = [pred_fields] if isinstance(pred_fields, str) else list(pred_fields or [])
    fields = [f for f in dict.fromkeys(fields) if f]
    if not fields:
        raise InputError("pred_fields: give one or more prediction fields with logits")
    return fields


def check_pred_field(view, field: str, label_field: str) -> str:
    """``field`` holds Classification predictions with logits (one count aggregation)."""
    from classlab.validation import require_classification_field

    if field == label_field:
        raise InputError(
            f"pred_fields: {field!r} is the label field itself: pick a prediction field"
        )
    require_classification_field(view, field, "prediction field (pred_fields)")
    if not view.exists(f"{field}.logits").limit(1).count():
        raise FieldError(
            f"The prediction field {field!r} has no logits: use a field written by "
            "compute_oos_predictions, apply_lenet or zero_shot_classify"
        )
    return field


def check_output_fields(dataset, quality_field: str, suggestion_field: str, protected) -> None:
    """The two output fields: new, or of their kind (float / Classification), never a
    built-in field, the labels or a prediction field read."""
    import fiftyone as fo

    from classlab.validation import builtin_fields, classification_fields, require_field_name

    for name, param in ((quality_field, "quality_field"), (suggestion_field, "suggestion_field")):
        require_field_name(name, param)
        if name in builtin_fields(dataset) or name in protected:
            raise FieldError(f"{param} {name!r} is a field this run reads or a built-in one")
    if quality_field == suggestion_field:
        raise InputError("quality_field and suggestion_field must be two different fields")
    if dataset.has_field(quality_field) and not isinstance(
        dataset.get_field(quality_field), fo.FloatField
    ):
        raise FieldError(f"quality_field {quality_field!r} exists and is not a float field")
    if dataset.has_field(suggestion_field) and suggestion_field not in classification_fields(
        dataset
    ):
        raise FieldError(
            f"suggestion_field {suggestion_field!r} exists and is not a Classification field"
        )


def field_classes(dataset, field: str, width: int, fallback: Sequence[str]) -> list[str]:
    """The class of each logit column of ``field``: from the run that wrote it (model
    or CLIP record), the dataset's classes, or ``fallback`` (the labels, sorted)."""
    from classlab.compare.fields import model_info

    info = model_info(dataset).get(field) or {}
    for cand in (info.get("classes"), dataset.classes.get(field), dataset.default_classes):
        if cand and len(cand) == width:
            return list(cand)
    if len(fallback) == width:
        return list(fallback)
    raise FieldError(
        f"Cannot tell which class each of the {width} logits of {field!r} is: no ClassLab "
        "run wrote it and dataset.classes has no list of that length. Set "
        f"dataset.classes[{field!r}] to the class list."
    )


def read_scored(view, fields: list[str], label_field: str, size: int | None = None):
    """The samples with a label and every field's prediction, read chunk by chunk
    (:func:`classlab.chunks.iter_chunks`, the logits as stored bytes) into compact
    arrays, never a whole field as Python objects: ``(ids, labels, per_field)`` where
    ``ids`` are the sample ids as bytes in id order (sorted), ``labels`` the given
    labels (str) and ``per_field[f]`` the softmax of ``f``'s logits (float64, the
    field's own column order).

    Raises:
        FieldError: a scored sample of a field has no logits, or they differ in length
    """
    from classlab.chunks import iter_chunks
    from classlab.compare.predictions import _unpack
    from classlab.labels.calibration import softmax

    total = view.count()
    paths = [f"{label_field}.label"]
    for f in fields:
        paths += [f"{f}.label", f"{f}.logits"]
    ids = np.empty(total, dtype="S24")
    codes = np.empty(total, dtype=np.int32)
    names: dict[str, int] = {}
    per_field: dict[str, np.ndarray] = {}
    n = 0
    for chunk in iter_chunks(view, paths, size, raw=True):
        gt = chunk[paths[0]]
        keep = np.array([bool(g) for g in gt], dtype=bool)
        for f in fields:
            keep &= np.array([bool(p) for p in chunk[f"{f}.label"]], dtype=bool)
        rows = np.flatnonzero(keep)
        if not len(rows):
            continue
        m = n + len(rows)
        ids[n:m] = [chunk.ids[i] for i in rows]
        codes[n:m] = [names.setdefault(gt[i], len(names)) for i in rows]
        for f in fields:
            z = [_unpack(chunk[f"{f}.logits"][i]) for i in rows]
            if any(r is None for r in z):
                raise FieldError(f"Some samples of {f!r} have no logits: re-run that prediction")
            if f not in per_field:
                per_field[f] = np.empty((total, len(z[0])), np.float64)
            width = per_field[f].shape[1]
            other = next((len(r) for r in z if len(r) != width), None)
            if other is not None:
                raise FieldError(
                    f"The logits of {f!r} differ in length ({width} and {other}): re-run "
                    "that prediction on the whole view with one model"
                )
            per_field[f][n:m] = softmax(np.stack(z))
        n = m
    labels = np.array(list(names), dtype=object)[codes[:n]] if n else np.zeros(0, object)
    return ids[:n], labels, {f: p[:n] for f, p in per_field.items()}


def pred_probs(dataset, per_field: dict, fields: list[str], gt: np.ndarray):
    """``(classes, probs)``: the mean of ``fields``' probabilities (``per_field``, as
    :func:`read_scored` returns them), columns aligned by class."""
    classes, total = None, None
    fallback = sorted(set(gt))
    for f in fields:
        p = per_field[f]
        cls = field_classes(dataset, f, p.shape[1], fallback)
        if classes is None:
            classes, total = cls, p
            continue
        if set(cls) != set(classes):
            raise InputError(f"pred_fields: {f!r} has other classes than {fields[0]!r}")
        total = total + p[:, [cls.index(c) for c in classes]]
    return classes, total / len(fields)


def check_issue_args(
    view, pred_fields, label_field, filter_by, method, quality_field, suggestion_field, tag, key
) -> list[str]:
    """Every check of :func:`find_label_issues`, in order; returns the fields list."""
    from classlab.config import check_key
    from classlab.validation import require_classification_field, require_nonempty

    require_nonempty(view)
    check_choice(filter_by, FILTER_BY, "filter_by")
    check_choice(method, METHODS, "method")
    check_key(key, "key")
    if not isinstance(tag, str) or not tag.strip():
        raise InputError(f"tag must be a non-empty string, got {tag!r}")
    require_classification_field(view, label_field, "label_field")
    fields = as_fields(pred_fields)
    for f in fields:
        check_pred_field(view, f, label_field)
    protected = {label_field, *fields}
    check_output_fields(view._dataset, quality_field, suggestion_field, protected)
    return fields


def _flag(labels: np.ndarray, probs: np.ndarray, filter_by: str, method: str):
    """cleanlab's two calls: ``(issue mask, label quality scores)``."""
    import warnings

    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a class with too few examples
        # n_jobs=1: cleanlab's default forks a process pool, which deadlocks inside a
        # threaded process that has run torch (the App server after a training operator)
        mask = cl_find(labels, probs, filter_by=filter_by, n_jobs=1)
        quality = get_label_quality_scores(labels, probs, method=method)
    return np.asarray(mask, dtype=bool), np.asarray(quality, dtype=float)


def _write(view, ids, quality, flagged, suggestions, fields, report) -> None:
    """Writes quality scores (chunked), suggestions and the tag; clears both on the
    scored samples that are no longer flagged."""
    q_field, s_field, tag = fields
    dataset = view._dataset
    n = len(ids)
    for start in range(0, n, WRITE_CHUNK):
        stop = min(start + WRITE_CHUNK, n)
        chunk = (i.decode() for i in ids[start:stop])
        values = dict(zip(chunk, (float(v) for v in quality[start:stop])))
        dataset.set_values(q_field, values, key_field="id")
        report(stop / max(n, 1), f"wrote {stop}/{n} label quality scores")
    flagged_set = set(flagged)

    def scored(candidates: list[str]) -> set[str]:  # those this run scored, not flagged
        return {c for c, k in zip(candidates, _in_sorted(ids, candidates)) if k} - flagged_set

    if dataset.has_field(s_field):
        stale = scored(view.exists(s_field).values("id"))
        if stale:
            dataset.set_values(s_field, dict.fromkeys(stale), key_field="id")
    if suggestions:
        dataset.set_values(s_field, suggestions, key_field="id")
    untag = scored(view.match_tags(tag).values("id"))
    if untag:
        dataset.select(list(untag)).untag_samples(tag)
    if flagged:
        dataset.select(flagged).tag_samples(tag)


def _require_scored(n: int) -> None:
    if n < 2:
        raise EmptyViewError(
            "Fewer than 2 samples have both a label and every prediction field: "
            "predict the view first (compute_oos_predictions)"
        )


def _in_sorted(sorted_ids: np.ndarray, candidates: list[str]) -> np.ndarray:
    """For each of ``candidates`` (str ids): is it in ``sorted_ids`` (bytes, sorted)?"""
    c = np.array(candidates, dtype="S24")
    if not len(c) or not len(sorted_ids):
        return np.zeros(len(c), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, c), len(sorted_ids) - 1)
    return sorted_ids[pos] == c


def _index(dataset, quality_field: str) -> None:
    """An index on the quality field (sorting the review), through H2's helper if present."""
    try:
        from classlab.curation.indexes import ensure_score_indexes
    except ImportError:
        dataset.create_index(quality_field)
        return
    ensure_score_indexes(dataset, [quality_field])


def _split_counts(dataset, flagged: list[str]) -> dict[str, int]:
    if not flagged:
        return {}
    tags = dataset.select(flagged).count_sample_tags()
    return {t: int(tags[t]) for t in SPLITS if t in tags}


def find_label_issues(
    view,
    pred_fields: str | Sequence[str] = defaults.OOS_FIELD,
    label_field: str = defaults.GROUND_TRUTH,
    filter_by: str = defaults.CLEANLAB_FILTER_BY,
    method: str = defaults.CLEANLAB_METHOD,
    quality_field: str = defaults.LABEL_QUALITY_FIELD,
    suggestion_field: str = defaults.SUGGESTED_LABEL_FIELD,
    tag: str = defaults.LABEL_ISSUE_TAG,
    ok_tag: str = defaults.LABEL_OK_TAG,
    key: str = defaults.LABEL_ISSUES_KEY,
    progress: ProgressFn | None = None,
) -> dict:
    """Finds likely label errors with confident learning; see the module docstring.

    Args:
        view: the samples to score (those with a label and every prediction field)
        pred_fields: one field with logits, or several (their probabilities averaged)
        label_field: the given labels to doubt
        filter_by: ``cleanlab.filter.find_label_issues``' ``filter_by``
        method: ``cleanlab.rank.get_label_quality_scores``' ``method``
        quality_field, suggestion_field, tag: what is written (see the module)
        ok_tag: samples reviewed and kept: scored, never flagged
        key: the record's key (kind ``label_issues``)
        progress: ``fn(fraction, label)``

    Returns:
        the record (see the module docstring) plus ``"key"``
    """
    report = as_progress(progress)
    fields = check_issue_args(
        view, pred_fields, label_field, filter_by, method, quality_field, suggestion_field, tag, key
    )
    report(0.05, f"reading labels and logits of {', '.join(fields)}", force=True)
    ids, gt, per_field = read_scored(view, fields, label_field)
    _require_scored(len(ids))
    dataset = view._dataset
    classes, probs = pred_probs(dataset, per_field, fields, gt)
    del per_field
    known = np.isin(gt, classes)
    if not known.all():
        ids, gt, probs = ids[known], gt[known], probs[known]
        _require_scored(len(ids))
    index = {c: k for k, c in enumerate(classes)}
    labels = np.array([index[g] for g in gt], dtype=np.int64)
    report(0.3, f"cleanlab on {len(ids)} samples ({filter_by}, {method})", force=True)
    mask, quality = _flag(labels, probs, filter_by, method)
    ok = 0
    if ok_tag:
        is_ok = np.isin(ids, np.array(view.match_tags(ok_tag).values("id"), dtype="S24"))
        mask &= ~is_ok
        ok = int(is_ok.sum())
    flagged = [i.decode() for i in ids[mask]]
    suggestions = _suggestions(ids, mask, probs, classes)
    _write(
        view,
        ids,
        quality,
        flagged,
        suggestions,
        (quality_field, suggestion_field, tag),
        report.stage(0.5, 0.95),
    )
    _index(dataset, quality_field)
    args = dict(filter_by=filter_by, method=method, tag=tag, quality_field=quality_field)
    args["suggestion_field"] = suggestion_field
    record = _record(fields, label_field, gt[mask], flagged, dataset, len(ids), ok, args)
    records.set_record(dataset, defaults.LABEL_ISSUES_KIND, key, record)
    report(1.0, f"{len(flagged)} label issues of {len(ids)} samples, tagged {tag!r}", force=True)
    return {**record, "key": key}


def _suggestions(ids, mask, probs, classes) -> dict:
    """``{id: Classification(predicted class, its probability)}`` of the flagged samples."""
    import fiftyone as fo

    out = {}
    for i in np.flatnonzero(mask):
        k = int(probs[i].argmax())
        out[ids[i].decode()] = fo.Classification(label=classes[k], confidence=float(probs[i, k]))
    return out


def _record(fields, label_field, flagged_gt, flagged, dataset, n, n_ok, args) -> dict:
    counts: dict[str, int] = {}
    for g in flagged_gt:
        counts[str(g)] = counts.get(str(g), 0) + 1
    return {
        "field": ", ".join(fields),
        "fields": list(fields),
        "label_field": label_field,
        "counts_per_class": dict(sorted(counts.items())),
        "counts_per_split": _split_counts(dataset, flagged),
        "num_flagged": len(flagged),
        "num_scored": n,
        "num_ok": n_ok,
        "filter_by": args["filter_by"],
        "method": args["method"],
        "tag": args["tag"],
        "quality_field": args["quality_field"],
        "suggestion_field": args["suggestion_field"],
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def list_label_issue_runs(dataset) -> dict[str, dict]:
    """The label-issue records of ``dataset``: ``{key: record}``."""
    return records.list_records(dataset, defaults.LABEL_ISSUES_KIND)


def review_view(
    dataset, tag: str = defaults.LABEL_ISSUE_TAG, quality_field: str = defaults.LABEL_QUALITY_FIELD
):
    """The flagged samples, most likely wrong first: what the App shows after a run."""
    return dataset.match_tags(tag).sort_by(quality_field)
