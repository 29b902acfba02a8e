"""LeNet-5 operators: train, apply, evaluate, and the model registry (list/rename/delete)."""

from __future__ import annotations

import fiftyone.operators as foo
from classlab import defaults
from classlab.validation import classification_fields
from fiftyone.operators import types

from .common import config, dropdown, invalid, label_field_choice, param, progress, target_count

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
)


def _model_keys(ctx) -> list[str]:
    if ctx.dataset is None:
        return []
    from classlab.lenet.registry import list_models

    return sorted(list_models(ctx.dataset))


def _model_choice(inputs, ctx, name, label, description="", allow_none=False):
    keys = _model_keys(ctx)
    values = ([""] if allow_none else []) + keys
    prop = dropdown(inputs, name, values, values[0] if values else None, label, description)
    given = param(ctx, name, "")
    if given and given not in keys:
        invalid(prop, f"No model {given!r} on this dataset")
    if not keys and not allow_none:
        invalid(prop, "No model on this dataset yet: run train_lenet first")
    return prop


class TrainLenet(foo.Operator):
    @property
    def config(self):
        return config(
            "train_lenet",
            "train LeNet-5",
            "Trains LeNet-5 on the train tag, validates on val, keeps the model",
        )

    def resolve_input(self, ctx):
        from classlab.lenet.config import OPTIMIZERS, SCHEDULES, TrainConfig
        from classlab.lenet.models import ARCHITECTURES

        d = TrainConfig()
        inputs = types.Object()
        inputs.str("run_key", default="lenet_v1", label="Run key", required=False)
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "label_field", fields, defaults.GROUND_TRUTH, "Labels")
        inputs.str("train_tag", default=defaults.TRAIN_TAG, label="Train tag")
        inputs.str("val_tag", default=defaults.VAL_TAG, label="Validation tag")
        dropdown(inputs, "architecture", ARCHITECTURES, d.architecture, "Architecture")
        inputs.int("epochs", default=d.epochs, label="Epochs")
        inputs.int("batch_size", default=d.batch_size, label="Batch size")
        dropdown(inputs, "optimizer", OPTIMIZERS, d.optimizer, "Optimizer")
        inputs.float("lr", default=d.lr, label="Learning rate (peak)")
        dropdown(inputs, "schedule", SCHEDULES, d.schedule, "LR schedule")
        inputs.float("weight_decay", default=d.weight_decay, label="Weight decay")
        inputs.float("label_smoothing", default=d.label_smoothing, label="Label smoothing")
        inputs.int("seed", default=d.seed, label="Seed")
        inputs.int("patience", default=d.patience, label="Early-stopping patience (0: off)")
        dropdown(inputs, "device", ["auto", "cpu", "cuda"], "auto", "Device")
        inputs.bool("amp", default=d.amp, label="Mixed precision on CUDA")
        _model_choice(
            inputs,
            ctx,
            "init_from",
            "Fine-tune from",
            "A model of this dataset to start from (same classes)",
            allow_none=True,
        )
        inputs.bool("include_augmented", default=False, label="Include augmented samples")
        inputs.str("augmented_tag", default=defaults.AUGMENTED_TAG, label="Augmented tag")
        inputs.bool("overwrite", default=False, label="Replace a model with this run key")
        key = param(ctx, "run_key", "lenet_v1")
        if key in _model_keys(ctx) and not param(ctx, "overwrite", False):
            invalid(inputs.get_property("run_key"), f"Model {key!r} exists: rename or overwrite")
        for name in ("epochs", "batch_size"):
            if int(param(ctx, name, 1)) < 1:
                invalid(inputs.get_property(name), "Must be a positive number")
        n = target_count(ctx)
        return types.Property(
            inputs, view=types.View(label=f"ClassLab: train LeNet-5 ({n} samples)")
        )

    def execute(self, ctx):
        from classlab.lenet.runs import train_lenet

        options = {k: ctx.params[k] for k in _TRAIN_OPTIONS if ctx.params.get(k) is not None}
        rec = train_lenet(
            ctx.target_view(),
            run_key=param(ctx, "run_key", "lenet_v1"),
            label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
            train_tag=param(ctx, "train_tag", defaults.TRAIN_TAG),
            val_tag=param(ctx, "val_tag", defaults.VAL_TAG),
            config=options,
            init_from=param(ctx, "init_from") or None,
            include_augmented=bool(param(ctx, "include_augmented", False)),
            augmented_tag=param(ctx, "augmented_tag", defaults.AUGMENTED_TAG),
            overwrite=bool(param(ctx, "overwrite", False)),
            progress=progress(ctx),
        )
        best = rec["history"][rec["best_epoch"] - 1]
        return {
            "run_key": param(ctx, "run_key", "lenet_v1"),
            "best_epoch": rec["best_epoch"],
            "val_acc": best["val_acc"],
            "val_loss": best["val_loss"],
            "epochs_run": len(rec["history"]),
            "train_seconds": rec["train_seconds"],
            "checkpoint": rec["checkpoint"],
            "num_params": rec["num_params"],
        }


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
        _model_choice(inputs, ctx, "run_key", "Model")
        inputs.str("label_field", default=defaults.LENET_FIELD, label="Prediction field")
        inputs.str(
            "embeddings_field",
            default=defaults.LENET_EMBEDDINGS,
            label="Embeddings field (empty: none)",
            required=False,
        )
        inputs.int("batch_size", default=1024, label="Batch size")
        dropdown(inputs, "device", ["auto", "cpu", "cuda"], "auto", "Device")
        inputs.bool("evaluate", default=True, label="Evaluate against ground truth")
        inputs.str("eval_key", default=defaults.EVAL_LENET, label="Eval key")
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "gt_field", fields, defaults.GROUND_TRUTH, "Ground truth")
        inputs.bool("overwrite", default=False, label="Replace existing fields / evaluation")
        n = target_count(ctx)
        return types.Property(
            inputs, view=types.View(label=f"ClassLab: apply LeNet-5 ({n} samples)")
        )

    def execute(self, ctx):
        from classlab.lenet.apply import apply_lenet

        out = apply_lenet(
            ctx.target_view(),
            run_key=param(ctx, "run_key"),
            label_field=param(ctx, "label_field", defaults.LENET_FIELD),
            embeddings_field=ctx.params.get("embeddings_field", defaults.LENET_EMBEDDINGS) or "",
            batch_size=int(param(ctx, "batch_size", 1024)),
            device=param(ctx, "device", "auto"),
            evaluate=bool(param(ctx, "evaluate", True)),
            eval_key=param(ctx, "eval_key", defaults.EVAL_LENET),
            gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
            overwrite=bool(param(ctx, "overwrite", False)),
            progress=progress(ctx),
        )
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return out


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
        inputs = types.Object()
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "pred_field", fields, defaults.LENET_FIELD, "Predictions")
        label_field_choice(inputs, ctx, "gt_field", fields, defaults.GROUND_TRUTH, "Ground truth")
        inputs.str("eval_key", default=defaults.EVAL_LENET, label="Eval key")
        inputs.int("k", default=1, label="Top-k (k > 1 needs logits)")
        if param(ctx, "pred_field") and param(ctx, "pred_field") == param(ctx, "gt_field"):
            invalid(inputs.get_property("gt_field"), "Pick two different fields")
        return types.Property(inputs, view=types.View(label="ClassLab: evaluate predictions"))

    def execute(self, ctx):
        from classlab.lenet.evaluate import evaluate_predictions

        out = evaluate_predictions(
            ctx.target_view(),
            pred_field=param(ctx, "pred_field", defaults.LENET_FIELD),
            gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
            eval_key=param(ctx, "eval_key", defaults.EVAL_LENET),
            k=int(param(ctx, "k", 1)),
        )
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return out


