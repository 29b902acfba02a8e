"""Storing an OOS run: the fold models in the registry (``<run_key>-fold<k>``) and the
predictions (chunked writes by id). See :mod:`classlab.labels.oos`."""

from __future__ import annotations

import datetime as dt

from classlab import records
from classlab.labels.oos import KIND, WRITE_CHUNK, FoldResult, OosPlan, fold_key


def _fold_record(fold: FoldResult, plan: OosPlan, run_key, label_field, pred_field) -> dict:
    """The registry record of one fold model (the fields :func:`train_lenet` writes)."""
    from classlab.lenet.models import num_params

    cfg, res = plan.cfg, fold.fit
    return {
        "architecture": cfg.architecture,
        "classes": plan.classes,
        "config": cfg.to_dict(),
        "history": res.history,
        "best_epoch": res.best_epoch,
        "stopped_early": res.stopped_early,
        "parent": None,
        "train_seconds": res.seconds,
        "num_params": num_params(res.model),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "applied_to": [pred_field],
        "images_per_second": None,
        "label_field": label_field,
        "in_channels": cfg.in_channels,
        "input_size": cfg.input_size,
        "device": plan.device,
        "num_train": fold.num_train,
        "num_val": fold.num_val,
        "oos_run": run_key,
        "fold": fold.k,
        "num_folds": plan.num_folds,
        "repeat": fold.repeat,
        "repeats": plan.repeats,
        "temperature": fold.temperature,
    }


def commit_folds(
    dataset, run_key, plan: OosPlan, folds, label_field, pred_field, overwrite, prune=True
):
    """Writes each fold's checkpoint and registry record (``folds``: all K, or one
    shard's); with ``prune``, removes the folds of an older run of ``run_key`` that
    this one does not replace."""
    from classlab.lenet.checkpoints import commit

    for fold in folds:
        key = fold_key(run_key, fold.k)
        model = fold.fit.model.cpu()
        payload = {
            "state_dict": model.state_dict(),
            "classes": plan.classes,
            "architecture": plan.cfg.architecture,
            "config": plan.cfg.to_dict(),
        }
        rec = _fold_record(fold, plan, run_key, label_field, pred_field)
        commit(dataset, key, payload, rec, overwrite)
    if prune:
        prune_folds(dataset, run_key, plan.fold_keys)


def prune_folds(dataset, run_key, keep) -> None:
    """Deletes the fold models of the older ``oos/<run_key>`` record that are not in
    ``keep`` (a rerun with fewer folds)."""
    from classlab.lenet import registry

    old = (records.get_record(dataset, KIND, run_key) or {}).get("folds") or []
    for key in sorted(set(old) - set(keep)):
        if key in registry.list_models(dataset):
            registry.delete_model(dataset, key, delete_checkpoint=True)


def write_oos_predictions(dataset, ids, logits, classes, folds_of, pred_field, report) -> None:
    """Writes Classification predictions (label, confidence, logits, ``fold``) by id,
    ``WRITE_CHUNK`` samples at a time."""
    from classlab.lenet.apply import predictions

    n = len(ids)
    for start in range(0, n, WRITE_CHUNK):
        stop = min(start + WRITE_CHUNK, n)
        labels = predictions(logits[start:stop], classes)
        for label, k in zip(labels, folds_of[start:stop]):
            label["fold"] = int(k)
        dataset.set_values(pred_field, dict(zip(ids[start:stop], labels)), key_field="id")
        report(stop / max(n, 1), f"wrote {stop}/{n} predictions")
