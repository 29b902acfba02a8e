"""Reads labels, confidences and logits of several fields in one pass (bulk, numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# ------------------------------------------------------------------- loading


def _labels(values: Sequence) -> np.ndarray:
    return np.array([v if v is not None else "" for v in values], dtype=object)


def load_predictions(view, fields: Sequence[str], gt_field: str) -> dict[str, Any]:
    """Reads ids, ground truth, labels, confidences and logits in one pass.

    Only samples where the ground truth and every field have a label are kept
    (the intersection); ``n_dropped`` says how many were left out.
    """
    paths = ["id", f"{gt_field}.label"]
    for f in fields:
        paths += [f"{f}.label", f"{f}.confidence"]
    cols = view.values(paths)
    ids = np.array(cols[0], dtype=object)
    gt = _labels(cols[1])
    preds = {f: _labels(cols[2 + 2 * i]) for i, f in enumerate(fields)}
    confs = {
        f: np.array([np.nan if c is None else c for c in cols[3 + 2 * i]], dtype=float)
        for i, f in enumerate(fields)
    }
    keep = gt != ""
    for f in fields:
        keep &= preds[f] != ""
    logits = {}
    for f in fields:
        if view.exists(f"{f}.logits").limit(1).count():
            logits[f] = _logit_matrix(view.values(f"{f}.logits", _raw=True))[keep]
    return {
        "ids": ids[keep],
        "gt": gt[keep],
        "preds": {f: p[keep] for f, p in preds.items()},
        "confidence": {f: c[keep] for f, c in confs.items()},
        "logits": logits,
        "n_total": len(ids),
        "n_dropped": int((~keep).sum()),
        "n_labelled": {f: int((preds[f] != "").sum()) for f in fields},
    }


def _logit_matrix(values: list) -> np.ndarray:
    """An ``n x K`` float matrix (NaN rows where a sample has no logits) from raw
    database values: FiftyOne stores vectors as zlib-compressed ``np.save`` bytes.
    Decoding them with one ``np.load`` each takes minutes on 70,000 samples; here
    every blob is decompressed and the shared ``.npy`` header is parsed once."""
    vals = [_unpack(v) for v in values]
    arrays = [v for v in vals if isinstance(v, np.ndarray)]
    width = max((len(v) for v in arrays), default=0)
    out = np.full((len(vals), width), np.nan)
    rows = [i for i, v in enumerate(vals) if v is not None and len(v) == width]
    if rows:
        out[rows] = np.stack([vals[i] for i in rows]).astype(float)
    return out


def _unpack(value):
    """One stored vector as a 1-D array (or None)."""
    import io
    import zlib

    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=float).ravel()
    buf = zlib.decompress(bytes(value))
    header = _NPY_HEADERS.get(buf[:128])
    if header is None:
        f = io.BytesIO(buf)
        major, _ = np.lib.format.read_magic(f)
        read = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        _shape, _fortran, dtype = read(f)
        header = (f.tell(), dtype)
        _NPY_HEADERS[buf[:128]] = header
    offset, dtype = header
    return np.frombuffer(buf, dtype=dtype, offset=offset).ravel()


_NPY_HEADERS: dict[bytes, tuple] = {}
