"""The ``model_comparison`` panel: lays out :mod:`classlab.compare` and dispatches clicks.

Everything it shows comes from ``classlab.compare.compare_models`` and
``classlab.compare.agreement``; clicks turn into views built by
``classlab.compare.confusion_view`` / ``agreement_view``.
"""

from __future__ import annotations

import functools
import logging

import fiftyone.operators as foo
from classlab import compare, defaults
from classlab.compare import plots as compare_plots
from classlab.compare import stats as compare_stats
from classlab.compare.paired import paired_from_agreement
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
]


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


def _ground_truth(state, evals) -> str:
    """The state's ground truth if still evaluated, else ``ground_truth``, else the most used."""
    gts = [e["gt_field"] for e in evals]
    if state.gt_field in gts:
        return state.gt_field
    if defaults.GROUND_TRUTH in gts or not gts:
        return defaults.GROUND_TRUTH
    return max(set(gts), key=gts.count)


def _compare(ds, state, gt, evals) -> dict:
    """``compare_models`` for the picked models (those still available), noting the others."""
    gone = [f for f in (state.fields or []) if f not in state.available]
    fields = [f for f in (state.fields or []) if f in state.available] or None
    picks = state.pickers or {}
    result = compare.compare_models(
        ds,
        fields,
        gt,
        picks.get("baseline"),
        agreement_pair=(picks.get("agree_a"), picks.get("agree_b")),
        evals=evals,
    )
    result["notes"][:0] = [
        f"{f!r} was deleted or lost its evaluation: left out of the comparison." for f in gone
    ]
    return result


def _store(state, result) -> str:
    """Writes the comparison into the panel state; returns the confusion model."""
    fields = result["fields"]
    picks = state.pickers or {}
    cm_model = picks.get("cm_model") if picks.get("cm_model") in fields else fields[0]
    agr = result["agreement"]
    a, b = (agr["a"], agr["b"]) if agr else (fields[0], None)
    pickers = {"baseline": result["baseline"], "cm_model": cm_model, "agree_a": a, "agree_b": b}
    state.set(
        {
            **pickers,
            "fields": fields,
            "n_samples": result["n_samples"],
            "pickers": pickers,
            "notes": result["notes"],
            "display": result["display"],
            "classes": result["classes"],
            "message": None,
            "ready": True,
            "summary": compare_plots.table_rows(result["summary"]),
            "per_class": compare_plots.table_rows(result["per_class"]),
        }
    )
    state.agreement = agr["counts"] if agr else None
    # paired significance of B vs A on the agreement's samples, from its counts (no re-read)
    state.paired = paired_from_agreement(agr["counts"]) if agr and agr["n"] else None
    return cm_model


def _plots(result, cm_model) -> dict:
    """The panel data: per-class F1 bars, the confusion heatmap, learning curves."""
    return {
        "f1_plot": compare_plots.f1_bars(result),
        "confusion_plot": compare_plots.confusion_heatmap(result, cm_model),
        "loss_plot": compare_plots.learning_curves(result, "loss"),
        "acc_plot": compare_plots.learning_curves(result, "acc"),
    }


