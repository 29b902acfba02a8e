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


def dropdown(inputs, name, choices, default, label, description=""):
    """An optional dropdown (SDK calls may omit it); the default is kept when offered."""
    view = types.DropdownView()
    for c in choices:
        view.add_choice(c, label=c)
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
