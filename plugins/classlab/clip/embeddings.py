"""``compute_clip_embeddings``: CLIP image embeddings into a field, plus map and index."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from classlab import defaults, records
from classlab.clip.images import encode_images
from classlab.clip.models import ClipSpec, ModelCache, check_spec
from classlab.errors import DataSourceError, FieldError, InputError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_field_name, require_nonempty

logger = logging.getLogger("classlab")

KIND = "clip"
ON_ERROR = ("skip", "raise")
VIZ_METHODS = {"umap": 16, "tsne": 31, "pca": 2}  # method -> fewest samples it can map
MAX_REPORTED_FAILURES = 20


def check_run_options(batch_size: int, num_workers: int, on_error: str) -> None:
    """Validates the loader options shared by the CLIP functions."""
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if int(num_workers) < 0:
        raise InputError(f"num_workers must be 0 or more, got {num_workers}")
    if on_error not in ON_ERROR:
        raise InputError(f"on_error must be 'skip' or 'raise', got {on_error!r}")


def check_embeddings_field(dataset, field: str, spec: ClipSpec, overwrite: bool = False) -> bool:
    """Checks that ``field`` may hold ``spec``'s embeddings; returns whether it exists.

    Raises:
        FieldError: the field holds something else, or embeddings of another model
    """
    import fiftyone as fo

    if not dataset.has_sample_field(field):
        return False
    ftype = dataset.get_field(field)
    if not isinstance(ftype, (fo.VectorField, fo.ListField)):
        raise FieldError(
            f"Field {field!r} exists and holds {type(ftype).__name__} values, not embeddings: "
            "choose another embeddings field"
        )
    record = records.get_record(dataset, KIND, field)
    if overwrite or spec.same_weights(record):
        return True
    made_by = (
        ClipSpec(
            **{k: record[k] for k in ("model_name", "pretrained", "random_weights")}
        ).describe()
        if record
        else "an unknown model (no ClassLab record)"
    )
    raise FieldError(
        f"Field {field!r} holds embeddings made by {made_by}, not {spec.describe()}: choose "
        "another embeddings field, or pass overwrite=True to replace them"
    )


def check_brain_key(dataset, key: str, run_type: str) -> None:
    """Checks that brain key ``key`` is free or a run of ``run_type`` (to be replaced)."""
    require_field_name(key, "brain key")
    if key in dataset.list_brain_runs():
        found = dataset.get_brain_info(key).config.type
        if found != run_type:
            raise InputError(
                f"Brain key {key!r} is taken by a {found} run: choose another key or delete it"
            )


def missing_files(filepaths: list[str]) -> dict[int, str]:
    """``{index: "file not found"}`` for the paths in ``filepaths`` that do not exist."""
    return {i: "file not found" for i, p in enumerate(filepaths) if not os.path.isfile(p)}


def failure_report(filepaths: list[str], failures: dict[int, str]) -> list[dict[str, str]]:
    """The first failures as ``[{filepath, error}]`` for results and messages."""
    items = sorted(failures.items())[:MAX_REPORTED_FAILURES]
    return [{"filepath": filepaths[i], "error": err} for i, err in items]


def raise_on_failures(filepaths: list[str], failures: dict[int, str]) -> None:
    """Raises DataSourceError naming the unreadable files (before anything is written)."""
    if not failures:
        return
    shown = "; ".join(
        f"{f['filepath']} ({f['error']})" for f in failure_report(filepaths, failures)[:5]
    )
    raise DataSourceError(
        f"{len(failures)} image file(s) could not be read: {shown}. Fix or remove those "
        "samples, or pass on_error='skip' to leave them out and report them."
    )


def compute_clip_embeddings(
    view,
    model_name: str = "ViT-B-32",
    pretrained: str | None = "laion2b_s34b_b79k",
    random_weights: bool = False,
    embeddings_field: str = defaults.CLIP_EMBEDDINGS,
    batch_size: int = 64,
    num_workers: int = 2,
    device: str = "auto",
    precision: str = "fp32",
    skip_existing: bool = True,
    overwrite: bool = False,
    on_error: str = "skip",
    compute_viz: bool = False,
    viz_method: str = "umap",
    viz_key: str = defaults.CLIP_VIZ_KEY,
    compute_similarity: bool = False,
    sim_key: str = defaults.CLIP_SIM_KEY,
    cache: ModelCache | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Embeds the view's images with CLIP into ``embeddings_field`` (L2-normalised).

    Args:
        view: a FiftyOne dataset or view of image samples
        model_name, pretrained, random_weights, precision: the model (see
            :func:`classlab.clip.models.check_spec`)
        skip_existing: leave samples that already have an embedding alone
        overwrite: replace a field made by another model (clears it everywhere)
        on_error: ``"skip"`` unreadable images (reported in the result) or ``"raise"``
        compute_viz: also compute a 2-D map (``viz_method``: umap, tsne or pca)
        compute_similarity: also build a similarity index (sklearn backend)
        cache: a :class:`ModelCache` shared with other calls of the same run

    Returns:
        a summary: counts, failures, seconds, images_per_second, brain keys

    Raises:
        InputError, FieldError, EmptyViewError, DataSourceError, DeviceError:
        before anything is written
    """
    report = as_progress(progress)
    start = time.monotonic()
    dataset = view._dataset
    require_nonempty(view)
    require_field_name(embeddings_field, "embeddings field")
    spec = check_spec(model_name, pretrained, random_weights, precision)
    check_run_options(batch_size, num_workers, on_error)
    exists = check_embeddings_field(dataset, embeddings_field, spec, overwrite)
    fresh = (
        overwrite
        and exists
        and not spec.same_weights(records.get_record(dataset, KIND, embeddings_field))
    )
    todo = view.exists(embeddings_field, False) if exists and skip_existing and not fresh else view
    ids, paths = todo.values("id"), todo.values("filepath")
    _check_map_options(view, compute_viz, viz_method, viz_key, compute_similarity, sim_key)
    if on_error == "raise":
        raise_on_failures(paths, missing_files(paths))
    cache = cache if cache is not None else ModelCache()
    encoded = None
    if ids:
        report(0.0, f"loading {spec.describe()}", force=True)
        loaded = cache.get(spec, device)
        encoded = encode_images(loaded, paths, batch_size, num_workers, report.stage(0.02, 0.85))
        if on_error == "raise":
            raise_on_failures(paths, encoded.failures)
    # -- everything is validated: write --
    if fresh:
        dataset.clear_sample_field(embeddings_field)
    if encoded is not None and encoded.indices:
        vectors = {ids[i]: encoded.features[k] for k, i in enumerate(encoded.indices)}
        view.set_values(embeddings_field, vectors, key_field="id")
    _write_record(dataset, embeddings_field, spec, encoded)
    embedded = len(encoded.indices) if encoded is not None else 0
    encode_seconds = time.monotonic() - start
    result = {
        "embeddings_field": embeddings_field,
        "model": spec.describe(),
        "num_embedded": embedded,
        "num_skipped_existing": len(view) - len(ids),
        "num_failed": len(encoded.failures) if encoded is not None else 0,
        "failed": failure_report(paths, encoded.failures) if encoded is not None else [],
        "seconds": round(encode_seconds, 3),
        "images_per_second": round(embedded / encode_seconds, 2) if embedded else 0.0,
    }
    result.update(
        _compute_maps(
            view,
            embeddings_field,
            compute_viz,
            viz_method,
            viz_key,
            compute_similarity,
            sim_key,
            report.stage(0.85, 1.0),
        )
    )
    report(1.0, f"embedded {embedded} images", force=True)
    return result


