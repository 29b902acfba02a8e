"""``compute_clip_embeddings``: CLIP image embeddings into a field, plus map and index."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from typing import Any

from classlab import defaults, records
from classlab.chunks import Failures, iter_chunks, sorted_by_id, vectors
from classlab.chunks import write as write_values
from classlab.clip.images import encode_images
from classlab.clip.models import ClipSpec, ModelCache
from classlab.clip.options import LoaderOptions, check_run
from classlab.errors import DataSourceError, FieldError, InputError
from classlab.progress import Progress, ProgressFn, as_progress
from classlab.validation import (
    check_output_name,
    is_vector_field,
    require_nonempty,
    require_run_key,
)
from classlab.writers import fault

logger = logging.getLogger("classlab")

KIND = "clip"
# CLASSLAB_FAULT points (tests): after clearing another model's field; after a chunk
FAULT_POINTS = ("clip_after_clear", "clip_after_chunk")
VIZ_METHODS = {"umap": 16, "tsne": 31, "pca": 2}  # method -> fewest samples it can map
MAX_REPORTED_FAILURES = 20


def check_embeddings_field(
    dataset, field: str, spec: ClipSpec, overwrite: bool = False, param: str = "embeddings_field"
) -> bool:
    """Checks that ``field`` may hold ``spec``'s embeddings; returns whether it exists.

    Never a built-in field (``tags``, ``filepath``...); an existing field only when it
    is a vector field (or a list of numbers) of this model's embeddings, or with
    ``overwrite``. Schema and record look-ups only.

    Raises:
        InputError: ``field`` is not a valid field name
        FieldError: a built-in field, a field that holds something else, or
            embeddings of another model (without overwrite), naming ``param``
    """
    check_output_name(dataset, field, param)
    if not dataset.has_sample_field(field):
        return False
    ftype = dataset.get_field(field)
    if not is_vector_field(ftype):
        raise FieldError(
            f"Field {field!r} ({param}) exists and holds {type(ftype).__name__} values, not "
            f"embeddings: choose another {param}"
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
        f"Field {field!r} ({param}) holds embeddings made by {made_by}, not "
        f"{spec.describe()}: choose another {param}, or pass overwrite=True to replace them"
    )


def check_brain_key(dataset, key: str, run_type: str, param: str = "brain key") -> None:
    """Checks that brain key ``key`` (the parameter ``param``) is a valid run key, free or
    a run of ``run_type`` (to be replaced)."""
    require_run_key(key, param)
    if key in dataset.list_brain_runs():
        found = dataset.get_brain_info(key).config.type
        if found != run_type:
            raise InputError(
                f"Brain key {key!r} ({param}) is taken by a {found} run: choose another "
                f"{param} or delete that run"
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


@dataclass(frozen=True)
class MapOptions:
    """The optional 2-D map and similarity index of :func:`compute_clip_embeddings`."""

    compute_viz: bool = False
    viz_method: str = "umap"
    viz_key: str = defaults.CLIP_VIZ_KEY
    compute_similarity: bool = False
    sim_key: str = defaults.CLIP_SIM_KEY


def check_viz_method(viz_method: str) -> str:
    """Checks the 2-D map's method (one of :data:`VIZ_METHODS`)."""
    if viz_method not in VIZ_METHODS:
        raise InputError(f"viz_method must be one of {', '.join(VIZ_METHODS)}, got {viz_method!r}")
    return viz_method


def check_viz_options(dataset, viz_method: str, viz_key: str, num_samples: int) -> None:
    """Checks a 2-D map request: the method, a free brain key, enough samples."""
    check_viz_method(viz_method)
    check_brain_key(dataset, viz_key, "visualization", "viz_key")
    if num_samples < VIZ_METHODS[viz_method]:
        raise InputError(
            f"A {viz_method} map needs at least {VIZ_METHODS[viz_method]} samples; the view "
            f"has {num_samples}: use viz_method='pca' or a larger view"
        )


