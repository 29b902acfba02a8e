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
from dataclasses import field as dc_field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from classlab import defaults, records
from classlab.chunks import Failures, iter_chunks
from classlab.chunks import write as write_values
from classlab.clip.embeddings import (
    KIND,
    MAX_REPORTED_FAILURES,
    check_embeddings_field,
    check_files_exist,
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
from classlab.errors import FieldError, InputError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import (
    builtin_fields,
    check_output_name,
    require_classification_field,
    require_nonempty,
    require_run_key,
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
        FieldError: a built-in field, or the field exists and holds something else
    """
    check_output_name(dataset, label_field, "label_field")
    if label_field in (gt_field, embeddings_field):
        raise InputError(
            f"label_field {label_field!r} would overwrite the ground truth or embeddings: "
            "choose another label_field for the predictions"
        )
    if dataset.has_sample_field(label_field):
        require_classification_field(dataset, label_field, "label_field")


def check_evaluation(dataset, gt_field: str, eval_key: str, taken=()) -> None:
    """Checks that the predictions can be evaluated against ``gt_field`` as ``eval_key``.

    FiftyOne stores each sample's result in a field named ``eval_key``: so it must be
    a run key (an identifier), not a built-in field, not one of the call's fields
    (``taken``), and not an existing field other than this evaluation's.
    """
    require_classification_field(dataset, gt_field, "ground-truth field (gt_field)")
    require_run_key(eval_key, "eval_key")
    if eval_key in builtin_fields(dataset) | {gt_field, *(t for t in taken if t)}:
        raise FieldError(
            f"eval_key {eval_key!r} names a field this call reads or writes (or a built-in "
            "field): FiftyOne stores each sample's result in a field of that name. Pick "
            "another eval_key."
        )
    if eval_key not in dataset.list_evaluations() and dataset.has_field(eval_key):
        raise FieldError(
            f"eval_key {eval_key!r} is the name of an existing field that is not an "
            "evaluation: pick another eval_key."
        )
    if eval_key in dataset.list_evaluations():
        found = dataset.get_evaluation_info(eval_key).config.type
        if found != "classification":
            raise InputError(
                f"Eval key {eval_key!r} is taken by a {found} evaluation: choose another eval_key"
            )


def _check_outputs(dataset, spec, label_field, gt_field, embeddings_field, evaluate, eval_key):
    check_label_field(dataset, label_field, gt_field, embeddings_field)
    if evaluate:
        check_evaluation(dataset, gt_field, eval_key, (label_field, embeddings_field))
    if embeddings_field:
        check_embeddings_field(dataset, embeddings_field, spec)


@dataclass
class _Tally:
    """What the chunks did: samples labelled, stored embeddings reused, failures."""

    predicted: int = 0
    reused: int = 0
    failures: Failures = dc_field(default_factory=lambda: Failures(MAX_REPORTED_FAILURES))


def _chunk_features(chunk, loaded, stored_field, options, report):
    """``(ids, features, {index: error}, reused)`` of one chunk: stored embeddings of
    the same model where they exist (``stored_field`` was checked to hold them), the
    rest encoded now."""
    ids, paths = chunk.ids, chunk["filepath"]
    stored = chunk[stored_field] if stored_field else [None] * len(ids)
    todo = [i for i, v in enumerate(stored) if v is None]
    feats = {i: np.asarray(v, np.float32) for i, v in enumerate(stored) if v is not None}
    failures: dict[int, str] = {}
    if todo:
        todo_paths = [paths[i] for i in todo]
        enc = encode_images(loaded, todo_paths, options.batch_size, options.num_workers, report)
        if options.on_error == "raise":
            raise_on_failures(todo_paths, enc.failures)
        feats.update({todo[i]: enc.features[k] for k, i in enumerate(enc.indices)})
        failures = {todo[i]: err for i, err in enc.failures.items()}
    order = sorted(feats)
    matrix = np.stack([feats[i] for i in order]) if order else None
    return [ids[i] for i in order], matrix, failures, len(ids) - len(todo)


def _classify_chunks(view, loaded, classifier, embeddings_field, options, out, report) -> _Tally:
    """Classifies and writes the view one chunk (``defaults.CHUNK_SIZE``) at a time;
    ``out`` is ``(label_field, classes)``. With ``on_error="raise"`` missing files
    are found before the first write; a file that exists but cannot be decoded stops
    the run at its chunk (earlier chunks keep their predictions)."""
    has = embeddings_field and view._dataset.has_sample_field(embeddings_field)
    stored = embeddings_field if has else None
    if options.on_error == "raise":
        check_files_exist(view if stored is None else view.exists(stored, False))
    tally, total, scale = _Tally(), max(view.count(), 1), loaded.logit_scale()
    for chunk in iter_chunks(view, ["filepath", *([stored] if stored else [])]):
        seen = tally.predicted + tally.failures.count
        stage = report.stage(seen / total, (seen + len(chunk)) / total)
        ids, matrix, failures, reused = _chunk_features(chunk, loaded, stored, options, stage)
        if matrix is None:
            logits = np.zeros((0, len(out[1])), np.float32)
        else:
            logits = zero_shot_logits(matrix, classifier, scale)
        _write_predictions(view, out[0], ids, logits, out[1], [chunk.ids[i] for i in failures])
        tally.predicted, tally.reused = tally.predicted + len(ids), tally.reused + reused
        for i, err in sorted(failures.items()):
            tally.failures.add(chunk["filepath"][i], err)
    return tally


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
    # -- everything is validated; each chunk is written as it is classified --
    out = (label_field, prompts.classes)
    stage = report.stage(0.05, 0.88)
    feats = _classify_chunks(view, loaded, classifier, embeddings_field, options, out, stage)
    result = _summary(label_field, spec, prompts, feats, loaded.logit_scale())
    if evaluate:
        report(0.9, "evaluating", force=True)
        result.update(_evaluate(view, label_field, gt_field, eval_key, prompts.classes))
    result["seconds"] = round(time.monotonic() - start, 3)
    reused_from = embeddings_field if feats.reused else None
    _write_record(view._dataset, spec, result, prompts.template_set, reused_from)
    report(1.0, f"labelled {feats.predicted} samples", force=True)
    return result


def _summary(label_field, spec, prompts: Prompts, feats: _Tally, logit_scale) -> dict:
    return {
        "label_field": label_field,
        "model": spec.describe(),
        "classes": prompts.classes,
        "prompt_names": dict(zip(prompts.classes, prompts.names)),
        "templates": prompts.templates,
        "num_predicted": feats.predicted,
        "num_reused_embeddings": feats.reused,
        "num_failed": len(feats.failures),
        "failed": feats.failures.first,
        "logit_scale": round(logit_scale, 4),
    }


def _evaluate(view, label_field, gt_field, eval_key, classes) -> dict:
    """FiftyOne's ``evaluate_classifications`` run as ``eval_key`` (replacing an earlier
    run of that key), built a chunk at a time (bounded memory, the same run)."""
    from classlab.lenet.eval_run import evaluate_in_chunks

    dataset = view._dataset
    if eval_key in dataset.list_evaluations():
        dataset.delete_evaluation(eval_key)
    res = evaluate_in_chunks(view, label_field, gt_field, eval_key, classes)
    return {"eval_key": eval_key, "accuracy": round(float(res.metrics()["accuracy"]), 4)}


def _write_predictions(view, label_field, ids, logits, classes, failed_ids) -> None:
    """Writes one chunk's predictions (and None for its unreadable images) by id."""
    import fiftyone as fo

    probs = _softmax(logits) if len(ids) else logits
    top = probs.argmax(axis=1) if len(ids) else []
    values = {
        sid: fo.Classification(
            label=classes[int(k)], confidence=float(probs[n, k]), logits=logits[n].tolist()
        )
        for n, (sid, k) in enumerate(zip(ids, top))
    }
    values.update({sid: None for sid in failed_ids})
    write_values(view, label_field, values)


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
