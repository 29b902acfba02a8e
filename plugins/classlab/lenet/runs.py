"""Training a LeNet on a FiftyOne view and registering it on the dataset.

Everything is validated, and every image decoded, before training starts; the
checkpoint and the record are written only once training has finished, so a
failed or cancelled run leaves the dataset and any earlier model untouched.
"""

from __future__ import annotations

import datetime as dt
import logging

from classlab import defaults, records
from classlab.config import resolve_device
from classlab.errors import InputError, RunExistsError
from classlab.lenet import registry
from classlab.lenet.config import TrainConfig
from classlab.lenet.data import detect_channels, view_tensors
from classlab.progress import ProgressFn, as_progress
from classlab.validation import distinct_labels, require_classification_field, require_nonempty

logger = logging.getLogger("classlab")


def split_views(
    view,
    label_field: str,
    train_tag: str,
    val_tag: str,
    include_augmented: bool,
    augmented_tag: str,
):
    """The labelled train and val views; augmented samples join train only when asked."""
    from fiftyone import ViewField as F

    labelled = view.match(F(label_field).exists())
    if include_augmented:
        train = labelled.match_tags([train_tag, augmented_tag]).match_tags(val_tag, bool=False)
    else:
        train = labelled.match_tags(train_tag).match_tags(augmented_tag, bool=False)
    val = labelled.match_tags(val_tag).match_tags(augmented_tag, bool=False)
    require_nonempty(train, f"train split (samples tagged {train_tag!r} with a label)")
    require_nonempty(val, f"validation split (samples tagged {val_tag!r} with a label)")
    return train, val


def _classes(train, val, label_field: str) -> list[str]:
    classes = distinct_labels(train, label_field)
    missing = sorted(set(distinct_labels(val, label_field)) - set(classes))
    if missing:
        raise InputError(
            f"The validation split has classes the train split lacks: {', '.join(missing)}. "
            "Re-split the dataset (split_dataset is stratified) or remove those samples."
        )
    if len(classes) < 2:
        raise InputError(f"The train split has {len(classes)} class(es): a classifier needs 2+")
    return classes


def _parent(dataset, init_from: str, classes: list[str], cfg: TrainConfig):
    """The parent's weights, after checking that its classes match; adapts ``cfg``."""
    rec = registry.get_model_record(dataset, init_from)
    payload = registry.load_checkpoint(rec, init_from)
    if list(rec["classes"]) != classes:
        raise InputError(
            f"Model {init_from!r} was trained on classes {rec['classes']}, the train split has "
            f"{classes}: fine-tuning needs the same classes. Train a new model instead."
        )
    cfg.architecture, cfg.input_size = rec["architecture"], rec["input_size"]
    cfg.in_channels, cfg.dropout = rec["in_channels"], rec["config"].get("dropout", cfg.dropout)
    return payload["state_dict"]


def train_lenet(
    view,
    run_key: str = "lenet_v1",
    label_field: str = defaults.GROUND_TRUTH,
    train_tag: str = defaults.TRAIN_TAG,
    val_tag: str = defaults.VAL_TAG,
    config: TrainConfig | dict | None = None,
    init_from: str | None = None,
    include_augmented: bool = False,
    augmented_tag: str = defaults.AUGMENTED_TAG,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Trains a LeNet-5 on the view's ``train_tag`` samples, validating on ``val_tag``.

    Args:
        view: a dataset or view with image samples
        run_key: the model's key in the dataset's model registry
        label_field: the Classification field to learn
        train_tag, val_tag: the split tags
        config: a :class:`TrainConfig` or a dict of its fields (None: defaults)
        init_from: run key of a model to fine-tune from (same classes); its
            architecture and input size are used
        include_augmented: add samples tagged ``augmented_tag`` to the train split
        augmented_tag: the tag of augmented copies
        overwrite: replace an existing model with the same run key
        progress: ``fn(fraction, label)``; one report per epoch with losses/accuracies

    Returns:
        the model's record (see :mod:`classlab.lenet.registry`)
    """
    report = as_progress(progress)
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config or {})
    cfg = TrainConfig(**cfg.to_dict()).validate()
    registry.require_run_key(run_key)
    device = resolve_device(cfg.device)
    dataset = view._dataset
    if records.get_record(dataset, registry.KIND, run_key) is not None and not overwrite:
        raise RunExistsError(
            f"A model with run key {run_key!r} exists. Pick another run_key (e.g. lenet_v2) "
            "or pass overwrite=True to replace it."
        )
    require_classification_field(view, label_field)
    train, val = split_views(
        view, label_field, train_tag, val_tag, include_augmented, augmented_tag
    )
    classes = _classes(train, val, label_field)
    init_state = _parent(dataset, init_from, classes, cfg) if init_from else None
    if cfg.in_channels is None:
        cfg.in_channels = detect_channels(train.values("filepath"))

    report(0.0, f"decoding {len(train)} train + {len(val)} val images", force=True)
    args = (label_field, classes, cfg.in_channels, cfg.input_size, device, cfg.num_workers)
    _, x_tr, y_tr = view_tensors(train, *args, progress=report.stage(0.0, 0.08))
    _, x_va, y_va = view_tensors(val, *args, progress=report.stage(0.08, 0.1))

    from classlab.lenet.models import num_params
    from classlab.lenet.train import fit_tensors

    epochs = report.stage(0.1, 0.97)  # every epoch is reported (not throttled)
    result = fit_tensors(
        x_tr,
        y_tr,
        x_va,
        y_va,
        cfg,
        device,
        len(classes),
        init_state,
        progress=lambda f, label: epochs(f, label, force=True),
    )
    model = result.model.cpu()
    path = registry.checkpoint_path(dataset, run_key)
    registry.save_checkpoint(
        path,
        {
            "state_dict": model.state_dict(),
            "classes": classes,
            "architecture": cfg.architecture,
            "config": cfg.to_dict(),
        },
    )
    record = {
        "architecture": cfg.architecture,
        "classes": classes,
        "config": cfg.to_dict(),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "checkpoint": str(path),
        "parent": init_from or None,
        "train_seconds": result.seconds,
        "num_params": num_params(model),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "applied_to": [],
        "images_per_second": None,
        "label_field": label_field,
        "in_channels": cfg.in_channels,
        "input_size": cfg.input_size,
        "device": device,
        "num_train": len(x_tr),
        "num_val": len(x_va),
    }
    records.set_record(dataset, registry.KIND, run_key, record)
    best = result.history[result.best_epoch - 1]
    report(
        1.0, f"{run_key}: best epoch {result.best_epoch}, val acc {best['val_acc']:.4f}", force=True
    )
    return record
