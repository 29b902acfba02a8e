"""CLIP operators: image embeddings (+ map, similarity index) and zero-shot labels.

Forms are small module-level builders that validate through the core's own
checks (:func:`operators.common.check`): no model is loaded and the view is only
counted. ``execute`` builds a ``ClipSpec`` and ``LoaderOptions`` from the params
and makes one core call.
"""

from __future__ import annotations

import fiftyone.operators as foo
from classlab import config, defaults
from classlab.clip import ClipSpec, LoaderOptions, MapOptions, ModelCache, check_model_name
from classlab.clip import compute_clip_embeddings as core_compute_clip_embeddings
from classlab.clip import zero_shot_classify as core_zero_shot_classify
from classlab.clip.embeddings import (
    VIZ_METHODS,
    check_embeddings_field,
    check_sim_options,
    check_viz_method,
    check_viz_options,
)
from classlab.clip.models import PRECISIONS
from classlab.clip.options import ON_ERROR
from classlab.clip.prompts import DEFAULT_PROMPT_STYLE
from classlab.clip.templates import DEFAULT_TEMPLATE_SET
from classlab.clip.weights import require_clip_weights, weights_help
from classlab.clip.zero_shot import check_evaluation, check_label_field
from classlab.validation import require_field_name, require_nonempty
from fiftyone.operators import types

from .clip_forms import _as_list, classes_form, prompts_form
from .common import (
    check,
    dropdown,
    errors_on_top,
    param,
    progress,
    show_view,
    target_count,
)
from .common import config as op_config
from .results import embeddings_output, zero_shot_output
from .shards import sharded, shards_form

# ---------------------------------------------------------------- params -> core objects


def spec_from_params(ctx) -> ClipSpec:
    """The (unchecked) ClipSpec the params ask for; defaults from ``classlab.defaults``."""
    return ClipSpec(
        model_name=param(ctx, "model_name", defaults.CLIP_MODEL),
        pretrained=param(ctx, "pretrained", defaults.CLIP_PRETRAINED) or None,
        random_weights=bool(param(ctx, "random_weights", False)),
        precision=param(ctx, "precision", ClipSpec.precision),
    )


def options_from_params(ctx) -> LoaderOptions:
    """The LoaderOptions the params ask for (raises InputError naming a bad one)."""
    return LoaderOptions(**{k: param(ctx, k, getattr(LoaderOptions, k)) for k in _LOADER_FIELDS})


_LOADER_FIELDS = ("batch_size", "num_workers", "device", "on_error")


# ---------------------------------------------------------------- form builders


