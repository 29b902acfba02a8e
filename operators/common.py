"""Helpers shared by ClassLab's operators (forms, progress, results).

Nothing here computes anything: it adapts ``ctx`` to the core's arguments.
"""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types


def config(name: str, label: str, description: str = "", delegated: bool = True, **kwargs):
    """An OperatorConfig with ClassLab's conventions: dynamic forms, an icon, and
    delegated execution allowed for long work."""
    return foo.OperatorConfig(
        name=name,
        label=f"ClassLab: {label}",
        description=description,
        dynamic=True,
        icon=kwargs.pop("icon", "/assets/icon.svg"),
        allow_immediate_execution=True,
        allow_delegated_execution=delegated,
        **kwargs,
    )


def progress(ctx):
    """A core ``progress(fraction, label)`` callback that forwards to ``ctx.set_progress``
    (shown in the App; stored on the operation when it runs delegated)."""

    def fn(fraction, label=None):
        ctx.set_progress(progress=float(fraction), label=label)

    return fn


def param(ctx, name, default=None):
    """``ctx.params[name]``, with ``default`` for a missing or None value."""
    value = ctx.params.get(name, None)
    return default if value is None else value


def dropdown(inputs, name, values, default, label, description="", required=False, choices=None):
    """An enum property shown as a dropdown of ``values``; ``choices`` maps a value to
    its ``(label, description)`` (default: the value itself, no description)."""
    view = types.DropdownView()
    for v in values:
        shown, about = (choices or {}).get(v, (str(v), None))
        view.add_choice(v, label=shown, **({"description": about} if about else {}))
    return inputs.enum(
        name,
        list(values),
        default=default,
        required=required,
        label=label,
        description=description,
        view=view,
    )


def label_field_choice(inputs, ctx, name, fields, default, label, description="", required=False):
    """A dropdown of ``fields``; marks the property invalid when none exist."""
    value_default = default if default in fields else (fields[0] if fields else None)
    prop = dropdown(inputs, name, fields, value_default, label, description, required)
    if not fields:
        prop.invalid = True
        prop.error_message = f"No suitable field on this dataset for {label!r}"
    return prop


def check(prop, fn, *args, **kwargs):
    """Runs the core's own check ``fn(*args, **kwargs)`` for a form property.

    The one way forms validate: the rule lives in the core, the form shows its
    message on ``prop``. Returns what ``fn`` returned, or None when it raised a
    :class:`~classlab.errors.ClassLabError` (then ``prop`` is marked invalid
    with that error's message). Other exceptions propagate: they are bugs.
    """
    from classlab.errors import ClassLabError

    try:
        return fn(*args, **kwargs)
    except ClassLabError as e:
        invalid(prop, str(e))
        return None


def invalid(prop, message: str):
    """Marks a form property invalid with ``message``."""
    prop.invalid = True
    prop.error_message = message
    return prop


def target_count(ctx) -> int:
    """Number of samples in the target view (opts the form into the target selector)."""
    try:
        return ctx.target_view().count()
    except Exception:  # the form must still render if the view is unresolvable
        return 0


def target_view(ctx):
    """The target view (also shows the App's target selector); the dataset when the
    requested view cannot be resolved, so the form still renders."""
    try:
        return ctx.target_view()
    except Exception:  # as target_count: the form must render on an odd view
        return ctx.dataset


def target_view_checked(ctx, inputs):
    """``(view, count)`` of the target view; an empty view shows the core's message."""
    from classlab.validation import require_nonempty

    view = target_view(ctx)
    n = view.count()
    if n == 0:
        check(inputs.view("empty", types.Notice(label="No samples")), require_nonempty, view)
    return view, n


def errors_on_top(inputs, title: str = "Fix before executing"):
    """Repeats the messages of the form's invalid properties in an Error view at the
    top of the form (each also stays next to its field), so that a message below the
    fold never leaves Execute disabled for no visible reason. Returns the messages."""
    messages = [
        f"{getattr(p.view, 'label', None) or name}: {p.error_message}"
        for name, p in inputs.properties.items()
        if p.invalid and p.error_message
    ]
    if messages:
        top = types.Error(label=title, description="\n\n".join(messages))
        prop = types.Property(types.Void(), view=top)
        inputs.properties = {"form_errors": prop, **inputs.properties}
    return messages


def result_view(title: str, summary: str, fields=()):
    """The result dialog (``resolve_output``) of an operator: ``summary`` (markdown: what
    changed) on top, then ``fields``, ``(key, label, kind)`` with kind ``"int"``,
    ``"float"``, ``"str"`` or ``"obj"``, each shown with its value from the results."""
    outputs = types.Object()
    if summary:
        outputs.md(summary, name="summary")
    for key, label, kind in fields:
        getattr(outputs, kind)(key, label=label)
    return types.Property(outputs, view=types.View(label=title))


def results(ctx) -> dict:
    """``execute()``'s result, as FiftyOne passes it to ``resolve_output`` (``{}`` before
    there is one)."""
    return dict(getattr(ctx, "results", None) or {})


def show_view(ctx, view) -> None:
    """After an immediate (not delegated) run: reloads the dataset and sets the App's
    view to ``view`` (what the user most likely wants to look at next)."""
    if ctx.delegated:
        return
    ctx.ops.reload_dataset()
    if view is not None:
        ctx.ops.set_view(view=view)
