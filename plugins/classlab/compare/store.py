"""Labels, confidences and logits of classification fields, read once per dataset version.

The comparison panel answers every click from arrays kept here: a field is read
from the database (one bulk pass over the samples of the compared scope, e.g. the
test split, for all the fields a request misses) only the first time it is asked
for in a dataset version and scope.
The version (:func:`dataset_stamp`) is the newest ``last_modified_at`` of the
samples (an indexed field: one index lookup) and their count, so any edit of a
sample (new predictions, relabelling, tags), any added or deleted sample, drops
the dataset's arrays and the next request reads again.

Per-field tables are kept per version too (:meth:`FieldStore.memo`), so a picker
that changes one thing recomputes only that thing.

Memory: one dataset version costs about ``n * (8 + 8 * models * (2 + classes))``
bytes (70,000 samples x 3 models x 10 classes: about 60 MB); at most
``max_datasets`` versions and :data:`MAX_SCOPES` scopes per version are kept
(least recently used first out).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from classlab.compare.predictions import _unpack

logger = logging.getLogger("classlab")

SCOPE_ALL = "all"
SCOPE_VIEW = "view"


def dataset_stamp(dataset) -> tuple:
    """The dataset's version: ``(id, newest sample last_modified_at, sample count)``."""
    ds = getattr(dataset, "_dataset", dataset)
    coll = ds._sample_collection
    newest = coll.find_one({}, {"last_modified_at": 1}, sort=[("last_modified_at", -1)])
    return (
        str(ds._doc.id),
        (newest or {}).get("last_modified_at"),
        coll.estimated_document_count(),
    )


MAX_SCOPES = 8  # row sets (splits, views) kept per dataset version


class _Rows:
    """The samples of one scope: their ids and per-field arrays, in one order."""

    def __init__(self):
        self.ids: np.ndarray | None = None  # sample ids (str)
        self.fields: dict[str, dict] = {}


class _Entry:
    """One dataset version: the row sets of its scopes, and memos."""

    def __init__(self, stamp: tuple):
        self.stamp = stamp
        self.rows: OrderedDict[str, _Rows] = OrderedDict()
        self.memo: dict[tuple, Any] = {}
        self.lock = threading.Lock()


