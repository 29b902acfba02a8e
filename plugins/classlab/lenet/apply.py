"""Applying a registered LeNet to a view: predictions with logits, embeddings, evaluation."""

from __future__ import annotations

import logging
import time

import numpy as np

from classlab import defaults
from classlab.chunks import iter_chunks
from classlab.config import resolve_device
from classlab.errors import FieldError, InputError
from classlab.lenet import registry
from classlab.lenet.data import view_tensors
from classlab.lenet.evaluate import check_eval_key
from classlab.progress import ProgressFn, as_progress
from classlab.validation import (
    builtin_fields,
    classification_fields,
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


def _field_kind_ok(dataset, field: str, param: str) -> bool:
    import fiftyone as fo

    if param == "label_field":
        return field in classification_fields(dataset)
    return isinstance(dataset.get_field(field), fo.VectorField | fo.ArrayField)


def check_output_field(
    dataset, field: str, param: str, overwrite: bool = False, protected: dict | None = None
) -> str:
    """Checks that ``field`` can receive predictions (``param="label_field"``) or
    embeddings (``param="embeddings_field"``) on ``dataset``. Schema look-ups only.

    Never a built-in field (tags, filepath, id, metadata, ...), never a field of
    ``protected`` (``{field: what it is}``: the ground truth, the model's training
    labels, the predictions); an existing field only with ``overwrite`` and only of
    its kind (a Classification field for predictions, a vector field for embeddings).

    Raises:
        FieldError / InputError: naming ``param`` and what to do
    """
    require_field_name(field, param)
    what = "predictions" if param == "label_field" else "embeddings"
    if field in builtin_fields(dataset):
        raise FieldError(
            f"The {param} {field!r} is a built-in field of every sample: pick another {param} "
            f"for the {what}"
        )
    if field in (protected or {}):
        raise FieldError(
            f"The {param} {field!r} is {protected[field]}: writing {what} there would replace "
            f"it. Pick another {param}."
        )
    if not dataset.has_field(field):
        return field
    if not overwrite:
        raise FieldError(
            f"The {param} {field!r} already exists on the dataset: pick another {param}, or "
            "pass overwrite=True to replace it."
        )
    if not _field_kind_ok(dataset, field, param):
        kind = "Classification" if param == "label_field" else "vector (embeddings)"
        raise FieldError(
            f"The {param} {field!r} exists and is not a {kind} field: {what} cannot replace "
            f"it. Pick another {param}."
        )
    return field


def check_label_field(
    dataset, field: str, gt_field: str, overwrite: bool = False, trained_on: str | None = None
) -> str:
    """:func:`check_output_field` for the prediction field: never ``gt_field`` nor the
    labels the model was trained on (``trained_on``)."""
    protected = {gt_field: "the ground truth (gt_field)"}
    if trained_on:
        protected.setdefault(trained_on, "the labels this model was trained on")
    return check_output_field(dataset, field, "label_field", overwrite, protected)


def check_embeddings_field(
    dataset, field: str, label_field: str, overwrite: bool = False, gt_field: str | None = None
) -> str:
    """:func:`check_output_field` for ``embeddings_field``: never the predictions' field
    nor the ground truth."""
    if field == label_field:
        raise InputError(
            f"embeddings_field and label_field are both {field!r}: give the embeddings "
            "another field name (or leave embeddings_field empty for none)"
        )
    protected = {gt_field: "the ground truth (gt_field)"} if gt_field else {}
    return check_output_field(dataset, field, "embeddings_field", overwrite, protected)


def check_gt_classes(view, gt_field: str, classes: list[str]) -> str:
    """Checks that ``gt_field`` holds Classification labels the model knows (``distinct``)."""
    require_classification_field(view, gt_field, "gt_field")
    unknown = sorted(set(distinct_labels(view, gt_field)) - set(classes))
    if unknown:
        raise InputError(
            f"The gt_field {gt_field!r} has classes the model does not know: "
            f"{', '.join(unknown[:10])}. Evaluate on a view with the model's classes "
            "or pass evaluate=False."
        )
    return gt_field


def check_batch_size(batch_size) -> int:
    """``batch_size`` is a positive integer (the rule of :class:`TrainConfig`)."""
    from classlab.lenet.config import check_option

    return int(check_option("batch_size", batch_size))


def check_apply_args(
    view,
    run_key,
    label_field,
    embeddings_field,
    evaluate,
    eval_key,
    gt_field,
    batch_size,
    overwrite,
    models=None,
) -> dict:
    """Every check of :func:`apply_lenet` (no write); returns the model's record.

    ``models``: the dict of :func:`registry.list_models`, when the caller has read it.
    """
    check_batch_size(batch_size)
    require_nonempty(view)
    dataset = view._dataset
    models = registry.list_models(dataset) if models is None else models
    registry.require_model(models, run_key)
    rec = models[run_key]
    check_label_field(dataset, label_field, gt_field, overwrite, rec.get("label_field"))
    if embeddings_field:
        check_embeddings_field(dataset, embeddings_field, label_field, overwrite, gt_field)
    if evaluate:
        taken = [f for f in (label_field, embeddings_field, gt_field) if f]
        check_eval_key(dataset, eval_key, overwrite, taken)
        check_gt_classes(view, gt_field, list(rec["classes"]))
    return rec


def _infer(view, model, rec, batch_size, device, num_workers, want_features, report):
    """Decodes the view and runs the model: ``(ids, logits, features or None, images/s)``."""
    from classlab.lenet.train import predict

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
    return ids, logits.cpu().numpy(), feats.cpu().numpy() if want_features else None, ips


def _apply_chunks(view, model, rec, fields, batch_size, device, num_workers, report):
    """Predicts and writes the view one chunk (``defaults.CHUNK_SIZE``) at a time, so
    memory does not grow with the view; ``fields`` is ``(label_field,
    embeddings_field)``. Returns ``(samples predicted, images/s of the model)``."""
    label_field, embeddings_field = fields
    classes = list(rec["classes"])
    total, n, seconds = max(view.count(), 1), 0, 0.0
    for chunk in iter_chunks(view):
        stage = report.stage(n / total, (n + len(chunk)) / total)
        want = bool(embeddings_field)
        ids, logits, feats, ips = _infer(
            chunk.view, model, rec, batch_size, device, num_workers, want, stage
        )
        write_predictions(view, ids, label_field, logits, classes, embeddings_field, feats)
        n, seconds = n + len(ids), seconds + len(ids) / max(ips, 1e-9)
    return n, n / max(seconds, 1e-9)


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
    runtime: str = "torch",
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
        runtime: ``"torch"``, or ``"onnxruntime"`` to run the model's ONNX file (on the
            CPU; :func:`classlab.lenet.export.export_model` writes it)

    Returns:
        ``{num_samples, images_per_second, accuracy (if evaluated), ...}``
    """
    report = as_progress(progress)
    from classlab.lenet.config import check_option

    check_option("num_workers", num_workers)
    check_option("device", device)
    check_apply_args(
        view,
        run_key,
        label_field,
        embeddings_field,
        evaluate,
        eval_key,
        gt_field,
        batch_size,
        overwrite,
    )
    from classlab.lenet.export import check_runtime, load_runner

    dataset = view._dataset
    check_runtime(runtime, registry.get_model_record(dataset, run_key), run_key)
    device = resolve_device(device) if runtime == "torch" else "cpu"
    model, rec = load_runner(dataset, run_key, device, runtime)
    if overwrite and evaluate and eval_key in dataset.list_evaluations():
        dataset.delete_evaluation(eval_key)
    fields = (label_field, embeddings_field)
    stage = report.stage(0.0, 0.9)
    n, ips = _apply_chunks(view, model, rec, fields, batch_size, device, num_workers, stage)
    registry.record_prediction(dataset, run_key, label_field, ips)
    out = {
        "run_key": run_key,
        "label_field": label_field,
        "embeddings_field": embeddings_field or None,
        "num_samples": n,
        "images_per_second": round(ips, 1),
    }
    if evaluate:
        from classlab.lenet.evaluate import evaluate_predictions

        report(0.9, "evaluating", force=True)
        out.update(evaluate_predictions(view, label_field, gt_field, eval_key, overwrite=True))
    report(1.0, f"{n} predictions in {label_field!r}", force=True)
    return out


apply_model = apply_lenet  # the same function for every architecture (and runtime)