class ModelComparisonPanel(foo.Panel):
    @property
    def config(self):
        return foo.PanelConfig(
            name="model_comparison",
            label="ClassLab: model comparison",
            icon="compare_arrows",
            help_markdown="Compare every evaluated classification model: summary, per-class "
            "scores, confusion, agreement (click to filter the grid) and learning curves.",
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
        """Recomputes the comparison for the state's choices: one read of the
        evaluations, one ``compare_models``, then the state and the plots."""
        state, ds = ctx.panel.state, ctx.dataset
        evals = compare.evaluated_fields(ds)
        gt = _ground_truth(state, evals)
        state.set(
            {
                "gt_field": gt,
                "available": [e["field"] for e in evals],
                "gt_fields": sorted({e["gt_field"] for e in evals}),
                "unevaluated": compare.unevaluated_fields(ds, gt, evals=evals),
            }
        )
        result = _compare(ds, state, gt, evals)
        cm_model = _store(state, result)
        ctx.panel.data.set(_plots(result, cm_model))

    def on_pick(self, ctx):
        """A picker changed (the App has already written its value into the state)."""
        self._refresh(ctx)

    @_safe
    def on_confusion_click(self, ctx):
        state = ctx.panel.state
        truth, pred = ctx.params.get("y"), ctx.params.get("x")
        view = compare.confusion_view(ctx.dataset, state.cm_model, state.gt_field, truth, pred)
        ctx.ops.set_view(view)

    @_safe
    def on_class_mistakes(self, ctx):
        state = ctx.panel.state
        row = ctx.params.get("row")
        label = state.per_class[int(row)]["class"]
        view = compare.confusion_view(ctx.dataset, state.cm_model, state.gt_field, label)
        ctx.ops.set_view(view)

    @_safe
    def on_agreement_click(self, ctx):
        state = ctx.panel.state
        view = compare.agreement_view(
            ctx.dataset, state.agree_a, state.agree_b, ctx.params["category"], state.gt_field
        )
        ctx.ops.set_view(view)

    @_safe
    def on_evaluate(self, ctx):
        field = ctx.params["field"]
        key = compare.evaluate_field(ctx.dataset, field, ctx.panel.state.gt_field)
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
            panel.btn("retry", label="Refresh", on_click=self.refresh, variant="outlined")
            return types.Property(panel, view=types.GridView(orientation="vertical"))
        self._render_pickers(panel, state)
        for i, note in enumerate(state.notes or []):
            panel.view(f"note_{i}", types.Notice(label=note))
        self._render_tables(panel, state)
        self._render_agreement(panel, state)
        panel.plot(
            "confusion_plot",
            label=f"Confusion: {state.display[state.cm_model]} "
            "(rows truth, columns prediction; click a cell)",
            layout=compare_plots.layout("", "predicted", "truth"),
            on_click=self.on_confusion_click,
        )
        panel.plot(
            "loss_plot",
            label="Learning curves: loss",
            layout=compare_plots.layout("", "epoch", "loss"),
        )
        panel.plot(
            "acc_plot",
            label="Learning curves: accuracy",
            layout=compare_plots.layout("", "epoch", "accuracy"),
        )
        panel.btn("clear_view", label="Show all samples", on_click=self.on_clear_view)
        return types.Property(panel, view=types.GridView(orientation="vertical", gap=2))

    def _render_evaluate(self, panel, state):
        for field in state.unevaluated or []:
            panel.btn(
                f"evaluate_{field}",
                label=f"Evaluate {field} against {state.gt_field}",
                on_click=self.on_evaluate,
                params={"field": field},
                variant="outlined",
            )

    def _render_pickers(self, panel, state):
        choices = types.DropdownView(multiple=True)
        for f in state.available or []:
            choices.add_choice(f, label=(state.display or {}).get(f, f))
        panel.list("fields", types.String(), label="Models", view=choices, on_change=self.on_pick)
        row = panel.h_stack("pickers", gap=2)
        for key, label in (
            ("baseline", "Baseline"),
            ("cm_model", "Confusion model"),
            ("agree_a", "Agreement: model A"),
            ("agree_b", "Agreement: model B"),
        ):
            dd = types.DropdownView()
            for f in state.fields or []:
                dd.add_choice(f, label=state.display[f])
            row.enum(key, dd.values(), label=label, view=dd, on_change=self.on_pick)
        gts = state.gt_fields or []
        if len(gts) > 1:
            dd = types.DropdownView()
            for g in gts:
                dd.add_choice(g, label=g)
            panel.enum(
                "gt_field", dd.values(), label="Ground truth", view=dd, on_change=self.on_pick
            )

    def _render_tables(self, panel, state):
        panel.md(
            f"**{state.n_samples} samples** compared against `{state.gt_field}`, "
            f"baseline `{state.baseline}`",
            name="header",
        )
        table = types.TableView()
        first = (state.summary or [{}])[0]
        for key, label in SUMMARY_COLUMNS:
            if key in first:
                table.add_column(key, label=label)
        panel.list("summary", types.Object(), view=table, label="Summary")
        pc = types.TableView()
        pc.add_column("class", label="class")
        for f in state.fields:
            short = state.display[f]
            for m, lab in (("precision", "P"), ("recall", "R"), ("f1", "F1")):
                pc.add_column(f"{f}_{m}", label=f"{short} {lab}")
            if f != state.baseline:
                pc.add_column(f"{f}_f1_delta", label=f"{short} ΔF1")
        pc.add_row_action(
            "mistakes",
            self.on_class_mistakes,
            label="Show mistakes",
            icon="search",
            tooltip="Show this class's mistakes by the confusion model",
        )
        panel.list("per_class", types.Object(), view=pc, label="Per class")
        panel.plot(
            "f1_plot",
            label="Per-class F1",
            layout=compare_plots.layout("", "class", "F1", barmode="group"),
        )

    def _render_agreement(self, panel, state):
        if not state.agreement:
            return
        panel.md(
            f"**Agreement**: A = `{state.agree_a}`, B = `{state.agree_b}` "
            "(click a count to show those samples)",
            name="agreement_title",
        )
        row = panel.h_stack("agreement_buttons", gap=1)
        for cat in compare.AGREEMENT:
            row.btn(
                f"agree_{cat}",
                label=f"{compare.AGREEMENT_LABELS[cat]}: {state.agreement[cat]}",
                on_click=self.on_agreement_click,
                params={"category": cat},
                variant="outlined",
            )
        if state.paired:
            line = compare_stats.describe(
                f"A `{state.agree_a}`", f"B `{state.agree_b}`", state.paired
            )
            panel.md(
                f"**Paired significance** (fixed: only B right; broken: only A right): {line}",
                name="agreement_significance",
            )
