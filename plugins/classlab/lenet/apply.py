"""Applying a registered LeNet to a view: predictions with logits, embeddings, evaluation."""

from __future__ import annotations

import logging
import time

import numpy as np

from classlab import defaults
from classlab.config import resolve_device
from classlab.errors import FieldError, InputError
from classlab.lenet import registry
from classlab.lenet.data import view_tensors
from classlab.progress import ProgressFn, as_progress
from classlab.validation import (
    distinct_labels,
    require_classification_field,
    require_field_name,
    require_nonempty,
)

logger = logging.getLogger("classlab")


def predictions(logits: np.ndarray, classes: list[str]) -> list:
    """``fo.Classification`` (label, softmax confidence, logits) for each row of ``logits``."""
    import fiftyone as fo

    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    idx, conf = p.argmax(axis=1), p.max(axis=1)
    return [
        fo.Classification(label=classes[i], confidence=float(c), logits=row)
        for i, c, row in zip(idx.tolist(), conf.tolist(), logits.astype(np.float32))
    ]


def write_predictions(
    view,
    ids: list[str],
    label_field: str,
    logits: np.ndarray,
    classes: list[str],
    embeddings_field: str = "",
    embeddings: np.ndarray | None = None,
) -> None:
    """Writes predictions (and embeddings) in bulk, matched to samples by id."""
    values = dict(zip(ids, predictions(logits, classes)))
    view.set_values(label_field, values, key_field="id")
    if embeddings_field and embeddings is not None:
        view.set_values(embeddings_field, dict(zip(ids, list(embeddings))), key_field="id")


def _check_outputs(
    view,
    label_field: str,
    embeddings_field: str,
    evaluate: bool,
    eval_key: str,
    gt_field: str,
    classes: list[str],
    overwrite: bool,
) -> None:
    dataset = view._dataset
    fields = [label_field] + ([embeddings_field] if embeddings_field else [])
    for name in fields:
        require_field_name(name, "output field")
    if embeddings_field == label_field:
        raise InputError("label_field and embeddings_field must differ")
    if not overwrite:
        taken = [f for f in fields if dataset.has_field(f)]
        if evaluate and eval_key in dataset.list_evaluations():
            taken.append(f"evaluation {eval_key!r}")
        if taken:
            raise FieldError(
                f"{', '.join(map(str, taken))} already exist(s) on the dataset: pass "
                "overwrite=True to replace, or choose other names."
            )
    if dataset.has_field(label_field):
        require_classification_field(dataset, label_field, "prediction field")
    if evaluate:
        require_field_name(eval_key, "eval_key")
        require_classification_field(view, gt_field, "ground truth field")
        unknown = sorted(set(distinct_labels(view, gt_field)) - set(classes))
        if unknown:
            raise InputError(
                f"The ground truth {gt_field!r} has classes the model does not know: "
                f"{', '.join(unknown[:10])}. Evaluate on a view with the model's classes "
                "or pass evaluate=False."
            )


def apply_lenet(
    view,
    run_key: str,
    label_field: str = defaults.LENET_FIELD,
    embeddings_field: str = defaults.LENET_EMBEDDINGS,
    batch_size: int = 1024,
    device: str = "auto",
    evaluate: bool = True,
    eval_key: str = defaults.EVAL_LENET,
    gt_field: str = defaults.GROUND_TRUTH,
    overwrite: bool = False,
    num_workers: int = 8,
    progress: ProgressFn | None = None,
) -> dict:
    """Predicts every sample of ``view`` with the model ``run_key``.

    Writes ``fo.Classification(label, confidence, logits)`` to ``label_field``
    and, unless ``embeddings_field`` is empty, the penultimate-layer
    activations to ``embeddings_field``; both in bulk. The inference speed is
    stored in the model's record (``images_per_second``).

    Args:
        view: the samples to predict
        run_key: a model of the dataset's registry
        label_field: the prediction field
        embeddings_field: the embeddings field; ``""`` for none
        batch_size: inference batch size
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``
        evaluate: run ``evaluate_classifications`` against ``gt_field`` (samples with
            ground truth only)
        eval_key: the evaluation key
        gt_field: the ground truth field
        overwrite: replace existing output fields / evaluation
        num_workers: image decoding threads
        progress: ``fn(fraction, label)``

    Returns:
        ``{num_samples, images_per_second, accuracy (if evaluated), ...}``
    """
    from classlab.lenet.train import predict

    report = as_progress(progress)
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be positive, got {batch_size}")
    device = resolve_device(device)
    require_nonempty(view)
    dataset = view._dataset
    rec = registry.get_model_record(dataset, run_key)
    classes = list(rec["classes"])
    _check_outputs(
        view, label_field, embeddings_field, evaluate, eval_key, gt_field, classes, overwrite
    )
    model, rec = registry.load_model(dataset, run_key, device)

    report(0.0, f"decoding {len(view)} images", force=True)
    ids, x, _ = view_tensors(
        view,
        None,
        None,
        rec["in_channels"],
        rec["input_size"],
        "cpu",
        num_workers,
        report.stage(0.0, 0.3),
    )
    report(0.3, "predicting", force=True)
    start = time.perf_counter()
    logits, feats = predict(model, x, int(batch_size), device, amp=True, features=True)
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    ips = len(x) / max(time.perf_counter() - start, 1e-9)
    report(0.6, f"writing {len(ids)} predictions", force=True)
    if overwrite and evaluate and eval_key in dataset.list_evaluations():
        dataset.delete_evaluation(eval_key)
    write_predictions(
        view,
        ids,
        label_field,
        logits.cpu().numpy(),
        classes,
        embeddings_field,
        feats.cpu().numpy() if embeddings_field else None,
    )
    registry.record_prediction(dataset, run_key, label_field, ips)
    out = {
        "run_key": run_key,
        "label_field": label_field,
        "num_samples": len(ids),
        "images_per_second": round(ips, 1),
    }
    if evaluate:
        from classlab.lenet.evaluate import evaluate_predictions

        report(0.9, "evaluating", force=True)
        out.update(evaluate_predictions(view, label_field, gt_field, eval_key, overwrite=True))
    report(1.0, f"{len(ids)} predictions in {label_field!r}", force=True)
    return out