class ListModels(foo.Operator):
    @property
    def config(self):
        return config(
            "list_models", "list models", "The LeNet models kept on this dataset", delegated=False
        )

    def execute(self, ctx):
        from classlab.lenet.registry import list_models

        models = list_models(ctx.dataset)
        rows = {}
        for key, r in models.items():
            best = r["history"][r["best_epoch"] - 1] if r.get("history") else {}
            rows[key] = {
                "architecture": r["architecture"],
                "val_acc": best.get("val_acc"),
                "best_epoch": r["best_epoch"],
                "parent": r.get("parent"),
                "num_params": r["num_params"],
                "applied_to": r.get("applied_to", []),
                "created_at": r.get("created_at"),
                "checkpoint": r["checkpoint"],
            }
        return {"models": rows, "count": len(rows)}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.int("count", label="Models")
        outputs.obj("models", label="Models (run key -> summary)", view=types.JSONView())
        return types.Property(outputs, view=types.View(label="LeNet models"))


class RenameModel(foo.Operator):
    @property
    def config(self):
        return config("rename_model", "rename a model", delegated=False)

    def resolve_input(self, ctx):
        inputs = types.Object()
        _model_choice(inputs, ctx, "run_key", "Model")
        prop = inputs.str("new_key", label="New run key", required=True)
        if param(ctx, "new_key") in _model_keys(ctx):
            invalid(prop, "A model with that key exists")
        return types.Property(inputs, view=types.View(label="ClassLab: rename a model"))

    def execute(self, ctx):
        from classlab.lenet.registry import rename_model

        rename_model(ctx.dataset, param(ctx, "run_key"), param(ctx, "new_key"))
        return {"run_key": param(ctx, "new_key")}


class DeleteModel(foo.Operator):
    @property
    def config(self):
        return config("delete_model", "delete a model", delegated=False)

    def resolve_input(self, ctx):
        inputs = types.Object()
        _model_choice(inputs, ctx, "run_key", "Model")
        inputs.bool("delete_checkpoint", default=False, label="Also delete the checkpoint file")
        return types.Property(inputs, view=types.View(label="ClassLab: delete a model"))

    def execute(self, ctx):
        from classlab.lenet.registry import delete_model

        rec = delete_model(
            ctx.dataset, param(ctx, "run_key"), bool(param(ctx, "delete_checkpoint", False))
        )
        return {
            "deleted": param(ctx, "run_key"),
            "checkpoint": rec.get("checkpoint"),
            "checkpoint_deleted": bool(param(ctx, "delete_checkpoint", False)),
        }
