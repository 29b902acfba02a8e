"""Augmented copies of samples with albumentations: lossless PNGs, bulk add, undo.

Each run has a key. Its images live in
``media_dir(dataset, "augmentations", run_key)``; its samples carry the tag
``augmented`` and their source's split tag (``train``; a copy never gets a split
its source does not have), the ground-truth label of their source, and the
fields ``source_id`` and ``augmentation`` (``{"run_key", "recipe", "copy"}``).
Sources tagged ``val`` or ``test`` are refused unless ``allow_eval_splits=True``
(their copies would put evaluation images into training).
The full recipe (serialised pipeline, seed) is kept in the run record
(``classlab.records`` kind ``"augmentations"``). Originals and their files are
only read, never written.

Sources are read chunk by chunk (:func:`classlab.chunks.iter_chunks`, sample-id
order), never as whole-view lists: a first pass checks that every source file
exists (before anything is written); a second renders the images.
Images are first written to a staging folder, with a manifest of the rendered
sources (:data:`MANIFEST`: id, label, split tags; the samples are added from it,
a chunk at a time); the run is committed (old run
replaced, staging folder renamed, samples added) only once every image is
written, so a failure leaves the dataset and the run folder as they were. A staging
folder's name carries its writer's host and pid
(``.staging-<run>-<id>~<host>~<pid>.staging``): a killed run's folder is swept by
the next :func:`augment_samples` or :func:`delete_augmentations` in that
dataset, never a live writer's (the liveness rule of
:mod:`classlab.lenet.checkpoints`). The test-only environment variable
``CLASSLAB_FAULT=<point>`` (:data:`FAULT_POINTS`) makes the writer SIGKILL itself.
Every parameter is checked first (:mod:`classlab.curation.augment_checks`, the
same checks the form shows on its fields).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from classlab import config, defaults, records
from classlab.chunks import Failures, chunk_size, iter_chunks
from classlab.curation.augment_checks import (
    RECORD_KIND,
    check_augmentation,
    check_copy_tags,
    check_run_exists,
    list_augmentations,
    run_samples,
)
from classlab.curation.rendering import augment_all, preview_augmentations, write_png
from classlab.errors import DataSourceError
from classlab.progress import ProgressFn, as_progress
from classlab.writers import alive, fault, owner

__all__ = [
    "augment_samples",
    "check_augmentation",
    "check_run_exists",
    "delete_augmentations",
    "list_augmentations",
    "preview_augmentations",
    "run_dir",
    "run_samples",
    "sweep_staging",
]

logger = logging.getLogger("classlab")

# the copies' tags besides their source's split tag
DEFAULT_TAGS = (defaults.AUGMENTED_TAG,)
# CLASSLAB_FAULT points: after the first source's images are written; after all are
FAULT_POINTS = ("during_render", "before_commit")
STAGING_PREFIX = ".staging-"
# in the staging (then run) folder while a run is written: one JSON line per rendered
# source, [id, label, split tags]; removed once the samples are added
MANIFEST = ".sources.jsonl"


def run_dir(dataset_name: str, run_key: str) -> Path:
    """Where a run's images go."""
    return config.media_dir(dataset_name, "augmentations", run_key)


def sweep_staging(dataset_name: str) -> int:
    """Removes the staging folders that dead writers left beside the dataset's runs
    (never a live writer's); returns how many."""
    parent = config.media_dir(dataset_name, "augmentations")
    if not parent.is_dir():
        return 0
    removed = 0
    for folder in parent.glob(f"{STAGING_PREFIX}*"):
        try:
            stale = folder.is_dir() and not alive(folder.name, folder.stat().st_mtime)
        except FileNotFoundError:
            continue  # its writer committed or removed it meanwhile
        if stale:
            removed += config.remove_tree(folder)
    if removed:
        logger.info("Swept %d staging folder(s) left by interrupted runs in %s", removed, parent)
    return removed


def _discard(folder: Path) -> None:
    try:
        config.remove_tree(folder)
    except OSError:
        logger.warning("Could not remove %s", folder, exc_info=True)


# ---------------------------------------------------------------- augmentation


def _check_sources(view) -> int:
    """The first pass, chunk by chunk: every source's file exists (checked over ALL
    sources before anything is written). Returns the number of sources."""
    total, missing = 0, Failures(keep=3)
    for chunk in iter_chunks(view, ["filepath"]):
        total += len(chunk)
        for path in chunk["filepath"]:
            if not os.path.isfile(path):
                missing.add(path, "missing")
    if missing.count:
        shown = ", ".join(f["filepath"] for f in missing.first)
        raise DataSourceError(
            f"{missing.count} source image(s) are missing on disk "
            f"({shown}{' ...' if missing.count > 3 else ''}). "
            "Restore the files or exclude those samples from the view."
        )
    return total


