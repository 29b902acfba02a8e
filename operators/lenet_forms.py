"""Form builders and checks of the LeNet operators (module-level, as the style asks).

Each check is the core's own, called through ``common.check``; lists of models
are read once per ``resolve_input`` call (:func:`models_of`) and passed around.
"""

from __future__ import annotations

from classlab import defaults
from classlab.lenet.data import check_no_leakage
from fiftyone.operators import types

from .common import check, dropdown, param, target_view

DEVICES = ("auto", "cpu", "cuda")
SCRATCH = "(train from scratch)"
# what each architecture is (the truth: classlab.lenet.models); shown in the dropdown
_ARCH_CHOICES = {
    "lenet5": (
        "lenet5 (classic)",
        "LeCun et al. 1998: tanh, average pooling, 6/16 feature maps, 120/84 units "
        "(61,706 parameters on MNIST)",
    ),
    "lenet5_modern": (
        "lenet5_modern",
        "The same shape widened to 16/32 maps, with batch norm, ReLU, max pooling and "
        "dropout: trains faster and more accurately",
    ),
}


def models_of(ctx) -> dict[str, dict]:
    """The dataset's models (read once per call)."""
    if ctx.dataset is None:
        return {}
    from classlab.lenet.registry import list_models

    return list_models(ctx.dataset)


def model_choice(inputs, ctx, models, name, label, description="", allow_none=False):
    """A dropdown of ``models``; the chosen key is checked by the core's ``require_model``."""
    from classlab.lenet.registry import require_model

    values = ([""] if allow_none else []) + sorted(models)
    default = values[0] if values else None
    choices = {"": (SCRATCH, "No parent model: random initial weights")}
    prop = dropdown(inputs, name, values, default, label, description, choices=choices)
    given = param(ctx, name, default)
    if given or not allow_none:
        check(prop, require_model, models, given, name)
    return prop


def train_options_form(inputs, ctx):
    """The hyperparameter properties, with :class:`TrainConfig`'s defaults."""
    from classlab.lenet.config import OPTIMIZERS, SCHEDULES, TrainConfig
    from classlab.lenet.models import ARCHITECTURES

    d = TrainConfig()
    dropdown(
        inputs,
        "architecture",
        ARCHITECTURES,
        d.architecture,
        "Architecture",
        _ARCH_CHOICES.get(param(ctx, "architecture", d.architecture), ("", ""))[1],
        choices=_ARCH_CHOICES,
    )
    inputs.int("epochs", default=d.epochs, label="Epochs")
    inputs.int("batch_size", default=d.batch_size, label="Batch size")
    dropdown(inputs, "optimizer", OPTIMIZERS, d.optimizer, "Optimizer")
    inputs.float("lr", default=d.lr, label="Learning rate (peak)")
    dropdown(inputs, "schedule", SCHEDULES, d.schedule, "LR schedule")
    inputs.float("weight_decay", default=d.weight_decay, label="Weight decay")
    inputs.float("label_smoothing", default=d.label_smoothing, label="Label smoothing")
    inputs.int("seed", default=d.seed, label="Seed")
    inputs.int("patience", default=d.patience, label="Early-stopping patience (0: off)")
    dropdown(
        inputs,
        "device",
        DEVICES,
        "auto",
        "Device",
        "Checked where the run executes (a delegated run may have a GPU this server lacks)",
    )
    inputs.bool("amp", default=d.amp, label="Mixed precision on CUDA")
    inputs.int(
        "max_epochs",
        default=d.max_epochs,
        label="Epochs limit",
        description="The bound on epochs: raise it deliberately for a longer run",
    )
    return d


def check_train_data(ctx, inputs, view, models):
    """Label field, splits, classes and the parent model, each through the core's check;
    returns ``[n_train, n_val]`` (None when the label field is unusable)."""
    from classlab.lenet import runs
    from classlab.validation import require_classification_field

    label_field = param(ctx, "label_field", defaults.GROUND_TRUTH)
    defaults_ = {"train_tag": defaults.TRAIN_TAG, "val_tag": defaults.VAL_TAG}
    tags = {t: param(ctx, t, d) for t, d in defaults_.items()}
    init_from = param(ctx, "init_from", "")
    prop = inputs.get_property
    if not check(
        prop("label_field"), require_classification_field, view, label_field, "label_field"
    ):
        return
    train, val = runs.training_views(
        view,
        label_field,
        tags["train_tag"],
        tags["val_tag"],
        bool(param(ctx, "include_augmented", False)),
        param(ctx, "augmented_tag", defaults.AUGMENTED_TAG),
    )
    counts = runs.split_label_counts(train, val, label_field)  # two passes, nothing more
    sizes = [sum(c.values()) for c in counts]
    ok = [
        check(prop(t), runs.check_split, v, tags[t], t, n)
        for t, v, n in zip(tags, (train, val), sizes)
    ]
    classes = all(ok) and check(prop("train_tag"), runs.classes_of, *counts, label_field)
    if classes:  # aggregations only: a count, a distinct of the copies' source ids
        holdout = (tags["val_tag"], param(ctx, "test_tag", defaults.TEST_TAG))
        check(prop("train_tag"), check_no_leakage, train, holdout, tags["train_tag"])
    if classes and init_from in models:
        check(prop("init_from"), runs.check_parent, models[init_from], classes, init_from)
    return sizes


