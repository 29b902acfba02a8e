"""Input checks shared by the core functions. Each raises before anything is written."""

from __future__ import annotations

from typing import Iterable

from classlab.errors import EmptyViewError, FieldError, InputError


def require_nonempty(view, what: str = "view", n: int | None = None) -> int:
    """Raises EmptyViewError if ``view`` has no samples; returns the count (``n``: the
    count, when the caller already has it)."""
    n = len(view) if n is None else n
    if n == 0:
        raise EmptyViewError(
            f"The {what} has no samples. Select or load some samples first "
            "(check the view's filters and tags)."
        )
    return n


def fields_of_type(sample_collection, label_type) -> list[str]:
    """Names of the top-level fields that hold ``label_type`` labels."""
    import fiftyone as fo

    schema = sample_collection.get_field_schema(ftype=fo.EmbeddedDocumentField)
    return sorted(
        name
        for name, field in schema.items()
        if getattr(field, "document_type", None) is not None
        and issubclass(field.document_type, label_type)
    )


def classification_fields(sample_collection) -> list[str]:
    """Names of the fields that hold ``fo.Classification`` labels."""
    import fiftyone as fo

    return fields_of_type(sample_collection, fo.Classification)


def require_classification_field(sample_collection, field: str, role: str = "label field") -> str:
    """Checks that ``field`` exists and holds ``fo.Classification`` labels."""
    available = classification_fields(sample_collection)
    if field in available:
        return field
    hint = (
        f"Classification fields on this dataset: {', '.join(available)}."
        if available
        else "This dataset has no Classification field: add labels first "
        "(e.g. load_mnist, or a zero-shot / model prediction run)."
    )
    if sample_collection.has_field(field):
        raise FieldError(f"The {role} {field!r} does not hold Classification labels. {hint}")
    raise FieldError(f"The {role} {field!r} does not exist. {hint}")


def require_field(sample_collection, field: str, role: str = "field") -> str:
    """Checks that a field exists on the collection."""
    if not sample_collection.has_field(field):
        raise FieldError(f"The {role} {field!r} does not exist on this dataset.")
    return field


def require_fraction(value: float, name: str, *, inclusive_high: bool = False) -> float:
    """Checks ``0 < value < 1`` (or ``<= 1`` with inclusive_high)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number between 0 and 1, got {value!r}") from None
    ok = 0.0 < v <= 1.0 if inclusive_high else 0.0 < v < 1.0
    if not ok:
        rng = "(0, 1]" if inclusive_high else "(0, 1)"
        raise InputError(f"{name} must be in {rng}, got {v}")
    return v


def require_field_name(name: str, role: str = "field") -> str:
    """Checks that ``name`` can be used as a new top-level field name."""
    if not isinstance(name, str) or not name or name.startswith("_") or "." in name:
        raise InputError(
            f"{role} name {name!r} is not valid: use letters, digits and underscores, "
            "not starting with '_' and without '.'"
        )
    return name


def builtin_fields(dataset) -> set[str]:
    """The fields every sample has (``id``, ``filepath``, ``tags``, ``metadata``, ...)."""
    return set(dataset._get_default_sample_fields(include_private=True)) | {"id", "_id"}


def check_output_name(dataset, field: str, param: str, protected: dict | None = None) -> str:
    """Checks that ``field`` may be written by a call (its ``param``): a valid name, never
    a built-in field, never a field of ``protected`` (``{field: what it is}``, e.g. the
    ground truth). Schema look-ups only; the field's kind is the caller's check."""
    require_field_name(field, param)
    if field in builtin_fields(dataset):
        raise FieldError(
            f"The {param} {field!r} is a built-in field of every sample: pick another {param}"
        )
    protected = {k: v for k, v in (protected or {}).items() if k}
    if field in protected:
        raise FieldError(
            f"The {param} {field!r} is {protected[field]}: writing there would replace it. "
            f"Pick another {param}."
        )
    return field


def is_vector_field(field) -> bool:
    """Whether a schema field holds embeddings: a vector/array field, or a list of numbers."""
    import fiftyone as fo

    if isinstance(field, (fo.VectorField, fo.ArrayField)):
        return True
    return isinstance(field, fo.ListField) and isinstance(field.field, (fo.FloatField, fo.IntField))


def require_run_key(key: str, param: str) -> str:
    """Checks a brain or evaluation key (FiftyOne's runs take Python identifiers only)."""
    require_field_name(key, param)
    if not key.isidentifier():
        raise InputError(
            f"{param} name {key!r} is not valid: FiftyOne run keys use letters, digits and "
            "underscores, not starting with a digit (e.g. clip_viz)"
        )
    return key


def distinct_labels(sample_collection, field: str) -> list[str]:
    """Sorted distinct non-null labels of a Classification field."""
    return sorted(x for x in sample_collection.distinct(f"{field}.label") if x is not None)


def check_unique(values: Iterable[str], what: str, hint: str = "") -> list[str]:
    """Raises InputError naming the duplicates in ``values`` (``hint``: what to do)."""
    values = list(values)
    seen, dups = set(), []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    if dups:
        raise InputError(f"{what} has duplicates: {', '.join(map(str, dups))}{hint}")
    return values


def next_free_name(existing: Iterable[str], base: str) -> str:
    """``base`` when unused, else the next free ``<stem>_vN`` (N >= 2).

    Forms default run keys and output fields to it, so that they open valid:
    with ``lenet`` and ``lenet_v2`` taken, ``next_free_name(.., "lenet")`` and
    ``next_free_name(.., "lenet_v2")`` are both ``"lenet_v3"``.
    """
    taken = set(existing)
    if base not in taken:
        return base
    stem, sep, num = base.rpartition("_v")
    if not (sep and stem and num.isdigit()):
        stem = base
    n = 2
    while f"{stem}_v{n}" in taken:
        n += 1
    return f"{stem}_v{n}"
