"""Checkpoint files of trained models: named by an immutable id, committed crash-safely,
deleted only inside ClassLab's root and only when no record of any dataset references them.

A model's file is ``models_dir(dataset)/<model_id>.pt`` (``model_id``: a uuid4 hex kept
in the record), never the run key: renaming or re-training a key never touches another
model's file, and clones (whose records are copies) share the one file.

:func:`commit` writes a new model (or replaces one, with ``overwrite``) in five steps:

1. a journal ``.<model_id>~<host>~<pid>.pending`` (JSON: the new file, the old one);
2. ``torch.save`` into ``.<model_id>.pt~<host>~<pid>.tmp``, flushed to disk
   (fault point ``after_tmp_write``);
3. ``os.replace`` of the temp file onto ``<model_id>.pt`` (``after_replace``);
4. the record created (``create_only``) or replaced in ONE atomic update (``after_record``);
5. the old file removed if no record references it; the journal removed.

A crash at any point leaves the record pointing at a whole file (the old one before
step 4, the new one after). The next commit into that folder (:func:`sweep`) finishes
what a dead writer left: its temp file, and its new and old files when no record
references them. The test-only environment variable ``CLASSLAB_FAULT=<point>`` makes
the writer SIGKILL itself at that point.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path

from classlab import config, records
from classlab.errors import InputError, RunExistsError
from classlab.writers import alive, fault, owner

KIND = "models"
FAULT_POINTS = ("after_tmp_write", "after_replace", "after_record")

logger = logging.getLogger("classlab")


def new_model_id() -> str:
    """A fresh, immutable model id (names the checkpoint file)."""
    return uuid.uuid4().hex


def model_path(dataset_name: str, model_id: str) -> Path:
    """The checkpoint file of ``model_id`` for the dataset ``dataset_name``."""
    return config.models_dir(dataset_name) / f"{config.check_key(model_id, 'model_id')}.pt"


FILE_KEYS = ("checkpoint", "onnx_path")  # the record keys that name a model's files


def references(path: str | Path) -> list[tuple[str, str]]:
    """``(dataset name, run key)`` of every model record, on any dataset, whose checkpoint
    or ONNX file is ``path``. One query over the datasets collection (records of clones
    included)."""
    from fiftyone.core.odm import get_db_conn

    target = str(Path(path).expanduser().resolve())
    field = f"info.{records.INFO_KEY}.{KIND}"
    hits = []
    for doc in get_db_conn().datasets.find({field: {"$exists": True}}, {"name": 1, field: 1}):
        models = ((doc.get("info") or {}).get(records.INFO_KEY) or {}).get(KIND) or {}
        for key, rec in models.items():
            files = [rec.get(k) for k in FILE_KEYS] if isinstance(rec, dict) else []
            if any(f and str(Path(f).expanduser().resolve()) == target for f in files):
                hits.append((doc.get("name"), records._unescape(key)))
    return hits


def remove_unreferenced(path: str | Path | None) -> bool:
    """Deletes ``path`` when it is inside ClassLab's root and no record references it."""
    if not path:
        return False
    try:
        config.inside_root(path)
    except InputError:
        logger.warning("Kept %s: it is outside ClassLab's root", path)
        return False
    users = references(path)
    if users:
        logger.info("Kept %s: still used by %s", path, users)
        return False
    removed = config.remove_file(path)
    if removed:
        logger.info("Deleted checkpoint %s", path)
    return removed


def sweep(folder: Path) -> int:
    """Finishes what dead writers left in ``folder``; returns the number of files removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for journal in folder.glob(".*.pending"):
        if alive(journal.name, journal.stat().st_mtime):
            continue
        try:
            files = json.loads(journal.read_text())
        except (OSError, ValueError):
            files = {}
        for key in ("new", "old"):
            removed += remove_unreferenced(files.get(key))
        removed += config.remove_file(journal)
    for tmp in folder.glob(".*.tmp"):
        if not alive(tmp.name, tmp.stat().st_mtime):
            removed += config.remove_file(tmp)
    if removed:
        logger.info("Swept %d file(s) left by interrupted writes in %s", removed, folder)
    return removed


def write_atomic(path: Path, payload: dict) -> Path:
    """``torch.save`` into a temp file of ``path``'s folder, flushed, then ``os.replace``."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}~{owner()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        fault("after_tmp_write")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fault("after_replace")
    return path


def _swap_record(dataset, run_key: str, record: dict, create_only: bool):
    """Creates (``create_only``: RunExistsError if it exists) or replaces the record in
    one atomic update; returns the record it replaced (None if none).

    (The replaced record tells which old file to remove, even when two overwrites race.)
    """
    if create_only:
        try:
            records.set_record(dataset, KIND, run_key, record, create_only=True)
        except RunExistsError:
            raise RunExistsError(
                f"A model with run key {run_key!r} already exists (another run created it "
                "meanwhile): pick another run_key, or pass overwrite=True to replace it."
            ) from None
        return None
    return records.replace_record(dataset, KIND, run_key, record)


def commit(dataset, run_key: str, payload: dict, record: dict, overwrite: bool) -> dict:
    """Writes ``payload`` as a new checkpoint and ``record`` as the model ``run_key``.

    Sets ``record["model_id"]`` and ``record["checkpoint"]``. Without ``overwrite`` the
    record is created only if the key is free (of two concurrent trainings of one key,
    one wins; the other removes its own file and raises RunExistsError).

    Returns:
        the record written
    """
    folder = config.models_dir(dataset.name)
    folder.mkdir(parents=True, exist_ok=True)
    sweep(folder)
    model_id = new_model_id()
    new = model_path(dataset.name, model_id)
    old_rec = records.get_record(dataset, KIND, run_key) or {}
    old = old_rec.get("checkpoint")
    journal = folder / f".{model_id}~{owner()}.pending"
    journal.write_text(json.dumps({"new": str(new), "old": old}))
    record = {**record, "model_id": model_id, "checkpoint": str(new)}
    committed = False
    try:
        write_atomic(new, payload)
        previous = _swap_record(dataset, run_key, record, create_only=not overwrite)
        committed = True
        fault("after_record")
        replaced = [(previous or {}).get(k) for k in FILE_KEYS] + [old_rec.get("onnx_path")]
        for path in {p for p in (old, *replaced) if p and p != str(new)}:
            remove_unreferenced(path)
    finally:
        if not committed:
            config.remove_file(new)
        config.remove_file(journal)
    return record
