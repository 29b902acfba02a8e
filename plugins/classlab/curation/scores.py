"""Brain scores per sample: hardness, mistakenness, uniqueness, representativeness.

Each score goes through ``fiftyone.brain`` into a field named after its source,
so scores of several models live side by side:

==================  =======================================
score               field (and brain key)
==================  =======================================
hardness            ``<pred_field>_hardness``
mistakenness        ``<pred_field>_mistakenness``
uniqueness          ``<embeddings_field>_uniqueness``
representativeness  ``<embeddings_field>_representativeness``
==================  =======================================

Uniqueness and representativeness always use an embeddings field that is
already on the samples (CLIP's or LeNet's): brain is never allowed to fall back
to downloading its default model. Everything is validated before brain runs
(:mod:`classlab.curation.score_checks`, the same checks the form shows), so a
failing call leaves the dataset unchanged.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from typing import Iterable, Optional

import numpy as np

from classlab import defaults, records
from classlab.chunks import iter_chunks, sorted_by_id, vectors
from classlab.chunks import write as write_values
from classlab.curation.indexes import ensure_score_indexes
from classlab.curation.score_checks import (
    check_embedding_method,
    check_embeddings,
    check_gt_field,
    check_output,
    check_predictions,
    check_sample_count,
    score_field,
    validate_scores,
)
from classlab.progress import ProgressFn, as_progress
from classlab.writers import fault

logger = logging.getLogger("classlab")

RECORD_KIND = "scores"
# CLASSLAB_FAULT points (tests): after a score's first chunk of values; before its record
FAULT_POINTS = ("scores_after_values", "scores_before_record")


def _brain_progress(progress, label: str):
    """Adapts a Progress to brain's callback (which receives a ProgressBar)."""
    if progress.fn is None:
        return False

    def fn(pb):
        fraction = getattr(pb, "progress", None)
        if fraction is not None:
            progress(float(fraction), label)

    return fn


