"""Operators for every architecture: ``train_model`` (LeNet-5 or a torchvision backbone,
from scratch or from a local weights file) and ``export_model`` (ONNX, verified with
onnxruntime). Both wrap one core call; the forms check through the core's own rules.
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
    result_view,
    results,
)
from .lenet_forms import DEVICES, check_train_data, model_choice, models_of, training_target

# TrainConfig fields the train_model form exposes (the rest keep their defaults)
_OPTIONS = ("epochs", "batch_size", "lr", "input_size", "seed", "patience", "device")


def _train_form(inputs, ctx, models):
    """The properties of train_model's form, each checked by the core's rule."""
    from classlab.lenet.config import TrainConfig, check_option
    from classlab.lenet.models import ARCHITECTURES
    from classlab.lenet.registry import check_new_run_key
    from classlab.validation import next_free_name

    d = TrainConfig()
    arch = param(ctx, "architecture", defaults.MODEL_ARCHITECTURE)
    prop = dropdown(
        inputs, "architecture", ARCHITECTURES, defaults.MODEL_ARCHITECTURE, "Architecture"
    )
    check(prop, check_option, "architecture", arch)
    key = next_free_name(set(models), f"{arch}_v1" if isinstance(arch, str) else "model_v1")
    key_prop = inputs.str("run_key", default=key, label="Run key")
    overwrite = bool(param(ctx, "overwrite", False))
    check(key_prop, check_new_run_key, param(ctx, "run_key", key), models, overwrite)
    weights = inputs.str(
        "weights",
        default="",
        label="Weights file (empty: from scratch)",
        description="A local torchvision state_dict of this architecture (never downloaded)",
        required=False,
    )
    if param(ctx, "weights"):
        check(weights, check_option, "weights", param(ctx, "weights"))
    inputs.bool("freeze_backbone", default=False, label="Freeze the backbone (train the head)")
    fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
    label_field_choice(inputs, ctx, "label_field", fields, defaults.GROUND_TRUTH, "Labels")
    inputs.str("train_tag", default=defaults.TRAIN_TAG, label="Train tag")
    inputs.str("val_tag", default=defaults.VAL_TAG, label="Validation tag")
    inputs.str("test_tag", default=defaults.TEST_TAG, label="Test tag (held out)")
    for name in _OPTIONS:
        if name == "device":
            prop = dropdown(inputs, name, DEVICES, "auto", "Device")
        else:
            kind = inputs.float if name == "lr" else inputs.int
            prop = kind(name, default=getattr(d, name), label=name.replace("_", " ").capitalize())
        check(prop, check_option, name, param(ctx, name, getattr(d, name)))
    model_choice(inputs, ctx, models, "init_from", "Fine-tune from", allow_none=True)
    inputs.bool("overwrite", default=False, label="Replace a model with this run key")


class TrainModel(foo.Operator):
    @property
    def config(self):
        return config(
            "train_model",
            "train a model",
            "Trains LeNet-5 or a torchvision backbone (ResNet, MobileNet, EfficientNet) on "
            "the train tag, validates on val, keeps the model",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        models = models_of(ctx)
        view = training_target(ctx, inputs, "Train") if ctx.dataset is not None else None
        _train_form(inputs, ctx, models)
        label = "ClassLab: train a model"
        if view is not None:
            sizes = check_train_data(ctx, inputs, view, models)
            if sizes:
                label += f" ({sizes[0]} train, {sizes[1]} val samples)"
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label=label))

    def execute(self, ctx):
        from classlab.lenet.backbone_runs import train_model

        options = {k: ctx.params[k] for k in _OPTIONS if ctx.params.get(k) is not None}
        run_key = param(ctx, "run_key", defaults.MODEL_RUN_KEY)
        rec = train_model(
            ctx.target_view(),
            run_key=run_key,
            architecture=param(ctx, "architecture", defaults.MODEL_ARCHITECTURE),
            weights=param(ctx, "weights") or None,
            freeze_backbone=bool(param(ctx, "freeze_backbone", False)),
            label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
            train_tag=param(ctx, "train_tag", defaults.TRAIN_TAG),
            val_tag=param(ctx, "val_tag", defaults.VAL_TAG),
            test_tag=param(ctx, "test_tag", defaults.TEST_TAG),
            config=options,
            init_from=param(ctx, "init_from") or None,
            overwrite=bool(param(ctx, "overwrite", False)),
            progress=progress(ctx),
        )
        best = rec["history"][rec["best_epoch"] - 1]
        return {
            "run_key": run_key,
            "architecture": rec["architecture"],
            "best_epoch": rec["best_epoch"],
            "val_acc": best["val_acc"],
            "epochs_run": len(rec["history"]),
            "num_params": rec["num_params"],
            "trainable_params": rec["trainable_params"],
            "train_seconds": rec["train_seconds"],
            "latency_ms": rec["latency_ms"],
            "checkpoint": rec["checkpoint"],
        }

    def resolve_output(self, ctx):
        r = results(ctx)
        summary = ""
        if r:
            summary = (
                f"Trained **{r['run_key']}** ({r['architecture']}, {r['num_params']:,} "
                f"parameters): validation accuracy **{r['val_acc']:.4f}** in "
                f"{r['train_seconds']:.1f} s. Next: apply it (ClassLab: apply LeNet-5)."
            )
        fields = (
            ("run_key", "Run key", "str"),
            ("val_acc", "Validation accuracy", "float"),
            ("num_params", "Parameters", "int"),
            ("train_seconds", "Training time (s)", "float"),
            ("latency_ms", "CPU latency (ms per image)", "obj"),
        )
        return result_view("Model trained", summary, fields)


class ExportModel(foo.Operator):
    @property
    def config(self):
        return config(
            "export_model",
            "export a model to ONNX",
            "Writes a recorded model as ONNX, verified with onnxruntime on 256 samples",
        )

    def resolve_input(self, ctx):
        from classlab.lenet.export import check_export_args, check_num_samples, check_opset

        inputs = types.Object()
        models = models_of(ctx)
        model_choice(inputs, ctx, models, "run_key", "Model")
        opset = inputs.int("opset", default=defaults.ONNX_OPSET, label="ONNX opset")
        check(opset, check_opset, param(ctx, "opset", defaults.ONNX_OPSET))
        n = inputs.int(
            "num_samples", default=defaults.ONNX_VERIFY_SAMPLES, label="Samples to verify on"
        )
        check(n, check_num_samples, param(ctx, "num_samples", defaults.ONNX_VERIFY_SAMPLES))
        inputs.bool("overwrite", default=False, label="Export again")
        key = param(ctx, "run_key")
        if key in models:
            over = bool(param(ctx, "overwrite", False))
            check(
                inputs.get_property("overwrite"),
                check_export_args,
                ctx.dataset,
                key,
                defaults.ONNX_OPSET,
                over,
                models,
            )
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label="ClassLab: export a model to ONNX"))

    def execute(self, ctx):
        from classlab.lenet.export import export_model

        return export_model(
            ctx.dataset,
            run_key=param(ctx, "run_key"),
            opset=param(ctx, "opset", defaults.ONNX_OPSET),
            num_samples=param(ctx, "num_samples", defaults.ONNX_VERIFY_SAMPLES),
            overwrite=bool(param(ctx, "overwrite", False)),
            progress=progress(ctx),
        )

    def resolve_output(self, ctx):
        r = results(ctx)
        summary = ""
        if r:
            lat = r["latency_ms"]
            speed = lat["torch"]["1"] / max(lat["onnx"]["1"], 1e-9)
            summary = (
                f"Exported **{r['run_key']}** to `{r['onnx_path']}` (opset {r['opset']}): "
                f"max logit difference {r['max_abs_diff']:.2g} on {r['num_verified']} "
                f"samples; onnxruntime is {speed:.2f}x torch at batch 1 on the CPU."
            )
        fields = (
            ("onnx_path", "ONNX file (download)", "str"),
            ("max_abs_diff", "Max logit difference", "float"),
            ("latency_ms", "CPU latency (ms per image)", "obj"),
        )
        return result_view("Model exported", summary, fields)
