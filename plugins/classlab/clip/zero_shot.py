"""``zero_shot_classify``: CLIP zero-shot labels with prompt-template ensembles.

The text classifier is built as open_clip's ``build_zero_shot_classifier``
does: for each class, every template is filled with the class's prompt name,
the normalised text embeddings are averaged over templates and normalised
again, giving a D x C matrix. Logits are ``exp(logit_scale) * image @ text``
(the model's learned temperature, about 100 for trained CLIP models).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from classlab import defaults, records
from classlab.clip.embeddings import (
    KIND,
    check_embeddings_field,
    check_run_options,
    failure_report,
    missing_files,
    raise_on_failures,
)
from classlab.clip.images import encode_images
from classlab.clip.models import ClipSpec, LoadedClip, ModelCache, check_spec
from classlab.clip.templates import DEFAULT_TEMPLATE_SET, resolve_templates
from classlab.errors import FieldError, InputError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import (
    check_unique,
    classification_fields,
    distinct_labels,
    require_classification_field,
    require_field_name,
    require_nonempty,
)

logger = logging.getLogger("classlab")

PROMPT_STYLES = ("first", "last", "both", "label")
_SPLIT = re.compile(r"^\s*(.+?)\s+-\s+(.+?)\s*$")


def derive_prompt_name(label: str, style: str = "first") -> str:
    """The name a class goes by in prompts, derived from its label.

    Labels shaped ``"<a> - <b>"`` (FiftyOne's MNIST: ``"0 - zero"``) give
    ``"0"`` (``first``), ``"zero"`` (``last``), ``"0 (zero)"`` (``both``) or the
    label unchanged (``label``). Other labels keep their text, with ``_`` as spaces.
    """
    if style not in PROMPT_STYLES:
        raise InputError(f"prompt_style must be one of {', '.join(PROMPT_STYLES)}, got {style!r}")
    m = _SPLIT.match(label)
    if style == "label" or not m:
        return label.replace("_", " ").strip() if style != "label" else label
    first, last = m.group(1), m.group(2)
    return {"first": first, "last": last, "both": f"{first} ({last})"}[style]


def resolve_classes(view, gt_field: str, classes: Sequence[str] | None = None) -> list[str]:
    """The class list: ``classes`` as given, else the distinct labels of ``gt_field``.

    Raises:
        InputError: duplicates, fewer than two classes, or no way to find them
    """
    if classes:
        classes = [str(c) for c in classes]
        check_unique(classes, "The class list")
        found = "given"
    else:
        if not view._dataset.has_sample_field(gt_field):
            raise FieldError(
                f"The ground-truth field {gt_field!r} does not exist, so ClassLab cannot list the "
                "classes: pass gt_field (one of "
                f"{', '.join(classification_fields(view._dataset)) or 'none'}) or a class list"
            )
        require_classification_field(view._dataset, gt_field, "ground-truth field")
        classes = distinct_labels(view, gt_field)
        found = f"found in {gt_field!r}"
    if len(classes) < 2:
        raise InputError(
            f"Zero-shot classification needs at least two classes; {len(classes)} {found} "
            f"({', '.join(classes) or 'none'}): pass a longer class list"
        )
    return list(classes)


def resolve_prompt_names(
    classes: Sequence[str],
    prompt_names: Mapping[str, str] | None = None,
    prompt_style: str = "first",
) -> list[str]:
    """The prompt name of each class: ``prompt_names[c]`` where given, else derived.

    Raises:
        InputError: a mapping key that is not a class, or two classes with one name
    """
    prompt_names = dict(prompt_names or {})
    unknown = [k for k in prompt_names if k not in classes]
    if unknown:
        raise InputError(
            f"prompt_names has entries for unknown classes: {', '.join(map(repr, unknown))}. "
            f"Classes: {', '.join(classes)}"
        )
    names = [str(prompt_names.get(c) or derive_prompt_name(c, prompt_style)) for c in classes]
    check_unique(names, "The prompt names (two classes would be indistinguishable)")
    return names


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


def _check_outputs(dataset, label_field, gt_field, embeddings_field, evaluate, eval_key):
    require_field_name(label_field, "label field")
    if dataset.has_sample_field(label_field):
        require_classification_field(dataset, label_field, "label field")
    if label_field in (gt_field, embeddings_field):
        raise InputError(
            f"label_field {label_field!r} would overwrite the ground truth or embeddings"
        )
    if evaluate:
        require_classification_field(dataset, gt_field, "ground-truth field")
        require_field_name(eval_key, "eval key")
        if eval_key in dataset.list_evaluations():
            found = dataset.get_evaluation_info(eval_key).config.type
            if found != "classification":
                raise InputError(f"Eval key {eval_key!r} is taken by a {found} evaluation")


def _image_features(view, spec, embeddings_field, cache, device, loader_opts, report):
    """Image features for the view: stored embeddings of the same model where they
    exist, the rest encoded now. Returns (ids, features, failures, paths, reused)."""
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
        if loader_opts["on_error"] == "raise":
            raise_on_failures(todo_paths, missing_files(todo_paths))
        enc = encode_images(
            cache.get(spec, device),
            todo_paths,
            loader_opts["batch_size"],
            loader_opts["num_workers"],
            report,
        )
        if loader_opts["on_error"] == "raise":
            raise_on_failures(todo_paths, enc.failures)
        feats.update({todo[i]: enc.features[k] for k, i in enumerate(enc.indices)})
        failures = {todo[i]: err for i, err in enc.failures.items()}
    order = sorted(feats)
    matrix = np.stack([feats[i] for i in order]) if order else np.zeros((0, 1), np.float32)
    return [ids[i] for i in order], matrix, failures, paths, len(ids) - len(todo)


def zero_shot_classify(
    view,
    model_name: str = "ViT-B-32",
    pretrained: str | None = "laion2b_s34b_b79k",
    random_weights: bool = False,
    label_field: str = defaults.CLIP_ZERO_SHOT,
    gt_field: str = defaults.GROUND_TRUTH,
    classes: Sequence[str] | None = None,
    prompt_names: Mapping[str, str] | None = None,
    prompt_style: str = "first",
    template_set: str = DEFAULT_TEMPLATE_SET,
    templates: Sequence[str] | None = None,
    embeddings_field: str | None = defaults.CLIP_EMBEDDINGS,
    batch_size: int = 64,
    num_workers: int = 2,
    device: str = "auto",
    precision: str = "fp32",
    on_error: str = "skip",
    evaluate: bool = True,
    eval_key: str = defaults.EVAL_CLIP,
    cache: ModelCache | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Labels the view's images by CLIP zero-shot into ``label_field``.

    Args:
        classes: the class labels (default: distinct labels of ``gt_field`` in the view)
        prompt_names: ``{class: name used in prompts}``; missing classes get a
            name derived by ``prompt_style`` (see :func:`derive_prompt_name`)
        template_set / templates: a named set of :mod:`classlab.clip.templates`,
            or your own list of ``{}`` templates (which wins)
        embeddings_field: stored image embeddings to reuse when they were made by
            the same model; ``""`` or None always encodes the images
        on_error: ``"skip"`` unreadable images (no prediction, reported) or ``"raise"``
        evaluate: run ``evaluate_classifications`` against ``gt_field`` as ``eval_key``

    Returns:
        a summary: classes, prompts, counts, reused embeddings, accuracy (if evaluated)

    Raises:
        InputError, FieldError, EmptyViewError, DataSourceError, DeviceError:
        before anything is written
    """
    report = as_progress(progress)
    start = time.monotonic()
    dataset = view._dataset
    require_nonempty(view)
    spec = check_spec(model_name, pretrained, random_weights, precision)
    check_run_options(batch_size, num_workers, on_error)
    tmpl = resolve_templates(template_set, templates)
    classes = resolve_classes(view, gt_field, classes)
    names = resolve_prompt_names(classes, prompt_names, prompt_style)
    _check_outputs(dataset, label_field, gt_field, embeddings_field, evaluate, eval_key)
    if embeddings_field:
        check_embeddings_field(dataset, embeddings_field, spec)
    cache = cache if cache is not None else ModelCache()
    report(0.0, f"loading {spec.describe()}", force=True)
    loaded = cache.get(spec, device)
    classifier = build_text_classifier(loaded, names, tmpl)
    opts = {"batch_size": batch_size, "num_workers": num_workers, "on_error": on_error}
    ids, feats, failures, paths, reused = _image_features(
        view, spec, embeddings_field, cache, device, opts, report.stage(0.05, 0.85)
    )
    logits = zero_shot_logits(feats, classifier, loaded.logit_scale())
    # -- everything is validated: write --
    report(0.86, "writing predictions", force=True)
    _write_predictions(view, label_field, ids, logits, classes, failures)
    result = {
        "label_field": label_field,
        "model": spec.describe(),
        "classes": classes,
        "prompt_names": dict(zip(classes, names)),
        "templates": tmpl,
        "num_predicted": len(ids),
        "num_reused_embeddings": reused,
        "num_failed": len(failures),
        "failed": failure_report(paths, failures),
        "logit_scale": round(loaded.logit_scale(), 4),
        "seconds": round(time.monotonic() - start, 3),
    }
    if evaluate:
        report(0.9, "evaluating", force=True)
        if eval_key in dataset.list_evaluations():
            dataset.delete_evaluation(eval_key)
        res = view.evaluate_classifications(
            label_field, gt_field=gt_field, eval_key=eval_key, classes=classes
        )
        result.update(eval_key=eval_key, accuracy=round(float(res.metrics()["accuracy"]), 4))
    _write_record(
        dataset,
        spec,
        result,
        template_set if not templates else None,
        embeddings_field if reused else None,
    )
    report(1.0, f"labelled {len(ids)} samples", force=True)
    return result


def _write_predictions(view, label_field, ids, logits, classes, failures) -> None:
    import fiftyone as fo

    probs = _softmax(logits) if len(ids) else logits
    top = probs.argmax(axis=1) if len(ids) else []
    values = {
        sid: fo.Classification(
            label=classes[int(k)], confidence=float(probs[n, k]), logits=logits[n].tolist()
        )
        for n, (sid, k) in enumerate(zip(ids, top))
    }
    if failures:
        all_ids = view.values("id")
        values.update({all_ids[i]: None for i in failures})
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
