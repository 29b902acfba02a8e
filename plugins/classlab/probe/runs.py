"""Training, applying and deleting linear probes on FiftyOne views.

A probe's record (``dataset.info["classlab_runs"]["linear_probe"][run_key]``, through
:mod:`classlab.records`) holds the embeddings field and its dimension, the classes,
the chosen C and the grid tried (train/val accuracy per C), ``num_params``,
``train_seconds``, ``applied_to`` and ``checkpoint``: the weights file
``classlab.config.models_dir(dataset)/<model_id>.npz`` (an immutable id, never the
run key). Everything is validated, and every embedding the call needs is read and
checked, before the first write.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np

from classlab import defaults, records
from classlab.errors import RunNotFoundError
from classlab.probe.checks import (
    KIND,
    check_c_and_iter,
    check_embeddings_field,
    check_label_field,
    check_new_probe_key,
    check_vectors,
    list_probes,
    require_probe,
)
from classlab.probe.model import Probe, fit_probe, load_probe
from classlab.probe.store import commit, remove_unreferenced
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_classification_field, require_nonempty

logger = logging.getLogger("classlab")

CHUNK = 10_000  # samples read (embeddings) or written (predictions) at a time


def check_apply_target(
    view,
    label_field,
    gt_field,
    embeddings_field,
    classes,
    evaluate,
    eval_key,
    overwrite,
    what="view",
) -> None:
    """The prediction field, the evaluation key and the ground truth's classes."""
    from classlab.lenet.apply import check_gt_classes
    from classlab.lenet.evaluate import check_eval_key

    dataset = view._dataset
    check_label_field(dataset, label_field, gt_field, embeddings_field, overwrite)
    require_nonempty(view, what)
    if evaluate:
        check_eval_key(dataset, eval_key, overwrite, (label_field, gt_field, embeddings_field))
        check_gt_classes(view, gt_field, list(classes))


def check_train_args(
    view,
    embeddings_field,
    run_key,
    gt_field,
    train_tag,
    val_tag,
    label_field,
    apply_tag,
    evaluate,
    eval_key,
    c_grid,
    max_iter,
    overwrite,
    probes=None,
):
    """Every check of :func:`train_linear_probe` that needs no embedding read.

    Returns:
        ``(train view, val view, classes, apply view or None)``
    """
    from classlab.lenet.data import check_no_leakage
    from classlab.lenet.runs import split_views, training_classes

    check_c_and_iter(c_grid, max_iter)
    dataset = view._dataset
    check_new_probe_key(run_key, list_probes(dataset) if probes is None else probes, overwrite)
    check_embeddings_field(view, embeddings_field)
    require_classification_field(view, gt_field, "gt_field")
    train, val = split_views(view, gt_field, train_tag, val_tag, False, defaults.AUGMENTED_TAG)
    classes = training_classes(train, val, gt_field)
    holdout = (val_tag, apply_tag or defaults.TEST_TAG)
    check_no_leakage(train, tuple(dict.fromkeys(t for t in holdout if t != train_tag)), train_tag)
    target = None
    if label_field:
        target = view.match_tags(apply_tag) if apply_tag else view
        what = f"view of samples tagged {apply_tag!r} (apply_tag)" if apply_tag else "view"
        check_apply_target(
            target,
            label_field,
            gt_field,
            embeddings_field,
            classes,
            evaluate,
            eval_key,
            overwrite,
            what,
        )
    return train, val, classes, target


def _labelled(split, field: str, gt_field: str, classes: list[str], what: str):
    x, labels = split.values([field, f"{gt_field}.label"])
    lookup = {c: i for i, c in enumerate(classes)}
    return check_vectors(x, field, what), np.array([lookup[v] for v in labels], dtype=np.int64)


