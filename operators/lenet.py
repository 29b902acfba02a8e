"""LeNet-5 operators: train, apply, evaluate, and the model registry (list/rename/delete).

Forms read the dataset's models once per ``resolve_input`` call and validate
every value through the core's own checks (``common.check``).
"""

from __future__ import annotations

import fiftyone.operators as foo
from classlab import defaults
from classlab.validation import classification_fields
from fiftyone.operators import types

from .common import (
    check,
    config,
    dropdown,
    errors_on_top,
    label_field_choice,
    param,
    progress,
    show_view,
    target_view_checked,
)
from .lenet_forms import (
    DEVICES,
    apply_defaults,
    check_apply_form,
    check_train_data,
    coverage_warning,
    model_choice,
    models_of,
    new_model_key,
    runtime_choice,
    train_options_form,
    training_target,
)
from .results import (
    apply_output,
    delete_output,
    evaluate_output,
    model_rows,
    models_output,
    rename_output,
    train_output,
)
from .shards import sharded, shards_form

# TrainConfig fields that the train form exposes (the rest keep their defaults)
_TRAIN_OPTIONS = (
    "architecture",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "schedule",
    "weight_decay",
    "label_smoothing",
    "seed",
    "patience",
    "device",
    "amp",
    "max_epochs",
)


class TrainLenet(foo.Operator):
    @property
    def config(self):
        return config(
            "train_lenet",
            "train LeNet-5",
            "Trains LeNet-5 on the train tag, validates on val, keeps the model",
        )

    def resolve_input(self, ctx):
        from classlab.lenet.config import check_option
        from classlab.lenet.registry import check_new_run_key

        inputs = types.Object()
        models = models_of(ctx)
        view = training_target(ctx, inputs, "Train") if ctx.dataset is not None else None
        new_key = new_model_key(models)
        key_prop = inputs.str(
            "run_key",
            default=new_key,
            label="Run key",
            description="The new model's name (default: the next free lenet_vN)",
        )
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "label_field", fields, defaults.GROUND_TRUTH, "Labels")
        inputs.str("train_tag", default=defaults.TRAIN_TAG, label="Train tag")
        inputs.str("val_tag", default=defaults.VAL_TAG, label="Validation tag")
        inputs.str(
            "test_tag",
            default=defaults.TEST_TAG,
            label="Test tag",
            description="Held out: no train sample (nor the source of an augmented copy) "
            "may carry it or the validation tag",
        )
        d = train_options_form(inputs, ctx)
        model_choice(
            inputs,
            ctx,
            models,
            "init_from",
            "Fine-tune from",
            "A model of this dataset to start from (same classes)",
            allow_none=True,
        )
        inputs.bool("include_augmented", default=False, label="Include augmented samples")
        inputs.str("augmented_tag", default=defaults.AUGMENTED_TAG, label="Augmented tag")
        inputs.bool("overwrite", default=False, label="Replace a model with this run key")
        key, overwrite = param(ctx, "run_key", new_key), param(ctx, "overwrite", False)
        check(key_prop, check_new_run_key, key, models, bool(overwrite))
        cap = check(
            inputs.get_property("max_epochs"),
            check_option,
            "max_epochs",
            param(ctx, "max_epochs", d.max_epochs),
        )
        for name in _TRAIN_OPTIONS[:-1]:  # device: its name only (GPUs: where it runs)
            value = param(ctx, name, getattr(d, name))
            check(inputs.get_property(name), check_option, name, value, cap or d.max_epochs)
        label = "ClassLab: train LeNet-5"
        if view is not None:
            sizes = check_train_data(ctx, inputs, view, models)
            if sizes:
                label += f" ({sizes[0]} train, {sizes[1]} val samples)"
                label_field = param(ctx, "label_field", defaults.GROUND_TRUTH)
                coverage_warning(ctx, inputs, sizes[0], label_field)
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label=label))

    def execute(self, ctx):
        from classlab.lenet.runs import train_lenet

        options = {k: ctx.params[k] for k in _TRAIN_OPTIONS if ctx.params.get(k) is not None}
        run_key = param(ctx, "run_key", defaults.MODEL_V1)
        rec = train_lenet(
            ctx.target_view(),
            run_key=run_key,
            label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
            train_tag=param(ctx, "train_tag", defaults.TRAIN_TAG),
            val_tag=param(ctx, "val_tag", defaults.VAL_TAG),
            test_tag=param(ctx, "test_tag", defaults.TEST_TAG),
            config=options,
            init_from=param(ctx, "init_from") or None,
            include_augmented=bool(param(ctx, "include_augmented", False)),
            augmented_tag=param(ctx, "augmented_tag", defaults.AUGMENTED_TAG),
            overwrite=bool(param(ctx, "overwrite", False)),
            progress=progress(ctx),
        )
        best = rec["history"][rec["best_epoch"] - 1]
        return {
            "run_key": run_key,
            "architecture": rec["architecture"],
            "parent": rec.get("parent"),
            "best_epoch": rec["best_epoch"],
            "val_acc": best["val_acc"],
            "val_loss": best["val_loss"],
            "epochs_run": len(rec["history"]),
            "train_seconds": rec["train_seconds"],
            "num_train": rec.get("num_train"),
            "num_val": rec.get("num_val"),
            "checkpoint": rec["checkpoint"],
            "num_params": rec["num_params"],
        }

    def resolve_output(self, ctx):
        return train_output(ctx)


