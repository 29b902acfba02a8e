"""CLIP operators: image embeddings (+ map, similarity index) and zero-shot labels."""

from __future__ import annotations

import json

import fiftyone.operators as foo
from classlab import defaults
from classlab.clip.templates import DEFAULT_TEMPLATE_SET, TEMPLATE_SETS
from classlab.errors import InputError
from classlab.validation import classification_fields
from fiftyone.operators import types

from .common import config, dropdown, invalid, label_field_choice, param, progress, target_count

MODEL_DEFAULTS = {"model_name": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"}


def _model_inputs(inputs, ctx):
    inputs.str(
        "model_name",
        default=MODEL_DEFAULTS["model_name"],
        label="CLIP model",
        description="An open_clip architecture (open_clip.list_models()) or 'hf-hub:org/repo'",
    )
    inputs.str(
        "pretrained",
        default=MODEL_DEFAULTS["pretrained"],
        label="Pretrained weights",
        description="A tag of open_clip.list_pretrained() for this model, or the path of a "
        "local checkpoint file",
    )
    inputs.bool(
        "random_weights",
        default=False,
        label="Random weights (tests only)",
        description="Use an untrained model: no download, meaningless predictions",
    )
    dropdown(inputs, "device", ["auto", "cpu", "cuda"], "auto", "Device")
    dropdown(
        inputs,
        "precision",
        ["fp32", "fp16", "bf16"],
        "fp32",
        "Precision",
        "fp16/bf16 use autocast; fp16 needs a GPU",
    )
    inputs.int("batch_size", default=64, label="Batch size")
    inputs.int("num_workers", default=2, label="Loader workers")
    dropdown(
        inputs,
        "on_error",
        ["skip", "raise"],
        "skip",
        "Unreadable images",
        "skip: leave them out and report them; raise: stop with an error",
    )
    for name in ("batch_size", "num_workers"):
        value = param(ctx, name, 1)
        if not isinstance(value, int) or value < (1 if name == "batch_size" else 0):
            invalid(
                inputs.get_property(name),
                f"{name} must be a whole number >= {1 if name == 'batch_size' else 0}",
            )
    if not param(ctx, "random_weights", False) and not param(ctx, "pretrained", "x"):
        invalid(
            inputs.get_property("pretrained"),
            "Give a tag or a checkpoint path, or tick Random weights",
        )


def _model_params(ctx) -> dict:
    return {
        "model_name": param(ctx, "model_name", MODEL_DEFAULTS["model_name"]),
        "pretrained": param(ctx, "pretrained", MODEL_DEFAULTS["pretrained"]) or None,
        "random_weights": bool(param(ctx, "random_weights", False)),
        "device": param(ctx, "device", "auto"),
        "precision": param(ctx, "precision", "fp32"),
        "batch_size": int(param(ctx, "batch_size", 64)),
        "num_workers": int(param(ctx, "num_workers", 2)),
        "on_error": param(ctx, "on_error", "skip"),
    }


def _empty_notice(inputs, n):
    if n == 0:
        invalid(
            inputs.view("empty", types.Notice(label="The view is empty")), "The view has no samples"
        )


class ComputeClipEmbeddings(foo.Operator):
    @property
    def config(self):
        return config(
            "compute_clip_embeddings",
            "compute CLIP embeddings",
            "Embeds the images with an open_clip model; optional 2-D map and similarity index",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        n = target_count(ctx)
        _model_inputs(inputs, ctx)
        inputs.str("embeddings_field", default=defaults.CLIP_EMBEDDINGS, label="Embeddings field")
        inputs.bool("skip_existing", default=True, label="Skip samples that have embeddings")
        inputs.bool("overwrite", default=False, label="Replace embeddings of another model")
        inputs.bool("compute_viz", default=False, label="Compute a 2-D map")
        if param(ctx, "compute_viz", False):
            dropdown(inputs, "viz_method", ["umap", "tsne", "pca"], "umap", "Map method")
            inputs.str("viz_key", default=defaults.CLIP_VIZ_KEY, label="Map brain key")
        inputs.bool("compute_similarity", default=False, label="Build a similarity index")
        if param(ctx, "compute_similarity", False):
            inputs.str("sim_key", default=defaults.CLIP_SIM_KEY, label="Similarity brain key")
        _empty_notice(inputs, n)
        return types.Property(inputs, view=types.View(label=f"ClassLab: embed {n} images"))

    def execute(self, ctx):
        from classlab.clip import ModelCache, compute_clip_embeddings

        result = compute_clip_embeddings(
            ctx.target_view(),
            embeddings_field=param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS),
            skip_existing=bool(param(ctx, "skip_existing", True)),
            overwrite=bool(param(ctx, "overwrite", False)),
            compute_viz=bool(param(ctx, "compute_viz", False)),
            viz_method=param(ctx, "viz_method", "umap"),
            viz_key=param(ctx, "viz_key", defaults.CLIP_VIZ_KEY),
            compute_similarity=bool(param(ctx, "compute_similarity", False)),
            sim_key=param(ctx, "sim_key", defaults.CLIP_SIM_KEY),
            cache=ModelCache(),
            progress=progress(ctx),
            **_model_params(ctx),
        )
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.int("num_embedded", label="Embedded")
        outputs.int("num_skipped_existing", label="Skipped (had embeddings)")
        outputs.int("num_failed", label="Unreadable images")
        outputs.float("images_per_second", label="Images per second")
        return types.Property(outputs, view=types.View(label="CLIP embeddings"))


def parse_prompt_names(value) -> dict | None:
    """A ``{class: prompt name}`` mapping from a dict, JSON, or ``class: name`` lines."""
    if not value:
        return None
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    text = str(value).strip()
    if text.startswith("{"):
        try:
            return {str(k): str(v) for k, v in json.loads(text).items()}
        except (ValueError, AttributeError):
            raise InputError(f"prompt_names is not a JSON object: {text[:80]!r}") from None
    out = {}
    for item in text.replace(";", "\n").splitlines():
        if item.strip():
            if ":" not in item:
                raise InputError(f"prompt_names entry {item!r} is not 'class: name'")
            key, name = item.rsplit(":", 1)
            out[key.strip()] = name.strip()
    return out


def _as_list(value) -> list[str] | None:
    if not value:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]
    return [str(v) for v in value]


