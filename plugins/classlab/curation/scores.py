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
to downloading its default model. Everything is validated before brain runs,
so a failing call leaves the dataset unchanged.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from typing import Iterable, Optional

import numpy as np

from classlab import defaults, records
from classlab.errors import FieldError, InputError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_classification_field, require_field_name, require_nonempty

logger = logging.getLogger("classlab")

SCORES = defaults.SCORES
PRED_SCORES = ("hardness", "mistakenness")
EMBEDDING_SCORES = ("uniqueness", "representativeness")
MIN_REPRESENTATIVENESS_SAMPLES = 20  # brain clusters the embeddings with k-means, k=20
RECORD_KIND = "scores"


def score_field(score: str, source_field: str) -> str:
    """The field (and brain key) a score is written to: ``<source_field>_<score>``."""
    if score not in SCORES:
        raise InputError(f"Unknown score {score!r}: choose from {', '.join(SCORES)}")
    return f"{source_field}_{score}"


def _brain_progress(progress, label: str):
    """Adapts a Progress to brain's callback (which receives a ProgressBar)."""
    if progress.fn is None:
        return False

    def fn(pb):
        fraction = getattr(pb, "progress", None)
        if fraction is not None:
            progress(float(fraction), label)

    return fn


def _check_output(view, out: str, what: str) -> str:
    import fiftyone as fo

    require_field_name(out, f"{what} output field")
    field = view._dataset.get_field(out) if view._dataset.has_field(out) else None
    if field is not None and not isinstance(field, fo.FloatField):
        raise FieldError(
            f"The field {out!r} exists and is not a float field, so the {what} score cannot "
            f"be written to it. Rename or delete that field first."
        )
    return out


def _check_predictions(view, pred_field: str, need_logits: bool, what: str) -> bool:
    """Checks a prediction field for ``what``; returns whether all predictions have logits."""
    require_nonempty(view)
    require_classification_field(view, pred_field, "prediction field")
    with_pred = view.exists(pred_field)
    if with_pred.count() == 0:
        raise FieldError(
            f"No sample in the view has a prediction in {pred_field!r}: "
            "run the model on these samples first (apply_lenet or zero_shot_classify)."
        )
    no_logits = with_pred.exists(f"{pred_field}.logits", False).count()
    if need_logits and no_logits:
        raise FieldError(
            f"{what.capitalize()} needs logits, and {no_logits} prediction(s) in "
            f"{pred_field!r} have none. Use a prediction field written with logits "
            "(apply_lenet and zero_shot_classify store them)."
        )
    if not no_logits:
        return True
    no_conf = with_pred.exists(f"{pred_field}.confidence", False).count()
    if no_conf:
        raise FieldError(
            f"{what.capitalize()} needs logits or confidences, and {no_conf} prediction(s) "
            f"in {pred_field!r} have neither."
        )
    return False


def _check_embeddings(view, embeddings_field: str, what: str) -> None:
    require_nonempty(view)
    hint = (
        "Run compute_clip_embeddings (embeddings_field="
        f"{embeddings_field!r}) or apply_lenet with embeddings_field={embeddings_field!r} first."
    )
    if not embeddings_field:
        raise FieldError(f"{what.capitalize()} needs an embeddings field. {hint}")
    if not view.has_field(embeddings_field):
        raise FieldError(
            f"{what.capitalize()} needs embeddings, and the field {embeddings_field!r} does "
            f"not exist. {hint}"
        )
    missing = view.exists(embeddings_field, False).count()
    if missing:
        raise FieldError(
            f"{missing} sample(s) in the view have no embedding in {embeddings_field!r} "
            f"(ClassLab never lets brain download a model to fill them in). {hint}"
        )


