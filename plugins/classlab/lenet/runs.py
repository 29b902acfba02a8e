"""Training a LeNet on a FiftyOne view and registering it on the dataset.

Everything is validated, and every image decoded, before training starts; the
checkpoint and the record are written only once training has finished, so a
failed, diverged or cancelled run leaves the dataset and any earlier model untouched.
The checkpoint is named by a new model id and committed crash-safely
(:mod:`classlab.lenet.checkpoints`); without ``overwrite`` the record is created
only if the run key is still free (of two concurrent trainings of one key, one wins).

The checks are public so that forms call the same rules
(:func:`check_train_options`, :func:`training_views`, :func:`check_split`,
:func:`training_classes`, :func:`check_parent`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from classlab import defaults
from classlab.config import resolve_device
from classlab.errors import EmptyViewError, InputError
from classlab.lenet import registry
from classlab.lenet.config import TrainConfig
from classlab.lenet.data import check_no_leakage, detect_channels, view_tensors
from classlab.progress import ProgressFn, as_progress
from classlab.validation import distinct_labels, require_classification_field

logger = logging.getLogger("classlab")


def training_views(
    view,
    label_field: str,
    train_tag: str,
    val_tag: str,
    include_augmented: bool,
    augmented_tag: str,
):
    """The labelled train and val views (not checked: see :func:`check_split`).

    Augmented samples join train only when asked, and never val.
    """
    from fiftyone import ViewField as F

    labelled = view.match(F(label_field).exists())
    if include_augmented:
        train = labelled.match_tags([train_tag, augmented_tag]).match_tags(val_tag, bool=False)
    else:
        train = labelled.match_tags(train_tag).match_tags(augmented_tag, bool=False)
    val = labelled.match_tags(val_tag).match_tags(augmented_tag, bool=False)
    return train, val


def check_split(split_view, tag: str, param: str = "train_tag", n: int | None = None) -> int:
    """Checks that a split (train or val) has samples; returns its count (one
    aggregation, none when the caller passes the count ``n``).

    Raises:
        EmptyViewError: naming the split's tag parameter and what to do
    """
    n = split_view.count() if n is None else n
    if n == 0:
        role = "train" if param == "train_tag" else "validation"
        raise EmptyViewError(
            f"The {role} split is empty: no sample of this view is tagged {tag!r} and has a "
            f"label. Split the dataset first (split_dataset) or pick another {param}."
        )
    return n


def split_views(
    view,
    label_field: str,
    train_tag: str,
    val_tag: str,
    include_augmented: bool,
    augmented_tag: str,
):
    """The labelled train and val views, each checked to be non-empty."""
    train, val = training_views(
        view, label_field, train_tag, val_tag, include_augmented, augmented_tag
    )
    check_split(train, train_tag, "train_tag")
    check_split(val, val_tag, "val_tag")
    return train, val


def split_label_counts(train, val, label_field: str) -> tuple[dict, dict]:
    """``{label: count}`` of the train and val splits (one aggregation pass each):
    what a form needs for :func:`check_split` and :func:`classes_of` at once."""
    path = f"{label_field}.label"
    return tuple(
        {k: v for k, v in split.count_values(path).items() if k is not None}
        for split in (train, val)
    )


def training_classes(train, val, label_field: str) -> list[str]:
    """The sorted classes of the train split (two ``distinct`` aggregations).

    Raises:
        InputError: see :func:`classes_of`
    """
    return classes_of(
        distinct_labels(train, label_field), distinct_labels(val, label_field), label_field
    )


def classes_of(train_labels, val_labels, label_field: str) -> list[str]:
    """The rule on the splits' classes; returns train's classes, sorted.

    Raises:
        InputError: val has a class train lacks, or train has fewer than 2 classes
    """
    classes = sorted(train_labels)
    missing = sorted(set(val_labels) - set(classes))
    if missing:
        raise InputError(
            f"The validation split has classes the train split lacks: {', '.join(missing)}. "
            "Re-split the dataset (split_dataset is stratified) or remove those samples."
        )
    if len(classes) < 2:
        raise InputError(
            f"The train split has {len(classes)} class(es) in {label_field!r}: a classifier "
            "needs 2 or more. Pick another label_field or train_tag."
        )
    return classes


def check_parent(record: dict, classes: list[str], init_from: str) -> dict:
    """Checks that the model ``init_from`` (its ``record``) was trained on ``classes``.

    Raises:
        InputError: the classes differ (fine-tuning needs the same output layer)
    """
    if list(record["classes"]) != list(classes):
        raise InputError(
            f"init_from: model {init_from!r} was trained on classes {record['classes']}, the "
            f"train split has {list(classes)}: fine-tuning needs the same classes. Train a "
            "new model (empty init_from) instead."
        )
    return record


def check_train_options(config: TrainConfig | dict | None) -> TrainConfig:
    """A validated copy of ``config`` (a :class:`TrainConfig`, a dict of its fields, or None)."""
    if isinstance(config, TrainConfig):
        return TrainConfig(**config.to_dict()).validate()
    return TrainConfig.from_dict(config or {})


def _parent(dataset, init_from: str, classes: list[str], cfg: TrainConfig):
    """The parent's weights, after checking that its classes match; adapts ``cfg``."""
    rec = check_parent(
        registry.get_model_record(dataset, init_from, "init_from"), classes, init_from
    )
    payload = registry.load_checkpoint(rec, init_from)
    cfg.architecture, cfg.input_size = rec["architecture"], rec["input_size"]
    cfg.in_channels, cfg.dropout = rec["in_channels"], rec["config"].get("dropout", cfg.dropout)
    return payload["state_dict"]


