"""Where a probe's weights live: ``models_dir(dataset)/<model_id>.npz`` (an immutable
id), committed with the record, removed only inside ClassLab's root and only when no
probe record of any dataset (a clone's, another key's) references the file.

:func:`commit` follows the checkpoint writer's steps (:mod:`classlab.lenet.checkpoints`):
a journal ``.<model_id>~<host>~<pid>.probe-pending`` (the new file, the old one), the
weights through a temp file and ``os.replace``, the record in one atomic update, the old
file removed if unreferenced, the journal removed. A crash leaves the record pointing at
a whole file (the old one, or the new one); the next commit into the folder
(:func:`sweep`) removes what a dead writer left. Fault points (``CLASSLAB_FAULT``):
:data:`FAULT_POINTS`.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from classlab import config, records
from classlab.errors import InputError
from classlab.probe.checks import KIND
from classlab.probe.model import Probe, save_probe
from classlab.writers import alive, fault, owner

logger = logging.getLogger("classlab")

FAULT_POINTS = ("probe_after_tmp_write", "probe_after_replace", "probe_after_record")
JOURNAL = "probe-pending"  # not ``.pending``: the checkpoint sweep reads those


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


def sweep(folder: Path) -> int:
    """Finishes what dead probe writers left in ``folder``: their temp files, and the
    new and old weights their journals name when no probe record references them."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for journal in folder.glob(f".*.{JOURNAL}"):
        if alive(journal.name, journal.stat().st_mtime):
            continue
        try:
            files = json.loads(journal.read_text())
        except (OSError, ValueError):
            files = {}
        removed += sum(remove_unreferenced(files.get(k)) for k in ("new", "old"))
        removed += config.remove_file(journal)
    for tmp in folder.glob(".*.npz~*.tmp"):
        if not alive(tmp.name, tmp.stat().st_mtime):
            removed += config.remove_file(tmp)
    return removed


def commit(dataset, run_key: str, probe: Probe, record: dict, overwrite: bool) -> dict:
    """Saves the weights under a new immutable id, then creates (or, with ``overwrite``,
    replaces) the record in one atomic update; the replaced weights go if unreferenced."""
    folder = config.models_dir(dataset.name)
    folder.mkdir(parents=True, exist_ok=True)
    sweep(folder)
    model_id = uuid.uuid4().hex
    path = folder / f"{model_id}.npz"
    old = (records.get_record(dataset, KIND, run_key) or {}).get("checkpoint")
    journal = folder / f".{model_id}~{owner()}.{JOURNAL}"
    journal.write_text(json.dumps({"new": str(path), "old": old}))
    record = {**record, "model_id": model_id, "checkpoint": str(path)}
    committed = False
    try:
        save_probe(path, probe)
        fault("probe_after_replace")
        if overwrite:
            previous = records.replace_record(dataset, KIND, run_key, record)
        else:
            records.set_record(dataset, KIND, run_key, record, create_only=True)
            previous = None
        committed = True
        fault("probe_after_record")
        for stale in {(previous or {}).get("checkpoint"), old} - {None, str(path)}:
            remove_unreferenced(stale)
    finally:
        if not committed:
            config.remove_file(path)
        config.remove_file(journal)
    return record