def check_sim_options(dataset, sim_key: str, viz_key: str | None = None) -> None:
    """Checks a similarity-index request: a free brain key, not the map's ``viz_key``."""
    check_brain_key(dataset, sim_key, "similarity", "sim_key")
    if viz_key is not None and viz_key == sim_key:
        raise InputError(f"sim_key and viz_key must differ (both {sim_key!r})")


def check_map_options(dataset, maps: MapOptions, num_samples: int) -> None:
    """Checks the map and index requests of ``maps``."""
    if maps.compute_viz:
        check_viz_options(dataset, maps.viz_method, maps.viz_key, num_samples)
    if maps.compute_similarity:
        check_sim_options(dataset, maps.sim_key, maps.viz_key if maps.compute_viz else None)


@dataclass(frozen=True)
class _Plan:
    """What one call will do, decided (and validated) before anything is written."""

    field: str
    fresh: bool  # clear the field first: overwrite=True over another model's embeddings
    todo: Any  # the view of the samples to embed (read in chunks: classlab.chunks)
    num_todo: int
    total: int  # samples in the view


@dataclass
class _Done:
    """What the chunks did: embedded count, failures, the vectors' size."""

    embedded: int = 0
    failures: Failures = dc_field(default_factory=lambda: Failures(MAX_REPORTED_FAILURES))
    embed_dim: int | None = None