def _render_chunk(pipeline, chunk, label_field, num_copies, staging, manifest, progress, total):
    """Writes one chunk's augmented images into ``staging``, then lists its sources
    (id, label, split tags) in the manifest."""
    ids = chunk.ids

    def write(i, k, image):
        write_png(staging / f"{ids[i]}_{k}.png", image)
        if chunk.start + i == 0 and k == num_copies - 1:
            fault("during_render")

    augment_all(pipeline, chunk["filepath"], num_copies, write, progress, chunk.start, total)
    for sid, label, sample_tags in zip(ids, chunk[f"{label_field}.label"], chunk["tags"]):
        splits = [t for t in defaults.SPLIT_TAGS if t in (sample_tags or ())]
        manifest.write(json.dumps([sid, label, splits]) + "\n")


def _render(pipeline, view, label_field, num_copies: int, final: Path, progress, total: int):
    """Writes every augmented image into a fresh staging folder beside ``final``,
    reading the sources chunk by chunk (sample-id order), and lists the rendered
    sources in the folder's :data:`MANIFEST` (what :func:`_add_samples` adds, so no
    source list is held in memory).

    Returns:
        ``(staging folder, number of sources)``; on failure the staging folder is
        removed and the error propagates
    """
    tag = f"{final.name}-{uuid.uuid4().hex[:8]}~{owner()}"
    staging = final.with_name(f"{STAGING_PREFIX}{tag}.staging")
    staging.mkdir(parents=True)
    n = 0
    try:
        with open(staging / MANIFEST, "w", encoding="utf-8") as manifest:
            fields = ["filepath", f"{label_field}.label", "tags"]
            for chunk in iter_chunks(view, fields):
                _render_chunk(
                    pipeline, chunk, label_field, num_copies, staging, manifest, progress, total
                )
                n += len(chunk)
    except BaseException:
        _discard(staging)
        raise
    return staging, n


def _commit_folder(dataset, run_key: str, exists: bool, staging: Path, final: Path) -> int:
    """Replaces the old run (if any) and moves the staging folder in; returns the
    number of samples removed."""
    replaced = _remove_run(dataset, run_key) if exists else 0
    config.remove_tree(final)
    os.replace(staging, final)
    return replaced


def _add_samples(dataset, final: Path, num_copies, label_field, tags, run_key, recipe) -> dict:
    """Adds one sample per written image, for the sources listed in the run folder's
    manifest, a chunk of samples per bulk ``add_samples``: each with ``tags`` and its
    source's split tags; then removes the manifest. Returns ``{split tag or "": copies}``."""
    import fiftyone as fo

    size = chunk_size()  # one chunk of Sample objects at a time: memory stays flat
    per_split: dict[str, int] = {}
    samples: list = []
    with open(final / MANIFEST, encoding="utf-8") as manifest:
        for line in manifest:
            sid, label, splits = json.loads(line)
            key = ",".join(splits)
            per_split[key] = per_split.get(key, 0) + num_copies
            for k in range(num_copies):
                samples.append(
                    fo.Sample(
                        filepath=str(final / f"{sid}_{k}.png"),
                        tags=tags + splits,
                        **{
                            label_field: fo.Classification(label=label),
                            defaults.SOURCE_ID_FIELD: sid,
                            defaults.AUGMENTATION_FIELD: {
                                "run_key": run_key,
                                "recipe": recipe,
                                "copy": k,
                            },
                        },
                    )
                )
                if len(samples) == size:
                    dataset.add_samples(samples, progress=False)
                    # the Sample objects are dropped here: records reload the dataset,
                    # which would reload each one
                    samples = []
    if samples:
        dataset.add_samples(samples, progress=False)
    config.remove_file(final / MANIFEST)
    return per_split


