"""The tag_samples_to_fix operator: the form checks each criterion through the core and
runs the selection only when its "Preview" toggle is on."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults

from ..common import check, config, param
from ._forms import dropdown, errors_on_top, field_inputs, notice_check, summary, to_top

_FRACTION = "a fraction in (0, 1): 0.001 is the top 0.1%"
_CRITERIA = (  # (name, label, description) of the number criteria
    (
        "mistakenness_above",
        "Mistakenness above",
        "Likely label mistakes: mistakenness (0 to 1) strictly above this value, e.g. 0.9",
    ),
    (
        "mistakenness_top",
        "Most mistaken (top fraction)",
        "The labels the model most confidently disagrees with; " + _FRACTION,
    ),
    (
        "hardness_above",
        "Hardness above",
        "Hard samples: entropy of the prediction strictly above this value, e.g. 1.0",
    ),
    ("hardness_top", "Hardest (top fraction)", "Highest prediction entropy; " + _FRACTION),
    (
        "low_confidence_bottom",
        "Correct but least confident (bottom fraction)",
        "Among correct predictions, the least confident; " + _FRACTION,
    ),
    (
        "unique_top",
        "Most unique (top fraction)",
        "Farthest from their neighbours in the embeddings; " + _FRACTION,
    ),
    (
        "representative_top",
        "Most representative (top fraction)",
        "Closest to the embedding clusters' centres; " + _FRACTION,
    ),
)
# the split dropdown's choice for "no restriction" (an empty string also means it)
WHOLE_VIEW = "(whole view)"


def split_param(ctx, view):
    """The split to select within: the form's choice; when absent, the train tag if the
    dataset has one (so val/test samples are never tagged unasked); the whole view for
    "" or WHOLE_VIEW."""
    from classlab.curation.tagging import default_split

    value = ctx.params.get("split")
    if value is None:
        return default_split(view)
    return None if value in ("", WHOLE_VIEW) else value


def _criteria(ctx, view):
    from classlab.curation.tagging import Criteria

    return Criteria.from_params({**ctx.params, "split": split_param(ctx, view)})


def _split_input(inputs, ctx, view):
    """The split dropdown, each choice labelled with its count in the target view, and a
    notice with the counts per split tag (aggregations only)."""
    from classlab.curation.tagging import default_split, split_counts

    counts = split_counts(view)
    tags = sorted(set(ctx.dataset.distinct("tags")) | set(counts))
    labels = {t: f"{t} ({counts[t]} in the view)" for t in counts}
    labels[WHOLE_VIEW] = "(whole view: every split)"
    helps = {WHOLE_VIEW: "val/test samples too: their copies would leak into training"}
    prop = dropdown(
        inputs,
        "split",
        tags + [WHOLE_VIEW],
        default_split(view) or WHOLE_VIEW,
        "Restrict to split tag",
        "Select only within this split (default: train, so val/test never leak into training)",
        labels,
        helps,
    )
    shown = ", ".join(f"{t}: {n}" for t, n in counts.items())
    inputs.view("splits", types.Notice(label=f"Target view per split tag: {shown}"))
    return prop


def _criteria_inputs(inputs, ctx, view) -> dict:
    """The selection's fields, split and criteria: ``{name: property}``."""
    props = field_inputs(inputs, ctx, "Whose uniqueness/representativeness scores to use")
    if view is not None:
        props["split"] = _split_input(inputs, ctx, view)
    props["misclassified"] = inputs.bool(
        "misclassified",
        default=False,
        label="Misclassified",
        description="The prediction's label differs from the ground truth",
    )
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
        from classlab.curation.tagging import check_selection, check_tag

        inputs = types.Object()
        view = ctx.target_view() if ctx.dataset is not None else None
        props = {"tag": inputs.str("tag", default=defaults.TO_FIX_TAG, required=False, label="Tag")}
        inputs.bool(
            "untag",
            default=False,
            label="Remove the tag instead",
            description="With no criterion: from every sample of the view",
        )
        props.update(_criteria_inputs(inputs, ctx, view))
        inputs.bool(
            "preview",
            default=False,
            label="Preview",
            description="Count the samples this run would tag (runs the selection)",
        )
        tag, untag = param(ctx, "tag", defaults.TO_FIX_TAG), bool(param(ctx, "untag", False))
        if view is not None:
            criteria = _criteria(ctx, view)
            check(props["tag"], check_tag, tag)
            ok = _check_criteria(inputs, props, view, criteria, untag)
            if ok and param(ctx, "preview", False):  # the one place a form runs the selection
                n = notice_check(inputs, "count", check_selection, view, criteria, tag, untag)
                if n is not None:
                    inputs.view("count", types.Notice(label=f"{n} sample(s) match"))
            to_top(inputs, "splits")
            errors_on_top(inputs)
        label = "ClassLab: untag samples" if untag else "ClassLab: tag samples to fix"
        return types.Property(inputs, view=types.View(label=label))

    def execute(self, ctx):
        from classlab.curation.tagging import tag_samples

        tag = param(ctx, "tag", defaults.TO_FIX_TAG)
        untag = bool(param(ctx, "untag", False))
        view = ctx.target_view()
        res = tag_samples(view, _criteria(ctx, view), tag, untag)
        if not ctx.delegated:
            if untag:
                ctx.ops.reload_samples()
            else:  # next: the samples that carry the tag (what augment_samples reads)
                ctx.ops.set_view(ctx.dataset.match_tags(res["tag"]))
        return {k: v for k, v in res.items() if k != "ids"}

    def resolve_output(self, ctx):
        outputs = types.Object()
        r = ctx.results or {}
        tag, split = r.get("tag"), r.get("split")
        where = f" within the {split!r} split" if split else ""
        if "untagged" in r:
            headline = f"{r.get('newly_untagged', 0)} sample(s) lost the tag {tag!r}{where}"
        else:
            headline = (
                f"{r.get('newly_tagged', 0)} newly tagged, {r.get('with_tag', 0)} with the tag "
                f"{tag!r}{where}"
            )
        lines = [f"{k}: {n} sample(s)" for k, n in (r.get("counts") or {}).items()]
        lines.append(f"{r.get('tagged', r.get('untagged', 0))} sample(s) selected in all")
        if "untagged" in r:
            lines.append(f"{r.get('with_tag', 0)} sample(s) still carry {tag!r}")
        else:
            lines.append(f"the grid now shows the {r.get('with_tag', 0)} samples tagged {tag!r}")
        summary(outputs, headline, lines)
        return types.Property(outputs, view=types.View(label="ClassLab: samples tagged"))
