"""Comparable summaries of a dataset, for proving operator == core call (import as
``support.parity``).

Two copies of one dataset are changed, one through ``foo.execute_operator`` and
one through the core function the operator wraps; :func:`state` of each must
then be equal. What legitimately differs between two runs is left out: wall
times, timestamps, file locations and the datasets' own names.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

# keys whose values differ between two identical runs (times, speeds, places, new ids)
VOLATILE = {
    "model_id",
    "created_at",
    "updated_at",
    "timestamp",
    "seconds",
    "train_seconds",
    "encode_seconds",
    "images_per_second",
    "latency_ms",
    "latency_threads",
    "onnx_latency_ms",
    "onnx_path",
    "checkpoint",
    "dir",
    "path",
    "paths",
    "filepath",
}


def normalize(obj, names=()):
    """``obj`` without VOLATILE keys (at any depth), with each of ``names`` (dataset
    names) replaced by ``<dataset>`` in strings, and floats rounded to 6 digits."""
    if isinstance(obj, dict):
        return {k: normalize(v, names) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, (list, tuple)):
        return [normalize(v, names) for v in obj]
    if isinstance(obj, str):
        for name in names:
            obj = obj.replace(name, "<dataset>")
        return obj
    if isinstance(obj, float):
        return round(obj, 6)
    return obj


def _field_summary(ds, name: str, field) -> object:
    """Counts and distributions of one field: label counts for labels, sorted rounded
    values for scalars, shape and rounded sum for vectors."""
    import fiftyone as fo

    if isinstance(field, fo.EmbeddedDocumentField) and issubclass(
        field.document_type, fo.Classification
    ):
        return {"count": ds.count(name), "labels": ds.count_values(f"{name}.label")}
    if isinstance(field, (fo.FloatField, fo.IntField, fo.BooleanField, fo.StringField)):
        vals = ds.values(name)
        return {"count": ds.count(name), "values": sorted(map(repr, normalize(vals)))}
    if isinstance(field, (fo.VectorField, fo.ArrayField)):
        vecs = [np.asarray(v) for v in ds.values(name) if v is not None]
        return {"count": len(vecs), "shape": sorted({v.shape for v in vecs})}
    if isinstance(field, fo.DictField):
        return {"count": ds.count(name), "values": sorted(map(repr, ds.values(name)))}
    return {"count": ds.count(name)}


ALWAYS_SKIPPED = ("filepath", "id", "created_at", "last_modified_at")


def state(ds, skip_fields=()) -> dict:
    """A comparable summary of ``ds``: size, tags, fields (with their summaries, but
    not ``skip_fields``), evaluations, brain runs, ClassLab run records and the rest
    of ``dataset.info``."""
    from classlab.records import INFO_KEY

    ds.reload()
    skip = set(ALWAYS_SKIPPED) | set(skip_fields)
    schema = ds.get_field_schema()
    names = (ds.name,)
    return {
        "num_samples": len(ds),
        "tags": ds.count_sample_tags(),
        "fields": {n: _field_summary(ds, n, f) for n, f in sorted(schema.items()) if n not in skip},
        "evaluations": sorted(ds.list_evaluations()),
        "brain_runs": sorted(ds.list_brain_runs()),
        "records": normalize(ds.info.get(INFO_KEY, {}), names),
        "info": normalize({k: v for k, v in ds.info.items() if k != INFO_KEY}, names),
        "default_classes": list(ds.default_classes),
    }


def assert_same_state(a, b, skip_fields=()) -> dict:
    """Asserts :func:`state` of ``a`` and ``b`` are equal (datasets' names aside);
    returns ``a``'s state."""
    sa = normalize(state(a, skip_fields), (a.name,))
    sb = normalize(state(b, skip_fields), (b.name,))
    for key in sa:
        assert sa[key] == sb[key], f"{key} differs:\noperator: {sa[key]}\ncore:     {sb[key]}"
    return sa


def assert_same_values(a, b, fields, view_fn=lambda ds: ds, rtol=1e-6, atol=1e-7):
    """The per-sample values of ``fields`` agree, sample by sample (in dataset order;
    clones keep the order). Labels exactly, numbers and vectors to ``rtol``/``atol``."""
    for field in fields:
        va, vb = view_fn(a).values(field), view_fn(b).values(field)
        assert len(va) == len(vb), field
        for x, y in zip(va, vb):
            if not (_numeric(x) and _numeric(y)):
                assert x == y, f"{field}: {x!r} != {y!r}"
            else:
                np.testing.assert_allclose(
                    np.asarray(x, dtype=float), np.asarray(y, dtype=float), rtol=rtol, atol=atol
                )


def _numeric(x) -> bool:
    if isinstance(x, (list, tuple, np.ndarray)):
        return len(x) > 0 and all(_numeric(v) for v in x)
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool)


def file_hashes(paths) -> list[str]:
    """SHA-256 of each file, in order."""
    return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]