def augment_samples(
    view,
    run_key: str = defaults.AUGMENT_RUN_KEY,
    preset: Optional[str] = defaults.AUGMENT_PRESET,
    pipeline_json: Union[str, dict, None] = None,
    num_copies: int = defaults.AUGMENT_COPIES,
    seed: int = defaults.AUGMENT_SEED,
    label_field: str = defaults.GROUND_TRUTH,
    tags: Iterable[str] = DEFAULT_TAGS,
    overwrite: bool = False,
    progress: Optional[ProgressFn] = None,
    max_copies: int = defaults.AUGMENT_MAX_COPIES,
    allow_eval_splits: bool = False,
) -> dict[str, Any]:
    """Adds ``num_copies`` augmented copies of every sample in ``view`` to its dataset.

    Args:
        view: the source samples (e.g. ``dataset.match_tags("to_augment")``)
        run_key: names the run; its samples and files are replaced only with overwrite
        preset: a name from :data:`classlab.curation.presets.PRESETS`
        pipeline_json: albumentations' serialised pipeline (JSON string or dict);
            used instead of ``preset`` when given
        num_copies: copies per source sample (>= 1)
        seed: seeds the pipeline; same seed and view, same images
        label_field: the ground truth copied onto the new samples
        tags: tags of the new samples besides their source's split tag (no split tag)
        overwrite: replace an existing run with this key
        progress: optional ``fn(fraction, label)``
        max_copies: the bound on ``num_copies``; raise it deliberately for more
        allow_eval_splits: augment sources tagged val/test too (refused by default)

    Returns:
        ``{"run_key", "num_sources", "num_copies", "num_samples", "per_split": {split
        tag ("" for none): copies}, "tag", "fields": [source_id, augmentation], "dir",
        "replaced", "seconds"}``

    Raises:
        InputError: bad preset/JSON/num_copies/run_key/tags, or val/test sources without
        allow_eval_splits; RunExistsError: the key exists;
        DataSourceError: a source image is missing or unreadable (all from
        :func:`check_augmentation` and the source files check, before any write)
    """
    start = time.perf_counter()
    dataset = view._dataset
    tags = check_copy_tags(tags)
    req = check_augmentation(
        view,
        run_key,
        preset,
        pipeline_json,
        num_copies,
        seed,
        label_field,
        overwrite,
        max_copies,
        allow_eval_splits,
    )
    run_key, num_copies = req["run_key"], req["num_copies"]
    total = _check_sources(view)
    p = as_progress(progress)
    final = run_dir(dataset.name, run_key)
    sweep_staging(dataset.name)
    staging, n_sources = _render(
        req["pipeline"], view, label_field, num_copies, final, p.stage(0.0, 0.9), total
    )
    fault("before_commit")
    replaced = _commit_folder(dataset, run_key, req["exists"], staging, final)
    recipe = req["recipe"]
    per_split = _add_samples(
        dataset, final, num_copies, label_field, tags, run_key, recipe["preset"] or "custom"
    )
    n = sum(per_split.values())
    record = {
        **recipe,
        "seed": req["seed"],
        "num_copies": num_copies,
        "num_sources": n_sources,
        "num_samples": n,
        "label_field": label_field,
        "tags": tags,
        "dir": str(final),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    records.set_record(dataset, RECORD_KIND, run_key, record)
    p(1.0, f"added {n} augmented samples", force=True)
    logger.info("augmentation run %r: %d samples from %d sources", run_key, n, n_sources)
    return {
        "run_key": run_key,
        "num_sources": n_sources,
        "num_copies": num_copies,
        "num_samples": n,
        "per_split": per_split,
        "tag": tags[0] if tags else None,
        "fields": [defaults.SOURCE_ID_FIELD, defaults.AUGMENTATION_FIELD],
        "dir": str(final),
        "replaced": replaced,
        "seconds": round(time.perf_counter() - start, 3),
    }


def _remove_run(dataset, run_key: str) -> int:
    old = run_samples(dataset, run_key)
    ids = old.values("id")
    if ids:
        dataset.delete_samples(ids)
    return len(ids)


def delete_augmentations(dataset, run_key: str) -> dict[str, Any]:
    """Removes a run's samples, its image folder and its record.

    Raises:
        RunNotFoundError: no run with that key (:func:`check_run_exists`)
    """
    dataset = getattr(dataset, "_dataset", dataset)
    check_run_exists(dataset, run_key)
    folder = run_dir(dataset.name, run_key)
    n_files = sum(1 for _ in folder.glob("*.png")) if folder.is_dir() else 0
    deleted = _remove_run(dataset, run_key)
    config.remove_tree(folder)
    sweep_staging(dataset.name)
    records.delete_record(dataset, RECORD_KIND, run_key)
    logger.info("deleted augmentation run %r: %d samples, %d files", run_key, deleted, n_files)
    return {"run_key": run_key, "deleted_samples": deleted, "deleted_files": n_files}