@dataclass
class _Plan:
    """What :func:`train_lenet` checked before its first write."""

    cfg: TrainConfig
    device: str
    train: object
    val: object
    classes: list[str]
    init_state: object


def check_start(cfg: TrainConfig, init_from: str | None) -> None:
    """The rules on where training starts (``weights``, ``init_from``, ``freeze_backbone``).

    Raises:
        InputError: both a weights file and a parent; a frozen backbone from scratch
    """
    if cfg.weights and init_from:
        raise InputError(
            f"weights and init_from are both given ({cfg.weights!r}, {init_from!r}): start "
            "from a torchvision weights file OR from a recorded model; leave one empty"
        )
    if cfg.freeze_backbone and not (cfg.weights or init_from):
        raise InputError(
            "freeze_backbone needs pretrained features to keep: give weights (a local "
            "torchvision weights file) or init_from (a recorded model), or train the whole "
            "network from scratch with freeze_backbone=False"
        )


def _pretrained(cfg: TrainConfig, num_classes: int):
    """The adapted model's starting ``state_dict`` from ``cfg.weights`` (checked)."""
    import torch

    from classlab.lenet.backbones import read_weights, transfer
    from classlab.lenet.models import build_model

    state = read_weights(cfg.weights, cfg.architecture)
    torch.manual_seed(cfg.seed)  # the head starts as it would from scratch
    model = build_model(cfg.architecture, num_classes, cfg.in_channels, cfg.input_size)
    return transfer(model, state, cfg.architecture)


def _prepare(view, run_key, label_field, tags, config, init_from, overwrite) -> _Plan:
    """Every check of :func:`train_lenet`, in order; reads the parent's weights (or the
    weights file)."""
    train_tag, val_tag, include_augmented, augmented_tag, test_tag = tags
    cfg = check_train_options(config)
    check_start(cfg, init_from)
    dataset = view._dataset
    registry.check_new_run_key(run_key, registry.list_models(dataset), overwrite)
    device = resolve_device(cfg.device)
    require_classification_field(view, label_field, "label_field")
    train, val = split_views(
        view, label_field, train_tag, val_tag, include_augmented, augmented_tag
    )
    classes = training_classes(train, val, label_field)
    check_no_leakage(train, (val_tag, test_tag), train_tag)
    init_state = _parent(dataset, init_from, classes, cfg) if init_from else None
    if cfg.in_channels is None:
        cfg.in_channels = detect_channels(train.limit(16).values("filepath"))
    if cfg.weights:
        init_state = _pretrained(cfg, len(classes))
    return _Plan(cfg, device, train, val, classes, init_state)


