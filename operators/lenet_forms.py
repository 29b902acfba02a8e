"""Form builders and checks of the LeNet operators (module-level, as the style asks).

Each check is the core's own, called through ``common.check``; lists of models
are read once per ``resolve_input`` call (:func:`models_of`) and passed around.
"""

from __future__ import annotations

from classlab import defaults

from .common import check, dropdown, param

DEVICES = ("auto", "cpu", "cuda")


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
    prop = dropdown(inputs, name, values, default, label, description)
    given = param(ctx, name, default)
    if given or not allow_none:
        check(prop, require_model, models, given, name)
    return prop


def train_options_form(inputs):
    """The hyperparameter properties, with :class:`TrainConfig`'s defaults."""
    from classlab.lenet.config import OPTIMIZERS, SCHEDULES, TrainConfig
    from classlab.lenet.models import ARCHITECTURES

    d = TrainConfig()
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
    if classes and init_from in models:
        check(prop("init_from"), runs.check_parent, models[init_from], classes, init_from)
    return sizes


def check_apply_form(ctx, inputs, view, models):
    """Each apply_lenet rule through the core's check, shown on its property."""
    from classlab.lenet import apply
    from classlab.lenet.config import check_option

    prop, dataset = inputs.get_property, ctx.dataset
    overwrite = bool(param(ctx, "overwrite", False))
    label_field = param(ctx, "label_field", defaults.LENET_FIELD)
    emb = ctx.params.get("embeddings_field", defaults.LENET_EMBEDDINGS) or ""
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
    eval_key = param(ctx, "eval_key", defaults.EVAL_LENET)
    taken = [f for f in (label_field, emb, gt) if f]
    check(prop("eval_key"), apply.check_eval_key, dataset, eval_key, overwrite, taken)
    if run_key in models:
        classes = list(models[run_key]["classes"])
        check(prop("gt_field"), apply.check_gt_classes, view, gt, classes)