def probe_logits(view, probe: Probe, field: str, report=None) -> tuple[list[str], np.ndarray]:
    """``(ids, N x C logits)`` of the view's embeddings, read and checked a chunk at a
    time (:func:`classlab.chunks.iter_chunks`: only the logits are kept)."""
    from classlab import chunks

    report = as_progress(report)
    total = view.count()
    out_ids, parts, dim = [], [], probe.coef.shape[1]
    for chunk in chunks.iter_chunks(view, [field], CHUNK):
        parts.append(probe.logits(check_vectors(chunk[field], field, "view", dim)))
        out_ids += chunk.ids
        report(len(out_ids) / max(total, 1), f"predicted {len(out_ids)}/{total}")
    return out_ids, np.concatenate(parts) if parts else np.empty((0, len(probe.classes)))


def write_and_evaluate(
    view,
    run_key,
    ids,
    logits,
    classes,
    label_field,
    evaluate,
    eval_key,
    gt_field,
    overwrite,
    report,
) -> dict:
    """Writes the predictions in chunks, notes the field in the record, evaluates."""
    from classlab.lenet.apply import predictions

    dataset = view._dataset
    if overwrite and evaluate and eval_key in dataset.list_evaluations():
        dataset.delete_evaluation(eval_key)
    for start in range(0, len(ids), CHUNK):
        chunk = slice(start, start + CHUNK)
        values = dict(zip(ids[chunk], predictions(logits[chunk], classes)))
        view.set_values(label_field, values, key_field="id")
    applied = (records.get_record(dataset, KIND, run_key) or {}).get("applied_to") or []
    applied = [f for f in applied if f != label_field] + [label_field]
    records.update_record(dataset, KIND, run_key, applied_to=applied)
    out = {"label_field": label_field, "num_samples": len(ids)}
    if evaluate:
        from classlab.lenet.evaluate import evaluate_predictions

        report(0.95, "evaluating", force=True)
        out.update(evaluate_predictions(view, label_field, gt_field, eval_key, overwrite=True))
    return out


def _record(
    probe: Probe, embeddings_field, gt_field, train_tag, val_tag, n_train, n_val, max_iter
) -> dict:
    best = next(r for r in probe.grid if r["C"] == probe.C)
    return {
        "kind": KIND,
        "architecture": "logistic_regression",
        "embeddings_field": embeddings_field,
        "embedding_dim": int(probe.coef.shape[1]),
        "gt_field": gt_field,
        "classes": list(probe.classes),
        "C": probe.C,
        "grid": probe.grid,
        "max_iter": int(max_iter),
        "train_tag": train_tag,
        "val_tag": val_tag,
        "num_train": int(n_train),
        "num_val": int(n_val),
        "train_acc": best["train_acc"],
        "val_acc": best["val_acc"],
        "num_params": probe.num_params,
        "train_seconds": round(probe.train_seconds, 4),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "applied_to": [],
    }