def compute_clip_embeddings(
    view,
    spec: ClipSpec | None = None,
    options: LoaderOptions | None = None,
    embeddings_field: str = defaults.CLIP_EMBEDDINGS,
    skip_existing: bool = True,
    overwrite: bool = False,
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
        spec: the model (default ``ClipSpec()``: ``defaults.CLIP_MODEL`` with
            ``defaults.CLIP_PRETRAINED``); validated by :meth:`ClipSpec.checked`
        options: batching, workers, device and ``on_error`` (default ``LoaderOptions()``):
            ``"skip"`` unreadable images (reported in the result) or ``"raise"``
        skip_existing: leave samples that already have an embedding alone
        overwrite: replace a field made by another model (clears it everywhere)
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
    spec, options = check_run(spec, options)
    maps = MapOptions(compute_viz, viz_method, viz_key, compute_similarity, sim_key)
    plan = _plan(view, spec, options, embeddings_field, skip_existing, overwrite, maps)
    # -- everything is validated; chunks are written as they are encoded --
    done = _embed_chunks(view, plan, spec, options, cache, report)
    result = _summary(plan, spec, done, time.monotonic() - start)
    result.update(_compute_maps(view, embeddings_field, maps, report.stage(0.85, 1.0)))
    report(1.0, f"embedded {result['num_embedded']} images", force=True)
    return result


def _plan(view, spec, options, field, skip_existing, overwrite, maps) -> _Plan:
    """Validates everything a call needs and picks the samples to embed."""
    dataset = view._dataset
    total = require_nonempty(view)
    exists = check_embeddings_field(dataset, field, spec, overwrite)
    check_map_options(dataset, maps, total)
    record = records.get_record(dataset, KIND, field)
    fresh = overwrite and exists and not spec.same_weights(record)
    todo = view.exists(field, False) if exists and skip_existing and not fresh else view
    if options.on_error == "raise":
        check_files_exist(todo)
    return _Plan(field, fresh, todo, todo.count(), total)


def check_files_exist(view) -> None:
    """Raises DataSourceError naming the view's missing image files (read in chunks)."""
    missing = Failures(MAX_REPORTED_FAILURES)
    for chunk in iter_chunks(view, ["filepath"]):
        for path in chunk["filepath"]:
            if not os.path.isfile(path):
                missing.add(path, "file not found")
    if missing.count:
        raise_failures(missing)


def raise_failures(failures: Failures) -> None:
    """:func:`raise_on_failures` for failures gathered across chunks."""
    shown = "; ".join(f"{f['filepath']} ({f['error']})" for f in failures.first[:5])
    raise DataSourceError(
        f"{failures.count} image file(s) could not be read: {shown}. Fix or remove those "
        "samples, or pass on_error='skip' to leave them out and report them."
    )


def _embed_chunks(view, plan: _Plan, spec, options, cache, report: Progress) -> _Done:
    """Encodes and writes the plan's samples one chunk (``defaults.CHUNK_SIZE``) at a time.

    With ``on_error="raise"`` a file that exists but cannot be decoded stops the run
    at its chunk: the chunks before it keep their embeddings (and the record), so a
    rerun with ``skip_existing`` resumes there.
    """
    done = _Done()
    if not plan.num_todo:
        _write_record(view._dataset, plan.field, spec, None)
        return done
    report(0.0, f"loading {spec.describe()}", force=True)
    loaded = (cache if cache is not None else ModelCache()).get(spec, options.device)
    seen = 0
    for chunk in iter_chunks(plan.todo, ["filepath"]):
        paths = chunk["filepath"]
        lo, hi = (0.02 + 0.83 * n / plan.num_todo for n in (seen, seen + len(chunk)))
        enc = encode_images(
            loaded, paths, options.batch_size, options.num_workers, report.stage(lo, hi)
        )
        if options.on_error == "raise":
            raise_on_failures(paths, enc.failures)
        if seen == 0:  # the first write: clear another model's field, record this model
            if plan.fresh:
                view._dataset.clear_sample_field(plan.field)
                fault("clip_after_clear")
            _write_record(view._dataset, plan.field, spec, None)
        vectors = {chunk.ids[i]: enc.features[k] for k, i in enumerate(enc.indices)}
        write_values(view, plan.field, vectors)
        fault("clip_after_chunk")
        for i, err in sorted(enc.failures.items()):
            done.failures.add(paths[i], err)
        done.embedded += len(enc.indices)
        done.embed_dim = int(enc.features.shape[1]) if enc.indices else done.embed_dim
        seen += len(chunk)
    _write_record(view._dataset, plan.field, spec, done.embed_dim)
    return done


def _summary(plan: _Plan, spec: ClipSpec, done: _Done, seconds: float) -> dict:
    embedded = done.embedded
    return {
        "embeddings_field": plan.field,
        "model": spec.describe(),
        "num_embedded": embedded,
        "num_skipped_existing": plan.total - plan.num_todo,
        "num_failed": done.failures.count,
        "failed": done.failures.first,
        "seconds": round(seconds, 3),
        "images_per_second": round(embedded / seconds, 2) if embedded else 0.0,
    }


def _write_record(dataset, field: str, spec: ClipSpec, embed_dim: int | None) -> None:
    record = records.get_record(dataset, KIND, field) or {}
    record.update(spec.to_record())
    record.update(
        type="embeddings",
        field=field,
        embed_dim=embed_dim or record.get("embed_dim"),
        num_samples=dataset.count(field) if dataset.has_sample_field(field) else 0,
        updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    records.set_record(dataset, KIND, field, record)


def _compute_maps(view, field: str, maps: MapOptions, report: Progress) -> dict[str, Any]:
    """The 2-D map and the similarity index over the samples that have embeddings."""
    if not (maps.compute_viz or maps.compute_similarity):
        return {}
    import fiftyone.brain as fob

    samples = view.exists(field)
    dataset = view._dataset
    out: dict[str, Any] = {}
    if maps.compute_viz:
        report(0.0, f"computing the {maps.viz_method} map", force=True)
        if maps.viz_key in dataset.list_brain_runs():
            dataset.delete_brain_run(maps.viz_key)
        # every vector at once: read once, chunk by chunk, as ONE float32 array (rows in
        # id order, the sorted view's), not brain's list of per-sample arrays
        fob.compute_visualization(
            sorted_by_id(samples),
            embeddings=vectors(samples, field),
            method=maps.viz_method,
            num_dims=2,
            brain_key=maps.viz_key,
            progress=False,
        )
        out["viz_key"] = maps.viz_key
    if maps.compute_similarity:
        report(0.6, "building the similarity index", force=True)
        if maps.sim_key in dataset.list_brain_runs():
            dataset.delete_brain_run(maps.sim_key)
        # by field name: the sklearn index then reads the vectors from the field when it
        # is loaded instead of storing a copy of them in the brain run's results
        fob.compute_similarity(
            samples, embeddings=field, backend="sklearn", brain_key=maps.sim_key, progress=False
        )
        out["sim_key"] = maps.sim_key
    return out
