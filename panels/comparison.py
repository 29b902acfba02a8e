"""The ``model_comparison`` panel: lays out :mod:`classlab.compare.panel_data` and
dispatches clicks.

Every number comes from ``classlab.compare.panel_data.panel_result`` (which answers
from arrays kept per dataset version, :mod:`classlab.compare.store`); every click
becomes the view of ``panel_data.click_view``, inside the compared scope.
"""

from __future__ import annotations

import functools
import logging

import fiftyone.operators as foo
from classlab.compare import AGREEMENT, AGREEMENT_LABELS, evaluate_field, panel_data
from classlab.compare import stats as compare_stats
from classlab.compare.store import SCOPE_VIEW
from classlab.errors import ClassLabError
from fiftyone.operators import types

logger = logging.getLogger("classlab")

SUMMARY_COLUMNS = [
    ("model", "model"),
    ("n", "samples"),
    ("accuracy", "accuracy"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("top5_accuracy", "top-5"),
    ("mean_confidence", "mean conf."),
    ("ece", "ECE"),
    ("num_params", "params"),
    ("train_seconds", "train s"),
    ("images_per_second", "img/s"),
    ("latency_torch_1", "torch ms/img b1"),
    ("latency_torch_256", "torch ms/img b256"),
    ("latency_onnx_1", "ONNX ms/img b1"),
    ("latency_onnx_256", "ONNX ms/img b256"),
]
# the state's picker containers (an input inside a row is kept at <row>.<key>)
CONTAINERS = {
    "choices": ("scope", "fields", "gt_field"),
    "pickers": ("baseline", "cm_model", "agree_a", "agree_b"),
    "sort": ("sort_by", "sort_desc"),
    "confusion_row": ("cm_mode",),
}


def _safe(method):
    """Shows a ClassLab error (or a deleted field) as the panel's message instead of failing."""

    @functools.wraps(method)
    def wrapper(self, ctx):
        try:
            return method(self, ctx)
        except (ClassLabError, ValueError, KeyError) as e:
            logger.info("model_comparison: %s", e)
            ctx.panel.state.message = str(e)
            ctx.panel.state.ready = False

    return wrapper


# The panel's column is as wide as the panel (not as its widest table: tables scroll
# inside it) and rows of pickers wrap, so the plots (autosized) fit the panel's width.
FIT = {"grid": {"sx": {"gridTemplateColumns": "minmax(0, 1fr)"}}}
WRAP_ITEM = {"item": {"sx": {"width": "auto", "minWidth": "160px"}}}


def _row(panel, name):
    """A row of inputs that wraps onto more lines when the panel is narrow."""
    row = types.Object()
    panel.define_property(name, row, view=types.GridView(orientation="2d", gap=2))
    return row


def _choices(state) -> dict:
    """The user's choices, from the pickers' containers (``view_stages``: the view
    that "current view" captured)."""
    out = {"view_stages": state.get("view_stages")}
    for container, keys in CONTAINERS.items():
        values = state.get(container) or {}
        for key in keys:
            out[key] = values.get(key)
    return out


def _per_class_columns(state) -> list[tuple[str, str]]:
    """``[(key, label)]`` of the per-class table, in the order shown."""
    cols = [("class", "class")]
    if state.label_issues:
        cols.append(("label_issues", "label issues"))
    for f in state.fields or []:
        short = (state.display or {}).get(f, f)
        for m, lab in (("precision", "P"), ("recall", "R"), ("f1", "F1")):
            cols.append((f"{f}_{m}", f"{short} {lab}"))
        if f != state.baseline:
            cols.append((f"{f}_f1_delta", f"{short} ΔF1"))
    return cols


class ModelComparisonPanel(foo.Panel):
    @property
    def config(self):
        return foo.PanelConfig(
            name="model_comparison",
            label="ClassLab: model comparison",
            icon="compare_arrows",
            help_markdown="Compare every evaluated classification model on a split: summary, "
            "per-class scores, confusion, agreement with paired significance, repeats "
            "(click a cell, a class or a bar to filter the grid) and learning curves.",
        )

    # ------------------------------------------------------------ events

    def on_load(self, ctx):
        self._refresh(ctx)

    def on_change_dataset(self, ctx):
        ctx.panel.state.clear()
        self._refresh(ctx)

    def refresh(self, ctx):
        self._refresh(ctx)

    @_safe
    def _refresh(self, ctx):
        """The comparison for the state's choices, from the kept arrays."""
        state = ctx.panel.state
        choices = _choices(state)
        found = panel_data.panel_choices(ctx.dataset, choices)
        state.set({k: v for k, v in found.items() if k != "evals"})
        choices["scope"] = found["scope"]
        new, data = panel_data.panel_result(ctx.dataset, choices, found)
        state.set(new)
        ctx.panel.data.set(data)

    def on_pick(self, ctx):
        """A picker changed (the App has already written its value into the state)."""
        self._refresh(ctx)

    def on_pick_scope(self, ctx):
        """The split picker: "current view" keeps the grid's view of this moment."""
        state = ctx.panel.state
        if (state.get("choices") or {}).get("scope") == SCOPE_VIEW:
            state.view_stages = ctx.view._serialize()
        self._refresh(ctx)

    @_safe
    def on_confusion_click(self, ctx):
        params = {"truth": ctx.params.get("y"), "pred": ctx.params.get("x")}
        self._show(ctx, "cell", **params)

    @_safe
    def on_class_click(self, ctx):
        """A cell of the per-class table: that class's mistakes by the column's model
        (the confusion model for the class column)."""
        state = ctx.panel.state
        label = state.per_class[int(ctx.params.get("row"))]["class"]
        column = ctx.params.get("column")
        if isinstance(column, int):  # the App sends the column's index
            keys = [k for k, _ in _per_class_columns(state)]
            column = keys[column] if 0 <= column < len(keys) else None
        model = panel_data.model_of(ctx.panel_state, column=column)
        self._show(ctx, "class", label=label, model=model)

    @_safe
    def on_bar_click(self, ctx):
        """A bar of the F1 or delta-F1 plot: that model's mistakes on that class."""
        model = panel_data.model_of(
            ctx.panel_state, trace=ctx.params.get("trace_idx"), ids=ctx.params.get("id")
        )
        self._show(ctx, "class", label=ctx.params.get("x"), model=model)

    @_safe
    def on_agreement_click(self, ctx):
        self._show(ctx, "agreement", category=ctx.params["category"])

    @_safe
    def on_score_click(self, ctx):
        self._show(ctx, "score", score=ctx.params["score"])

    def _show(self, ctx, kind, **params):
        view = panel_data.click_view(ctx.dataset, ctx.panel_state, kind, **params)
        ctx.ops.set_view(view)

    @_safe
    def on_evaluate(self, ctx):
        """Evaluates a field; it joins the compared models at once."""
        state, field = ctx.panel.state, ctx.params["field"]
        key = evaluate_field(ctx.dataset, field, state.gt_field)
        choices = state.get("choices") or {}
        if choices.get("fields"):
            state.choices = {**choices, "fields": [*choices["fields"], field]}
        ctx.ops.notify(f"Evaluated {field!r} as {key!r}", variant="success")
        self._refresh(ctx)

    def on_clear_view(self, ctx):
        ctx.ops.clear_view()

    # ------------------------------------------------------------ layout

    def render(self, ctx):
        panel = types.Object()
        state = ctx.panel.state
        panel.md("##### ClassLab model comparison", name="title")
        if state.message:
            panel.view("message", types.Warning(label=state.message))
        self._render_evaluate(panel, state)
        if not state.ready:
            if state.scopes:  # e.g. an empty split: another one can still be picked
                self._render_choices(panel, state)
            panel.btn("retry", label="Refresh", on_click=self.refresh, variant="outlined")
            return types.Property(
                panel, view=types.GridView(orientation="vertical", componentsProps=FIT)
            )
        self._render_pickers(panel, state)
        for i, note in enumerate(state.notes or []):
            panel.view(f"note_{i}", types.Notice(label=note))
        self._render_summary(panel, state)
        self._render_per_class(panel, state)
        self._render_agreement(panel, state)
        self._render_repeats(panel, state)
        self._render_confusion(panel, state)
        for name, label in (("loss_plot", "loss"), ("acc_plot", "accuracy")):
            panel.plot(
                name,
                label=f"Learning curves: {label} (solid train, dashed val)",
                layout=(state.layouts or {}).get(name),
                config=panel_data.plots.PLOT_CONFIG,
            )
        panel.btn("clear_view", label="Show all samples", on_click=self.on_clear_view)
        return types.Property(
            panel, view=types.GridView(orientation="vertical", gap=2, componentsProps=FIT)
        )

    def _render_evaluate(self, panel, state):
        for field in state.unevaluated or []:
            panel.btn(
                f"evaluate_{field}",
                label=f"Evaluate {field} against {state.gt_field}",
                on_click=self.on_evaluate,
                params={"field": field},
                variant="outlined",
            )

    def _dropdown(self, options):
        dd = types.DropdownView(componentsProps=WRAP_ITEM)
        for value, label in options:
            dd.add_choice(value, label=label)
        return dd

    def _render_choices(self, panel, state):
        display = state.display or {}
        row = _row(panel, "choices")
        dd = self._dropdown([tuple(s) for s in state.scopes or []])
        row.enum("scope", dd.values(), label="Samples", view=dd, on_change=self.on_pick_scope)
        choices = types.DropdownView(multiple=True, componentsProps=WRAP_ITEM)
        for f in state.available or []:
            choices.add_choice(f, label=display.get(f, f))
        row.list("fields", types.String(), label="Models", view=choices, on_change=self.on_pick)
        gts = state.gt_fields or []
        if len(gts) > 1:
            dd = self._dropdown([(g, g) for g in gts])
            row.enum("gt_field", dd.values(), label="Ground truth", view=dd, on_change=self.on_pick)

    def _render_pickers(self, panel, state):
        self._render_choices(panel, state)
        display = state.display or {}
        row = _row(panel, "pickers")
        models = [(f, display.get(f, f)) for f in state.fields or []]
        for key, label in (
            ("baseline", "Baseline"),
            ("cm_model", "Confusion / errors model"),
            ("agree_a", "Agreement: model A"),
            ("agree_b", "Agreement: model B"),
        ):
            dd = self._dropdown(models)
            row.enum(key, dd.values(), label=label, view=dd, on_change=self.on_pick)

    def _render_summary(self, panel, state):
        scope = dict((s[0], s[1]) for s in state.scopes or []).get(state.scope, state.scope)
        panel.md(
            f"**{state.n_samples:,} samples** ({scope}) compared against `{state.gt_field}`, "
            f"baseline `{state.baseline}`",
            name="header",
        )
        first = (state.summary or [{}])[0]
        columns = [(k, lab) for k, lab in SUMMARY_COLUMNS if k in first]
        row = _row(panel, "sort")
        dd = self._dropdown(columns)
        row.enum("sort_by", dd.values(), label="Sort summary by", view=dd, on_change=self.on_pick)
        row.bool(
            "sort_desc",
            label="descending",
            default=True,
            on_change=self.on_pick,
            view=types.CheckboxView(componentsProps=WRAP_ITEM),
        )
        table = types.TableView()
        for key, label in columns:
            table.add_column(key, label=label)
        panel.list("summary", types.Object(), view=table, label="Summary")

    def _render_per_class(self, panel, state):
        pc = types.TableView(on_click_cell=self.on_class_click)
        for key, label in _per_class_columns(state):
            pc.add_column(key, label=label)
        issues = state.label_issues
        note = (
            f"; label issues: record `{issues['key']}` from `{issues['field']}`" if issues else ""
        )
        panel.list(
            "per_class",
            types.Object(),
            view=pc,
            label="Per class (click a cell: that class's mistakes by the column's model, "
            f"the errors model for the class column){note}",
        )
        layouts = state.layouts or {}
        panel.plot(
            "f1_plot",
            label="Per-class F1 (click a bar: that model's mistakes on the class)",
            layout=layouts.get("f1_plot"),
            config=panel_data.plots.PLOT_CONFIG,
            on_click=self.on_bar_click,
        )
        if len(state.fields or []) > 1:
            panel.plot(
                "delta_plot",
                label=f"Per-class ΔF1 against the baseline `{state.baseline}`",
                layout=layouts.get("delta_plot"),
                config=panel_data.plots.PLOT_CONFIG,
                on_click=self.on_bar_click,
            )

    def _render_confusion(self, panel, state):
        row = _row(panel, "confusion_row")
        dd = self._dropdown(panel_data.CONFUSION_MODES.items())
        row.enum("cm_mode", dd.values(), label="Confusion cells", view=dd, on_change=self.on_pick)
        for score, field in (state.scores or {}).items():
            row.btn(
                f"score_{score}",
                label=f"{panel_data.SCORE_BUTTONS[score]} ({field})",
                on_click=self.on_score_click,
                params={"score": score},
                variant="outlined",
                componentsProps=WRAP_ITEM,
            )
        panel.plot(
            "confusion_plot",
            label=f"Confusion: {state.display[state.cm_model]} "
            "(rows truth, columns prediction; click a cell)",
            layout=(state.layouts or {}).get("confusion_plot"),
            config=panel_data.plots.PLOT_CONFIG,
            on_click=self.on_confusion_click,
        )

    def _render_agreement(self, panel, state):
        if not state.agreement:
            return
        panel.md(
            f"**Agreement**: A = `{state.agree_a}`, B = `{state.agree_b}` "
            "(click a count to show those samples)",
            name="agreement_title",
        )
        row = _row(panel, "agreement_buttons")
        for cat in AGREEMENT:
            row.btn(
                f"agree_{cat}",
                label=f"{AGREEMENT_LABELS[cat]}: {state.agreement[cat]}",
                on_click=self.on_agreement_click,
                params={"category": cat},
                variant="outlined",
                componentsProps=WRAP_ITEM,
            )
        if state.paired:
            line = compare_stats.describe(
                f"A `{state.agree_a}`", f"B `{state.agree_b}`", state.paired
            )
            panel.md(
                f"**Paired significance** (fixed: only B right; broken: only A right): {line}",
                name="agreement_significance",
            )

    def _render_repeats(self, panel, state):
        if not state.repeats:
            return
        table = types.TableView()
        for key, label in (
            ("group", "model (seeded runs)"),
            ("runs", "runs"),
            ("accuracy", "accuracy mean ± sd"),
            ("paired", "pooled paired test against the baseline"),
        ):
            table.add_column(key, label=label)
        panel.list("repeats", types.Object(), view=table, label="Repeats")
