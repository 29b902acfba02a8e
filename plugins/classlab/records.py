"""Run records kept on the dataset (``dataset.info["classlab_runs"][kind][key]``).

One mechanism for every kind of ClassLab run: trained models (``"models"``),
CLIP embeddings and zero-shot runs (``"clip"``), augmentation runs
(``"augmentations"``), score runs (``"scores"``). A record is a JSON-able dict.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

INFO_KEY = "classlab_runs"


def _runs(dataset) -> dict:
    dataset.reload()
    return dataset.info.get(INFO_KEY, {})


def list_records(dataset, kind: str) -> dict[str, dict]:
    """All records of ``kind``: ``{key: record}`` (copies)."""
    return copy.deepcopy(_runs(dataset).get(kind, {}))


def get_record(dataset, kind: str, key: str) -> Optional[dict]:
    """The record ``kind/key``, or None."""
    rec = _runs(dataset).get(kind, {}).get(key)
    return copy.deepcopy(rec) if rec is not None else None


def set_record(dataset, kind: str, key: str, record: dict[str, Any]) -> None:
    """Creates or replaces the record ``kind/key``."""
    runs = _runs(dataset)
    runs.setdefault(kind, {})[key] = copy.deepcopy(record)
    dataset.info[INFO_KEY] = runs
    dataset.save()


def update_record(dataset, kind: str, key: str, **changes: Any) -> dict:
    """Updates fields of an existing record; returns the new record."""
    runs = _runs(dataset)
    rec = runs.setdefault(kind, {}).setdefault(key, {})
    rec.update(copy.deepcopy(changes))
    dataset.info[INFO_KEY] = runs
    dataset.save()
    return copy.deepcopy(rec)


def delete_record(dataset, kind: str, key: str) -> Optional[dict]:
    """Removes ``kind/key``; returns the removed record, or None."""
    runs = _runs(dataset)
    rec = runs.get(kind, {}).pop(key, None)
    dataset.info[INFO_KEY] = runs
    dataset.save()
    return rec


def rename_record(dataset, kind: str, key: str, new_key: str) -> None:
    """Renames ``kind/key`` to ``kind/new_key`` (which must not exist)."""
    runs = _runs(dataset)
    recs = runs.get(kind, {})
    recs[new_key] = recs.pop(key)
    dataset.info[INFO_KEY] = runs
    dataset.save()
