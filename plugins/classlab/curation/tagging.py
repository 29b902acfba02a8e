"""Select the samples worth fixing by any combination of criteria, and tag them.

The selection is the union of every criterion that is set, within the view
(optionally restricted to a split tag). Quantiles are taken over that same
population: ``unique_top=0.001`` is the 0.1% most unique samples of the split.

The tutorial's selection in one call::

    Criteria(pred_field="lenet", misclassified=True, unique_top=0.001,
             representative_top=0.001, low_confidence_bottom=0.01, split="train")

Each parameter has a check (``check_criterion``, ``check_split``,
``check_label_field``, ``check_score_field``, ``check_tag``) that the
``tag_samples_to_fix`` form shows on its property and :func:`select_samples`
runs, all of them, through :func:`check_criteria` before it reads a value.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from typing import Any, Optional

import numpy as np

from classlab import defaults
from classlab.curation.score_checks import score_field
from classlab.errors import EmptyViewError, FieldError, InputError
from classlab.validation import require_classification_field, require_fraction, require_nonempty

logger = logging.getLogger("classlab")

QUANTILES = (
    "mistakenness_top",
    "hardness_top",
    "low_confidence_bottom",
    "unique_top",
    "representative_top",
)
THRESHOLDS = ("mistakenness_above", "hardness_above")


@dataclass
class Criteria:
    """What to select. Every criterion left at None/False is off; the result is the union.

    Attributes:
        pred_field: predictions used by misclassified / low confidence / the pred scores
        gt_field: ground truth used by misclassified / low confidence
        misclassified: prediction label differs from the ground-truth label
        mistakenness_above, hardness_above: score strictly above this value
        mistakenness_top, hardness_top: the top fraction in (0, 1) by that score
        low_confidence_bottom: among correct predictions, the bottom fraction by confidence
        unique_top, representative_top: the top fraction by that score
        embeddings_field: source of the uniqueness/representativeness fields
        mistakenness_field, hardness_field, uniqueness_field, representativeness_field:
            explicit score fields (default: named after pred_field / embeddings_field)
        split: only samples with this tag (e.g. "train")
    """

    pred_field: Optional[str] = defaults.LENET_FIELD
    gt_field: str = defaults.GROUND_TRUTH
    misclassified: bool = False
    mistakenness_above: Optional[float] = None
    mistakenness_top: Optional[float] = None
    hardness_above: Optional[float] = None
    hardness_top: Optional[float] = None
    low_confidence_bottom: Optional[float] = None
    unique_top: Optional[float] = None
    representative_top: Optional[float] = None
    embeddings_field: Optional[str] = defaults.CLIP_EMBEDDINGS
    mistakenness_field: Optional[str] = None
    hardness_field: Optional[str] = None
    uniqueness_field: Optional[str] = None
    representativeness_field: Optional[str] = None
    split: Optional[str] = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "Criteria":
        """Builds criteria from a dict, ignoring unknown keys and empty strings."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: (None if v == "" else v) for k, v in params.items() if k in names}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return cls(**kwargs)

    def active(self) -> list[str]:
        """Names of the criteria that are set."""
        on = ["misclassified"] if self.misclassified else []
        return on + [n for n in THRESHOLDS + QUANTILES if getattr(self, n) is not None]

    def validate(self) -> "Criteria":
        """Checks the values (quantiles in (0, 1), thresholds numbers): :func:`check_criterion`."""
        for name in THRESHOLDS + QUANTILES:
            if getattr(self, name) is not None:
                setattr(self, name, check_criterion(name, getattr(self, name)))
        return self

    def field_for(self, score: str) -> str:
        """The score field a criterion reads."""
        explicit = getattr(self, f"{score}_field")
        if explicit:
            return explicit
        source = self.pred_field if score in ("hardness", "mistakenness") else self.embeddings_field
        if not source:
            what = "pred_field" if score in ("hardness", "mistakenness") else "embeddings_field"
            raise InputError(f"Selecting by {score} needs {what} (or {score}_field).")
        return score_field(score, source)


# ---------------------------------------------------------------- checks
# One per form property; check_criteria runs them all before a selection. They
# read the schema and count samples (aggregations), never every sample's values.

# the score each score criterion reads
CRITERION_SCORES = {
    "mistakenness_above": "mistakenness",
    "mistakenness_top": "mistakenness",
    "hardness_above": "hardness",
    "hardness_top": "hardness",
    "unique_top": "uniqueness",
    "representative_top": "representativeness",
}


