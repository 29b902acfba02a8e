"""Prompt template sets for zero-shot classification, kept as plain data.

A template is a ``str.format`` string with exactly one ``{}`` slot for the
class's prompt name. Sets:

- ``tutorial``: the single prompt of the FiftyOne MNIST tutorial, formatted as
  FiftyOne's ``open-clip-torch`` zoo model does (``"A photo of" + " " + name``).
- ``mnist``: the MNIST prompt of OpenAI CLIP's ``prompts.md``, which
  open_clip's zero-shot benchmark (CLIP_benchmark) uses for MNIST with class
  names ``"0"`` ... ``"9"``. (open_clip's own ``zero_shot_metadata`` module only
  ships the ImageNet sets, copied below as ``imagenet_simple``.)
- ``generic``: a short set that suits most image classification datasets.
- ``imagenet_simple``: open_clip's ``SIMPLE_IMAGENET_TEMPLATES``.
"""

from __future__ import annotations

from collections.abc import Sequence

from classlab.errors import InputError

TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "tutorial": ("A photo of {}",),
    "mnist": ('a photo of the number: "{}".',),
    "generic": (
        "a photo of {}.",
        "a photo of the {}.",
        "a picture of {}.",
        "an image of {}.",
        "a close-up photo of {}.",
    ),
    "imagenet_simple": (
        "itap of a {}.",
        "a bad photo of the {}.",
        "a origami {}.",
        "a photo of the large {}.",
        "a {} in a video game.",
        "art of the {}.",
        "a photo of the small {}.",
    ),
}

DEFAULT_TEMPLATE_SET = "mnist"


def list_template_sets() -> dict[str, list[str]]:
    """All named template sets: ``{name: [templates]}`` (copies)."""
    return {name: list(t) for name, t in TEMPLATE_SETS.items()}


def check_template(template: str) -> str:
    """Checks that ``template`` is a string with exactly one ``{}`` slot.

    Raises:
        InputError: the template has no slot, several, or a named/indexed one
    """
    if not isinstance(template, str) or not template.strip():
        raise InputError(f"Prompt template {template!r} is empty: write e.g. 'a photo of {{}}.'")
    if template.count("{}") != 1:
        raise InputError(
            f"Prompt template {template!r} must contain exactly one '{{}}' slot where the "
            "class name goes, e.g. 'a photo of the number {}.'"
        )
    try:
        template.format("x")
    except (IndexError, KeyError, ValueError):
        raise InputError(
            f"Prompt template {template!r} has braces other than the one '{{}}' slot: "
            "double them ('{{' and '}}') to write literal braces"
        ) from None
    return template


def resolve_templates(
    template_set: str | None = DEFAULT_TEMPLATE_SET,
    templates: Sequence[str] | None = None,
) -> list[str]:
    """The templates to use: ``templates`` when given, else the named set.

    Raises:
        InputError: unknown set name, an empty list, or a malformed template
    """
    if templates:
        if isinstance(templates, str):
            templates = [templates]
        out = [check_template(t) for t in templates]
        if len(set(out)) != len(out):
            raise InputError("The prompt templates have duplicates: list each template once")
        return out
    name = template_set or DEFAULT_TEMPLATE_SET
    if name not in TEMPLATE_SETS:
        raise InputError(
            f"Unknown template set {name!r}: use one of {', '.join(TEMPLATE_SETS)} "
            "or pass your own list of templates"
        )
    return list(TEMPLATE_SETS[name])
