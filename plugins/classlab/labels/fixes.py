"""Review and fix labels: accept a suggested label (or a chosen class), keep a
reviewed label, and revert fixes exactly.

For a label field ``L`` (default ``ground_truth``) a fix keeps:

- ``L_original``: the label as it was before the first fix (the whole Classification,
  its id and attributes included), until a revert puts it back;
- ``L_history``: a list of ``{"time", "source", "action", "from", "to"}`` entries,
  one per change (``action``: ``fix``, ``keep`` or ``revert``; ``source``: the
  suggestion field, ``"manual"``, or the caller's own text);
- tags: a fixed sample loses ``issue_tag`` and gets ``fixed_tag``; a kept one loses
  ``issue_tag`` and gets ``ok_tag`` (so :func:`~classlab.labels.issues.find_label_issues`
  never flags it again); a revert restores the label and the tags the first fix changed.

Writes are bulk (``set_values`` by id), ``CHUNK`` samples at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Optional

from classlab import defaults
from classlab.errors import EmptyViewError, InputError
from classlab.validation import distinct_labels, require_classification_field, require_nonempty

logger = logging.getLogger("classlab")

CHUNK = 5000


def original_field(label_field: str) -> str:
    """Where the label before the first fix is kept."""
    return f"{label_field}_original"


def history_field(label_field: str) -> str:
    """Where the changes of ``label_field`` are listed."""
    return f"{label_field}_history"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


ACTIONS = ("suggested", "class", "keep")


def check_action(action: str, label: Optional[str] = None) -> str:
    """``action`` is one of :data:`ACTIONS`; ``"class"`` needs ``label``."""
    if action not in ACTIONS:
        raise InputError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    if action == "class" and not label:
        raise InputError("action 'class' needs a label: pick the class to set")
    return action


def check_fix_args(view, label_field, suggestion_field, label) -> Optional[str]:
    """Checks a fix before any write; returns the class to set (None: the suggestion).

    Raises:
        EmptyViewError: nothing to fix; FieldError: a field is missing or of another
        kind; InputError: ``label`` is not one of the label field's classes
    """
    require_nonempty(view, "selection of samples to fix")
    require_classification_field(view, label_field, "label_field")
    if label:
        classes = distinct_labels(view._dataset, label_field)
        if label not in classes:
            raise InputError(
                f"label {label!r} is not a class of {label_field!r}: pick one of "
                f"{', '.join(classes[:20])}"
            )
        return label
    require_classification_field(view, suggestion_field, "suggestion_field")
    if not view.exists(suggestion_field).limit(1).count():
        raise EmptyViewError(
            f"No selected sample has a {suggestion_field!r}: run find_label_issues first, "
            "or choose a class (label) to set"
        )
    return None


def _columns(view, label_field: str, extra: list[str]) -> dict[str, list]:
    """``{name: values}`` for id, tags, the label field, its history and original, and
    ``extra`` (fields that do not exist read as None)."""
    dataset = view._dataset
    names = ["id", "tags", label_field, history_field(label_field), original_field(label_field)]
    names += [f for f in extra if f not in names]
    present = [n for n in names if n in ("id", "tags") or dataset.has_field(n)]
    values = dict(zip(present, view.values(present)))
    n = len(values["id"])
    return {name: values.get(name, [None] * n) for name in names}


def _write(dataset, label_field: str, changes: list[dict]) -> None:
    """Writes each sample's new label, original, history and tags in ONE database update
    (one bulk write per chunk), so that a crash leaves every sample either untouched or
    wholly changed: a label changed without its history entry could never be reverted."""
    import fiftyone as fo
    from bson import ObjectId
    from pymongo import UpdateOne

    hist, orig = history_field(label_field), original_field(label_field)
    if not dataset.has_field(hist):
        dataset.add_sample_field(hist, fo.ListField, subfield=fo.DictField)
    if not dataset.has_field(orig):
        dataset.add_sample_field(
            orig, fo.EmbeddedDocumentField, embedded_doc_type=fo.Classification
        )
    coll = dataset._sample_collection  # FiftyOne has no public per-document multi-field update
    for start in range(0, len(changes), CHUNK):
        part = changes[start : start + CHUNK]
        tags = dict(zip(*dataset.select([c["id"] for c in part]).values(["id", "tags"])))
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        ops = []
        for c in part:
            kept = [t for t in tags[c["id"]] or [] if t not in c.get("untag", ())]
            sets = {
                label_field: c["label"].to_dict() if c["label"] is not None else None,
                hist: c["history"],
                "tags": kept + [t for t in c.get("tag", ()) if t not in kept],
                "last_modified_at": now,
            }
            if "original" in c:
                sets[orig] = c["original"].to_dict() if c["original"] is not None else None
            ops.append(UpdateOne({"_id": ObjectId(c["id"])}, {"$set": sets}))
        coll.bulk_write(ops, ordered=False)
    dataset.reload()


def _entry(action: str, source: str, old, new, **extra) -> dict:
    return {
        "time": _now(),
        "action": action,
        "source": source,
        "from": getattr(old, "label", None),
        "to": getattr(new, "label", None),
        **extra,
    }


def fix_labels(
    view,
    label_field: str = defaults.GROUND_TRUTH,
    suggestion_field: str = defaults.SUGGESTED_LABEL_FIELD,
    label: Optional[str] = None,
    source: Optional[str] = None,
    issue_tag: str = defaults.LABEL_ISSUE_TAG,
    fixed_tag: str = defaults.LABEL_FIXED_TAG,
) -> dict[str, Any]:
    """Sets the label of every sample of ``view`` to its suggestion (or to ``label``).

    Args:
        view: the samples to fix (the App's selection, or a tag's samples)
        label_field: the labels to change
        suggestion_field: where the suggestions are (used when ``label`` is None)
        label: a class of ``label_field`` to set instead of the suggestion
        source: what the history records as the change's source (default: the
            suggestion field, or ``"manual"``)
        issue_tag, fixed_tag: removed from / added to each fixed sample

    Returns:
        ``{"fixed": n, "unchanged": n, "skipped": n, "ids": [...]}`` (``skipped``:
        no label, or no suggestion)
    """
    label = check_fix_args(view, label_field, suggestion_field, label)
    source = source or ("manual" if label else suggestion_field)
    cols = _columns(view, label_field, [] if label else [suggestion_field])
    suggested = cols.get(suggestion_field) or [None] * len(cols["id"])
    changes, unchanged, skipped = [], 0, 0
    for i, sid in enumerate(cols["id"]):
        old = cols[label_field][i]
        target = label or getattr(suggested[i], "label", None)
        if old is None or target is None:
            skipped += 1
            continue
        if old.label == target:
            unchanged += 1
            continue
        new = old.copy()
        new.label = target
        first = cols[original_field(label_field)][i] is None
        had = issue_tag in (cols["tags"][i] or [])
        entry = _entry("fix", source, old, new, untagged=[issue_tag] if had and first else [])
        history = list(cols[history_field(label_field)][i] or []) + [entry]
        change = {"id": sid, "label": new, "history": history}
        if first:
            change["original"] = old
        change["untag"], change["tag"] = ([issue_tag] if had else []), [fixed_tag]
        changes.append(change)
    _write(view._dataset, label_field, changes)
    logger.info("fixed %d labels of %r (%s)", len(changes), label_field, source)
    ids = [c["id"] for c in changes]
    return {"fixed": len(changes), "unchanged": unchanged, "skipped": skipped, "ids": ids}


def revert_label_fixes(
    view,
    label_field: str = defaults.GROUND_TRUTH,
    fixed_tag: str = defaults.LABEL_FIXED_TAG,
    source: str = "revert",
) -> dict[str, Any]:
    """Puts back the label each sample of ``view`` had before its first fix (exactly:
    the stored Classification), and the tags that fix removed; logs a ``revert`` entry.

    Returns:
        ``{"reverted": n, "ids": [...]}``

    Raises:
        EmptyViewError: no sample of ``view`` has a fix to revert
    """
    require_nonempty(view, "selection of samples to revert")
    orig = original_field(label_field)
    if not view._dataset.has_field(orig) or not view.exists(orig).limit(1).count():
        raise EmptyViewError(
            f"No selected sample has a fixed {label_field!r} to revert: select fixed samples "
            f"(tag {fixed_tag!r})"
        )
    cols = _columns(view.exists(orig), label_field, [])
    changes = []
    for i, sid in enumerate(cols["id"]):
        history = list(cols[history_field(label_field)][i] or [])
        retag = _first_fix_untagged(history)
        before, current = cols[orig][i], cols[label_field][i]
        entry = _entry("revert", source, current, before)
        changes.append(
            {
                "id": sid,
                "label": before,
                "original": None,
                "history": history + [entry],
                "untag": [fixed_tag],
                "tag": retag,
            }
        )
    _write(view._dataset, label_field, changes)
    return {"reverted": len(changes), "ids": [c["id"] for c in changes]}


def _first_fix_untagged(history: list) -> list:
    """The tags removed by the first fix since the last revert (to put back)."""
    since = []
    for entry in reversed(history):
        if (entry or {}).get("action") == "revert":
            break
        since.append(entry or {})
    fixes = [e for e in reversed(since) if e.get("action") == "fix"]
    return list(fixes[0].get("untagged") or []) if fixes else []


def mark_labels_ok(
    view,
    label_field: str = defaults.GROUND_TRUTH,
    ok_tag: str = defaults.LABEL_OK_TAG,
    issue_tag: str = defaults.LABEL_ISSUE_TAG,
    source: str = "review",
) -> dict[str, Any]:
    """Marks the samples of ``view`` as reviewed and kept: ``ok_tag`` on, ``issue_tag``
    off, a ``keep`` entry in the history. Returns ``{"kept": n, "ids": [...]}``."""
    require_nonempty(view, "selection of samples to keep")
    require_classification_field(view, label_field, "label_field")
    cols = _columns(view, label_field, [])
    changes = []
    for i, sid in enumerate(cols["id"]):
        cur = cols[label_field][i]
        history = list(cols[history_field(label_field)][i] or [])
        changes.append(
            {
                "id": sid,
                "label": cur,
                "history": history + [_entry("keep", source, cur, cur)],
                "untag": [issue_tag],
                "tag": [ok_tag],
            }
        )
    _write(view._dataset, label_field, changes)
    return {"kept": len(changes), "ids": [c["id"] for c in changes]}
