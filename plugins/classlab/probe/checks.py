"""The linear probe's checks: each raises before anything is written, and forms call
the same functions (schema look-ups and counts only, except :func:`check_vectors`,
which checks the arrays a core function has read)."""

from __future__ import annotations

import numpy as np

from classlab import records
from classlab.errors import FieldError, InputError, RunExistsError, RunNotFoundError

KIND = "linear_probe"


def list_probes(dataset) -> dict[str, dict]:
    """The linear probes of ``dataset``: ``{run_key: record}`` (copies)."""
    return records.list_records(dataset, KIND)


def require_probe(probes, run_key: str, param: str = "run_key") -> str:
    """Checks that ``run_key`` is one of ``probes`` (keys or the dict of :func:`list_probes`).

    Raises:
        RunNotFoundError: naming ``param`` and the probes there are
    """
    if run_key and run_key in probes:
        return run_key
    if not probes:
        raise RunNotFoundError(
            f"No linear probe on this dataset yet, so {param} {run_key or ''!r} cannot be "
            "used: train one with train_linear_probe first"
        )
    known = ", ".join(sorted(probes))
    raise RunNotFoundError(
        f"No linear probe with run key {run_key!r}: pick another {param} (probes: {known})"
    )


def check_new_probe_key(run_key: str, probes, overwrite: bool = False) -> str:
    """Checks that a new probe can take ``run_key`` (a safe key, free unless ``overwrite``).

    Raises:
        InputError: the key is not valid
        RunExistsError: a probe has that key and ``overwrite`` is False
    """
    from classlab.config import check_key

    check_key(run_key, "run_key")
    if run_key in probes and not overwrite:
        raise RunExistsError(
            f"A linear probe with run key {run_key!r} already exists: pick another run_key "
            f"(e.g. {run_key}_2) or pass overwrite=True to replace it."
        )
    return run_key


def check_embeddings_field(sample_collection, field: str, param: str = "embeddings_field") -> str:
    """Checks that ``field`` is an existing vector field (schema only).

    Raises:
        FieldError: missing, or not a vector/array field
    """
    import fiftyone as fo

    hint = (
        "Compute embeddings first (compute_clip_embeddings, or apply_lenet with an "
        "embeddings_field) and pass that field."
    )
    if not field or not sample_collection.has_field(field):
        raise FieldError(f"The {param} {field!r} does not exist on this dataset. {hint}")
    if not isinstance(sample_collection.get_field(field), fo.VectorField | fo.ArrayField):
        raise FieldError(f"The {param} {field!r} is not a vector field of embeddings. {hint}")
    return field


def check_vectors(values, field: str, what: str, dim: int | None = None) -> np.ndarray:
    """Stacks embeddings read from ``field`` into ``N x D`` float32, checking that every
    sample has one, all of one dimension (``dim``, when known), with no NaN or inf.

    Raises:
        FieldError: naming ``field``, the samples at fault and what to do
    """
    missing = sum(v is None for v in values)
    if missing:
        raise FieldError(
            f"{missing} sample(s) of the {what} have no embedding in {field!r} "
            "(embeddings_field): compute embeddings for them, or leave them out of the view."
        )
    dims = {np.shape(v) for v in values}
    if len(dims) > 1 or any(len(d) != 1 for d in dims):
        shown = ", ".join(sorted(str(d) for d in dims)[:5])
        raise FieldError(
            f"The embeddings in {field!r} (embeddings_field) are not vectors of one dimension "
            f"in the {what} (shapes: {shown}): recompute them with one model."
        )
    x = np.asarray(values, dtype=np.float32).reshape(len(values), -1)
    if dim is not None and x.shape[1] != dim:
        raise FieldError(
            f"The embeddings in {field!r} (embeddings_field) have dimension {x.shape[1]} in the "
            f"{what}, but the probe was trained on dimension {dim}: use the same embeddings."
        )
    bad = int((~np.isfinite(x)).any(axis=1).sum())
    if bad:
        raise FieldError(
            f"{bad} embedding(s) in {field!r} (embeddings_field) of the {what} contain NaN or "
            "infinite values: recompute them, or leave those samples out of the view."
        )
    return x


def check_label_field(dataset, label_field: str, gt_field: str, embeddings_field: str, overwrite):
    """The prediction field ``label_field``: never the ground truth, the embeddings or a
    built-in; an existing field only with ``overwrite`` and only a Classification field."""
    from classlab.lenet.apply import check_output_field

    protected = {
        gt_field: "the labels the probe is trained and evaluated on (gt_field)",
        embeddings_field: "the embeddings the probe reads (embeddings_field)",
    }
    return check_output_field(dataset, label_field, "label_field", overwrite, protected)


def check_c_and_iter(c_grid, max_iter) -> tuple[list[float], int]:
    """``c_grid`` (positive numbers) and ``max_iter`` (an integer >= 10)."""
    from classlab.probe.model import check_c_grid

    grid = check_c_grid(c_grid)
    ok = isinstance(max_iter, int | np.integer) and not isinstance(max_iter, bool)
    if not ok or max_iter < 10:
        raise InputError(f"max_iter must be an integer >= 10, got {max_iter!r}")
    return grid, int(max_iter)
