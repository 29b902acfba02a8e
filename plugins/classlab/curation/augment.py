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
written, so a failure leaves the dataset and the run folder as they were.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from classlab import config, defaults, records
from classlab.curation.presets import build_pipeline, describe_pipeline
from classlab.errors import DataSourceError, InputError, RunExistsError, RunNotFoundError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_classification_field, require_nonempty

logger = logging.getLogger("classlab")

RECORD_KIND = "augmentations"
DEFAULT_TAGS = (defaults.AUGMENTED_TAG, defaults.TRAIN_TAG)


def run_dir(dataset_name: str, run_key: str) -> Path:
    """Where a run's images go."""
    return config.media_dir(dataset_name, "augmentations", run_key)


def _check_run_key(run_key: str) -> str:
    if not isinstance(run_key, str) or not run_key.strip() or run_key.startswith("."):
        raise InputError("run_key must be a non-empty name such as 'augment_v1'.")
    return run_key.strip()


def _check_copies(num_copies) -> int:
    try:
        n = int(num_copies)
    except (TypeError, ValueError):
        raise InputError(f"num_copies must be a positive integer, got {num_copies!r}") from None
    if n <= 0 or n != num_copies:
        raise InputError(f"num_copies must be a positive integer, got {num_copies!r}")
    return n


def run_samples(dataset, run_key: str, aug_field: str = defaults.AUGMENTATION_FIELD):
    """The samples a run added."""
    from fiftyone import ViewField as F

    if not dataset.has_field(aug_field):
        return dataset.limit(0)
    return dataset.match(F(f"{aug_field}.run_key") == run_key)


def _sources(view, label_field: str):
    """(ids, filepaths, labels) of the source samples, after checking their files exist."""
    require_nonempty(view, "source view")
    require_classification_field(view, label_field, "label field")
    ids, paths, labels = view.values(["id", "filepath", f"{label_field}.label"])
    unlabeled = sum(1 for x in labels if x is None)
    if unlabeled:
        raise InputError(
            f"{unlabeled} source sample(s) have no {label_field!r} label; augmented copies "
            "need the ground truth. Exclude them from the view."
        )
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

    Returns:
        ``{"run_key", "num_sources", "num_samples", "dir", "replaced"}``

    Raises:
        InputError: bad preset/JSON/num_copies/run_key; RunExistsError: the key exists;
        DataSourceError: a source image is missing or unreadable
    """
    import fiftyone as fo

    dataset = view._dataset
    run_key = _check_run_key(run_key)
    num_copies = _check_copies(num_copies)
    pipeline = build_pipeline(preset, pipeline_json, seed)
    recipe = describe_pipeline(preset, pipeline_json)
    old = run_samples(dataset, run_key)
    exists = records.get_record(dataset, RECORD_KIND, run_key) is not None or old.count() > 0
    if exists and not overwrite:
        raise RunExistsError(
            f"The augmentation run {run_key!r} exists: pass overwrite=True to replace its "
            "samples and images, or choose another run_key."
        )
    if exists and len(view.select(old.values("id"))) > 0:
        raise InputError(f"The source view contains samples of the run {run_key!r} it replaces.")
    ids, paths, labels = _sources(view, label_field)
    tags = list(dict.fromkeys(tags))

    final = run_dir(dataset.name, run_key)
    staging = final.with_name(f".staging-{final.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    names: list[tuple[int, int, str]] = []

    def write(i, k, image):
        name = f"{ids[i]}_{k}.png"
        _write_png(staging / name, image)
        names.append((i, k, name))

    p = as_progress(progress)
    try:
        _augment_all(pipeline, paths, num_copies, write, p.stage(0.0, 0.9))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    replaced = _remove_run(dataset, run_key) if exists else 0
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    recipe_name = recipe["preset"] or "custom"
    samples = [
        fo.Sample(
            filepath=str(final / name),
            tags=tags,
            **{
                label_field: fo.Classification(label=labels[i]),
                defaults.SOURCE_ID_FIELD: ids[i],
                defaults.AUGMENTATION_FIELD: {"run_key": run_key, "recipe": recipe_name, "copy": k},
            },
        )
        for i, k, name in names
    ]
    dataset.add_samples(samples, progress=False)
    num_samples = len(samples)
    # drop the Sample objects: records reload the dataset, which would reload each one
    del samples
    records.set_record(
        dataset,
        RECORD_KIND,
        run_key,
        {
            **recipe,
            "seed": int(seed),
            "num_copies": num_copies,
            "num_sources": len(ids),
            "num_samples": num_samples,
            "label_field": label_field,
            "tags": tags,
            "dir": str(final),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    p(1.0, f"added {num_samples} augmented samples", force=True)
    logger.info("augmentation run %r: %d samples from %d sources", run_key, num_samples, len(ids))
    return {
        "run_key": run_key,
        "num_sources": len(ids),
        "num_samples": num_samples,
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
        RunNotFoundError: no run with that key
    """
    dataset = getattr(dataset, "_dataset", dataset)
    rec = records.get_record(dataset, RECORD_KIND, run_key)
    n_samples = run_samples(dataset, run_key).count()
    if rec is None and n_samples == 0:
        known = ", ".join(sorted(records.list_records(dataset, RECORD_KIND))) or "none"
        raise RunNotFoundError(f"No augmentation run {run_key!r} on this dataset (runs: {known}).")
    folder = run_dir(dataset.name, run_key)
    n_files = sum(1 for _ in folder.glob("*")) if folder.is_dir() else 0
    deleted = _remove_run(dataset, run_key)
    shutil.rmtree(folder, ignore_errors=True)
    records.delete_record(dataset, RECORD_KIND, run_key)
    logger.info("deleted augmentation run %r: %d samples, %d files", run_key, deleted, n_files)
    return {"run_key": run_key, "deleted_samples": deleted, "deleted_files": n_files}


def list_augmentations(dataset) -> dict[str, dict]:
    """``{run_key: record}`` of the dataset's augmentation runs."""
    return records.list_records(getattr(dataset, "_dataset", dataset), RECORD_KIND)


def preview_augmentations(
    view,
    preset: Optional[str] = defaults.AUGMENT_PRESET,
    pipeline_json: Union[str, dict, None] = None,
    num_copies: int = defaults.AUGMENT_COPIES,
    seed: int = defaults.AUGMENT_SEED,
    max_samples: int = 4,
    write: bool = False,
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

    num_copies = _check_copies(num_copies)
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
        shutil.rmtree(folder, ignore_errors=True)
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
