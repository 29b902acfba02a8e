"""Select the samples worth fixing by any combination of criteria, and tag them.

The selection is the union of every criterion that is set, within the view
(optionally restricted to a split tag). Quantiles are taken over that same
population: ``unique_top=0.001`` is the 0.1% most unique samples of the split.

The tutorial's selection in one call::

    Criteria(pred_field="lenet", misclassified=True, unique_top=0.001,
             representative_top=0.001, low_confidence_bottom=0.01, split="train")
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from typing import Any, Optional

import numpy as np

from classlab import defaults
from classlab.curation.scores import score_field
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
        """Checks the values (quantiles in (0, 1), thresholds numbers)."""
        for name in QUANTILES:
            if getattr(self, name) is not None:
                setattr(self, name, require_fraction(getattr(self, name), name))
        for name in THRESHOLDS:
            value = getattr(self, name)
            if value is not None:
                try:
                    setattr(self, name, float(value))
                except (TypeError, ValueError):
                    raise InputError(f"{name} must be a number, got {value!r}") from None
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


def _require_score(view, field: str, score: str) -> None:
    if not view.has_field(field):
        raise FieldError(
            f"The {score} field {field!r} does not exist: run compute_sample_scores with "
            f"scores=[{score!r}] first (or name an existing field in {score}_field)."
        )


def _top(ids: list, values: list, fraction: float, highest: bool = True) -> list:
    """The ``ceil(fraction * n)`` ids with the highest (or lowest) non-null values."""
    pairs = [(i, v) for i, v in zip(ids, values) if v is not None]
    if not pairs:
        return []
    k = max(1, math.ceil(fraction * len(pairs)))
    vals = np.asarray([v for _, v in pairs], dtype=float)
    order = np.argsort(-vals if highest else vals, kind="stable")[:k]
    return [pairs[j][0] for j in order]


def _base(view, c: Criteria):
    if c.split:
        base = view.match_tags(c.split)
        require_nonempty(base, f"view restricted to the split tag {c.split!r}")
        return base
    require_nonempty(view)
    return view


def _score_ids(base, c: Criteria, score: str, above, top) -> list:
    field = c.field_for(score)
    _require_score(base, field, score)
    ids, values = base.values(["id", field])
    out = []
    if above is not None:
        out += [i for i, v in zip(ids, values) if v is not None and v > above]
    if top is not None:
        out += _top(ids, values, top)
    return out


def select_samples(view, criteria: Criteria) -> dict[str, Any]:
    """The union of the criteria over ``view``.

    Returns:
        ``{"ids": [...], "counts": {criterion: n}, "total": n}``

    Raises:
        InputError: no criterion set, a quantile outside (0, 1)
        FieldError: a field a criterion needs does not exist
    """
    from fiftyone import ViewField as F

    c = criteria.validate()
    if not c.active():
        raise InputError(
            "Choose at least one criterion: misclassified, mistakenness/hardness above a value "
            "or top fraction, low confidence, most unique or most representative."
        )
    base = _base(view, c)
    parts: dict[str, list] = {}
    if c.misclassified or c.low_confidence_bottom is not None:
        require_classification_field(base, c.pred_field or "", "prediction field")
        require_classification_field(base, c.gt_field, "ground-truth field")
        both = base.exists(c.pred_field).exists(c.gt_field)
        same = F(f"{c.pred_field}.label") == F(f"{c.gt_field}.label")
        if c.misclassified:
            parts["misclassified"] = both.match(~same).values("id")
        if c.low_confidence_bottom is not None:
            ids, conf = both.match(same).values(["id", f"{c.pred_field}.confidence"])
            parts["low_confidence_bottom"] = _top(ids, conf, c.low_confidence_bottom, False)
    if c.mistakenness_above is not None or c.mistakenness_top is not None:
        parts["mistakenness"] = _score_ids(
            base, c, "mistakenness", c.mistakenness_above, c.mistakenness_top
        )
    if c.hardness_above is not None or c.hardness_top is not None:
        parts["hardness"] = _score_ids(base, c, "hardness", c.hardness_above, c.hardness_top)
    if c.unique_top is not None:
        parts["unique_top"] = _score_ids(base, c, "uniqueness", None, c.unique_top)
    if c.representative_top is not None:
        parts["representative_top"] = _score_ids(
            base, c, "representativeness", None, c.representative_top
        )
    ids = sorted(set().union(*parts.values()))
    return {"ids": ids, "counts": {k: len(set(v)) for k, v in parts.items()}, "total": len(ids)}


def count_selection(view, criteria: Criteria) -> int:
    """How many samples the criteria select (for the form's preview; writes nothing)."""
    return select_samples(view, criteria)["total"]


def _check_tag(tag: str) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise InputError("The tag must be a non-empty string (default 'to_augment').")
    return tag.strip()


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
        ``{"tag": tag, "tagged"|"untagged": n, "counts": {...}, "ids": [...]}``

    Raises:
        EmptyViewError: nothing is selected (or, for untag, nothing carries the tag)
    """
    tag = _check_tag(tag)
    criteria = criteria or Criteria()
    if untag and not criteria.active():
        target = view.match_tags(tag)
        sel = {"ids": target.values("id"), "counts": {}}
    else:
        sel = select_samples(view, criteria)
    ids = sel["ids"]
    if not ids:
        raise EmptyViewError(
            f"No sample carries the tag {tag!r} in this view: nothing to untag."
            if untag
            else "No sample matches these criteria: loosen them (a larger fraction, a lower "
            "threshold) or add another criterion."
        )
    chosen = view.select(ids)
    if untag:
        chosen.untag_samples(tag)
    else:
        chosen.tag_samples(tag)
    key = "untagged" if untag else "tagged"
    logger.info("%s %d samples with %r", key, len(ids), tag)
    return {"tag": tag, key: len(ids), "counts": sel["counts"], "ids": ids}
