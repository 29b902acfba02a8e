"""A real FiftyOne classification evaluation, read and stored a chunk at a time.

``view.evaluate_classifications`` reads whole lists of labels, label ids and
confidences (``values()``: about 1.1 KB a sample at its peak), keeps them as numpy
arrays, saves the per-sample eval field after reading every sample id, and stores
the results by serialising every array back to Python lists and one JSON string:
all of it grows with the view (+113 MiB at 80,000 samples; see benchmarks/RESULTS.md,
"Evaluation in bounded memory"). :func:`evaluate_in_chunks` makes the same run with
FiftyOne's own machinery (``SimpleEvaluationConfig`` / ``TopKEvaluationConfig``,
``register_run``, ``register_samples``, the per-sample ``eval_key`` field and its
expression, ``results_meta``, the sidebar group) and stores the same
``ClassificationResults`` (same keys and values: the App's Model Evaluation panel
and ClassLab's comparison read it as before), but:

- reads the view a chunk at a time (:func:`classlab.chunks.iter_chunks`) into
  compact arrays: labels as class codes, label ids as 24-byte ASCII, confidences
  as float64 (64 bytes a sample), and saves the eval field chunk by chunk;
- streams the stored JSON to GridFS a chunk of each array at a time (pymongo
  still buffers up to 32 MB of it before inserting);
- does not cache the results on the dataset (``load_evaluation_results`` reads
  them from the database when asked).

What remains proportional to the view is inherent to a FiftyOne evaluation run:
the stored results hold one label, id and confidence per sample, and the metrics
need the labels (the returned results hold them, not the ids).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import numpy as np

from classlab import chunks

logger = logging.getLogger("classlab")

ID_WIDTH = 24  # FiftyOne label ids are ObjectIds: 24 hex characters
_TOKEN = "<<classlab-stream:{}>>"
_STREAMED = ("ytrue", "ypred", "confs", "ytrue_ids", "ypred_ids")


class _Columns:
    """Labels (codes into ``names``), label ids and confidences, grown chunk by chunk."""

    def __init__(self, n: int):
        self.n = 0
        self.codes = {"ytrue": np.empty(n, np.int32), "ypred": np.empty(n, np.int32)}
        self.ids = {name: np.empty(n, f"S{ID_WIDTH}") for name in ("ytrue_ids", "ypred_ids")}
        self.confs = np.empty(n, np.float64)
        self.vocab: dict[str | None, int] = {}
        self.missing_confs = False
        self.missing_ids = {name: False for name in self.ids}  # a sample without the field

    def _room(self, m: int) -> None:
        size = len(self.confs)
        if self.n + m <= size:
            return
        grow = max(self.n + m, 2 * size) - size  # the view grew meanwhile: rarely
        for group in (self.codes, self.ids):
            for k, a in group.items():
                group[k] = np.concatenate([a, np.empty(grow, a.dtype)])
        self.confs = np.concatenate([self.confs, np.empty(grow, np.float64)])

    def add(self, ytrue, ypred, confs, ytrue_ids, ypred_ids) -> None:
        m = len(ytrue)
        self._room(m)
        part = slice(self.n, self.n + m)
        for name, labels in (("ytrue", ytrue), ("ypred", ypred)):
            self.codes[name][part] = [self.vocab.setdefault(v, len(self.vocab)) for v in labels]
        for name, ids in (("ytrue_ids", ytrue_ids), ("ypred_ids", ypred_ids)):
            if any(i is not None and (not isinstance(i, str) or len(i) != ID_WIDTH) for i in ids):
                raise ValueError(f"{name}: a label id is not a {ID_WIDTH}-character ObjectId")
            if any(i is None for i in ids):
                self.missing_ids[name] = True
                ids = ["" if i is None else i for i in ids]
            self.ids[name][part] = ids
        self.missing_confs |= any(c is None for c in confs)
        self.confs[part] = [np.nan if c is None else c for c in confs]
        self.n += m

    def labels(self, name: str) -> list:
        """The labels of ``name`` (None where missing), a list of shared strings."""
        return np.array(list(self.vocab), dtype=object)[self.codes[name][: self.n]].tolist()

    def conf_array(self, part: slice | None = None) -> np.ndarray:
        """Confidences as FiftyOne keeps them: float64, or objects with None if any lacked one."""
        c = self.confs[: self.n][part or slice(None)]
        if not self.missing_confs:
            return c
        out = c.astype(object)
        out[np.isnan(c)] = None
        return out

    def json_pieces(self, name: str, missing: str, step: int) -> Iterator[str]:
        """The JSON list of one streamed attribute, ``step`` values at a time."""
        if name in self.codes:
            names = np.array([missing if v is None else v for v in self.vocab], dtype=object)
        yield "["
        for start in range(0, self.n, step):
            part = slice(start, min(start + step, self.n))
            if name in self.codes:
                values = names[self.codes[name][part]].tolist()
            elif name in self.ids:
                values = self.ids[name][part].astype(f"U{ID_WIDTH}").tolist()
                if self.missing_ids[name]:
                    values = [v or None for v in values]
            else:
                values = self.conf_array(part).tolist()
            yield ("," if start else "") + json.dumps(values)[1:-1]
        yield "]"


class _Reader(io.RawIOBase):
    """A read-only file over an iterator of str pieces (GridFS reads it in chunks)."""

    def __init__(self, pieces: Iterator[str]):
        self._pieces = pieces
        self._buf = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buf += piece.encode()
        size = len(self._buf) if size < 0 else size
        out, self._buf = self._buf[:size], self._buf[size:]
        return out


def _read(view, config, eval_key, cols: _Columns, targets_map, k: int, size: int) -> None:
    """Reads the view a chunk at a time into ``cols`` and writes each chunk's per-sample
    correctness to ``eval_key`` as FiftyOne does (the simple method: its own database
    expression, saved on the chunk's samples; top-k: its own rule on the chunk's logits)."""
    from fiftyone import ViewField as F
    from fiftyone.utils.eval.classification import _evaluate_top_k

    gt, pred = config.gt_field, config.pred_field
    paths = [f"{gt}.label", f"{gt}.id", f"{pred}.label", f"{pred}.id"]
    paths.append(f"{pred}.logits" if k > 1 else f"{pred}.confidence")
    for chunk in chunks.iter_chunks(view, paths, size):
        ytrue, ytrue_ids, ypred, ypred_ids, last = (chunk[p] for p in paths)
        if k > 1:
            confs, correct = _evaluate_top_k(ytrue, ypred, last, k, targets_map)
            chunks.write(view, eval_key, dict(zip(chunk.ids, correct)))
        else:
            confs = last
            # FiftyOne saves this on the whole view, reading all its ids first
            expr = F(f"{gt}.label") == F(f"{pred}.label")
            chunk.view.set_field(eval_key, expr).save(eval_key)
        cols.add(ytrue, ypred, confs, ytrue_ids, ypred_ids)


def _save_streamed(method, view, eval_key: str, results, cols: _Columns, step: int) -> None:
    """``method.save_run_results(view, eval_key, results, cache=False)``, but the JSON
    goes to GridFS a chunk at a time: the big arrays never become one list or string."""
    from bson import json_util

    skeleton = _skeleton(results)
    text = json_util.dumps(skeleton.serialize())

    def pieces():
        rest = text
        while True:
            found = [(rest.find(f'"{_TOKEN.format(n)}"'), n) for n in _STREAMED]
            found = [(i, n) for i, n in found if i >= 0]
            if not found:
                yield rest
                return
            i, name = min(found)
            yield rest[:i]
            yield from cols.json_pieces(name, results.missing, step)
            rest = rest[i + len(_TOKEN.format(name)) + 2 :]

    run_doc = method._get_run_doc(view, eval_key)  # as BaseRun.save_run_results does
    if run_doc.results:
        run_doc.results.delete()
    run_doc.results.put(_Reader(pieces()), content_type="application/json")
    run_doc.results_meta = dict(results.get_meta() or {})
    run_doc.save()


def _skeleton(results):
    """A shallow copy of ``results`` whose per-sample arrays are placeholders."""
    import copy

    skeleton = copy.copy(results)
    for name in _STREAMED:
        setattr(skeleton, name, _TOKEN.format(name))
    return skeleton


def evaluate_in_chunks(
    view,
    pred_field: str,
    gt_field: str,
    eval_key: str,
    classes: list[str] | None = None,
    k: int = 1,
    size: int | None = None,
):
    """``view.evaluate_classifications(pred_field, gt_field=gt_field, eval_key=eval_key,
    classes=classes[, method="top-k", k=k])`` in bounded memory (see the module).

    The caller checks the fields and the key (``check_eval_fields``, ``check_eval_key``)
    and deletes an earlier run of ``eval_key``; ``k > 1`` needs ``classes`` (the
    logits' class order). ``size``: samples per chunk (``defaults.CHUNK_SIZE``).

    Returns:
        a FiftyOne ``ClassificationResults`` with the labels and confidences (for
        ``metrics()``/``report()``/``confusion_matrix()``), without the label ids (the
        stored run has them: ``dataset.load_evaluation_results(eval_key)``)
    """
    import fiftyone.core.validation as fov
    from fiftyone.utils.eval import classification as foec

    fov.validate_non_grouped_collection(view)
    if k > 1:
        config = foec.TopKEvaluationConfig(pred_field, gt_field, k=k)
    else:
        config = foec.SimpleEvaluationConfig(pred_field, gt_field)
    method = config.build()
    method.ensure_requirements()
    method.register_run(view, eval_key)
    method.register_samples(view, eval_key)
    cols = _Columns(view.count())
    targets = {c: i for i, c in enumerate(classes)} if classes is not None else None
    size = chunks.chunk_size(size)
    _read(view, config, eval_key, cols, targets, k, size)
    missing = "(none)"
    results = foec.ClassificationResults(
        view,
        config,
        eval_key,
        cols.labels("ytrue"),
        cols.labels("ypred"),
        confs=cols.conf_array(),
        classes=classes,
        missing=missing,
        backend=method,
    )
    method.compute_custom_metrics(view, eval_key, results)
    _save_streamed(method, view, eval_key, results, cols, size)
    method.add_fields_to_sidebar_group(view, eval_key, omit_fields=(pred_field, gt_field))
    logger.debug("Evaluated %r as %r in chunks of %d", pred_field, eval_key, size)
    return results