def training_target(ctx, inputs, action: str):
    """The form's target selector, defaulting to the whole dataset (not the grid's
    current view); returns the target view the form's checks use."""
    from fiftyone.operators.constants import ViewTarget

    inputs.view_target(
        ctx,
        default_target=ViewTarget.DATASET,
        action_description=action,
        dataset_description=f"{action} on the whole dataset's splits (recommended)",
        current_view_description=f"{action} only on the samples the grid shows now",
    )
    if not (ctx.params.get("view_target") or ctx.request_params.get("view_target")):
        return ctx.dataset
    return target_view(ctx)


def coverage_warning(ctx, inputs, n_train: int, label_field: str) -> None:
    """A Warning when the target leaves out most (over half) of the dataset's train split."""
    from classlab.lenet import runs

    whole, _ = runs.training_views(
        ctx.dataset,
        label_field,
        param(ctx, "train_tag", defaults.TRAIN_TAG),
        param(ctx, "val_tag", defaults.VAL_TAG),
        bool(param(ctx, "include_augmented", False)),
        param(ctx, "augmented_tag", defaults.AUGMENTED_TAG),
    )
    total = whole.count()
    if total and n_train * 2 < total:
        inputs.view(
            "coverage",
            types.Warning(
                label=f"This target holds {n_train} of the dataset's {total} train samples",
                description="Training would leave out most of the train split. Pick "
                "'Dataset' as the target to train on the whole split.",
            ),
        )


def check_apply_form(ctx, inputs, view, models, out):
    """Each apply_lenet rule through the core's check, shown on its property (``out``:
    the output names' defaults, from :func:`apply_defaults`)."""
    from classlab.lenet import apply
    from classlab.lenet.config import check_option

    prop, dataset = inputs.get_property, ctx.dataset
    overwrite = bool(param(ctx, "overwrite", out["overwrite"]))
    label_field = param(ctx, "label_field", out["label_field"])
    emb = ctx.params.get("embeddings_field", out["embeddings_field"]) or ""
    gt = param(ctx, "gt_field", defaults.GROUND_TRUTH)
    run_key = param(ctx, "run_key")
    trained_on = (models.get(run_key) or {}).get("label_field")
    check(prop("batch_size"), apply.check_batch_size, param(ctx, "batch_size", 1024))
    check(prop("device"), check_option, "device", param(ctx, "device", "auto"))
    check(
        prop("label_field"),
        apply.check_label_field,
        dataset,
        label_field,
        gt,
        overwrite,
        trained_on,
    )
    if emb:
        check(
            prop("embeddings_field"),
            apply.check_embeddings_field,
            dataset,
            emb,
            label_field,
            overwrite,
            gt,
        )
    if not param(ctx, "evaluate", True):
        return
    eval_key = param(ctx, "eval_key", out["eval_key"])
    taken = [f for f in (label_field, emb, gt) if f]
    check(prop("eval_key"), apply.check_eval_key, dataset, eval_key, overwrite, taken)
    if run_key in models:
        classes = list(models[run_key]["classes"])
        check(prop("gt_field"), apply.check_gt_classes, view, gt, classes)


def runtime_choice(inputs, ctx, models, run_key):
    """The apply form's ``runtime`` dropdown (``defaults.RUNTIMES``), checked by the core's
    ``check_runtime`` for the model ``run_key``.

    Both runtimes are always offered (the form keeps its shape when the model
    changes): the onnxruntime choice says whether the model has an ONNX file, and
    picking it for a model that has none shows the core's message (export it first).
    """
    from classlab.lenet.export import check_runtime

    rec = models.get(run_key) if run_key else None
    exported = bool((rec or {}).get("onnx_path"))
    onnx_about = (
        "The model's ONNX file, on the CPU (the device is ignored)"
        if exported
        else "This model has no ONNX file yet: export it first (export_model)"
    )
    choices = {
        "torch": ("torch", "The PyTorch model, on the chosen device"),
        "onnxruntime": ("onnxruntime" if exported else "onnxruntime (not exported)", onnx_about),
    }
    prop = dropdown(
        inputs,
        "runtime",
        defaults.RUNTIMES,
        defaults.RUNTIMES[0],
        "Runtime",
        "torch, or onnxruntime on the model's ONNX export (export_model)",
        choices=choices,
    )
    check(prop, check_runtime, param(ctx, "runtime", defaults.RUNTIMES[0]), rec, run_key or "")
    return prop


def apply_defaults(run_key: str | None, models: dict) -> dict:
    """The apply form's output names for the model ``run_key``: its own prediction
    field, embeddings field and eval key (``lenet_v2`` -> ``lenet_v2``,
    ``lenet_v2_embeddings``, ``eval_lenet_v2``), so that a second model never collides
    with the first's fields; ``overwrite`` defaults on only when that field already
    holds this model's own predictions (re-applying it)."""
    if not run_key:
        return {
            "label_field": defaults.LENET_FIELD,
            "embeddings_field": defaults.LENET_EMBEDDINGS,
            "eval_key": defaults.EVAL_LENET,
            "overwrite": False,
        }
    applied = (models.get(run_key) or {}).get("applied_to") or []
    return {
        "label_field": run_key,
        "embeddings_field": f"{run_key}_embeddings",
        "eval_key": f"eval_{run_key}",
        "overwrite": run_key in applied,
    }


def new_model_key(models) -> str:
    """The train form's default run key: ``lenet_v1``, else the next free ``lenet_vN``
    (a model named plain ``lenet`` counts as v1: after lenet, lenet_v2 comes lenet_v3)."""
    from classlab.validation import next_free_name

    taken = set(models)
    if defaults.LENET_FIELD in taken:
        taken.add(defaults.MODEL_V1)
    return next_free_name(taken, defaults.MODEL_V1)
