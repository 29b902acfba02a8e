"""Where a probe's weights live: ``models_dir(dataset)/<model_id>.npz`` (an immutable
id), committed with the record, removed only inside ClassLab's root and only when no
probe record of any dataset (a clone's, another key's) references the file."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from classlab import config, records
from classlab.errors import InputError
from classlab.probe.checks import KIND
from classlab.probe.model import Probe, save_probe

logger = logging.getLogger("classlab")


def references(path: str | Path) -> list[tuple[str, str]]:
    """``(dataset name, run key)`` of every probe record (any dataset: clones share
    files) whose weights are ``path``. One query over the datasets collection."""
    from fiftyone.core.odm import get_db_conn

    target = str(Path(path).expanduser().resolve())
    field = f"info.{records.INFO_KEY}.{KIND}"
    hits = []
    for doc in get_db_conn().datasets.find({field: {"$exists": True}}, {"name": 1, field: 1}):
        probes = ((doc.get("info") or {}).get(records.INFO_KEY) or {}).get(KIND) or {}
        for key, rec in probes.items():
            weights = rec.get("checkpoint") if isinstance(rec, dict) else None
            if weights and str(Path(weights).expanduser().resolve()) == target:
                hits.append((doc.get("name"), records._unescape(key)))
    return hits


def remove_unreferenced(path: str | Path | None) -> bool:
    """Deletes a weights file inside ClassLab's root that no probe record references."""
    if not path or references(path):
        return False
    try:
        return config.remove_file(path)
    except InputError:
        logger.warning("Kept %s: it is outside ClassLab's root", path)
        return False


def commit(dataset, run_key: str, probe: Probe, record: dict, overwrite: bool) -> dict:
    """Saves the weights under a new immutable id, then creates (or, with ``overwrite``,
    replaces) the record in one atomic update; the replaced weights go if unreferenced."""
    model_id = uuid.uuid4().hex
    path = config.models_dir(dataset.name) / f"{model_id}.npz"
    save_probe(path, probe)
    record = {**record, "model_id": model_id, "checkpoint": str(path)}
    try:
        if overwrite:
            previous = records.replace_record(dataset, KIND, run_key, record)
        else:
            records.set_record(dataset, KIND, run_key, record, create_only=True)
            previous = None
    except Exception:
        config.remove_file(path)
        raise
    remove_unreferenced((previous or {}).get("checkpoint"))
    return record