class ApplyLenet(foo.Operator):
    @property
    def config(self):
        return config(
            "apply_lenet",
            "apply LeNet-5",
            "Predictions with logits (and embeddings) from a trained model",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        models = models_of(ctx)
        model_choice(inputs, ctx, models, "run_key", "Model")
        run_key = param(ctx, "run_key", min(models, default=None))
        out = apply_defaults(run_key, models)
        inputs.str(
            "label_field",
            default=out["label_field"],
            label="Prediction field",
            description="Default: the model's run key, so models never share a field",
        )
        inputs.str(
            "embeddings_field",
            default=out["embeddings_field"],
            label="Embeddings field (empty: none)",
            required=False,
        )
        inputs.int("batch_size", default=1024, label="Batch size")
        dropdown(inputs, "device", DEVICES, "auto", "Device")
        runtime_choice(inputs, ctx, models, run_key)
        inputs.bool("evaluate", default=True, label="Evaluate against ground truth")
        inputs.str("eval_key", default=out["eval_key"], label="Eval key")
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "gt_field", fields, defaults.GROUND_TRUTH, "Ground truth")
        inputs.bool(
            "overwrite", default=out["overwrite"], label="Replace existing fields / evaluation"
        )
        shards_form(inputs, ctx)
        n = 0
        if ctx.dataset is not None:
            view, n = target_view_checked(ctx, inputs)
            check_apply_form(ctx, inputs, view, models, out)
        errors_on_top(inputs)
        return types.Property(
            inputs, view=types.View(label=f"ClassLab: apply LeNet-5 ({n} samples)")
        )

    @sharded("apply_lenet")
    def execute(self, ctx):
        from classlab.lenet.apply import apply_lenet

        models = models_of(ctx)
        out = apply_defaults(param(ctx, "run_key"), models)
        view = ctx.target_view()
        gt = param(ctx, "gt_field", defaults.GROUND_TRUTH)
        res = apply_lenet(
            view,
            run_key=param(ctx, "run_key"),
            label_field=param(ctx, "label_field", out["label_field"]),
            embeddings_field=ctx.params.get("embeddings_field", out["embeddings_field"]) or "",
            batch_size=param(ctx, "batch_size", 1024),
            device=param(ctx, "device", "auto"),
            evaluate=bool(param(ctx, "evaluate", True)),
            eval_key=param(ctx, "eval_key", out["eval_key"]),
            gt_field=gt,
            overwrite=bool(param(ctx, "overwrite", out["overwrite"])),
            progress=progress(ctx),
            runtime=param(ctx, "runtime", defaults.RUNTIMES[0]),
        )
        show_view(ctx, mistakes(view, res["label_field"], gt) if "accuracy" in res else None)
        return res

    def resolve_output(self, ctx):
        return apply_output(ctx)


