"""Bounded memory: read a view's ids and fields, and write results, one chunk at a time.

Long operators never hold a whole view's values: :func:`iter_chunks` pages
through the view by sample id (``_id > last id``, sorted by ``_id``, at most
``size`` samples per query: keyset pagination, so each query costs the same
however far it is into the view, and samples written meanwhile are neither
skipped nor seen twice), and results go back with :func:`write` (one
``set_values(..., key_field="id")`` per chunk). The chunk size defaults to
:data:`classlab.defaults.CHUNK_SIZE`, read at call time.

The order is the samples' id order, not the view's own sort: results are
written by id, so it does not matter to them. :func:`vectors` loads one field
of a view as a single float32 array (for what needs every vector at once:
FiftyOne Brain's maps, indexes and scores), and :func:`sorted_by_id` is the
view whose rows it matches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classlab import defaults
from classlab.errors import InputError


def chunk_size(size: int | None = None) -> int:
    """``size``, or :data:`classlab.defaults.CHUNK_SIZE`; a positive integer."""
    size = defaults.CHUNK_SIZE if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {size!r}")
    return size


@dataclass
class Chunk:
    """One chunk of a view: ``ids`` and the requested fields' values, aligned.

    ``start`` is the position of the chunk's first sample in the iteration.
    """

    start: int
    ids: list[str]
    values: dict[str, list] = field(default_factory=dict)
    _view: Any = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str) -> list:
        return self.values[name]

    @property
    def view(self):
        """The chunk's samples as a view of the iterated view (``select`` by id)."""
        return self._view.select(self.ids)


def sorted_by_id(view):
    """``view`` in sample-id order: the order of :func:`iter_chunks` and :func:`vectors`."""
    return view.mongo([{"$sort": {"_id": 1}}])


def _after(view, last: str | None):
    from bson import ObjectId

    stages = [] if last is None else [{"$match": {"_id": {"$gt": ObjectId(last)}}}]
    return view.mongo([*stages, {"$sort": {"_id": 1}}])


def iter_chunks(
    view, fields: Sequence[str] = (), size: int | None = None, raw: bool = False
) -> Iterator[Chunk]:
    """Yields the view's samples as :class:`Chunk` s of at most ``size`` (default
    :data:`classlab.defaults.CHUNK_SIZE`), in sample-id order.

    Each chunk is one query (``_id`` greater than the last chunk's, sorted, limited),
    made only when the caller asks for the next chunk, so at most one chunk of
    values is held here at a time. ``fields`` are ``values()`` paths (e.g.
    ``"filepath"``, ``"ground_truth.label"``); missing values read as None. ``raw``:
    the values as the database holds them (e.g. a vector as its compressed bytes,
    not decoded one ``np.load`` at a time); the ids are strings either way.
    """
    size = chunk_size(size)
    fields = list(fields)
    last, start = None, 0
    while True:
        part = _after(view, last).limit(size)
        read = part.values(["id", *fields], _allow_missing=True, _raw=raw)
        ids = [str(i) for i in read[0]] if raw else read[0]
        if not ids:
            return
        yield Chunk(start, ids, dict(zip(fields, read[1:])), view)
        if len(ids) < size:
            return
        last, start = ids[-1], start + len(ids)


def write(view, field_name: str, values: dict, **kwargs) -> None:
    """Writes ``{sample id: value}`` into ``field_name`` (one bulk ``set_values``)."""
    if values:
        view.set_values(field_name, values, key_field="id", **kwargs)


def vectors(view, field_name: str, size: int | None = None) -> np.ndarray:
    """The vectors of ``field_name`` as ONE float32 array (rows in sample-id order,
    those of :func:`sorted_by_id`), filled chunk by chunk: never a list of arrays.

    Raises:
        InputError: a sample has no vector, or the vectors differ in length
    """
    total = view.count()
    out: np.ndarray | None = None
    for chunk in iter_chunks(view, [field_name], size):
        for k, v in enumerate(chunk[field_name]):
            if v is None:
                raise InputError(
                    f"Sample {chunk.ids[k]} has no {field_name!r}: compute the embeddings "
                    "for every sample of the view first"
                )
            row = np.asarray(v, dtype=np.float32).ravel()
            if out is None:
                out = np.empty((total, row.size), np.float32)
            if row.size != out.shape[1]:
                raise InputError(
                    f"The vectors of {field_name!r} differ in length ({row.size} and "
                    f"{out.shape[1]}): recompute them with one model"
                )
            out[chunk.start + k] = row
    return out if out is not None else np.zeros((0, 0), np.float32)


class Failures:
    """Failures across chunks: their count, and the first ``keep`` as
    ``{"filepath", "error"}`` (what results and messages show)."""

    def __init__(self, keep: int = 20):
        self.keep = keep
        self.count = 0
        self.first: list[dict[str, str]] = []

    def add(self, filepath: str, error: str) -> None:
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append({"filepath": filepath, "error": error})

    def __len__(self) -> int:
        return self.count
