"""Runs a panel's Python methods against a real ExecutionContext (no App)."""

from __future__ import annotations


def run_panel_method(panel, dataset, method: str, state=None, params=None, view=None):
    """Calls ``panel.<method>`` then ``render``, as the App does (``view``: the
    App's current view, default the whole dataset).

    Returns:
        ``(state, data, rendered, triggered)``: the panel state after the call,
        the panel data it sent, the rendered Property, and the App operations it
        triggered as ``[(operator_uri, params)]`` (e.g. ``set_view``).
    """
    import fiftyone.operators as foo
    from fiftyone.operators.executor import Executor

    executor = Executor()
    ctx = foo.ExecutionContext(
        request_params={
            "dataset_name": dataset.name,
            **({"view": view._serialize()} if view is not None else {}),
            "params": {
                "panel_id": "test-panel",
                "panel_state": dict(state or {}),
                "__method__": method,
                **(params or {}),
            },
        },
        executor=executor,
    )
    getattr(panel, method)(ctx)
    rendered = panel.render(ctx)
    data, triggered = {}, []
    for req in executor._requests:
        triggered.append((req.operator_uri, req.params))
        if req.operator_uri.endswith("patch_panel_data"):
            data.update(req.params.get("data") or {})
    return ctx.panel_state, data, rendered, triggered
