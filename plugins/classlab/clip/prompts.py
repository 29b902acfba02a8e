"""What zero-shot prompts say: the class list, each class's prompt name, the templates.

Every rule here is cheap (no model, no whole-view scan when the classes are
given), so forms call these same functions to validate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from classlab import defaults
from classlab.clip.templates import DEFAULT_TEMPLATE_SET, resolve_templates
from classlab.errors import FieldError, InputError
from classlab.validation import (
    check_unique,
    classification_fields,
    distinct_labels,
    require_classification_field,
)

PROMPT_STYLES = ("first", "last", "both", "label")
DEFAULT_PROMPT_STYLE = "first"
_SPLIT = re.compile(r"^\s*(.+?)\s+-\s+(.+?)\s*$")


def derive_prompt_name(label: str, style: str = DEFAULT_PROMPT_STYLE) -> str:
    """The name a class goes by in prompts, derived from its label.

    Labels shaped ``"<a> - <b>"`` (FiftyOne's MNIST: ``"0 - zero"``) give
    ``"0"`` (``first``), ``"zero"`` (``last``), ``"0 (zero)"`` (``both``) or the
    label unchanged (``label``). Other labels keep their text, with ``_`` as spaces.
    """
    if style not in PROMPT_STYLES:
        raise InputError(f"prompt_style must be one of {', '.join(PROMPT_STYLES)}, got {style!r}")
    m = _SPLIT.match(label)
    if style == "label" or not m:
        return label.replace("_", " ").strip() if style != "label" else label
    first, last = m.group(1), m.group(2)
    return {"first": first, "last": last, "both": f"{first} ({last})"}[style]


def parse_prompt_names(value: Mapping[str, str] | str | None) -> dict[str, str] | None:
    """A ``{class: prompt name}`` mapping from a dict, a JSON object, or ``class: name`` lines.

    Raises:
        InputError: malformed JSON, or a line without ``:``
    """
    if not value:
        return None
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    text = str(value).strip()
    if text.startswith("{"):
        try:
            return {str(k): str(v) for k, v in json.loads(text).items()}
        except (ValueError, AttributeError):
            raise InputError(
                f"prompt_names is not a JSON object: {text[:80]!r}. Write "
                '{"0 - zero": "zero"}, or one \'class: name\' per line'
            ) from None
    out = {}
    for item in text.replace(";", "\n").splitlines():
        if item.strip():
            if ":" not in item:
                raise InputError(
                    f"prompt_names entry {item.strip()!r} is not 'class: name': write one "
                    "'class: name' per line (or a JSON object)"
                )
            key, name = item.rsplit(":", 1)
            out[key.strip()] = name.strip()
    return out


def resolve_classes(view, gt_field: str, classes: Sequence[str] | None = None) -> list[str]:
    """The class list: ``classes`` as given, else the distinct labels of ``gt_field``.

    With ``classes`` given, ``view`` is not read.

    Raises:
        InputError: duplicates, fewer than two classes, or no way to find them
    """
    if classes:
        classes = [str(c) for c in classes]
        if any(not c.strip() for c in classes):
            raise InputError(
                f"classes has an empty class name ({classes!r}): give every class a name"
            )
        check_unique(classes, "The class list", ": list each class once in classes")
        found = "given"
    else:
        if not view._dataset.has_sample_field(gt_field):
            raise FieldError(
                f"The ground-truth field {gt_field!r} does not exist, so ClassLab cannot list the "
                "classes: pass gt_field (one of "
                f"{', '.join(classification_fields(view._dataset)) or 'none'}) or a class list"
            )
        require_classification_field(view._dataset, gt_field, "ground-truth field")
        classes = distinct_labels(view, gt_field)
        found = f"found in {gt_field!r}"
    if len(classes) < 2:
        raise InputError(
            f"Zero-shot classification needs at least two classes; {len(classes)} {found} "
            f"({', '.join(classes) or 'none'}): pass a longer class list (classes)"
        )
    return list(classes)


def resolve_prompt_names(
    classes: Sequence[str],
    prompt_names: Mapping[str, str] | str | None = None,
    prompt_style: str = DEFAULT_PROMPT_STYLE,
) -> list[str]:
    """The prompt name of each class: ``prompt_names[c]`` where given, else derived.

    Args:
        prompt_names: a mapping, or text that :func:`parse_prompt_names` reads

    Raises:
        InputError: unparseable text, a key that is not a class, or two classes
            with one name
    """
    prompt_names = parse_prompt_names(prompt_names) or {}
    unknown = [k for k in prompt_names if k not in classes]
    if unknown:
        raise InputError(
            f"prompt_names has entries for unknown classes: {', '.join(map(repr, unknown))}. "
            f"Classes: {', '.join(classes)}"
        )
    names = [str(prompt_names.get(c) or derive_prompt_name(c, prompt_style)) for c in classes]
    check_unique(names, "The prompt names (two classes would be indistinguishable)")
    return names


@dataclass(frozen=True)
class Prompts:
    """The resolved prompts of one zero-shot run."""

    classes: list[str]
    names: list[str]  # the prompt name of each class, in order
    templates: list[str]
    template_set: str | None  # None when the caller gave their own templates


def resolve_prompts(
    view,
    gt_field: str = defaults.GROUND_TRUTH,
    classes: Sequence[str] | None = None,
    prompt_names: Mapping[str, str] | str | None = None,
    prompt_style: str = DEFAULT_PROMPT_STYLE,
    template_set: str | None = DEFAULT_TEMPLATE_SET,
    templates: Sequence[str] | None = None,
) -> Prompts:
    """Templates, classes and prompt names, validated (see the functions above)."""
    tmpl = resolve_templates(template_set, templates)
    classes = resolve_classes(view, gt_field, classes)
    names = resolve_prompt_names(classes, prompt_names, prompt_style)
    return Prompts(classes, names, tmpl, None if templates else template_set)