def _fit(plan: _Plan, label_field: str, report):
    """Decodes both splits onto the device and trains; returns ``(FitResult, n_train, n_val)``."""
    from classlab.lenet.train import fit_tensors

    cfg, train, val = plan.cfg, plan.train, plan.val
    report(0.0, f"decoding {len(train)} train + {len(val)} val images", force=True)
    args = (label_field, plan.classes, cfg.in_channels, cfg.input_size, plan.device)
    _, x_tr, y_tr = view_tensors(train, *args, cfg.num_workers, report.stage(0.0, 0.08))
    _, x_va, y_va = view_tensors(val, *args, cfg.num_workers, report.stage(0.08, 0.1))
    epochs = report.stage(0.1, 0.97)  # every epoch is reported (not throttled)
    result = fit_tensors(
        x_tr,
        y_tr,
        x_va,
        y_va,
        cfg,
        plan.device,
        len(plan.classes),
        plan.init_state,
        progress=lambda f, label: epochs(f, label, force=True),
    )
    return result, len(x_tr), len(x_va)


def _save(dataset, run_key, plan: _Plan, result, sizes, label_field, init_from, overwrite):
    """Commits the checkpoint, then the record (the first and only writes of a run);
    see :func:`classlab.lenet.checkpoints.commit` for what a crash leaves."""
    from classlab.lenet.checkpoints import commit
    from classlab.lenet.latency import cpu_threads, torch_latency
    from classlab.lenet.models import num_params, total_params

    cfg, model = plan.cfg, result.model.cpu()
    payload = {
        "state_dict": model.state_dict(),
        "classes": plan.classes,
        "architecture": cfg.architecture,
        "config": cfg.to_dict(),
    }
    record = {
        "architecture": cfg.architecture,
        "classes": plan.classes,
        "config": cfg.to_dict(),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "parent": init_from or None,
        "train_seconds": result.seconds,
        "num_params": total_params(model),
        "trainable_params": num_params(model),
        "latency_ms": {"torch": torch_latency(model, cfg.in_channels, cfg.input_size)},
        "latency_threads": cpu_threads(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "applied_to": [],
        "images_per_second": None,
        "label_field": label_field,
        "in_channels": cfg.in_channels,
        "input_size": cfg.input_size,
        "device": plan.device,
        "num_train": sizes[0],
        "num_val": sizes[1],
    }
    return commit(dataset, run_key, payload, record, overwrite)


def train_lenet(
    view,
    run_key: str = defaults.MODEL_V1,
    label_field: str = defaults.GROUND_TRUTH,
    train_tag: str = defaults.TRAIN_TAG,
    val_tag: str = defaults.VAL_TAG,
    test_tag: str = defaults.TEST_TAG,
    config: TrainConfig | dict | None = None,
    init_from: str | None = None,
    include_augmented: bool = False,
    augmented_tag: str = defaults.AUGMENTED_TAG,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Trains a model on the view's ``train_tag`` samples, validating on ``val_tag``.

    The one trainer of every architecture (``config["architecture"]``: LeNet-5 or a
    torchvision backbone); :func:`train_model` is the same with the architecture, the
    weights file and ``freeze_backbone`` as arguments.

    Args:
        view: a dataset or view with image samples
        run_key: the model's key in the dataset's model registry
        label_field: the Classification field to learn
        train_tag, val_tag: the split tags
        test_tag: the test split's tag: no train sample (nor an augmented copy's
            source) may carry it or ``val_tag`` (:func:`classlab.lenet.data.check_no_leakage`)
        config: a :class:`TrainConfig` or a dict of its fields (None: defaults)
        init_from: run key of a model to fine-tune from (same classes); its
            architecture and input size are used (not with ``config["weights"]``)
        include_augmented: add samples tagged ``augmented_tag`` to the train split
        augmented_tag: the tag of augmented copies
        overwrite: replace an existing model with the same run key
        progress: ``fn(fraction, label)``; one report per epoch with losses/accuracies

    Returns:
        the model's record (see :mod:`classlab.lenet.registry`): with ``num_params``,
        ``train_seconds`` and ``latency_ms`` (``{"torch": {"1": ms, "256": ms}}``, CPU,
        per image at batch 1 and 256)
    """
    report = as_progress(progress)
    tags = (train_tag, val_tag, include_augmented, augmented_tag, test_tag)
    plan = _prepare(view, run_key, label_field, tags, config, init_from, overwrite)
    result, n_train, n_val = _fit(plan, label_field, report)
    dataset = view._dataset
    sizes = (n_train, n_val)
    record = _save(dataset, run_key, plan, result, sizes, label_field, init_from, overwrite)
    best = result.history[result.best_epoch - 1]
    report(
        1.0, f"{run_key}: best epoch {result.best_epoch}, val acc {best['val_acc']:.4f}", force=True
    )
    return record
