"""Augmented copies of samples with albumentations: lossless PNGs, bulk add, undo.

Each run has a key. Its images live in
``media_dir(dataset, "augmentations", run_key)``; its samples carry the tags
``augmented`` and ``train``, the ground-truth label of their source, and the
fields ``source_id`` and ``augmentation`` (``{"run_key", "recipe", "copy"}``).
The full recipe (serialised pipeline, seed) is kept in the run record
(``classlab.records`` kind ``"augmentations"``). Originals and their files are
only read, never written.

Images are first written to a staging folder; the run is committed (old run
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

import base64
import logging
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from classlab import config, defaults, records
from classlab.curation.augment_checks import (
    RECORD_KIND,
    check_augmentation,
    check_copies,
    check_run_exists,
    list_augmentations,
    run_samples,
)
from classlab.curation.presets import build_pipeline
from classlab.errors import DataSourceError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_nonempty
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

DEFAULT_TAGS = (defaults.AUGMENTED_TAG, defaults.TRAIN_TAG)
# CLASSLAB_FAULT points: after the first source's images are written; after all are
FAULT_POINTS = ("during_render", "before_commit")
STAGING_PREFIX = ".staging-"


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


def _sources(view, label_field: str):
    """(ids, filepaths, labels) of the source samples, after checking their files exist."""
    ids, paths, labels = view.values(["id", "filepath", f"{label_field}.label"])
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise DataSourceError(
            f"{len(missing)} source image(s) are missing on disk ({shown}). "
            "Restore the files or exclude those samples from the view."
        )
    return ids, paths, labels


def _read(path: str):
    import cv2

    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataSourceError(f"Cannot read the image {path} (corrupt or not an image).")
    return image


def _augment_all(pipeline, paths: list, num_copies: int, write, progress) -> None:
    """Runs the pipeline over every source in order: ``write(i, k, image)``."""
    for i, path in enumerate(paths):
        image = _read(path)
        for k in range(num_copies):
            write(i, k, pipeline(image=image)["image"])
        progress((i + 1) / len(paths), f"augmented {i + 1}/{len(paths)}")


def _write_png(path: Path, image) -> None:
    import cv2

    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise DataSourceError(f"Could not write {path}")


def _render(pipeline, ids: list, paths: list, num_copies: int, final: Path, progress):
    """Writes every augmented image into a fresh staging folder beside ``final``.

    Returns:
        ``(staging folder, [(source index, copy, file name)])``; on failure the
        staging folder is removed and the error propagates
    """
    tag = f"{final.name}-{uuid.uuid4().hex[:8]}~{owner()}"
    staging = final.with_name(f"{STAGING_PREFIX}{tag}.staging")
    staging.mkdir(parents=True)
    names: list[tuple[int, int, str]] = []

    def write(i, k, image):
        name = f"{ids[i]}_{k}.png"
        _write_png(staging / name, image)
        names.append((i, k, name))
        if i == 0 and k == num_copies - 1:
            fault("during_render")

    try:
        _augment_all(pipeline, paths, num_copies, write, progress)
    except BaseException:
        _discard(staging)
        raise
    return staging, names


def _commit_folder(dataset, run_key: str, exists: bool, staging: Path, final: Path) -> int:
    """Replaces the old run (if any) and moves the staging folder in; returns the
    number of samples removed."""
    replaced = _remove_run(dataset, run_key) if exists else 0
    config.remove_tree(final)
    os.replace(staging, final)
    return replaced


def _add_samples(dataset, final: Path, names, sources, label_field, tags, run_key, recipe) -> int:
    """Adds one sample per written image, in one bulk ``add_samples``; returns how many."""
    import fiftyone as fo

    ids, _, labels = sources
    samples = [
        fo.Sample(
            filepath=str(final / name),
            tags=tags,
            **{
                label_field: fo.Classification(label=labels[i]),
                defaults.SOURCE_ID_FIELD: ids[i],
                defaults.AUGMENTATION_FIELD: {"run_key": run_key, "recipe": recipe, "copy": k},
            },
        )
        for i, k, name in names
    ]
    dataset.add_samples(samples, progress=False)
    # the Sample objects are dropped on return: records reload the dataset, which
    # would reload each one
    return len(samples)


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
        tags: tags of the new samples
        overwrite: replace an existing run with this key
        progress: optional ``fn(fraction, label)``
        max_copies: the bound on ``num_copies``; raise it deliberately for more

    Returns:
        ``{"run_key", "num_sources", "num_samples", "dir", "replaced"}``

    Raises:
        InputError: bad preset/JSON/num_copies/run_key; RunExistsError: the key exists;
        DataSourceError: a source image is missing or unreadable (all from
        :func:`check_augmentation` and the source files check, before any write)
    """
    dataset = view._dataset
    req = check_augmentation(
        view, run_key, preset, pipeline_json, num_copies, seed, label_field, overwrite, max_copies
    )
    run_key = req["run_key"]
    sources = _sources(view, label_field)
    p = as_progress(progress)
    final = run_dir(dataset.name, run_key)
    sweep_staging(dataset.name)
    staging, names = _render(
        req["pipeline"], sources[0], sources[1], req["num_copies"], final, p.stage(0.0, 0.9)
    )
    fault("before_commit")
    replaced = _commit_folder(dataset, run_key, req["exists"], staging, final)
    tags = list(dict.fromkeys(tags))
    recipe = req["recipe"]
    n = _add_samples(
        dataset, final, names, sources, label_field, tags, run_key, recipe["preset"] or "custom"
    )
    record = {
        **recipe,
        "seed": req["seed"],
        "num_copies": req["num_copies"],
        "num_sources": len(sources[0]),
        "num_samples": n,
        "label_field": label_field,
        "tags": tags,
        "dir": str(final),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    records.set_record(dataset, RECORD_KIND, run_key, record)
    p(1.0, f"added {n} augmented samples", force=True)
    logger.info("augmentation run %r: %d samples from %d sources", run_key, n, len(sources[0]))
    return {
        "run_key": run_key,
        "num_sources": len(sources[0]),
        "num_samples": n,
        "dir": str(final),
        "replaced": replaced,
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
    n_files = sum(1 for _ in folder.glob("*")) if folder.is_dir() else 0
    deleted = _remove_run(dataset, run_key)
    config.remove_tree(folder)
    sweep_staging(dataset.name)
    records.delete_record(dataset, RECORD_KIND, run_key)
    logger.info("deleted augmentation run %r: %d samples, %d files", run_key, deleted, n_files)
    return {"run_key": run_key, "deleted_samples": deleted, "deleted_files": n_files}


def preview_augmentations(
    view,
    preset: Optional[str] = defaults.AUGMENT_PRESET,
    pipeline_json: Union[str, dict, None] = None,
    num_copies: int = defaults.AUGMENT_COPIES,
    seed: int = defaults.AUGMENT_SEED,
    max_samples: int = 4,
    write: bool = False,
    max_copies: int = defaults.AUGMENT_MAX_COPIES,
) -> list[dict[str, Any]]:
    """Augments the first ``max_samples`` samples of the view without committing anything.

    With the same seed, the images are the first images :func:`augment_samples`
    would write for that view. With ``write=True`` they are also saved as PNGs in
    ``media_dir(dataset, "augmentations", ".preview")`` (replaced on each call).

    Returns:
        one dict per source: ``{"source_id", "filepath", "images": [arrays],
        "paths": [str], "data_uris": [str]}``
    """
    import cv2

    num_copies = check_copies(num_copies, max_copies)
    pipeline = build_pipeline(preset, pipeline_json, seed)
    head = view.limit(max(1, int(max_samples)))
    require_nonempty(head, "source view")
    ids, paths = head.values(["id", "filepath"])
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DataSourceError(f"{len(missing)} source image(s) are missing: {missing[0]} ...")
    out = [
        {"source_id": i, "filepath": p, "images": [], "paths": [], "data_uris": []}
        for i, p in zip(ids, paths)
    ]
    folder = config.media_dir(view._dataset.name, "augmentations", ".preview")
    if write:
        config.remove_tree(folder)
        folder.mkdir(parents=True)

    def keep(i, k, image):
        entry = out[i]
        entry["images"].append(image)
        ok, buf = cv2.imencode(".png", image)
        entry["data_uris"].append("data:image/png;base64," + base64.b64encode(buf).decode())
        if write:
            path = folder / f"{ids[i]}_{k}.png"
            _write_png(path, image)
            entry["paths"].append(str(path))

    _augment_all(pipeline, paths, num_copies, keep, as_progress(None))
    return out
