"""``zero_shot_classify``: CLIP zero-shot labels with prompt-template ensembles.

The text classifier is built as open_clip's ``build_zero_shot_classifier``
does: for each class, every template is filled with the class's prompt name,
the normalised text embeddings are averaged over templates and normalised
again, giving a D x C matrix. Logits are ``exp(logit_scale) * image @ text``
(the model's learned temperature, about 100 for trained CLIP models).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from classlab import defaults, records
from classlab.clip.embeddings import (
    KIND,
    check_embeddings_field,
    failure_report,
    missing_files,
    raise_on_failures,
)
from classlab.clip.images import encode_images
from classlab.clip.models import ClipSpec, LoadedClip, ModelCache
from classlab.clip.options import LoaderOptions, check_run
from classlab.clip.prompts import (  # noqa: F401 - re-exported: the prompt rules' old home
    DEFAULT_PROMPT_STYLE,
    PROMPT_STYLES,
    Prompts,
    derive_prompt_name,
    parse_prompt_names,
    resolve_classes,
    resolve_prompt_names,
    resolve_prompts,
)
from classlab.clip.templates import DEFAULT_TEMPLATE_SET
from classlab.errors import InputError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import (
    require_classification_field,
    require_field_name,
    require_nonempty,
)

logger = logging.getLogger("classlab")


def build_text_classifier(
    loaded: LoadedClip,
    names: Sequence[str],
    templates: Sequence[str],
    num_classes_per_batch: int = 10,
):
    """The D x C zero-shot weights (a torch tensor), as open_clip builds them."""
    import torch

    chunks = []
    with torch.no_grad():
        for i in range(0, len(names), num_classes_per_batch):
            batch = list(names[i : i + num_classes_per_batch])
            texts = [t.format(c) for c in batch for t in templates]
            tokens = loaded.tokenizer(texts).to(loaded.device)
            with loaded.autocast():
                emb = loaded.model.encode_text(tokens, normalize=True)
            emb = emb.float().reshape(len(batch), len(templates), -1).mean(dim=1)
            emb = emb / emb.norm(dim=1, keepdim=True)
            chunks.append(emb.T)
    return torch.cat(chunks, dim=1)


def zero_shot_logits(image_features: np.ndarray, classifier, logit_scale: float) -> np.ndarray:
    """``logit_scale * normalise(image_features) @ classifier`` as float32 (N x C)."""
    feats = np.asarray(image_features, dtype=np.float32)
    feats = feats / np.linalg.norm(feats, axis=1, keepdims=True).clip(min=1e-12)
    weights = classifier.detach().float().cpu().numpy()
    return (np.float32(logit_scale) * feats @ weights).astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def check_label_field(
    dataset, label_field: str, gt_field: str | None = None, embeddings_field: str | None = None
) -> None:
    """Checks that ``label_field`` may receive zero-shot Classifications.

    Raises:
        InputError: not a valid name, or the ground truth / embeddings field
        FieldError: the field exists and holds something else
    """
    require_field_name(label_field, "label field")
    if dataset.has_sample_field(label_field):
        require_classification_field(dataset, label_field, "label field")
    if label_field in (gt_field, embeddings_field):
        raise InputError(
            f"label_field {label_field!r} would overwrite the ground truth or embeddings: "
            "choose another prediction field"
        )


def check_evaluation(dataset, gt_field: str, eval_key: str) -> None:
    """Checks that the predictions can be evaluated against ``gt_field`` as ``eval_key``."""
    require_classification_field(dataset, gt_field, "ground-truth field")
    require_field_name(eval_key, "eval key")
    if eval_key in dataset.list_evaluations():
        found = dataset.get_evaluation_info(eval_key).config.type
        if found != "classification":
            raise InputError(
                f"Eval key {eval_key!r} is taken by a {found} evaluation: choose another eval_key"
            )


def _check_outputs(dataset, spec, label_field, gt_field, embeddings_field, evaluate, eval_key):
    check_label_field(dataset, label_field, gt_field, embeddings_field)
    if evaluate:
        check_evaluation(dataset, gt_field, eval_key)
    if embeddings_field:
        check_embeddings_field(dataset, embeddings_field, spec)


@dataclass(frozen=True)
class _Features:
    """Image features of a view: stored embeddings of the same model, the rest encoded."""

    ids: list[str]  # the samples with features, in the order of ``matrix``'s rows
    matrix: np.ndarray
    failures: dict[int, str]  # index into ``all_ids``/``paths`` -> error
    all_ids: list[str]
    paths: list[str]
    reused: int


def _image_features(view, loaded, embeddings_field, options, report) -> _Features:
    """Image features for the view: stored embeddings of the same model where they
    exist (``embeddings_field`` was checked to hold them), the rest encoded now."""
    ids, paths = view.values("id"), view.values("filepath")
    stored = [None] * len(ids)
    if embeddings_field and view._dataset.has_sample_field(embeddings_field):
        stored = view.values(embeddings_field)
    todo = [i for i, v in enumerate(stored) if v is None]
    feats: dict[int, np.ndarray] = {
        i: np.asarray(v, np.float32) for i, v in enumerate(stored) if v is not None
    }
    failures: dict[int, str] = {}
    if todo:
        todo_paths = [paths[i] for i in todo]
        if options.on_error == "raise":
            raise_on_failures(todo_paths, missing_files(todo_paths))
        enc = encode_images(loaded, todo_paths, options.batch_size, options.num_workers, report)
        if options.on_error == "raise":
            raise_on_failures(todo_paths, enc.failures)
        feats.update({todo[i]: enc.features[k] for k, i in enumerate(enc.indices)})
        failures = {todo[i]: err for i, err in enc.failures.items()}
    order = sorted(feats)
    matrix = np.stack([feats[i] for i in order]) if order else np.zeros((0, 1), np.float32)
    return _Features([ids[i] for i in order], matrix, failures, ids, paths, len(ids) - len(todo))


def zero_shot_classify(
    view,
    spec: ClipSpec | None = None,
    options: LoaderOptions | None = None,
    label_field: str = defaults.CLIP_ZERO_SHOT,
    gt_field: str = defaults.GROUND_TRUTH,
    classes: Sequence[str] | None = None,
    prompt_names: Mapping[str, str] | str | None = None,
    prompt_style: str = DEFAULT_PROMPT_STYLE,
    template_set: str = DEFAULT_TEMPLATE_SET,
    templates: Sequence[str] | None = None,
    embeddings_field: str | None = defaults.CLIP_EMBEDDINGS,
    evaluate: bool = True,
    eval_key: str = defaults.EVAL_CLIP,
    cache: ModelCache | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Labels the view's images by CLIP zero-shot into ``label_field``.

    Args:
        spec: the model (default ``ClipSpec()``: ``defaults.CLIP_MODEL`` with
            ``defaults.CLIP_PRETRAINED``); validated by :meth:`ClipSpec.checked`
        options: batching, workers, device and ``on_error`` (default
            ``LoaderOptions()``): ``"skip"`` unreadable images (no prediction,
            reported) or ``"raise"``
        classes: the class labels (default: distinct labels of ``gt_field`` in the view)
        prompt_names: ``{class: name used in prompts}`` (or ``class: name`` lines, or
            JSON); missing classes get a name derived by ``prompt_style`` (see
            :func:`~classlab.clip.prompts.derive_prompt_name`)
        template_set / templates: a named set of :mod:`classlab.clip.templates`,
            or your own list of ``{}`` templates (which wins)
        embeddings_field: stored image embeddings to reuse when they were made by
            the same model; ``""`` or None always encodes the images
        evaluate: run ``evaluate_classifications`` against ``gt_field`` as ``eval_key``

    Returns:
        a summary: classes, prompts, counts, reused embeddings, accuracy (if evaluated)

    Raises:
        InputError, FieldError, EmptyViewError, DataSourceError, DeviceError:
        before anything is written
    """
    report = as_progress(progress)
    start = time.monotonic()
    spec, options = check_run(spec, options)
    require_nonempty(view)
    prompts = resolve_prompts(
        view, gt_field, classes, prompt_names, prompt_style, template_set, templates
    )
    _check_outputs(view._dataset, spec, label_field, gt_field, embeddings_field, evaluate, eval_key)
    report(0.0, f"loading {spec.describe()}", force=True)
    loaded = (cache if cache is not None else ModelCache()).get(spec, options.device)
    classifier = build_text_classifier(loaded, prompts.names, prompts.templates)
    feats = _image_features(view, loaded, embeddings_field, options, report.stage(0.05, 0.85))
    logits = zero_shot_logits(feats.matrix, classifier, loaded.logit_scale())
    # -- everything is validated: write --
    report(0.86, "writing predictions", force=True)
    _write_predictions(view, label_field, feats, logits, prompts.classes)
    result = _summary(label_field, spec, prompts, feats, loaded.logit_scale())
    if evaluate:
        report(0.9, "evaluating", force=True)
        result.update(_evaluate(view, label_field, gt_field, eval_key, prompts.classes))
    result["seconds"] = round(time.monotonic() - start, 3)
    reused_from = embeddings_field if feats.reused else None
    _write_record(view._dataset, spec, result, prompts.template_set, reused_from)
    report(1.0, f"labelled {len(feats.ids)} samples", force=True)
    return result