def model_form(inputs, ctx) -> ClipSpec | None:
    """Model, weights and precision; returns the checked spec, or None when invalid.

    Weights must be usable now (a local file, or cached, or downloadable: the
    cheap ``clip_weights_problem`` check, no download) unless random weights
    are chosen.
    """
    model_prop = inputs.str(
        "model_name",
        default=defaults.CLIP_MODEL,
        label="CLIP model",
        description="An open_clip architecture (open_clip.list_models()) or 'hf-hub:org/repo'",
    )
    weights_prop = inputs.str(
        "pretrained",
        default=defaults.CLIP_PRETRAINED,
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
    dropdown(
        inputs,
        "precision",
        PRECISIONS,
        ClipSpec.precision,
        "Precision",
        "fp16/bf16 use autocast; fp16 needs a GPU",
    )
    wanted = spec_from_params(ctx)
    if check(model_prop, check_model_name, wanted.model_name, wanted.random_weights) is None:
        return None
    spec = check(weights_prop, wanted.checked)
    if spec is not None and not spec.random_weights:
        if check(weights_prop, require_clip_weights, spec.model_name, spec.pretrained) is None:
            if weights_prop.invalid:  # why is on the field; how to fix it, beside it
                help_ = weights_help(spec.model_name, spec.pretrained)
                inputs.view("weights_help", types.Notice(label=help_))
    if spec is not None and spec.random_weights:
        inputs.view(
            "random_weights_warning",
            types.Warning(
                label="Random weights: an untrained model",
                description="Its labels, embeddings and accuracy are meaningless (for tests "
                "only). Give pretrained weights for real results.",
            ),
        )
    return None if weights_prop.invalid else spec


def loader_form(inputs, ctx) -> None:
    """Device, batch size, workers, unreadable images: each checked by LoaderOptions.

    Whether a CUDA device exists is left to the run: a delegated run may go to
    a worker that has the GPU this App server lacks.
    """
    dropdown(inputs, "device", config.DEVICES, LoaderOptions.device, "Device")
    inputs.int("batch_size", default=LoaderOptions.batch_size, label="Batch size")
    inputs.int("num_workers", default=LoaderOptions.num_workers, label="Loader workers")
    dropdown(
        inputs,
        "on_error",
        ON_ERROR,
        LoaderOptions.on_error,
        "Unreadable images",
        "skip: leave them out and report them; raise: stop with an error",
    )
    for name in _LOADER_FIELDS:
        value = param(ctx, name, getattr(LoaderOptions, name))
        check(inputs.get_property(name), LoaderOptions, **{name: value})


def embeddings_field_form(inputs, ctx, spec: ClipSpec | None) -> None:
    """The embeddings field (free, or holding this model's embeddings, or overwrite)."""
    field = param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS)
    prop = inputs.str(
        "embeddings_field", default=defaults.CLIP_EMBEDDINGS, label="Embeddings field"
    )
    inputs.bool("skip_existing", default=True, label="Skip samples that have embeddings")
    inputs.bool("overwrite", default=False, label="Replace embeddings of another model")
    if spec is None or ctx.dataset is None:
        check(prop, require_field_name, field, "embeddings field")
    else:
        overwrite = bool(param(ctx, "overwrite", False))
        check(prop, check_embeddings_field, ctx.dataset, field, spec, overwrite)


def maps_form(inputs, ctx, n: int) -> None:
    """The optional 2-D map and similarity index, with their brain keys."""
    inputs.bool("compute_viz", default=False, label="Compute a 2-D map")
    viz_key = None
    if param(ctx, "compute_viz", False):
        method_prop = dropdown(
            inputs, "viz_method", list(VIZ_METHODS), MapOptions.viz_method, "Map method"
        )
        prop = inputs.str("viz_key", default=defaults.CLIP_VIZ_KEY, label="Map brain key")
        viz_key = param(ctx, "viz_key", defaults.CLIP_VIZ_KEY)
        method = param(ctx, "viz_method", MapOptions.viz_method)
        method_ok = check(method_prop, check_viz_method, method) is not None
        if ctx.dataset is not None and method_ok:
            check(prop, check_viz_options, ctx.dataset, method, viz_key, n)
    inputs.bool("compute_similarity", default=False, label="Build a similarity index")
    if param(ctx, "compute_similarity", False):
        prop = inputs.str("sim_key", default=defaults.CLIP_SIM_KEY, label="Similarity brain key")
        sim_key = param(ctx, "sim_key", defaults.CLIP_SIM_KEY)
        if ctx.dataset is not None:
            check(prop, check_sim_options, ctx.dataset, sim_key, viz_key)


def zero_shot_outputs_form(inputs, ctx, spec: ClipSpec | None) -> None:
    """Prediction field, reused embeddings field, evaluation key."""
    label_prop = inputs.str(
        "label_field", default=defaults.CLIP_ZERO_SHOT, label="Prediction field"
    )
    emb_prop = inputs.str(
        "embeddings_field",
        default=defaults.CLIP_EMBEDDINGS,
        label="Reuse embeddings field",
        description="Used when made by the same model; empty: always encode the images",
    )
    inputs.bool("evaluate", default=True, label="Evaluate against ground truth")
    eval_prop = inputs.str("eval_key", default=defaults.EVAL_CLIP, label="Eval key")
    if ctx.dataset is None:
        return
    ds = ctx.dataset
    label_field = param(ctx, "label_field", defaults.CLIP_ZERO_SHOT)
    gt_field = param(ctx, "gt_field", defaults.GROUND_TRUTH)
    emb_field = param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS) or None
    check(label_prop, check_label_field, ds, label_field, gt_field, emb_field)
    if emb_field and spec is not None:
        check(emb_prop, check_embeddings_field, ds, emb_field, spec)
    if param(ctx, "evaluate", True):
        check(eval_prop, check_evaluation, ds, gt_field, param(ctx, "eval_key", defaults.EVAL_CLIP))


