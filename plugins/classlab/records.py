"""Run records kept on the dataset (``dataset.info["classlab_runs"][kind][key]``).

One mechanism for every kind of ClassLab run: trained models (``"models"``),
CLIP embeddings and zero-shot runs (``"clip"``), augmentation runs
(``"augmentations"``), score runs (``"scores"``). A record is a JSON-able dict.

Every write is ONE atomic MongoDB update of one record's path in the dataset's
document (``$set``, ``$unset``, ``$rename`` with a guard in the filter), never a
read-modify-write of the whole ``dataset.info``: two processes (or machines)
writing different records lose nothing, and of two processes creating or
renaming onto the same key exactly one succeeds. Reads go to the database
too, so a record written by another process is seen at once.

Keys are stored escaped (``%`` -> ``%25``, ``.`` -> ``%2E``, a leading ``$`` ->
``%24``) because MongoDB reads ``.`` in a path as nesting; the functions here
take and return the keys as the user wrote them.

Caveat: code that edits ``dataset.info["classlab_runs"]`` itself and calls
``dataset.save()`` replaces the whole dict; use these functions instead.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

from classlab.errors import InputError, RunExistsError, RunNotFoundError

INFO_KEY = "classlab_runs"


def _escape(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise InputError(f"A record key must be a non-empty string, got {key!r}")
    out = key.replace("%", "%25").replace(".", "%2E")
    return "%24" + out[1:] if out.startswith("$") else out


def _unescape(key: str) -> str:
    if key.startswith("%24"):
        key = "$" + key[3:]
    return key.replace("%2E", ".").replace("%25", "%")


def _path(kind: str, key: Optional[str] = None) -> str:
    path = f"info.{INFO_KEY}.{_escape(kind)}"
    return path if key is None else f"{path}.{_escape(key)}"


def _collection_and_id(dataset):
    dataset = getattr(dataset, "_dataset", dataset)
    doc = dataset._doc
    return doc._get_collection(), doc.id, dataset


def _kinds(dataset) -> dict:
    coll, _id, _ = _collection_and_id(dataset)
    found = coll.find_one({"_id": _id}, {f"info.{INFO_KEY}": 1}) or {}
    return (found.get("info") or {}).get(INFO_KEY) or {}


def _refresh(dataset) -> None:
    """Brings the in-memory ``dataset.info`` up to date after a direct write."""
    _, _, ds = _collection_and_id(dataset)
    ds._doc.reload("info")


def _update(dataset, guard: dict, update: dict) -> bool:
    """One atomic update of the dataset document; True when ``guard`` matched."""
    coll, _id, _ = _collection_and_id(dataset)
    # $set on a path below a null ``info`` fails: make it a document first
    coll.update_one({"_id": _id, "info": None}, {"$set": {"info": {}}})
    res = coll.update_one({"_id": _id, **guard}, update)
    _refresh(dataset)
    return res.matched_count == 1


def list_records(dataset, kind: str) -> dict[str, dict]:
    """All records of ``kind``: ``{key: record}`` (copies)."""
    recs = _kinds(dataset).get(_escape(kind)) or {}
    return {_unescape(k): copy.deepcopy(v) for k, v in recs.items()}


def get_record(dataset, kind: str, key: str) -> Optional[dict]:
    """The record ``kind/key``, or None."""
    rec = (_kinds(dataset).get(_escape(kind)) or {}).get(_escape(key))
    return copy.deepcopy(rec) if rec is not None else None


def set_record(
    dataset, kind: str, key: str, record: dict[str, Any], *, create_only: bool = False
) -> None:
    """Creates or replaces the record ``kind/key`` atomically.

    Args:
        create_only: refuse to replace an existing record (of two concurrent
            creators, exactly one succeeds)

    Raises:
        RunExistsError: ``create_only`` and the record exists
    """
    path = _path(kind, key)
    guard = {path: {"$exists": False}} if create_only else {}
    if not _update(dataset, guard, {"$set": {path: copy.deepcopy(record)}}):
        raise RunExistsError(
            f"A {kind} record {key!r} exists: choose another key, or delete or overwrite it"
        )


def replace_record(dataset, kind: str, key: str, record: dict[str, Any]) -> Optional[dict]:
    """Creates or replaces ``kind/key`` in one atomic find-and-modify; returns the
    record it replaced (None if there was none). Of two concurrent replaces, each
    gets exactly the record it replaced."""
    from pymongo import ReturnDocument

    coll, _id, _ = _collection_and_id(dataset)
    path = _path(kind, key)
    coll.update_one({"_id": _id, "info": None}, {"$set": {"info": {}}})
    before = coll.find_one_and_update(
        {"_id": _id},
        {"$set": {path: copy.deepcopy(record)}},
        projection={path: 1},
        return_document=ReturnDocument.BEFORE,
    )
    _refresh(dataset)
    return _at(before, path)


def _at(doc: Optional[dict], path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def update_record(dataset, kind: str, key: str, **changes: Any) -> dict:
    """Sets fields of the record ``kind/key`` (created if missing), each atomically;
    returns the new record."""
    path = _path(kind, key)
    if changes:
        sets = {f"{path}.{_escape(k)}": copy.deepcopy(v) for k, v in changes.items()}
        _update(dataset, {}, {"$set": sets})
    return get_record(dataset, kind, key) or {}


def update_record_before(dataset, kind: str, key: str, **changes: Any) -> Optional[dict]:
    """Sets fields of the existing record ``kind/key`` in ONE atomic find-and-modify and
    returns the record as it was just before (None, and nothing set, when it does not
    exist). Of two concurrent updates, each gets exactly the state it replaced."""
    from pymongo import ReturnDocument

    coll, _id, _ = _collection_and_id(dataset)
    path = _path(kind, key)
    sets = {f"{path}.{_escape(k)}": copy.deepcopy(v) for k, v in changes.items()}
    before = coll.find_one_and_update(
        {"_id": _id, path: {"$exists": True}},
        {"$set": sets},
        projection={path: 1},
        return_document=ReturnDocument.BEFORE,
    )
    _refresh(dataset)
    return _at(before, path)


def delete_record(dataset, kind: str, key: str) -> Optional[dict]:
    """Removes ``kind/key``; returns the removed record, or None.

    The read and the removal are one atomic find-and-modify: of two concurrent
    deletes, one gets the record and the other None.
    """
    from pymongo import ReturnDocument

    coll, _id, _ = _collection_and_id(dataset)
    path = _path(kind, key)
    before = coll.find_one_and_update(
        {"_id": _id, path: {"$exists": True}},
        {"$unset": {path: ""}},
        projection={path: 1},
        return_document=ReturnDocument.BEFORE,
    )
    _refresh(dataset)
    return _at(before, path)


def rename_record(dataset, kind: str, key: str, new_key: str) -> None:
    """Renames ``kind/key`` to ``kind/new_key`` in one atomic update.

    Raises:
        RunNotFoundError: ``kind/key`` does not exist (e.g. renamed meanwhile)
        RunExistsError: ``kind/new_key`` exists
    """
    old, new = _path(kind, key), _path(kind, new_key)
    if old == new:
        return
    guard = {old: {"$exists": True}, new: {"$exists": False}}
    if _update(dataset, guard, {"$rename": {old: new}}):
        return
    if get_record(dataset, kind, key) is None:
        raise RunNotFoundError(f"No {kind} record {key!r} to rename: list the records first")
    raise RunExistsError(
        f"A {kind} record {new_key!r} exists: choose another new name, or delete it first"
    )