def train_linear_probe(
    view,
    embeddings_field: str = defaults.CLIP_EMBEDDINGS,
    run_key: str = defaults.PROBE_RUN_KEY,
    gt_field: str = defaults.GROUND_TRUTH,
    train_tag: str = defaults.TRAIN_TAG,
    val_tag: str = defaults.VAL_TAG,
    label_field: str = defaults.PROBE_FIELD,
    apply_tag: str = defaults.TEST_TAG,
    evaluate: bool = True,
    eval_key: str = defaults.EVAL_PROBE,
    c_grid=defaults.PROBE_C_GRID,
    max_iter: int = defaults.PROBE_MAX_ITER,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Fits a logistic regression on ``embeddings_field`` (train tag), picks C on val,
    records it as the probe ``run_key``, then applies and evaluates it.

    Args:
        view: the samples (train/val by tag; predictions on ``apply_tag``)
        embeddings_field: a vector field (CLIP, LeNet or backbone embeddings)
        run_key: the probe's key
        gt_field: the Classification labels to learn (and to evaluate against)
        train_tag, val_tag: the split tags
        label_field: the prediction field (``""``: record the probe, apply nothing)
        apply_tag: predict the samples of ``view`` with this tag (``""``: all of them)
        evaluate: evaluate the predictions against ``gt_field`` (eval key ``eval_key``)
        c_grid: the C values tried (the best val accuracy wins)
        max_iter: the solver's iteration limit
        overwrite: replace a probe, field or evaluation of the same name
        progress: ``fn(fraction, label)``

    Returns:
        ``{run_key, C, train_acc, val_acc, num_params, train_seconds, num_train, num_val}``
        plus, when applied, ``label_field``, ``num_samples`` and the evaluation's numbers
    """
    report = as_progress(progress)
    train, val, classes, target = check_train_args(
        view,
        embeddings_field,
        run_key,
        gt_field,
        train_tag,
        val_tag,
        label_field,
        apply_tag,
        evaluate,
        eval_key,
        c_grid,
        max_iter,
        overwrite,
    )
    report(0.0, "reading embeddings", force=True)
    x_tr, y_tr = _labelled(train, embeddings_field, gt_field, classes, "train split")
    x_va, y_va = _labelled(val, embeddings_field, gt_field, classes, "validation split")
    if x_va.shape[1] != x_tr.shape[1]:
        check_vectors(list(x_va), embeddings_field, "validation split", x_tr.shape[1])
    report(0.1, f"fitting on {len(x_tr)} samples ({len(c_grid)} C values)", force=True)
    probe = fit_probe(x_tr, y_tr, x_va, y_va, classes, c_grid, max_iter)
    ids = logits = None
    if target is not None:
        ids, logits = probe_logits(target, probe, embeddings_field, report.stage(0.6, 0.8))
    rec = _record(
        probe, embeddings_field, gt_field, train_tag, val_tag, len(x_tr), len(x_va), max_iter
    )
    commit(view._dataset, run_key, probe, rec, overwrite)
    out = {
        k: rec[k]
        for k in (
            "C",
            "train_acc",
            "val_acc",
            "num_params",
            "train_seconds",
            "num_train",
            "num_val",
        )
    }
    out["run_key"] = run_key
    if target is not None:
        report(0.8, f"writing {len(ids)} predictions", force=True)
        out.update(
            write_and_evaluate(
                target,
                run_key,
                ids,
                logits,
                classes,
                label_field,
                evaluate,
                eval_key,
                gt_field,
                overwrite,
                report,
            )
        )
    report(1.0, f"linear probe {run_key!r}: val accuracy {rec['val_acc']:.4f}", force=True)
    return out


def apply_linear_probe(
    view,
    run_key: str = defaults.PROBE_RUN_KEY,
    label_field: str = defaults.PROBE_FIELD,
    evaluate: bool = True,
    eval_key: str = defaults.EVAL_PROBE,
    gt_field: str = defaults.GROUND_TRUTH,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Predicts every sample of ``view`` with the probe ``run_key`` (from the embeddings
    field it was trained on): ``fo.Classification(label, confidence, logits)``.

    Returns:
        ``{run_key, label_field, num_samples}`` plus the evaluation's numbers
    """
    report = as_progress(progress)
    dataset = view._dataset
    probes = list_probes(dataset)
    require_probe(probes, run_key)
    rec = probes[run_key]
    field = rec["embeddings_field"]
    check_embeddings_field(view, field)
    check_apply_target(
        view, label_field, gt_field, field, rec["classes"], evaluate, eval_key, overwrite
    )
    probe = load_probe(rec.get("checkpoint"), rec["classes"], run_key)
    ids, logits = probe_logits(view, probe, field, report.stage(0.0, 0.8))
    out = {"run_key": run_key}
    out.update(
        write_and_evaluate(
            view,
            run_key,
            ids,
            logits,
            list(rec["classes"]),
            label_field,
            evaluate,
            eval_key,
            gt_field,
            overwrite,
            report,
        )
    )
    report(1.0, f"{len(ids)} predictions in {label_field!r}", force=True)
    return out


def delete_linear_probe(dataset, run_key: str, delete_weights: bool = True) -> dict:
    """Removes a probe's record (and its weights file, when inside ClassLab's root and no
    other record uses it). Prediction fields are left in place. Returns the record."""
    require_probe(list_probes(dataset), run_key)
    rec = records.delete_record(dataset, KIND, run_key)
    if rec is None:
        raise RunNotFoundError(f"Linear probe {run_key!r} was deleted meanwhile")
    if delete_weights:
        remove_unreferenced(rec.get("checkpoint"))
    return rec