class EvaluatePredictions(foo.Operator):
    @property
    def config(self):
        return config(
            "evaluate_predictions",
            "evaluate predictions",
            "Evaluates a classification field against ground truth",
            delegated=True,
        )

    def resolve_input(self, ctx):
        from classlab.lenet.evaluate import check_eval_fields, check_eval_key, check_k

        inputs = types.Object()
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "pred_field", fields, defaults.LENET_FIELD, "Predictions")
        gt = label_field_choice(
            inputs, ctx, "gt_field", fields, defaults.GROUND_TRUTH, "Ground truth"
        )
        key = inputs.str("eval_key", default=defaults.EVAL_LENET, label="Eval key")
        k = inputs.int("k", default=1, label="Top-k (k > 1 needs logits)")
        check(k, check_k, param(ctx, "k", 1))
        if ctx.dataset is not None and fields:
            view, _ = target_view_checked(ctx, inputs)
            pred = param(ctx, "pred_field", defaults.LENET_FIELD)
            gt_field = param(ctx, "gt_field", defaults.GROUND_TRUTH)
            eval_key = param(ctx, "eval_key", defaults.EVAL_LENET)
            check(key, check_eval_key, ctx.dataset, eval_key, True, (pred, gt_field))
            check(gt, check_eval_fields, view, pred, gt_field)
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label="ClassLab: evaluate predictions"))

    def execute(self, ctx):
        from classlab.lenet.evaluate import evaluate_predictions

        view = ctx.target_view()
        pred = param(ctx, "pred_field", defaults.LENET_FIELD)
        gt = param(ctx, "gt_field", defaults.GROUND_TRUTH)
        res = evaluate_predictions(
            view,
            pred_field=pred,
            gt_field=gt,
            eval_key=param(ctx, "eval_key", defaults.EVAL_LENET),
            k=param(ctx, "k", 1),
        )
        show_view(ctx, mistakes(view, pred, gt))
        return res

    def resolve_output(self, ctx):
        return evaluate_output(ctx)


class ListModels(foo.Operator):
    @property
    def config(self):
        return config(
            "list_models", "list models", "The LeNet models kept on this dataset", delegated=False
        )

    def resolve_input(self, ctx):
        # a real (read-only) form: the App executes an operator whose form has nothing
        # to fill only through this form's Execute button (without one it hung)
        inputs = types.Object()
        keys = sorted(models_of(ctx))
        text = f"{len(keys)} model(s): {', '.join(keys)}" if keys else "No model yet"
        inputs.view(
            "models",
            types.Notice(label=text, description="Execute to see the table of models"),
        )
        return types.Property(inputs, view=types.View(label="ClassLab: list models"))

    def execute(self, ctx):
        from classlab.lenet.registry import list_models, model_summary

        records = list_models(ctx.dataset)
        rows = {key: model_summary(r) for key, r in records.items()}
        full = {k: {**rows[k], "num_train": records[k].get("num_train")} for k in rows}
        return {"models": rows, "count": len(rows), "table": model_rows(full)}

    def resolve_output(self, ctx):
        return models_output(ctx)


class RenameModel(foo.Operator):
    @property
    def config(self):
        return config("rename_model", "rename a model", delegated=False)

    def resolve_input(self, ctx):
        from classlab.lenet.registry import check_new_run_key

        inputs = types.Object()
        models = models_of(ctx)
        model_choice(inputs, ctx, models, "run_key", "Model")
        prop = inputs.str("new_key", label="New run key", required=True)
        if param(ctx, "new_key"):
            check(prop, check_new_run_key, param(ctx, "new_key"), models, False, "new_key")
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label="ClassLab: rename a model"))

    def execute(self, ctx):
        from classlab.lenet.registry import rename_model

        rename_model(ctx.dataset, param(ctx, "run_key"), param(ctx, "new_key"))
        return {"run_key": param(ctx, "new_key")}

    def resolve_output(self, ctx):
        return rename_output(ctx)


class DeleteModel(foo.Operator):
    @property
    def config(self):
        return config("delete_model", "delete a model", delegated=False)

    def resolve_input(self, ctx):
        inputs = types.Object()
        model_choice(inputs, ctx, models_of(ctx), "run_key", "Model")
        inputs.bool("delete_checkpoint", default=False, label="Also delete the checkpoint file")
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label="ClassLab: delete a model"))

    def execute(self, ctx):
        from pathlib import Path

        from classlab.lenet.registry import delete_model

        wanted = bool(param(ctx, "delete_checkpoint", False))
        rec = delete_model(ctx.dataset, param(ctx, "run_key"), wanted)
        ckpt = rec.get("checkpoint")
        return {
            "deleted": param(ctx, "run_key"),
            "checkpoint": ckpt,
            # False when another record (a clone's) still uses the file: it is kept
            "checkpoint_deleted": wanted and bool(ckpt) and not Path(ckpt).exists(),
        }

    def resolve_output(self, ctx):
        return delete_output(ctx)


def mistakes(view, pred_field: str, gt_field: str):
    """The samples of ``view`` whose prediction differs from the ground truth."""
    from fiftyone import ViewField as F

    return view.match(F(gt_field).exists() & (F(f"{pred_field}.label") != F(f"{gt_field}.label")))
