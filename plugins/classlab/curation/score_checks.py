"""Checks of a score request, one per parameter, shared by the core and the form.

:func:`classlab.curation.scores.compute_sample_scores` runs all of them before
it writes anything; the ``compute_sample_scores`` form runs each one on its own
property (through ``operators.common.check``). They only use schema reads and
aggregations (``count``), never a read of every sample, so a form can run them
on each keystroke.
"""

from __future__ import annotations

from typing import Iterable, Optional

from classlab import defaults
from classlab.errors import FieldError, InputError
from classlab.validation import (
    builtin_fields,
    classification_fields,
    is_vector_field,
    require_classification_field,
    require_field_name,
    require_nonempty,
)

PRED_SCORES = ("hardness", "mistakenness")
EMBEDDING_SCORES = ("uniqueness", "representativeness")
MIN_REPRESENTATIVENESS_SAMPLES = 20  # brain clusters the embeddings with k-means, k=20


def score_field(score: str, source_field: str) -> str:
    """The field (and brain key) a score is written to: ``<source_field>_<score>``."""
    if score not in defaults.SCORES:
        raise InputError(
            f"Unknown score {score!r} in scores: choose from {', '.join(defaults.SCORES)}"
        )
    return f"{source_field}_{score}"


def check_output(view, out: str, what: str) -> str:
    """Checks that the score field ``out`` can be (re)written with floats."""
    import fiftyone as fo

    require_field_name(out, f"{what} output field")
    field = view._dataset.get_field(out) if view._dataset.has_field(out) else None
    if field is not None and not isinstance(field, fo.FloatField):
        raise FieldError(
            f"The field {out!r} exists and is not a float field, so the {what} score cannot "
            f"be written to it. Rename or delete that field first."
        )
    return out


def score_counts(view, pred_field: Optional[str], embeddings_field: Optional[str]) -> dict:
    """Every count the score checks need, in ONE aggregation pass over the view.

    Returns:
        ``{"n", "pred", "logits", "confidence", "embeddings"}``: samples in the view,
        with a prediction, with logits, with a confidence, with an embedding (a
        field missing from the schema counts 0; its check names it)
    """
    paths = {}
    if pred_field and view.has_field(pred_field):
        paths.update(
            pred=pred_field, logits=f"{pred_field}.logits", confidence=f"{pred_field}.confidence"
        )
    if embeddings_field and view.has_field(embeddings_field):
        paths["embeddings"] = embeddings_field
    # one $group of conditional sums: a single pass that materialises no document
    # (FiftyOne's batched Count aggregations run as a $facet that buffers the
    # projected fields, logits and vectors included: slower than separate counts)
    group = {"_id": None, "n": {"$sum": 1}}
    for name, path in paths.items():
        group[name] = {"$sum": {"$cond": [{"$gt": [f"${path}", None]}, 1, 0]}}
    found = next(iter(view._aggregate(pipeline=[{"$group": group}])), None) or {}
    counts = dict.fromkeys(("n", "pred", "logits", "confidence", "embeddings"), 0)
    counts.update({k: int(v) for k, v in found.items() if k != "_id"})
    return counts


def check_predictions(
    view, pred_field: str, need_logits: bool, what: str, counts: Optional[dict] = None
) -> bool:
    """Checks a prediction field for ``what``; returns whether all predictions have logits.

    ``counts``: :func:`score_counts` of the view, when the caller has them.
    """
    require_classification_field(view, pred_field, "prediction field (pred_field)")
    counts = counts or score_counts(view, pred_field, None)
    if counts["pred"] == 0:
        require_nonempty(view, n=counts["n"])  # the clearer message when the view is empty
        raise FieldError(
            f"No sample in the view has a prediction in {pred_field!r} (pred_field): "
            "run the model on these samples first (apply_lenet or zero_shot_classify)."
        )
    no_logits = counts["pred"] - counts["logits"]
    if need_logits and no_logits:
        raise FieldError(
            f"{what.capitalize()} needs logits, and {no_logits} prediction(s) in "
            f"{pred_field!r} (pred_field) have none. Use a prediction field written with "
            "logits (apply_lenet and zero_shot_classify store them)."
        )
    if not no_logits:
        return True
    no_conf = counts["pred"] - counts["confidence"]
    if no_conf:
        raise FieldError(
            f"{what.capitalize()} needs logits or confidences, and {no_conf} prediction(s) "
            f"in {pred_field!r} (pred_field) have neither."
        )
    return False


def check_embeddings(
    view, embeddings_field: Optional[str], what: str, counts: Optional[dict] = None
) -> None:
    """Checks that every sample of the view has an embedding in ``embeddings_field``
    (that the view has samples is :func:`check_sample_count`'s job; ``counts`` as in
    :func:`check_predictions`)."""
    hint = (
        "Run compute_clip_embeddings (embeddings_field="
        f"{embeddings_field!r}) or apply_lenet with embeddings_field={embeddings_field!r} first."
    )
    if not embeddings_field:
        raise FieldError(
            f"{what.capitalize()} needs an embeddings field (embeddings_field). {hint}"
        )
    if not view.has_field(embeddings_field):
        raise FieldError(
            f"No embeddings field {embeddings_field!r} (embeddings_field) on this dataset: "
            f"{what} needs embeddings. {hint}"
        )
    field = view.get_field(embeddings_field)
    if embeddings_field in builtin_fields(view._dataset) or not is_vector_field(field):
        raise FieldError(
            f"The embeddings_field {embeddings_field!r} holds {type(field).__name__} values, "
            f"not embeddings: {what} needs a vector field. {hint}"
        )
    counts = counts or score_counts(view, None, embeddings_field)
    missing = counts["n"] - counts["embeddings"]
    if missing:
        raise FieldError(
            f"{missing} sample(s) in the view have no embedding in {embeddings_field!r} "
            f"(ClassLab never lets brain download a model to fill them in). {hint}"
        )


