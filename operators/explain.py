"""Operators that add models and explain them: a linear probe on an embeddings field,
and Grad-CAM heatmaps of a recorded CNN on the samples.

Each form validates through the core's own checks (``common.check``) and reads the
dataset's records once per ``resolve_input`` call; ``execute`` calls one core function.
"""

from __future__ import annotations

import fiftyone.operators as foo
from classlab import defaults
from classlab.validation import classification_fields, next_free_name
from fiftyone.operators import types

from .common import (
    check,
    config,
    dropdown,
    errors_on_top,
    label_field_choice,
    param,
    progress,
    target_view,
    target_view_checked,
)
from .results import summary_output

DEVICES = ("auto", "cpu", "cuda")


def _vector_fields(dataset) -> list[str]:
    import fiftyone as fo

    schema = dataset.get_field_schema()
    return sorted(n for n, f in schema.items() if isinstance(f, fo.VectorField | fo.ArrayField))


def _apply_tag(ctx) -> str:
    """The default tag of the samples to predict: ``test`` when the target view has
    test samples, else empty (all samples), so the form never opens invalid on a
    dataset split into train/val only (the default split)."""
    view = target_view(ctx) if ctx.dataset is not None else None
    if view is not None and view.match_tags(defaults.TEST_TAG).limit(1).count():
        return defaults.TEST_TAG
    return ""


def _probe_params(ctx, apply_tag: str | None = None) -> dict:
    """The train_linear_probe arguments from ``ctx.params`` (defaults filled in)."""
    grid = param(ctx, "c_grid", list(defaults.PROBE_C_GRID))
    if "apply_tag" not in ctx.params:
        apply_tag = _apply_tag(ctx) if apply_tag is None else apply_tag
    return dict(
        embeddings_field=param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS),
        run_key=param(ctx, "run_key", defaults.PROBE_RUN_KEY),
        gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
        train_tag=param(ctx, "train_tag", defaults.TRAIN_TAG),
        val_tag=param(ctx, "val_tag", defaults.VAL_TAG),
        label_field=ctx.params.get("label_field", defaults.PROBE_FIELD) or "",
        apply_tag=ctx.params.get("apply_tag", apply_tag) or "",
        evaluate=bool(param(ctx, "evaluate", True)),
        eval_key=param(ctx, "eval_key", defaults.EVAL_PROBE),
        c_grid=grid,
        max_iter=param(ctx, "max_iter", defaults.PROBE_MAX_ITER),
        overwrite=bool(param(ctx, "overwrite", False)),
    )


def _probe_form(inputs, ctx, probes, apply_tag: str):
    vectors = _vector_fields(ctx.dataset) if ctx.dataset is not None else []
    label_field_choice(
        inputs, ctx, "embeddings_field", vectors, defaults.CLIP_EMBEDDINGS, "Embeddings"
    )
    key = next_free_name(probes, defaults.PROBE_RUN_KEY)
    inputs.str("run_key", default=key, label="Run key")
    fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
    label_field_choice(inputs, ctx, "gt_field", fields, defaults.GROUND_TRUTH, "Labels")
    inputs.str("train_tag", default=defaults.TRAIN_TAG, label="Train tag")
    inputs.str("val_tag", default=defaults.VAL_TAG, label="Validation tag")
    inputs.str("label_field", default=key, label="Prediction field (empty: none)")
    inputs.str("apply_tag", default=apply_tag, label="Predict samples tagged (empty: all)")
    inputs.bool("evaluate", default=True, label="Evaluate against the labels")
    inputs.str("eval_key", default=f"eval_{key}", label="Eval key")
    inputs.list(
        "c_grid",
        types.Number(),
        default=list(defaults.PROBE_C_GRID),
        label="C values (the best on val is kept)",
    )
    inputs.int("max_iter", default=defaults.PROBE_MAX_ITER, label="Solver iterations")
    inputs.bool("overwrite", default=False, label="Replace a probe / fields of these names")