def check_criterion(name: str, value) -> float:
    """Checks one criterion's value: a fraction in (0, 1) for ``*_top``/``*_bottom``,
    a number for ``*_above``; returns it as a float."""
    if name in QUANTILES:
        return require_fraction(value, name)
    if name in THRESHOLDS:
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if isinstance(value, bool) or not math.isfinite(v):
            raise InputError(f"{name} must be a number (finite, e.g. 0.5), got {value!r}")
        return v
    raise InputError(f"Unknown criterion {name!r}: use one of {', '.join(THRESHOLDS + QUANTILES)}")


def check_active(criteria: Criteria) -> list[str]:
    """Checks that at least one criterion is set; returns their names."""
    active = criteria.active()
    if not active:
        raise InputError(
            "Choose at least one criterion: misclassified, mistakenness/hardness above a value "
            "or top fraction, low confidence, most unique or most representative."
        )
    return active


def split_counts(view, split_tags=defaults.SPLIT_TAGS) -> dict[str, int]:
    """``{split tag: samples of the view with it}`` (one aggregation, zeros included)."""
    counts = view.count_sample_tags()
    return {t: int(counts.get(t, 0)) for t in split_tags}


def default_split(view, train_tag: str = defaults.TRAIN_TAG) -> Optional[str]:
    """The split a selection defaults to: ``train_tag`` when the dataset has samples
    with it (so val/test samples are never tagged for augmentation unasked), else
    None (the whole view). One aggregation."""
    dataset = getattr(view, "_dataset", view)
    return train_tag if dataset.match_tags(train_tag).limit(1).count() else None


def check_split(view, split: Optional[str]):
    """The view restricted to the ``split`` tag (the whole view when empty), not empty."""
    if not split:
        require_nonempty(view)
        return view
    base = view.match_tags(split)
    if base.count() == 0:
        raise EmptyViewError(
            f"No sample of the view has the split tag {split!r} (split): choose a tag the "
            "samples carry (train, val, test), or leave split empty for the whole view."
        )
    return base


def check_label_field(view, criteria: Criteria, which: str) -> Optional[str]:
    """Checks ``criteria.pred_field`` or ``.gt_field`` (``which``) when misclassified or
    low_confidence_bottom reads it."""
    if not (criteria.misclassified or criteria.low_confidence_bottom is not None):
        return None
    role = "prediction field" if which == "pred_field" else "ground-truth field"
    role = f"{role} ({which})"
    return require_classification_field(view, getattr(criteria, which) or "", role)


def check_score_field(view, criteria: Criteria, criterion: str) -> Optional[str]:
    """Checks that the score field a score criterion (e.g. ``unique_top``) reads exists."""
    if getattr(criteria, criterion) is None:
        return None
    score = CRITERION_SCORES[criterion]
    field = criteria.field_for(score)
    if not view.has_field(field):
        raise FieldError(
            f"{criterion} reads the {score} field {field!r}, which does not exist: run "
            f"compute_sample_scores with scores=[{score!r}] first (or name an existing field "
            f"in {score}_field)."
        )
    return field


def check_criteria(view, criteria: Criteria):
    """Every check of a selection, in order; returns ``(criteria, view within the split)``.

    Raises:
        InputError: a bad value or no criterion; EmptyViewError: the split has no
        samples; FieldError: a field a criterion reads is missing
    """
    c = criteria.validate()
    check_active(c)
    base = check_split(view, c.split)
    for which in ("pred_field", "gt_field"):
        check_label_field(base, c, which)
    for name in CRITERION_SCORES:
        check_score_field(base, c, name)
    return c, base


def check_tag(tag: str) -> str:
    """Checks the tag to add or remove (a non-empty string)."""
    if not isinstance(tag, str) or not tag.strip():
        raise InputError(
            f"The tag must be a non-empty string (default {defaults.TO_FIX_TAG!r}), got {tag!r}."
        )
    return tag.strip()


# ---------------------------------------------------------------- selection


def _top(ids: list, values: list, fraction: float, highest: bool = True) -> list:
    """The ``ceil(fraction * n)`` ids with the highest (or lowest) non-null values."""
    pairs = [(i, v) for i, v in zip(ids, values) if v is not None]
    if not pairs:
        return []
    k = max(1, math.ceil(fraction * len(pairs)))
    vals = np.asarray([v for _, v in pairs], dtype=float)
    order = np.argsort(-vals if highest else vals, kind="stable")[:k]
    return [pairs[j][0] for j in order]


def _score_ids(base, field: str, above, top) -> list:
    ids, values = base.values(["id", field])
    out = []
    if above is not None:
        out += [i for i, v in zip(ids, values) if v is not None and v > above]
    if top is not None:
        out += _top(ids, values, top)
    return out