def _summary(label_field, spec, prompts: Prompts, feats: _Features, logit_scale) -> dict:
    return {
        "label_field": label_field,
        "model": spec.describe(),
        "classes": prompts.classes,
        "prompt_names": dict(zip(prompts.classes, prompts.names)),
        "templates": prompts.templates,
        "num_predicted": len(feats.ids),
        "num_reused_embeddings": feats.reused,
        "num_failed": len(feats.failures),
        "failed": failure_report(feats.paths, feats.failures),
        "logit_scale": round(logit_scale, 4),
    }


def _evaluate(view, label_field, gt_field, eval_key, classes) -> dict:
    """``evaluate_classifications`` as ``eval_key`` (replacing an earlier run of that key)."""
    dataset = view._dataset
    if eval_key in dataset.list_evaluations():
        dataset.delete_evaluation(eval_key)
    res = view.evaluate_classifications(
        label_field, gt_field=gt_field, eval_key=eval_key, classes=classes
    )
    return {"eval_key": eval_key, "accuracy": round(float(res.metrics()["accuracy"]), 4)}


def _write_predictions(view, label_field, feats: _Features, logits, classes) -> None:
    import fiftyone as fo

    probs = _softmax(logits) if len(feats.ids) else logits
    top = probs.argmax(axis=1) if len(feats.ids) else []
    values = {
        sid: fo.Classification(
            label=classes[int(k)], confidence=float(probs[n, k]), logits=logits[n].tolist()
        )
        for n, (sid, k) in enumerate(zip(feats.ids, top))
    }
    values.update({feats.all_ids[i]: None for i in feats.failures})
    view.set_values(label_field, values, key_field="id")


def _write_record(dataset, spec: ClipSpec, result: dict, template_set, embeddings_field) -> None:
    record = spec.to_record()
    record.update(
        type="zero_shot",
        field=result["label_field"],
        classes=result["classes"],
        prompt_names=result["prompt_names"],
        templates=result["templates"],
        template_set=template_set,
        embeddings_field=embeddings_field,
        eval_key=result.get("eval_key"),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    records.set_record(dataset, KIND, result["label_field"], record)