class TrainLinearProbe(foo.Operator):
    @property
    def config(self):
        return config(
            "train_linear_probe",
            "train a linear probe",
            "Logistic regression on an embeddings field: trained on train, C chosen on val, "
            "recorded, applied and evaluated",
        )

    def resolve_input(self, ctx):
        from classlab.probe import list_probes
        from classlab.probe.runs import check_train_args

        inputs = types.Object()
        probes = list_probes(ctx.dataset) if ctx.dataset is not None else {}
        apply_tag = _apply_tag(ctx)
        _probe_form(inputs, ctx, probes, apply_tag)
        if ctx.dataset is not None:
            view, _ = target_view_checked(ctx, inputs)
            p = _probe_params(ctx, apply_tag)
            if "run_key" not in ctx.params:  # the form's own defaults
                p.update(run_key=inputs.get_property("run_key").default)
                p.update(label_field=p["run_key"], eval_key=f"eval_{p['run_key']}")
            status = inputs.view("status", types.Notice(label="Checks"))
            check(status, check_train_args, view, probes=probes, **p)
            errors_on_top(inputs)  # a Notice shows no error: repeat it on top
        return types.Property(inputs, view=types.View(label="ClassLab: train a linear probe"))

    def resolve_output(self, ctx):
        return summary_output(
            ctx,
            "Linear probe",
            (
                "Trained the probe on {num_train} train samples: validation accuracy "
                "**{val_acc:.4f}** on {num_val} val samples ({num_params} parameters, "
                "{train_seconds:.1f} s)."
            ),
        )

    def execute(self, ctx):
        from classlab.probe import train_linear_probe

        out = train_linear_probe(ctx.target_view(), progress=progress(ctx), **_probe_params(ctx))
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return out


def _models(ctx) -> tuple[dict[str, dict], list[str]]:
    """The dataset's models (read once per call), and the keys of those whose
    architecture Grad-CAM supports (the dropdown's choices)."""
    if ctx.dataset is None:
        return {}, []
    from classlab.explain import TARGET_LAYERS
    from classlab.lenet.registry import list_models

    models = list_models(ctx.dataset)
    return models, sorted(k for k, r in models.items() if r.get("architecture") in TARGET_LAYERS)


def _gradcam_params(ctx) -> dict:
    return dict(
        run_key=param(ctx, "run_key"),
        samples=param(ctx, "samples", "mistakes"),
        pred_field=param(ctx, "pred_field") or None,
        gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
        target=param(ctx, "target", "predicted"),
        heatmap_field=param(ctx, "heatmap_field") or None,
        storage=param(ctx, "storage", "database"),
        batch_size=param(ctx, "batch_size", 64),
        overwrite=bool(param(ctx, "overwrite", False)),
    )


class ComputeGradcam(foo.Operator):
    @property
    def config(self):
        return config(
            "compute_gradcam",
            "Grad-CAM heatmaps",
            "Heatmaps of what a CNN looks at (default: on its mistakes), as fo.Heatmap fields",
        )

    def resolve_input(self, ctx):
        from classlab.explain import check_gradcam_args
        from classlab.explain.gradcam import default_pred_field

        inputs = types.Object()
        models, keys = _models(ctx)
        key_prop = dropdown(inputs, "run_key", keys, keys[0] if keys else None, "Model (a CNN)")
        run_key = param(ctx, "run_key", keys[0] if keys else None)
        pred = default_pred_field(models.get(run_key) or {}) or ""
        # a model that never predicted has no mistakes to show: all samples, then
        samples = "mistakes" if pred else "all"
        dropdown(inputs, "samples", defaults.GRADCAM_SAMPLES, samples, "Samples")
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        dropdown(inputs, "pred_field", [""] + fields, pred, "Model's predictions (mistakes)")
        label_field_choice(inputs, ctx, "gt_field", fields, defaults.GROUND_TRUTH, "Ground truth")
        dropdown(inputs, "target", defaults.GRADCAM_TARGETS, "predicted", "Class explained")
        base = f"{param(ctx, 'pred_field', pred) or run_key}{defaults.GRADCAM_SUFFIX}"
        inputs.str("heatmap_field", default=base, label="Heatmap field (ground truth: + _gt)")
        dropdown(inputs, "storage", defaults.GRADCAM_STORAGE, "database", "Store heatmaps in")
        inputs.int("batch_size", default=64, label="Batch size")
        dropdown(inputs, "device", DEVICES, "auto", "Device")
        inputs.bool("overwrite", default=False, label="Replace existing heatmap fields")
        label = "ClassLab: Grad-CAM heatmaps"
        if ctx.dataset is not None:
            view, _ = target_view_checked(ctx, inputs)
            p = dict(_gradcam_params(ctx), run_key=run_key)
            p["samples"] = param(ctx, "samples", samples)
            p["heatmap_field"] = p["heatmap_field"] or base
            plan = check(key_prop, check_gradcam_args, view, models=models, **p)
            if plan is not None:
                label += f" ({plan.view.count()} samples)"
        return types.Property(inputs, view=types.View(label=label))

    def resolve_output(self, ctx):
        return summary_output(
            ctx,
            "Grad-CAM",
            (
                "Wrote Grad-CAM heatmaps of **{run_key}** for **{num_samples}** samples ({target}"
                " class) into {fields}."
            ),
        )

    def execute(self, ctx):
        from classlab.explain import compute_gradcam

        out = compute_gradcam(
            ctx.target_view(),
            device=param(ctx, "device", "auto"),
            progress=progress(ctx),
            **_gradcam_params(ctx),
        )
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return out