def _check_map_options(view, compute_viz, viz_method, viz_key, compute_similarity, sim_key):
    dataset = view._dataset
    if compute_viz:
        if viz_method not in VIZ_METHODS:
            raise InputError(
                f"viz_method must be one of {', '.join(VIZ_METHODS)}, got {viz_method!r}"
            )
        check_brain_key(dataset, viz_key, "visualization")
        if len(view) < VIZ_METHODS[viz_method]:
            raise InputError(
                f"A {viz_method} map needs at least {VIZ_METHODS[viz_method]} samples; the view "
                f"has {len(view)}: use viz_method='pca' or a larger view"
            )
    if compute_similarity:
        check_brain_key(dataset, sim_key, "similarity")
    if compute_viz and compute_similarity and viz_key == sim_key:
        raise InputError("viz_key and sim_key must differ")


def _write_record(dataset, field: str, spec: ClipSpec, encoded) -> None:
    record = records.get_record(dataset, KIND, field) or {}
    record.update(spec.to_record())
    record.update(
        type="embeddings",
        field=field,
        embed_dim=int(encoded.features.shape[1])
        if encoded is not None and encoded.indices
        else record.get("embed_dim"),
        num_samples=dataset.count(field),
        updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    records.set_record(dataset, KIND, field, record)


def _compute_maps(
    view, field, compute_viz, viz_method, viz_key, compute_similarity, sim_key, report
) -> dict[str, Any]:
    """The 2-D map and the similarity index over the samples that have embeddings."""
    if not (compute_viz or compute_similarity):
        return {}
    import fiftyone.brain as fob

    samples = view.exists(field)
    dataset = view._dataset
    out: dict[str, Any] = {}
    if compute_viz:
        report(0.0, f"computing the {viz_method} map", force=True)
        if viz_key in dataset.list_brain_runs():
            dataset.delete_brain_run(viz_key)
        fob.compute_visualization(
            samples,
            embeddings=field,
            method=viz_method,
            num_dims=2,
            brain_key=viz_key,
            progress=False,
        )
        out["viz_key"] = viz_key
    if compute_similarity:
        report(0.6, "building the similarity index", force=True)
        if sim_key in dataset.list_brain_runs():
            dataset.delete_brain_run(sim_key)
        fob.compute_similarity(
            samples, embeddings=field, backend="sklearn", brain_key=sim_key, progress=False
        )
        out["sim_key"] = sim_key
    return out
