"""Form pieces shared by the curation operators (fields, dropdowns, notices)."""

from __future__ import annotations

import fiftyone.operators.types as types
from classlab import defaults
from classlab.validation import classification_fields

from ..common import check, invalid, param


def embedding_fields(dataset) -> list[str]:
    import fiftyone as fo

    if dataset is None:
        return []
    schema = dataset.get_field_schema()
    return sorted(n for n, f in schema.items() if isinstance(f, (fo.VectorField, fo.ArrayField)))


def dropdown(inputs, name, choices, default, label, description="", labels=None, helps=None):
    """An optional dropdown (SDK calls may omit it); the default is kept when offered.

    ``labels`` and ``helps`` map a choice to its shown label and its description."""
    view = types.DropdownView()
    labels, helps = labels or {}, helps or {}
    for c in choices:
        view.add_choice(c, label=labels.get(c, c), description=helps.get(c))
    value = default if default in choices else (choices[0] if choices else None)
    # a string shown as a dropdown: an SDK value outside the list reaches the core,
    # whose error says what is wrong (an enum would only say "Invalid enum value")
    return inputs.str(
        name, default=value, required=False, label=label, description=description, view=view
    )


def pred_fields(fields: list[str]) -> list[str]:
    """Classification fields with the ground truth last (never the default prediction)."""
    return [f for f in fields if f != defaults.GROUND_TRUTH] + [
        f for f in fields if f == defaults.GROUND_TRUTH
    ]


def field_or_default(ctx, name, default):
    value = param(ctx, name, default)
    return value or None


def notice_check(inputs, name, fn, *args):
    """A core check whose message belongs to no single field: shown as a notice."""
    holder = types.Property(types.String())
    result = check(holder, fn, *args)
    if holder.invalid:
        invalid(inputs.view(name, types.Notice(label=holder.error_message)), holder.error_message)
    return result


def field_inputs(inputs, ctx, embeddings_description):
    """The prediction, ground-truth and embeddings dropdowns: ``{name: property}``."""
    ds = ctx.dataset
    cls_fields = classification_fields(ds) if ds is not None else []
    return {
        "pred_field": dropdown(
            inputs,
            "pred_field",
            pred_fields(cls_fields),
            defaults.LENET_FIELD,
            "Prediction field",
        ),
        "gt_field": dropdown(
            inputs, "gt_field", cls_fields, defaults.GROUND_TRUTH, "Ground truth field"
        ),
        "embeddings_field": dropdown(
            inputs,
            "embeddings_field",
            embedding_fields(ds),
            defaults.CLIP_EMBEDDINGS,
            "Embeddings field",
            embeddings_description,
        ),
    }


def to_top(inputs, *names):
    """Moves the named properties to the top of the form, in that order."""
    props = inputs.properties
    first = {n: props[n] for n in names if n in props}
    inputs.properties = {**first, **{k: v for k, v in props.items() if k not in first}}


def errors_on_top(inputs, name="errors"):
    """Repeats the form's field errors in one box at its top, where a long form's
    Execute button and first lines are (a field's own message may sit below the fold).
    Invalid notices (messages that belong to no field) move to the top themselves.
    The box is not itself invalid: the fields are."""
    notices, messages = [], []
    for key, prop in inputs.properties.items():
        if prop.invalid and prop.error_message:
            is_notice = isinstance(prop.type, types.Void)
            (notices if is_notice else messages).append(key if is_notice else prop.error_message)
    if messages:
        label = "Cannot execute yet: " + messages[0]
        more = " | ".join(messages[1:])
        inputs.view(name, types.Error(label=label, description=more or None))
    to_top(inputs, *notices, name)


def summary(outputs, headline, lines=()):
    """A result view's text: a headline notice, then one line per figure (markdown)."""
    outputs.view("headline", types.Notice(label=headline))
    if lines:
        outputs.md("\n".join(f"- {line}" for line in lines), name="details")


def seconds(value) -> str:
    return "" if value is None else f" in {value:.1f} s"
