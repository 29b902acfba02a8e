"""The comparison of :func:`compare_models` on a scope (a split, every sample, or the
App's current view), answered from the arrays kept by :mod:`classlab.compare.store`.

The first call for a dataset version reads the ground truth and the models' labels,
confidences and logits in one pass; later calls (another split, another baseline,
another pair of models) only index the kept arrays, and the per-field tables of a
(scope, ground truth, models) choice are computed once.

Example::

    from classlab.compare.scoped import compare_scoped

    res = compare_scoped(dataset, scope="test", baseline="lenet")
    print(res["summary"], res["n_samples"])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from classlab import defaults, records
from classlab.compare.comparison import _resolve_fields, assemble, field_tables
from classlab.compare.fields import model_info
from classlab.compare.repeats import repeat_summary
from classlab.compare.store import SCOPE_ALL, SCOPE_VIEW, STORE, FieldStore
from classlab.errors import EmptyViewError, InputError

SCOPES_HELP = "a split tag (train, val, test), 'all' or 'view'"


def scope_choices(dataset, store: FieldStore = STORE) -> list[tuple[str, str]]:
    """``[(scope, label)]``: the split tags the samples carry, every sample, the view."""
    counts = store.tag_counts(dataset)
    out = [(t, f"{t} split ({counts[t]:,})") for t in defaults.SPLIT_TAGS if counts.get(t)]
    out.append((SCOPE_ALL, f"all samples ({store.size(dataset):,})"))
    out.append((SCOPE_VIEW, "current view (the grid's samples)"))
    return out


def default_scope(dataset, store: FieldStore = STORE) -> str:
    """``test`` when samples carry that tag, else ``all``."""
    return defaults.TEST_TAG if store.has_tag(dataset, defaults.TEST_TAG) else SCOPE_ALL


def check_scope(scope: str) -> str:
    if not isinstance(scope, str) or not scope:
        raise InputError(f"scope must be {SCOPES_HELP}, got {scope!r}")
    return scope


def scope_view(dataset, scope: str, view_stages: list | None = None):
    """The samples of ``scope`` as a view (what the panel's clicks filter)."""
    check_scope(scope)
    if scope == SCOPE_ALL:
        return dataset.view()
    if scope == SCOPE_VIEW:
        from fiftyone.core.view import DatasetView

        return DatasetView._build(dataset, view_stages or [])
    return dataset.match_tags(scope)


def scoped_data(
    dataset, fields: Sequence[str], gt_field: str, scope: str, view=None, store=STORE
) -> tuple[Any, dict]:
    """``(entry, data)``: ``data`` as :func:`~classlab.compare.load_predictions` returns
    it, for the samples of ``scope`` that the ground truth and every field label."""
    check_scope(scope)
    ent, skey, ids, arr = store.arrays(dataset, [gt_field, *fields], scope, view)

    def build():
        gt = arr[gt_field]["labels"]
        keep = gt != None  # noqa: E711  (object arrays: elementwise)
        for f in fields:
            keep &= arr[f]["labels"] != None  # noqa: E711
        logits = {f: arr[f]["logits"][keep] for f in fields if arr[f]["logits"] is not None}
        return {
            "ids": ids[keep],
            "gt": gt[keep],
            "preds": {f: arr[f]["labels"][keep] for f in fields},
            "confidence": {f: arr[f]["confidence"][keep] for f in fields},
            "logits": {f: lg for f, lg in logits.items() if not np.isnan(lg).all()},
            "n_total": len(ids),
            "n_dropped": int((~keep).sum()),
            "scope_key": skey,
        }

    return ent, store.memo(ent, ("data", skey, gt_field, tuple(fields)), build)


def compare_scoped(
    dataset,
    fields: Sequence[str] | None = None,
    gt_field: str = defaults.GROUND_TRUTH,
    baseline: str | None = None,
    scope: str = defaults.TEST_TAG,
    view=None,
    agreement_pair: tuple[str, str] | None = None,
    top_k: int = 5,
    *,
    evals: list[dict] | None = None,
    store: FieldStore = STORE,
) -> dict[str, Any]:
    """:func:`~classlab.compare.compare_models` on the samples of ``scope``, from the
    kept arrays, plus ``scope``, ``repeats`` (:func:`repeat_summary`) and
    ``label_issues`` (:func:`label_issue_counts`).

    Args:
        dataset: the dataset
        scope: a tag (``"test"``: the test split), ``"all"``, or ``"view"`` (``view``'s
            samples)
        view: the view of ``scope="view"``
        other arguments: as in ``compare_models``

    Raises:
        FieldError: no evaluated models, or a field is missing / not Classification
        EmptyViewError: no sample of the scope has a label in every field
    """
    dataset = getattr(dataset, "_dataset", dataset)
    notes: list[str] = []
    fields = _resolve_fields(dataset, dataset, fields, gt_field, notes, evals)
    if len(fields) == 1:
        notes.append("Only one model: agreement and deltas need a second one.")
    baseline = baseline if baseline in fields else fields[0]
    ent, data = scoped_data(dataset, fields, gt_field, scope, view, store)
    if not data["n_total"]:
        raise EmptyViewError(
            f"No sample in the scope {scope!r}: pick another split (or 'all samples')."
        )
    if not len(data["gt"]):
        raise EmptyViewError(
            "No sample of the scope has a label in the ground truth and in every chosen "
            "model: the fields cover different samples. Compare fewer models."
        )
    if data["n_dropped"]:
        notes.append(
            f"Compared on the {len(data['gt'])} samples that have a label in {gt_field!r} and "
            f"every model ({data['n_dropped']} of {data['n_total']} left out)."
        )
    info = model_info(dataset)
    tables = store.memo(
        ent,
        (
            "tables",
            data["scope_key"],
            gt_field,
            tuple(fields),
            top_k,
            json.dumps(info, default=str),
        ),
        lambda: field_tables(dataset, fields, info, data, top_k),
    )
    result = assemble(fields, gt_field, baseline, notes, info, data, tables, agreement_pair)
    right = {f: data["preds"][f] == data["gt"] for f in fields}
    result.update(
        scope=scope,
        repeats=repeat_summary(right, fields, baseline),
        label_issues=label_issue_counts(dataset, gt_field),
    )
    return result


def label_issue_counts(dataset, gt_field: str = defaults.GROUND_TRUTH) -> dict | None:
    """The newest ``label_issues`` record on ``gt_field``'s labels, as ``{"key",
    "field", "counts": {class: n}}``; None when there is none."""
    recs = records.list_records(dataset, defaults.LABEL_ISSUES_KIND)
    cands = [
        (str(r.get("created_at") or ""), key, r)
        for key, r in recs.items()
        if isinstance(r, dict)
        and isinstance(r.get("counts_per_class"), dict)
        and r.get("label_field", gt_field) == gt_field
    ]
    if not cands:
        return None
    _, key, rec = max(cands, key=lambda c: (c[0], c[1]))
    counts = {str(k): int(v) for k, v in rec["counts_per_class"].items()}
    return {"key": key, "field": rec.get("field"), "counts": counts}