class ZeroShotClassify(foo.Operator):
    @property
    def config(self):
        return config(
            "zero_shot_classify",
            "CLIP zero-shot classify",
            "Labels images by CLIP zero-shot with prompt-template ensembles",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        n = target_count(ctx)
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        _model_inputs(inputs, ctx)
        inputs.str("label_field", default=defaults.CLIP_ZERO_SHOT, label="Prediction field")
        if fields:
            label_field_choice(
                inputs,
                ctx,
                "gt_field",
                fields,
                defaults.GROUND_TRUTH,
                "Ground truth",
                "Classes default to its distinct labels",
            )
        else:  # unlabelled data: give the classes and untick Evaluate
            inputs.str(
                "gt_field",
                default=defaults.GROUND_TRUTH,
                label="Ground truth",
                description="No Classification field here: list the classes below",
            )
        if not isinstance(ctx.params.get("classes"), str):
            inputs.list(
                "classes",
                types.String(),
                label="Classes",
                description="Empty: the distinct labels of the ground truth",
            )
        dropdown(
            inputs,
            "prompt_style",
            ["first", "last", "both", "label"],
            "first",
            "Prompt names",
            "From '0 - zero': first '0', last 'zero', both '0 (zero)', label unchanged",
        )
        if not isinstance(ctx.params.get("prompt_names"), dict):
            inputs.str(
                "prompt_names",
                label="Prompt name overrides",
                description="'class: name' per line (or JSON), e.g. '0 - zero: zero'",
            )
        dropdown(
            inputs,
            "template_set",
            list(TEMPLATE_SETS),
            DEFAULT_TEMPLATE_SET,
            "Template set",
            " | ".join(f"{k}: {v[0]}" for k, v in TEMPLATE_SETS.items()),
        )
        if not isinstance(ctx.params.get("templates"), str):
            inputs.list(
                "templates",
                types.String(),
                label="Own templates",
                description="Each with one {} slot; replaces the set when given",
            )
        inputs.str(
            "embeddings_field",
            default=defaults.CLIP_EMBEDDINGS,
            label="Reuse embeddings field",
            description="Used when made by the same model; empty: always encode the images",
        )
        inputs.bool("evaluate", default=True, label="Evaluate against ground truth")
        inputs.str("eval_key", default=defaults.EVAL_CLIP, label="Eval key")
        templates = _as_list(ctx.params.get("templates")) or []
        bad = [t for t in templates if t.count("{}") != 1]
        if bad:
            invalid(
                inputs.get_property("templates") or inputs.get_property("template_set"),
                f"Each template needs exactly one {{}} slot: {bad[0]!r}",
            )
        classes = _as_list(ctx.params.get("classes")) or []
        if classes and (len(set(classes)) != len(classes) or len(classes) < 2):
            invalid(
                inputs.get_property("classes") or inputs.get_property("gt_field"),
                "Give at least two distinct classes",
            )
        _empty_notice(inputs, n)
        return types.Property(inputs, view=types.View(label=f"ClassLab: zero-shot {n} images"))

    def execute(self, ctx):
        from classlab.clip import ModelCache, zero_shot_classify

        result = zero_shot_classify(
            ctx.target_view(),
            label_field=param(ctx, "label_field", defaults.CLIP_ZERO_SHOT),
            gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
            classes=_as_list(ctx.params.get("classes")),
            prompt_names=parse_prompt_names(ctx.params.get("prompt_names")),
            prompt_style=param(ctx, "prompt_style", "first"),
            template_set=param(ctx, "template_set", DEFAULT_TEMPLATE_SET),
            templates=_as_list(ctx.params.get("templates")),
            embeddings_field=param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS) or None,
            evaluate=bool(param(ctx, "evaluate", True)),
            eval_key=param(ctx, "eval_key", defaults.EVAL_CLIP),
            cache=ModelCache(),
            progress=progress(ctx),
            **_model_params(ctx),
        )
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.int("num_predicted", label="Labelled")
        outputs.int("num_reused_embeddings", label="Reused stored embeddings")
        outputs.int("num_failed", label="Unreadable images")
        outputs.float("accuracy", label="Accuracy (vs ground truth)")
        return types.Property(outputs, view=types.View(label="CLIP zero-shot"))
