"""The tag_samples_to_fix operator: the form checks each criterion through the core and
runs the selection only when its "Preview" toggle is on."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults

from ..common import check, config, param
from ._forms import dropdown, field_inputs, notice_check

_FRACTION = "a fraction in (0, 1): 0.001 is the top 0.1%"
_CRITERIA = (  # (name, label, description) of the number criteria
    ("mistakenness_above", "Mistakenness above", ""),
    ("mistakenness_top", "Most mistaken (top fraction)", _FRACTION),
    ("hardness_above", "Hardness above", ""),
    ("hardness_top", "Hardest (top fraction)", _FRACTION),
    (
        "low_confidence_bottom",
        "Correct but least confident (bottom fraction)",
        "Among correct predictions; " + _FRACTION,
    ),
    ("unique_top", "Most unique (top fraction)", _FRACTION),
    ("representative_top", "Most representative (top fraction)", _FRACTION),
)


def _criteria_inputs(inputs, ctx) -> dict:
    """The selection's fields, split and criteria: ``{name: property}``."""
    ds = ctx.dataset
    props = field_inputs(inputs, ctx, "Whose uniqueness/representativeness scores to use")
    tags = sorted(ds.distinct("tags")) if ds is not None else []
    props["split"] = dropdown(
        inputs, "split", [""] + tags, "", "Restrict to split tag", "Empty: the whole view"
    )
    props["misclassified"] = inputs.bool("misclassified", default=False, label="Misclassified")
    for name, label, description in _CRITERIA:
        props[name] = inputs.float(name, label=label, description=description)
    for score in defaults.SCORES:
        props[f"{score}_field"] = inputs.str(
            f"{score}_field",
            required=False,
            label=f"{score.capitalize()} field (optional)",
            description=f"The {score} scores to read (default: named after the source field)",
        )
    return props


def _check_criteria(inputs, props, view, criteria, untag) -> bool:
    """Shows each core check's message on its property; True when all passed."""
    from classlab.curation import tagging as tg

    for name, _, _ in _CRITERIA:
        if getattr(criteria, name) is not None:
            check(props[name], tg.check_criterion, name, getattr(criteria, name))
    if any(p.invalid for p in props.values()):
        return False
    if untag and not criteria.active():
        return True  # removes the tag from every sample of the view that has it
    if notice_check(inputs, "criteria", tg.check_active, criteria) is None:
        return False
    check(props["split"], tg.check_split, view, criteria.split)
    for which in ("pred_field", "gt_field"):
        check(props[which], tg.check_label_field, view, criteria, which)
    for name in tg.CRITERION_SCORES:
        check(props[name], tg.check_score_field, view, criteria, name)
    return not any(p.invalid for p in props.values())


class TagSamplesToFix(foo.Operator):
    @property
    def config(self):
        return config(
            "tag_samples_to_fix",
            "tag samples to fix",
            "Tags the union of misclassified, most mistaken, hardest, least confident, "
            "most unique and most representative samples",
            delegated=False,
        )

    def resolve_input(self, ctx):
        from classlab.curation.tagging import Criteria, check_selection, check_tag

        inputs = types.Object()
        props = {"tag": inputs.str("tag", default=defaults.TO_FIX_TAG, required=False, label="Tag")}
        inputs.bool(
            "untag",
            default=False,
            label="Remove the tag instead",
            description="With no criterion: from every sample of the view",
        )
        props.update(_criteria_inputs(inputs, ctx))
        inputs.bool(
            "preview",
            default=False,
            label="Preview",
            description="Count the samples this run would tag (runs the selection)",
        )
        tag, untag = param(ctx, "tag", defaults.TO_FIX_TAG), bool(param(ctx, "untag", False))
        if ctx.dataset is not None:
            view, criteria = ctx.target_view(), Criteria.from_params(ctx.params)
            check(props["tag"], check_tag, tag)
            ok = _check_criteria(inputs, props, view, criteria, untag)
            if ok and param(ctx, "preview", False):  # the one place a form runs the selection
                n = notice_check(inputs, "count", check_selection, view, criteria, tag, untag)
                if n is not None:
                    inputs.view("count", types.Notice(label=f"{n} sample(s) match"))
        label = "ClassLab: untag samples" if untag else "ClassLab: tag samples to fix"
        return types.Property(inputs, view=types.View(label=label))

    def execute(self, ctx):
        from classlab.curation.tagging import Criteria, tag_samples

        tag = param(ctx, "tag", defaults.TO_FIX_TAG)
        untag = bool(param(ctx, "untag", False))
        res = tag_samples(ctx.target_view(), Criteria.from_params(ctx.params), tag, untag)
        if not ctx.delegated:
            if untag:
                ctx.ops.reload_samples()
            else:
                ctx.ops.set_view(ctx.dataset.match_tags(res["tag"]))
        return {k: v for k, v in res.items() if k != "ids"}