def empty_view_form(inputs, ctx, n: int) -> None:
    """A notice, invalid with the core's message, when the target view is empty."""
    if n == 0:
        notice = inputs.view("empty", types.Notice(label="The view is empty"))
        check(notice, require_nonempty, ctx.target_view())


# ---------------------------------------------------------------- operators


class ComputeClipEmbeddings(foo.Operator):
    @property
    def config(self):
        return op_config(
            "compute_clip_embeddings",
            "compute CLIP embeddings",
            "Embeds the images with an open_clip model; optional 2-D map and similarity index",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        n = target_count(ctx)
        spec = model_form(inputs, ctx)
        loader_form(inputs, ctx)
        embeddings_field_form(inputs, ctx, spec)
        maps_form(inputs, ctx, n)
        shards_form(inputs, ctx)
        empty_view_form(inputs, ctx, n)
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label=f"ClassLab: embed {n} images"))

    @sharded("compute_clip_embeddings")
    def execute(self, ctx):
        result = core_compute_clip_embeddings(
            ctx.target_view(),
            spec_from_params(ctx),
            options_from_params(ctx),
            embeddings_field=param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS),
            skip_existing=bool(param(ctx, "skip_existing", True)),
            overwrite=bool(param(ctx, "overwrite", False)),
            compute_viz=bool(param(ctx, "compute_viz", False)),
            viz_method=param(ctx, "viz_method", MapOptions.viz_method),
            viz_key=param(ctx, "viz_key", defaults.CLIP_VIZ_KEY),
            compute_similarity=bool(param(ctx, "compute_similarity", False)),
            sim_key=param(ctx, "sim_key", defaults.CLIP_SIM_KEY),
            cache=ModelCache(),
            progress=progress(ctx),
        )
        show_view(ctx, None)
        return result

    def resolve_output(self, ctx):
        return embeddings_output(ctx)


class ZeroShotClassify(foo.Operator):
    @property
    def config(self):
        return op_config(
            "zero_shot_classify",
            "CLIP zero-shot classify",
            "Labels images by CLIP zero-shot with prompt-template ensembles",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        n = target_count(ctx)
        spec = model_form(inputs, ctx)
        loader_form(inputs, ctx)
        classes = classes_form(inputs, ctx)
        prompts_form(inputs, ctx, classes)
        zero_shot_outputs_form(inputs, ctx, spec)
        shards_form(inputs, ctx)
        empty_view_form(inputs, ctx, n)
        errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label=f"ClassLab: zero-shot {n} images"))

    @sharded("zero_shot_classify")
    def execute(self, ctx):
        view = ctx.target_view()
        result = core_zero_shot_classify(
            view,
            spec_from_params(ctx),
            options_from_params(ctx),
            label_field=param(ctx, "label_field", defaults.CLIP_ZERO_SHOT),
            gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
            classes=_as_list(ctx.params.get("classes")),
            prompt_names=ctx.params.get("prompt_names") or None,
            prompt_style=param(ctx, "prompt_style", DEFAULT_PROMPT_STYLE),
            template_set=param(ctx, "template_set", DEFAULT_TEMPLATE_SET),
            templates=_as_list(ctx.params.get("templates")),
            embeddings_field=param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS) or None,
            evaluate=bool(param(ctx, "evaluate", True)),
            eval_key=param(ctx, "eval_key", defaults.EVAL_CLIP),
            cache=ModelCache(),
            progress=progress(ctx),
        )
        show_view(ctx, _mistakes(view, result, param(ctx, "gt_field", defaults.GROUND_TRUTH)))
        return result

    def resolve_output(self, ctx):
        return zero_shot_output(ctx)


def _mistakes(view, result: dict, gt_field: str):
    """The zero-shot mistakes of ``view`` (None when the run was not evaluated)."""
    from fiftyone import ViewField as F

    if result.get("accuracy") is None:
        return None
    pred = result["label_field"]
    return view.match(F(gt_field).exists() & (F(f"{pred}.label") != F(f"{gt_field}.label")))
