"""The zero-shot forms' classes and prompts (names, styles, template sets), each
checked by the core's own rules (:func:`operators.common.check`); no view is read."""

from __future__ import annotations

from classlab import defaults
from classlab.clip.prompts import (
    DEFAULT_PROMPT_STYLE,
    PROMPT_STYLES,
    derive_prompt_name,
    parse_prompt_names,
    resolve_classes,
    resolve_prompt_names,
)
from classlab.clip.templates import DEFAULT_TEMPLATE_SET, TEMPLATE_SETS, resolve_templates
from classlab.validation import classification_fields
from fiftyone.operators import types

from .common import check, dropdown, label_field_choice, param


def _as_list(value) -> list[str] | None:
    """A list param given as a list, or as comma/newline separated text (SDK callers)."""
    if not value:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]
    return [str(v) for v in value]


def classes_form(inputs, ctx) -> list[str] | None:
    """Ground truth and the class list; returns the given classes (checked) or None."""
    fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
    if fields:
        label_field_choice(
            inputs,
            ctx,
            "gt_field",
            fields,
            defaults.GROUND_TRUTH,
            "Ground truth",
            "Classes default to its distinct labels",
        )
    else:  # unlabelled data: give the classes and untick Evaluate
        inputs.str(
            "gt_field",
            default=defaults.GROUND_TRUTH,
            label="Ground truth",
            description="No Classification field here: list the classes below",
        )
    if not isinstance(ctx.params.get("classes"), str):
        inputs.list(
            "classes",
            types.String(),
            label="Classes",
            description="Empty: the distinct labels of the ground truth",
        )
    classes = _as_list(ctx.params.get("classes"))
    if not classes:
        return None  # the run lists them from the ground truth (not read here)
    prop = inputs.get_property("classes") or inputs.get_property("gt_field")
    gt_field = param(ctx, "gt_field", defaults.GROUND_TRUTH)
    return check(prop, resolve_classes, None, gt_field, classes)  # given classes: no view read


def prompts_form(inputs, ctx, classes: list[str] | None) -> None:
    """Prompt names (style and overrides) and templates, checked by the core's rules."""
    style_prop = dropdown(
        inputs,
        "prompt_style",
        PROMPT_STYLES,
        DEFAULT_PROMPT_STYLE,
        "Prompt names",
        "From '0 - zero': first '0', last 'zero', both '0 (zero)', label unchanged",
    )
    names_prop = style_prop
    if not isinstance(ctx.params.get("prompt_names"), dict):
        names_prop = inputs.str(
            "prompt_names",
            label="Prompt name overrides",
            description="'class: name' per line (or JSON), e.g. '0 - zero: zero'",
        )
    set_prop = dropdown(
        inputs,
        "template_set",
        list(TEMPLATE_SETS),
        DEFAULT_TEMPLATE_SET,
        "Template set",
        " | ".join(f"{k}: {v[0]}" for k, v in TEMPLATE_SETS.items()),
    )
    templates_prop = set_prop
    if not isinstance(ctx.params.get("templates"), str):
        templates_prop = inputs.list(
            "templates",
            types.String(),
            label="Own templates",
            description="Each with one {} slot; replaces the set when given",
        )
    names = ctx.params.get("prompt_names")
    style = param(ctx, "prompt_style", DEFAULT_PROMPT_STYLE)
    # the enums get the core's message (the choices), not FiftyOne's "Invalid enum value"
    if check(style_prop, derive_prompt_name, "x", style) is not None:
        if classes:
            check(names_prop, resolve_prompt_names, classes, names, style)
        else:
            check(names_prop, parse_prompt_names, names)
    template_set = param(ctx, "template_set", DEFAULT_TEMPLATE_SET)
    if check(set_prop, resolve_templates, template_set, None) is not None:
        templates = _as_list(ctx.params.get("templates"))
        check(templates_prop, resolve_templates, template_set, templates)