def _label_parts(base, c: Criteria) -> dict[str, list]:
    """The misclassified and least-confident-correct samples."""
    from fiftyone import ViewField as F

    parts = {}
    both = base.exists(c.pred_field).exists(c.gt_field)
    same = F(f"{c.pred_field}.label") == F(f"{c.gt_field}.label")
    if c.misclassified:
        parts["misclassified"] = both.match(~same).values("id")
    if c.low_confidence_bottom is not None:
        ids, conf = both.match(same).values(["id", f"{c.pred_field}.confidence"])
        parts["low_confidence_bottom"] = _top(ids, conf, c.low_confidence_bottom, False)
    return parts


def select_samples(view, criteria: Criteria) -> dict[str, Any]:
    """The union of the criteria over ``view``.

    Returns:
        ``{"ids": [...], "counts": {criterion: n}, "total": n}``

    Raises:
        InputError: no criterion set, a quantile outside (0, 1)
        FieldError: a field a criterion needs does not exist
    """
    c, base = check_criteria(view, criteria)
    parts: dict[str, list] = {}
    if c.misclassified or c.low_confidence_bottom is not None:
        parts.update(_label_parts(base, c))
    for part, (score, above, top) in {
        "mistakenness": ("mistakenness", c.mistakenness_above, c.mistakenness_top),
        "hardness": ("hardness", c.hardness_above, c.hardness_top),
        "unique_top": ("uniqueness", None, c.unique_top),
        "representative_top": ("representativeness", None, c.representative_top),
    }.items():
        if above is not None or top is not None:
            parts[part] = _score_ids(base, c.field_for(score), above, top)
    ids = sorted(set().union(*parts.values()))
    return {"ids": ids, "counts": {k: len(set(v)) for k, v in parts.items()}, "total": len(ids)}


def count_selection(
    view, criteria: Criteria, tag: str = defaults.TO_FIX_TAG, untag: bool = False
) -> int:
    """How many samples a run would (un)tag: for the form's opt-in preview; writes nothing.

    With ``untag=True`` and no criterion, the samples of the view that carry ``tag``
    (an aggregation); otherwise the size of :func:`select_samples`' selection.
    """
    if untag and not criteria.active():
        return view.match_tags(check_tag(tag)).count()
    return select_samples(view, criteria)["total"]


def _nothing_to_tag(tag: str, untag: bool) -> str:
    if untag:
        return f"No sample carries the tag {tag!r} in this view: nothing to untag."
    return (
        "No sample matches these criteria: loosen them (a larger fraction, a lower "
        "threshold) or add another criterion."
    )


def check_selection(
    view, criteria: Criteria, tag: str = defaults.TO_FIX_TAG, untag: bool = False
) -> int:
    """:func:`count_selection`, raising EmptyViewError (as :func:`tag_samples` would)
    when the run would (un)tag nothing: the form's opt-in preview."""
    n = count_selection(view, criteria, tag, untag)
    if n == 0:
        raise EmptyViewError(_nothing_to_tag(check_tag(tag), untag))
    return n


def tag_samples(
    view,
    criteria: Optional[Criteria] = None,
    tag: str = defaults.TO_FIX_TAG,
    untag: bool = False,
) -> dict[str, Any]:
    """Tags the selected samples with ``tag`` (or removes it with ``untag=True``).

    With ``untag=True`` and no criteria, the tag is removed from every sample of
    the view that has it; with criteria, only from the selected samples.

    Returns:
        ``{"tag", "tagged"|"untagged": n selected, "newly_tagged"|"newly_untagged": n
        whose tags changed, "with_tag": samples of the dataset with the tag afterwards,
        "split", "counts": {criterion: n}, "ids": [...]}``

    Raises:
        EmptyViewError: nothing is selected (or, for untag, nothing carries the tag)
    """
    tag = check_tag(tag)
    criteria = criteria or Criteria()
    whole = untag and not criteria.active()
    if whole:
        target = view.match_tags(tag)
        sel = {"ids": target.values("id"), "counts": {}}
    else:
        sel = select_samples(view, criteria)
    ids = sel["ids"]
    if not ids:
        raise EmptyViewError(_nothing_to_tag(tag, untag))
    chosen = view.select(ids)
    had = chosen.match_tags(tag).count()
    if untag:
        chosen.untag_samples(tag)
    else:
        chosen.tag_samples(tag)
    key = "untagged" if untag else "tagged"
    changed = had if untag else len(ids) - had
    with_tag = view._dataset.match_tags(tag).count()
    logger.info(
        "%s %d samples with %r (%d changed, %d carry it)", key, len(ids), tag, changed, with_tag
    )
    return {
        "tag": tag,
        key: len(ids),
        "newly_untagged" if untag else "newly_tagged": changed,
        "with_tag": with_tag,
        "split": None if whole else criteria.split,
        "counts": sel["counts"],
        "ids": ids,
    }