def _record(view, out: str, score: str, source: str, **extra) -> None:
    rec = {
        "score": score,
        "source_field": source,
        "num_samples": len(view),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
    records.set_record(view._dataset, RECORD_KIND, out, rec)


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


def _brain_run(view, config, brain_key: str, values: list) -> None:
    """Registers a brain run for ``config`` and writes ``values`` (aligned with ``view``)."""
    import fiftyone as fo

    method = config.build()
    method.ensure_requirements()
    method.register_run(view, brain_key, cleanup=False)
    method.register_samples(view)
    dataset = view._dataset
    if not dataset.has_field(brain_key):
        dataset.add_sample_field(brain_key, fo.FloatField)
    view.set_values(brain_key, values)
    method.save_run_results(view, brain_key, None)


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
    out = _check_output(view, score_field("hardness", pred_field), "hardness")
    _check_predictions(view, pred_field, need_logits=True, what="hardness")
    from fiftyone.brain.internal.core.hardness import HardnessConfig

    p = as_progress(progress)
    p(0.0, f"{out}: reading logits", force=True)
    logits = view.values(f"{pred_field}.logits")
    values = [None if v is None else float(v) for v in hardness_from_logits(logits)]
    p(0.5, f"{out}: writing {len(values)} scores", force=True)
    _brain_run(view, HardnessConfig(pred_field, out), out, values)
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
    out = _check_output(view, score_field("mistakenness", pred_field), "mistakenness")
    use_logits = _check_predictions(view, pred_field, need_logits=False, what="mistakenness")
    require_classification_field(view, gt_field, "ground-truth field")
    if gt_field == pred_field:
        raise InputError("The prediction and ground-truth fields must differ.")
    from fiftyone.brain.internal.core.mistakenness import ClassificationMistakennessConfig

    p = as_progress(progress)
    p(0.0, f"{out}: reading predictions", force=True)
    pred_labels, gt_labels = view.values([f"{pred_field}.label", f"{gt_field}.label"])
    scores = view.values(f"{pred_field}.logits" if use_logits else f"{pred_field}.confidence")
    values = mistakenness_values(pred_labels, gt_labels, scores, use_logits)
    p(0.5, f"{out}: writing {len(values)} scores", force=True)
    config = ClassificationMistakennessConfig(pred_field, gt_field, out, use_logits)
    _brain_run(view, config, out, values)
    p(1.0, f"{out}: done", force=True)
    _record(view, out, "mistakenness", pred_field, gt_field=gt_field, use_logits=use_logits)
    return out


def _embedding_score(view, score: str, embeddings_field: str, progress) -> str:
    out = _check_output(view, score_field(score, embeddings_field), score)
    _check_embeddings(view, embeddings_field, score)
    if score == "representativeness" and len(view) < MIN_REPRESENTATIVENESS_SAMPLES:
        raise InputError(
            f"Representativeness clusters the embeddings into {MIN_REPRESENTATIVENESS_SAMPLES} "
            f"groups and needs at least that many samples; the view has {len(view)}."
        )
    import fiftyone.brain as fob

    fn = fob.compute_uniqueness if score == "uniqueness" else fob.compute_representativeness
    p = as_progress(progress)
    fn(view, out, embeddings=embeddings_field, progress=_brain_progress(p, out))
    _record(view, out, score, embeddings_field)
    return out


def compute_uniqueness(
    view, embeddings_field: str = defaults.CLIP_EMBEDDINGS, progress: Optional[ProgressFn] = None
) -> str:
    """Uniqueness of each sample from the embeddings stored in ``embeddings_field``.

    Returns:
        the output field (and brain key), ``<embeddings_field>_uniqueness``

    Raises:
        FieldError: the embeddings field is missing or some samples have no embedding
            (say which operator to run first; no model is ever downloaded)
    """
    return _embedding_score(view, "uniqueness", embeddings_field, progress)


def compute_representativeness(
    view, embeddings_field: str = defaults.CLIP_EMBEDDINGS, progress: Optional[ProgressFn] = None
) -> str:
    """Representativeness (closeness to k-means cluster centres) from ``embeddings_field``.

    Returns:
        the output field (and brain key), ``<embeddings_field>_representativeness``
    """
    return _embedding_score(view, "representativeness", embeddings_field, progress)


def validate_scores(
    view,
    scores: Iterable[str],
    pred_field: Optional[str] = None,
    gt_field: str = defaults.GROUND_TRUTH,
    embeddings_field: Optional[str] = None,
) -> list[str]:
    """Checks a combined request without computing anything; returns the score list."""
    scores = list(dict.fromkeys(scores or []))
    if not scores:
        raise InputError(f"Choose at least one score: {', '.join(SCORES)}")
    for s in scores:
        score_field(s, "x")
    require_nonempty(view)
    if any(s in PRED_SCORES for s in scores):
        if not pred_field:
            raise InputError("Hardness and mistakenness need a prediction field (pred_field).")
        _check_predictions(view, pred_field, "hardness" in scores, "hardness")
        _check_output(view, score_field("hardness", pred_field), "hardness")
        _check_output(view, score_field("mistakenness", pred_field), "mistakenness")
    if "mistakenness" in scores:
        require_classification_field(view, gt_field, "ground-truth field")
    for s in EMBEDDING_SCORES:
        if s in scores:
            _check_embeddings(view, embeddings_field or "", s)
            _check_output(view, score_field(s, embeddings_field), s)
    if "representativeness" in scores and len(view) < MIN_REPRESENTATIVENESS_SAMPLES:
        raise InputError(
            f"Representativeness needs at least {MIN_REPRESENTATIVENESS_SAMPLES} samples; "
            f"the view has {len(view)}."
        )
    return scores


def compute_sample_scores(
    view,
    scores: Iterable[str] = SCORES,
    pred_field: Optional[str] = defaults.LENET_FIELD,
    gt_field: str = defaults.GROUND_TRUTH,
    embeddings_field: Optional[str] = defaults.CLIP_EMBEDDINGS,
    progress: Optional[ProgressFn] = None,
) -> dict[str, str]:
    """Computes any subset of the four scores in one call, validating all of them first.

    Args:
        view: the samples to score
        scores: a subset of ``("hardness", "mistakenness", "uniqueness", "representativeness")``
        pred_field: Classification predictions (hardness, mistakenness)
        gt_field: ground truth (mistakenness)
        embeddings_field: embeddings already on the samples (uniqueness, representativeness)
        progress: optional ``fn(fraction, label)``

    Returns:
        ``{score: output field}``
    """
    scores = validate_scores(view, scores, pred_field, gt_field, embeddings_field)
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
            out[s] = _embedding_score(view, s, embeddings_field, stage)
        logger.info("%s -> %s", s, out[s])
    p(1.0, "scores done", force=True)
    return out
