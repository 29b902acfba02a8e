"""Form helpers for the operator tests: a form as the App gets it, its errors, and the
core's own message for the same value (one rule, one place)."""

from __future__ import annotations

import fiftyone.operators as foo
import pytest


def form(name, dataset, params):
    """``op.resolve_input`` on a real ExecutionContext: the form's properties by name."""
    from fiftyone.operators.executor import ExecutionContext

    ctx = ExecutionContext(request_params={"dataset_name": dataset.name, "params": params})
    return foo.get_operator(f"@classlab/classlab/{name}").resolve_input(ctx).type


def errors(inputs) -> dict:
    """``{property: error message}`` of the invalid properties of a form."""
    return {n: p.error_message for n, p in inputs.properties.items() if p.invalid}


def core_message(fn, *args, **kwargs) -> str:
    """The message of the ClassLabError that ``fn(*args, **kwargs)`` raises."""
    from classlab.errors import ClassLabError

    with pytest.raises(ClassLabError) as e:
        fn(*args, **kwargs)
    return str(e.value)