def _record(view, out: str, score: str, source: str, **extra) -> None:
    rec = {
        "score": score,
        "source_field": source,
        "num_samples": len(view),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
    fault("scores_before_record")
    records.set_record(view._dataset, RECORD_KIND, out, rec)
    ensure_score_indexes(view, [out])  # sortable in the App's grid


# Hardness and mistakenness: fiftyone-brain's own formulas (scipy's softmax and
# entropy, as in fiftyone/brain/internal/core/{hardness,mistakenness}.py), applied
# to all samples at once instead of brain's per-sample ``sample.save()`` loop
# (about 4 minutes each on 70,000 samples). The run is registered through brain's
# own method and config, so ``list_brain_runs()``, ``get_brain_info()`` and
# ``delete_brain_run()`` treat it exactly like a run of ``fob.compute_hardness``.
# tests/unit/test_curation_scores.py checks the values against brain's.


def _entropy_of_softmax(rows: np.ndarray) -> np.ndarray:
    from scipy.special import softmax
    from scipy.stats import entropy

    return entropy(softmax(rows, axis=1), axis=1)


def hardness_from_logits(logits: list) -> list:
    """Brain's hardness, ``entropy(softmax(logits))``, for a list of logit vectors.

    ``None`` entries (samples without a prediction) stay ``None``; rows of equal
    length are computed as one array.
    """
    out: list = [None] * len(logits)
    by_len: dict[int, list[int]] = {}
    for i, v in enumerate(logits):
        if v is not None:
            by_len.setdefault(len(v), []).append(i)
    for idx in by_len.values():
        rows = np.asarray([logits[i] for i in idx], dtype=np.float64)
        for i, h in zip(idx, _entropy_of_softmax(rows)):
            out[i] = float(h)
    return out


def mistakenness_values(pred_labels, gt_labels, scores, use_logits: bool) -> list:
    """Brain's classification mistakenness for aligned lists of labels and logits/confidences.

    ``m`` is 1 when the prediction is wrong and -1 when right (or, as in brain,
    when there is no ground-truth label); mistakenness is
    ``(m * exp(-entropy(softmax(logits))) + 1) / 2``, or ``(m * confidence + 1) / 2``
    without logits; 1 when there is no
    prediction, ``None`` when there is neither label.
    """
    n = len(pred_labels)
    if use_logits:
        certainty = [None if h is None else math.exp(-h) for h in hardness_from_logits(scores)]
    else:
        certainty = scores
    out: list = [None] * n
    for i in range(n):
        pred, gt = pred_labels[i], gt_labels[i]
        if pred is None and gt is None:
            continue
        if pred is None:
            out[i] = 1.0
            continue
        # as brain: a prediction without a ground-truth label counts as "right"
        m = -1.0 if (gt is None or pred == gt) else 1.0
        out[i] = float((m * certainty[i] + 1.0) / 2.0)
    return out


def _brain_run(view, config, brain_key: str, chunks: Iterable[dict]) -> None:
    """Registers a brain run for ``config`` and writes ``chunks`` (``{sample id: value}``
    dicts, one chunk of ``defaults.CHUNK_SIZE`` at a time, so memory does not grow with
    the view) into the field ``brain_key``."""
    import fiftyone as fo

    method = config.build()
    method.ensure_requirements()
    method.register_run(view, brain_key, cleanup=False)
    if hasattr(method, "register_samples"):  # hardness/mistakenness; not uniqueness's
        method.register_samples(view)
    dataset = view._dataset
    if not dataset.has_field(brain_key):
        dataset.add_sample_field(brain_key, fo.FloatField)
    for values in chunks:
        write_values(view, brain_key, values)
        fault("scores_after_values")
    method.save_run_results(view, brain_key, None)


def _scored_chunks(view, fields: list, score):
    """``{id: score(chunk)[i]}`` for each chunk of the view (``fields`` read)."""
    for chunk in iter_chunks(view, fields):
        yield dict(zip(chunk.ids, score(chunk)))


def compute_hardness(view, pred_field: str, progress: Optional[ProgressFn] = None) -> str:
    """Hardness (entropy of the softmaxed logits) of each sample's prediction.

    Args:
        view: the samples to score
        pred_field: a Classification field whose labels carry ``logits``
        progress: optional ``fn(fraction, label)``

    Returns:
        the output field (and brain key), ``<pred_field>_hardness``

    Raises:
        FieldError: the field is missing, not Classification, or lacks logits
    """
    out = check_output(view, score_field("hardness", pred_field), "hardness")
    check_predictions(view, pred_field, need_logits=True, what="hardness")
    from fiftyone.brain.internal.core.hardness import HardnessConfig

    p = as_progress(progress)
    p(0.0, f"{out}: scoring in chunks", force=True)
    path = f"{pred_field}.logits"

    def score(chunk):
        return [None if v is None else float(v) for v in hardness_from_logits(chunk[path])]

    _brain_run(view, HardnessConfig(pred_field, out), out, _scored_chunks(view, [path], score))
    p(1.0, f"{out}: done", force=True)
    _record(view, out, "hardness", pred_field)
    return out


def compute_mistakenness(
    view,
    pred_field: str,
    gt_field: str = defaults.GROUND_TRUTH,
    progress: Optional[ProgressFn] = None,
) -> str:
    """Mistakenness of each ground-truth label given the predictions in ``pred_field``.

    Uses the logits when every prediction has them, else the confidences.

    Returns:
        the output field (and brain key), ``<pred_field>_mistakenness``
    """
    out = check_output(view, score_field("mistakenness", pred_field), "mistakenness")
    use_logits = check_predictions(view, pred_field, need_logits=False, what="mistakenness")
    check_gt_field(view, gt_field, ["mistakenness"], pred_field)
    from fiftyone.brain.internal.core.mistakenness import ClassificationMistakennessConfig

    p = as_progress(progress)
    p(0.0, f"{out}: scoring in chunks", force=True)
    fields = [f"{pred_field}.label", f"{gt_field}.label"]
    fields.append(f"{pred_field}.logits" if use_logits else f"{pred_field}.confidence")

    def score(chunk):
        return mistakenness_values(*(chunk[f] for f in fields), use_logits)

    config = ClassificationMistakennessConfig(pred_field, gt_field, out, use_logits)
    _brain_run(view, config, out, _scored_chunks(view, fields, score))
    p(1.0, f"{out}: done", force=True)
    _record(view, out, "mistakenness", pred_field, gt_field=gt_field, use_logits=use_logits)
    return out


def _embedding_score(
    view, score: str, embeddings_field: str, progress, method: str = "auto", n=None
) -> str:
    out = check_output(view, score_field(score, embeddings_field), score)
    check_embeddings(view, embeddings_field, score)
    n = len(view) if n is None else n
    check_sample_count(view, score, n)
    method = resolve_embedding_method(method, n)
    p = as_progress(progress)
    if method == "bounded":
        _bounded_score(view, score, embeddings_field, out, p)
    else:
        import fiftyone.brain as fob

        fn = fob.compute_uniqueness if score == "uniqueness" else fob.compute_representativeness
        # brain needs every vector at once (its k-NN index): read them once, chunk by
        # chunk, into ONE float32 array (rows in id order, as the sorted view), not lists
        emb = vectors(view, embeddings_field)
        fn(sorted_by_id(view), out, embeddings=emb, progress=_brain_progress(p, out))
    _record(view, out, score, embeddings_field, method=method)
    return out


def _bounded_score(view, score: str, embeddings_field: str, out: str, p) -> None:
    """:mod:`classlab.curation.bounded`'s chunked computation, registered as brain's own
    run (``UniquenessConfig``/``RepresentativenessConfig``) so brain's run list, info and
    deletion treat it like ``fob.compute_<score>``; values written one chunk at a time."""

    from classlab.curation import bounded

    if score == "uniqueness":
        from fiftyone.brain.internal.core.uniqueness import UniquenessConfig as Config

        values_of = bounded.uniqueness_values
    else:
        from fiftyone.brain.internal.core.representativeness import (
            RepresentativenessConfig as Config,
        )

        values_of = bounded.representativeness_values
    # everything is computed (and every vector checked) before the first write
    ids, values, _info = values_of(view, embeddings_field, p.stage(0.0, 0.9))

    def chunks():
        step = defaults.CHUNK_SIZE
        for start in range(0, len(values), step):
            stop = min(len(values), start + step)
            yield dict(zip(ids.slice(start, stop), values[start:stop].tolist()))
            p(0.9 + 0.1 * stop / len(values), f"{out}: writing")

    _brain_run(view, Config(out, embeddings_field=embeddings_field), out, chunks())


def resolve_embedding_method(method: Optional[str], n: int) -> str:
    """``"brain"`` or ``"bounded"`` for ``method`` on a view of ``n`` samples (``"auto"``:
    brain's exact computation up to :data:`classlab.defaults.BRAIN_EMBEDDING_SCORES_MAX`
    samples, the chunked one above)."""
    method = check_embedding_method(method)
    if method == "auto":
        return "brain" if n <= defaults.BRAIN_EMBEDDING_SCORES_MAX else "bounded"
    return method


def compute_uniqueness(
    view,
    embeddings_field: str = defaults.CLIP_EMBEDDINGS,
    progress: Optional[ProgressFn] = None,
    embedding_method: str = "auto",
) -> str:
    """Uniqueness of each sample from the embeddings stored in ``embeddings_field``.

    ``embedding_method``: ``"brain"`` (FiftyOne Brain's exact k-NN), ``"bounded"``
    (:mod:`classlab.curation.bounded`: chunked, approximate k-NN) or ``"auto"`` (brain up
    to :data:`classlab.defaults.BRAIN_EMBEDDING_SCORES_MAX` samples).

    Returns:
        the output field (and brain key), ``<embeddings_field>_uniqueness``

    Raises:
        FieldError: the embeddings field is missing or some samples have no embedding
            (say which operator to run first; no model is ever downloaded)
    """
    return _embedding_score(view, "uniqueness", embeddings_field, progress, embedding_method)


def compute_representativeness(
    view,
    embeddings_field: str = defaults.CLIP_EMBEDDINGS,
    progress: Optional[ProgressFn] = None,
    embedding_method: str = "auto",
) -> str:
    """Representativeness (closeness to k-means cluster centres) from ``embeddings_field``.

    ``embedding_method``: as :func:`compute_uniqueness` (``"bounded"``: mini-batch k-means
    fitted chunk by chunk).

    Returns:
        the output field (and brain key), ``<embeddings_field>_representativeness``
    """
    return _embedding_score(
        view, "representativeness", embeddings_field, progress, embedding_method
    )


def compute_sample_scores(
    view,
    scores: Iterable[str] = defaults.SCORES,
    pred_field: Optional[str] = defaults.LENET_FIELD,
    gt_field: str = defaults.GROUND_TRUTH,
    embeddings_field: Optional[str] = defaults.CLIP_EMBEDDINGS,
    progress: Optional[ProgressFn] = None,
    embedding_method: str = "auto",
) -> dict[str, str]:
    """Computes any subset of the four scores in one call, validating all of them first.

    Args:
        view: the samples to score
        scores: a subset of ``("hardness", "mistakenness", "uniqueness", "representativeness")``
        pred_field: Classification predictions (hardness, mistakenness)
        gt_field: ground truth (mistakenness)
        embeddings_field: embeddings already on the samples (uniqueness, representativeness)
        progress: optional ``fn(fraction, label)``
        embedding_method: uniqueness and representativeness by ``"brain"`` (FiftyOne
            Brain, exact, every vector in memory), ``"bounded"`` (chunked, approximate:
            :mod:`classlab.curation.bounded`) or ``"auto"`` (brain up to
            :data:`classlab.defaults.BRAIN_EMBEDDING_SCORES_MAX` samples)

    Returns:
        ``{score: output field}``

    Raises:
        InputError, FieldError: from :func:`~classlab.curation.score_checks.validate_scores`,
            before anything is written
    """
    scores = validate_scores(view, scores, pred_field, gt_field, embeddings_field, embedding_method)
    n = len(view)
    p = as_progress(progress)
    out = {}
    for i, s in enumerate(scores):
        stage = p.stage(i / len(scores), (i + 1) / len(scores))
        stage(0.0, f"computing {s}", force=True)
        if s == "hardness":
            out[s] = compute_hardness(view, pred_field, stage)
        elif s == "mistakenness":
            out[s] = compute_mistakenness(view, pred_field, gt_field, stage)
        else:
            out[s] = _embedding_score(view, s, embeddings_field, stage, embedding_method, n)
        logger.info("%s -> %s", s, out[s])
    p(1.0, "scores done", force=True)
    return out


def score_samples(
    view,
    scores: Iterable[str] = defaults.SCORES,
    pred_field: Optional[str] = defaults.LENET_FIELD,
    gt_field: str = defaults.GROUND_TRUTH,
    embeddings_field: Optional[str] = defaults.CLIP_EMBEDDINGS,
    progress: Optional[ProgressFn] = None,
    embedding_method: str = "auto",
) -> dict:
    """:func:`compute_sample_scores` with what it did, for a result view.

    Returns:
        ``{"fields": {score: field}, "counts": {field: samples with a value},
        "num_samples", "seconds"}``
    """
    import time

    import fiftyone as fo

    start = time.perf_counter()
    fields = compute_sample_scores(
        view, scores, pred_field, gt_field, embeddings_field, progress, embedding_method
    )
    seconds = time.perf_counter() - start
    names = list(fields.values())
    counts = view.aggregate([fo.Count(f) for f in names] + [fo.Count()])
    return {
        "fields": fields,
        "counts": dict(zip(names, counts[:-1])),
        "num_samples": counts[-1],
        "seconds": round(seconds, 3),
    }