def check_embedding_method(method: Optional[str]) -> str:
    """``embedding_method`` is one of :data:`classlab.defaults.EMBEDDING_METHODS`."""
    method = "auto" if method is None else method
    if method not in defaults.EMBEDDING_METHODS:
        raise InputError(
            f"embedding_method: {method!r} is not a method; choose one of "
            f"{', '.join(defaults.EMBEDDING_METHODS)} ('auto': FiftyOne Brain's exact "
            f"computation up to {defaults.BRAIN_EMBEDDING_SCORES_MAX:,} samples, ClassLab's "
            "bounded-memory one above)"
        )
    return method


def check_sample_count(view, score: str, n: Optional[int] = None) -> None:
    """Representativeness needs at least as many samples as brain's k-means clusters
    (``n``: the view's size, when the caller has counted it)."""
    n = require_nonempty(view) if n is None else n
    if score == "representativeness" and n < MIN_REPRESENTATIVENESS_SAMPLES:
        raise InputError(
            f"Representativeness clusters the embeddings into {MIN_REPRESENTATIVENESS_SAMPLES} "
            f"groups and needs at least that many samples; the view has {n}. Score a larger "
            "view or leave representativeness out of scores."
        )


def check_scores(view, scores: Iterable[str], n: Optional[int] = None) -> list[str]:
    """Checks the ``scores`` list (known names, at least one, enough samples; ``n``: the
    view's size, when the caller has counted it).

    Returns:
        the scores without duplicates, in the order given
    """
    scores = [scores] if isinstance(scores, str) else list(dict.fromkeys(scores or []))
    if not scores:
        raise InputError(f"Choose at least one score in scores: {', '.join(defaults.SCORES)}")
    for s in scores:
        score_field(s, "x")
    n = require_nonempty(view, n=n)
    for s in scores:
        check_sample_count(view, s, n)
    return scores


def check_pred_field(
    view, pred_field: Optional[str], scores: Iterable[str], counts: Optional[dict] = None
) -> Optional[str]:
    """Checks ``pred_field`` for hardness (logits) and mistakenness (logits or confidences)."""
    scores = list(scores)
    if not any(s in PRED_SCORES for s in scores):
        return pred_field
    if not pred_field:
        available = classification_fields(view)
        hint = (
            f"choose one of {', '.join(available)}."
            if available
            else "this dataset has none: run apply_lenet or zero_shot_classify first."
        )
        raise FieldError(
            f"Hardness and mistakenness need a Classification prediction field (pred_field): {hint}"
        )
    what = "hardness" if "hardness" in scores else "mistakenness"
    check_predictions(view, pred_field, "hardness" in scores, what, counts)
    for s in PRED_SCORES:
        if s in scores:
            check_output(view, score_field(s, pred_field), s)
    return pred_field


def check_gt_field(
    view, gt_field: str, scores: Iterable[str], pred_field: Optional[str] = None
) -> str:
    """Checks ``gt_field`` for mistakenness (a Classification field, not the predictions)."""
    if "mistakenness" not in list(scores):
        return gt_field
    require_classification_field(view, gt_field, "ground-truth field (gt_field)")
    if gt_field == pred_field:
        raise InputError(
            f"gt_field and pred_field are both {gt_field!r}: choose the ground truth in "
            "gt_field and the model's predictions in pred_field."
        )
    return gt_field


def check_embeddings_field(
    view, embeddings_field: Optional[str], scores: Iterable[str], counts: Optional[dict] = None
) -> Optional[str]:
    """Checks ``embeddings_field`` for uniqueness and representativeness."""
    chosen = [s for s in EMBEDDING_SCORES if s in list(scores)]
    if chosen:
        check_embeddings(view, embeddings_field, chosen[0], counts)
    for s in chosen:
        check_output(view, score_field(s, embeddings_field), s)
    return embeddings_field


def validate_scores(
    view,
    scores: Iterable[str],
    pred_field: Optional[str] = None,
    gt_field: str = defaults.GROUND_TRUTH,
    embeddings_field: Optional[str] = None,
    embedding_method: Optional[str] = "auto",
) -> list[str]:
    """Every check of a combined request, computing nothing (one counting pass over
    the view); returns the score list."""
    check_embedding_method(embedding_method)
    counts = score_counts(view, pred_field, embeddings_field)
    scores = check_scores(view, scores, counts["n"])
    check_gt_field(view, gt_field, scores, pred_field)  # first: "pred_field is the gt" is clearest
    check_pred_field(view, pred_field, scores, counts)
    check_embeddings_field(view, embeddings_field, scores, counts)
    return scores