class FieldStore:
    """Keeps the arrays of at most ``max_datasets`` dataset versions."""

    def __init__(self, max_datasets: int = 4):
        self.max_datasets = max_datasets
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0  # database passes over the samples (the tests count them)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entry(self, dataset) -> _Entry:
        """The current version's entry (a new, empty one after any change)."""
        stamp = dataset_stamp(dataset)
        key = stamp[0]
        with self._lock:
            ent = self._entries.get(key)
            if ent is None or ent.stamp != stamp:
                ent = _Entry(stamp)
                self._entries[key] = ent
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_datasets:
                self._entries.popitem(last=False)
        return ent

    # ------------------------------------------------------------ arrays

    def arrays(
        self, dataset, fields: Sequence[str], scope: str = SCOPE_ALL, view=None
    ) -> tuple[_Entry, str, np.ndarray, dict[str, dict]]:
        """``(entry, scope key, ids, {field: {"labels", "confidence", "logits"}})`` of
        the samples of ``scope`` (``"all"``, a tag, or ``"view"``: ``view``'s samples),
        reading the fields it misses in ONE pass over those samples only."""
        ds = getattr(dataset, "_dataset", dataset)
        ent = self.entry(ds)
        key = scope_key(scope, view)
        with ent.lock:
            rows = ent.rows.get(key) or _Rows()
            ent.rows[key] = rows
            ent.rows.move_to_end(key)
            while len(ent.rows) > MAX_SCOPES:
                ent.rows.popitem(last=False)
            missing = [f for f in dict.fromkeys(fields) if f not in rows.fields]
            if missing or rows.ids is None:
                self._read(ds, rows, missing, _samples(ds, scope, view))
        return ent, key, rows.ids, {f: rows.fields[f] for f in fields}

    def _read(self, ds, rows: _Rows, fields: list[str], samples) -> None:
        proj = {"_id": 1}
        for f in fields:
            for sub in ("label", "confidence", "logits"):
                proj[f"{f}.{sub}"] = 1
        coll = ds._sample_collection
        if samples is None:
            docs = list(coll.find({}, proj, batch_size=10_000))
        else:
            pipeline = [*samples._pipeline(), {"$project": proj}]
            docs = list(coll.aggregate(pipeline, allowDiskUse=True, batchSize=10_000))
        self.reads += 1
        ids = np.array([str(d["_id"]) for d in docs], dtype=object)
        order = None
        if rows.ids is None:
            rows.ids = ids
        elif len(ids) != len(rows.ids) or not np.array_equal(ids, rows.ids):
            order = _positions(ids, rows.ids)  # another order than the first pass: align
        for f in fields:
            rows.fields[f] = _decode(docs, f, order)
        logger.debug("compare store: read %s of %s (%d samples)", fields, ds.name, len(ids))

    def tag_counts(self, dataset) -> dict[str, int]:
        """How many samples carry each tag (one aggregation per dataset version)."""
        ds = getattr(dataset, "_dataset", dataset)
        return self.memo(self.entry(ds), ("tag_counts",), ds.count_sample_tags)

    def has_tag(self, dataset, tag: str) -> bool:
        """Whether any sample carries ``tag`` (stops at the first one)."""
        ds = getattr(dataset, "_dataset", dataset)
        coll = ds._sample_collection
        found = lambda: coll.find_one({"tags": tag}, {"_id": 1}) is not None  # noqa: E731
        return self.memo(self.entry(ds), ("has_tag", tag), found)

    def size(self, dataset) -> int:
        """How many samples the dataset holds (from its version stamp)."""
        return int(self.entry(dataset).stamp[2])

    def memo(self, ent: _Entry, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per entry and key."""
        if key not in ent.memo:
            ent.memo[key] = compute()
        return ent.memo[key]


def scope_key(scope: str, view=None) -> str:
    """The key of a scope's row set (a view's is its stages)."""
    return scope if scope != SCOPE_VIEW else "view:" + _view_key(view)


def _samples(ds, scope: str, view):
    """The view whose samples a scope holds; None for every sample of ``ds``."""
    if scope == SCOPE_ALL:
        return None
    if scope == SCOPE_VIEW:
        return view if view is not None and view._all_stages else None
    return ds.match_tags(scope)


def _view_key(view) -> str:
    return json.dumps(view._serialize() if view is not None else [], sort_keys=True, default=str)


def _positions(ids: np.ndarray, base: np.ndarray, member: bool = False) -> np.ndarray:
    """Where each of ``base``'s ids sits in ``ids`` (``member``: a mask over ``base``
    of the ids present in ``ids``), by hashing."""
    import pandas as pd

    idx = pd.Index(ids).get_indexer(pd.Index(base))
    return idx >= 0 if member else idx


def _decode(docs: list[dict], field: str, order: np.ndarray | None) -> dict:
    """Labels (object array, None where absent), confidences (NaN) and logits (n x K,
    NaN rows) of one field, in the entry's sample order."""
    vals = [d.get(field) or {} for d in docs]
    labels = np.array([v.get("label") for v in vals], dtype=object)
    conf = np.array([v.get("confidence") for v in vals], dtype=float)  # None -> nan
    logits = _logits([v.get("logits") for v in vals])
    if order is not None:
        pick = np.clip(order, 0, None)
        labels, conf = labels[pick], conf[pick]
        labels[order < 0], conf[order < 0] = None, np.nan
        if logits is not None:
            logits = logits[pick]
            logits[order < 0] = np.nan
    return {"labels": labels, "confidence": conf, "logits": logits}


def _logits(values: list) -> np.ndarray | None:
    """An ``n x K`` matrix from stored vectors (None when no sample has logits).

    FiftyOne stores a vector as zlib-compressed ``np.save`` bytes: every blob is
    decompressed, and when all share one header (the usual case) the bodies are
    joined and viewed as one matrix, with no per-sample numpy call."""
    import zlib

    present = [i for i, v in enumerate(values) if v is not None]
    if not present:
        return None
    if all(isinstance(values[i], bytes) for i in present):
        bufs = list(map(zlib.decompress, (values[i] for i in present)))
        if len(set(map(len, bufs))) == 1:
            first = _unpack(values[present[0]])
            size = len(bufs[0])
            offset = size - first.nbytes
            body = np.frombuffer(b"".join(bufs), dtype=np.uint8).reshape(len(bufs), size)
            if (body[:, :offset] == body[0, :offset]).all():  # one shared .npy header
                mat = np.ascontiguousarray(body[:, offset:]).view(first.dtype)
                out = np.full((len(values), mat.shape[1]), np.nan, dtype=np.float32)
                out[present] = mat
                return out
    vecs = [None if v is None else _unpack(v) for v in values]
    width = max((len(v) for v in vecs if v is not None), default=0)
    out = np.full((len(vecs), width), np.nan, dtype=np.float32)
    rows = [i for i, v in enumerate(vecs) if v is not None and len(v) == width]
    if rows:
        out[rows] = np.stack([vecs[i] for i in rows])
    return out


# The panel's store: one per process, bounded (see the module docstring). A data
# cache, not a model cache: it holds arrays read from the database and is
# dropped per dataset as soon as its samples change.
STORE = FieldStore()
