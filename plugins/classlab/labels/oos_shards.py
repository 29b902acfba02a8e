"""A sharded OOS run: the K folds of :func:`~classlab.labels.oos.compute_oos_predictions`
shared out among N delegated operations (``shards=N``, :mod:`operators.shards`).

The folds are the natural shards: each one trains on most of the labelled samples, so
a shard cannot be an id range of the view. Instead the parent checks the whole request
(:func:`~classlab.labels.oos.check_oos_args`) and gives each shard a list of folds
(:func:`split_folds`: contiguous, together 1..K). Every shard decodes the
cross-validated samples of the whole view, draws the same seeded folds
(:func:`~classlab.labels.oos.make_folds` on the same labels in the same order) and
(:func:`compute_oos_folds`) trains its folds, commits each fold model
``<run_key>-fold<k>`` to the registry and writes the out-of-sample predictions of the
samples that fold held out. The shard that completes the group runs
:func:`finish_oos_predictions`: the rest of the view (e.g. test) predicted by the K
fold models' mean calibrated probabilities (loaded from the registry), the
out-of-sample accuracy, the ``oos/<run_key>`` record listing the folds, and the removal
of an older run's surplus folds.

Each fold seeds its own training (``TrainConfig.seed``) and its own inner split
(``seed + k``), so a fold model does not depend on which shard trained it or on the
folds trained before it: on the same device and thread count the result equals an
unsharded run. Unlike an unsharded run, a sharded one writes fold by fold: a failed
shard leaves the folds of the others in place (rerun it; the final step runs when it
completes).

With ``repeats=R`` the shards share out the R x K fold models the same way, but a
sample's prediction needs its R held-out models, which different shards may train:
the shards then only commit their models, and the final step predicts every
cross-validated sample with its R fold models (the same calibrated logits an
unsharded run averages). ``epoch_ensemble`` needs each fold's own held-out
probabilities over its epochs, which a stored fold model cannot give back: sharded, it
is refused with repeats (:data:`EPOCH_ENSEMBLE_SHARDS`); without repeats each shard
writes its folds' epoch means itself.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from classlab import defaults, records
from classlab.errors import InputError
from classlab.labels.oos import (
    KIND,
    FoldResult,
    _fit_fold,
    all_splits,
    check_oos_args,
    combine_folds,
    ensemble_logits,
    fold_label,
    mark_skipped,
    run_summary,
    unit_of,
)
from classlab.progress import ProgressFn, as_progress

EPOCH_ENSEMBLE_SHARDS = (
    "epoch_ensemble with shards needs repeats=1: with repeats the final step predicts "
    "from the stored fold models, which hold one epoch. Run with repeats=1, or without "
    "shards"
)


def check_sharded_plan(plan) -> None:
    """What a checked plan cannot do sharded: ``epoch_ensemble`` with repeats."""
    if plan.epoch_ensemble and plan.repeats > 1:
        raise InputError(EPOCH_ENSEMBLE_SHARDS)


def split_folds(num_folds: int, shards: int) -> list[list[int]]:
    """The folds (1-based) of each shard: ``min(shards, num_folds)`` contiguous, (almost)
    equal groups that together are ``1..num_folds`` (e.g. 5 folds, 2 shards: [[1, 2, 3],
    [4, 5]])."""
    n = max(1, min(int(shards), int(num_folds)))
    return [list(map(int, part + 1)) for part in np.array_split(np.arange(num_folds), n)]


def check_fold_list(folds, num_folds: int) -> list[int]:
    """``folds``: distinct fold numbers from 1 to ``num_folds`` (the fold models of all
    repeats); returns them sorted."""
    ok = isinstance(folds, (list, tuple)) and folds
    ok = ok and all(isinstance(k, int) and not isinstance(k, bool) for k in folds)
    if not ok or len(set(folds)) != len(folds) or not all(1 <= k <= num_folds for k in folds):
        raise InputError(
            f"folds must be distinct fold numbers from 1 to {num_folds} (num_folds x "
            f"repeats), got {folds!r}"
        )
    return sorted(folds)


def compute_oos_folds(
    view,
    folds: Sequence[int],
    run_key: str = defaults.OOS_RUN_KEY,
    label_field: str = defaults.GROUND_TRUTH,
    pred_field: str = defaults.OOS_FIELD,
    tags: Sequence[str] = (defaults.TRAIN_TAG, defaults.VAL_TAG),
    num_folds: int = defaults.OOS_FOLDS,
    seed: int = defaults.SPLIT_SEED,
    config=None,
    repeats: int = 1,
    exclude_tags: Sequence[str] = (),
    epoch_ensemble: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """One shard of a sharded OOS run: trains ``folds`` (fold models 1 to
    ``num_folds * repeats``), commits them and, without repeats, writes the
    predictions of the samples they held out (with repeats the final step does).

    The caller (the sharded operator's parent) checked the request with its own
    ``overwrite``; a shard overwrites what a sibling, or the run it replaces, wrote.

    Returns:
        ``{run_key, pred_field, folds (keys), num_samples (written), seconds}``
    """
    from classlab.labels.oos import _decode
    from classlab.labels.oos_store import commit_folds, write_oos_predictions

    report, t0 = as_progress(progress), time.perf_counter()
    plan = check_oos_args(
        view,
        run_key,
        label_field,
        pred_field,
        tags,
        num_folds,
        config,
        True,
        repeats,
        exclude_tags,
        epoch_ensemble,
    )
    check_sharded_plan(plan)
    chosen = check_fold_list(list(folds), plan.num_units)
    ids, x, y, _, _ = _decode(plan, label_field, False, report.stage(0, 0.1))
    mark_skipped(plan, ids)
    splits, done = all_splits(y.cpu().numpy(), plan, seed), []
    for i, u in enumerate(chosen):
        r, k0 = unit_of(u, plan.num_folds)
        span = (0.1 + 0.8 * i / len(chosen), 0.1 + 0.8 * (i + 1) / len(chosen))
        report(span[0], f"{fold_label(plan, u)}: training", force=True)
        done.append(_fit_fold(u, x, y, splits[r][k0], plan, seed, report.stage(*span)))
    del x, y
    dataset = view._dataset
    commit_folds(dataset, run_key, plan, done, label_field, pred_field, True, prune=False)
    if plan.repeats > 1:  # a sample's R fold models may be other shards': the final step
        return _shard_result(run_key, pred_field, plan, chosen, 0, t0)
    test = np.concatenate([f.test_idx for f in done])
    logits = np.concatenate([f.logits for f in done])
    fold_of = np.concatenate([np.full(len(f.test_idx), f.k, dtype=np.int64) for f in done])
    out_ids = [ids[i] for i in test]
    write = report.stage(0.92, 1.0)
    write_oos_predictions(dataset, out_ids, logits, plan.classes, fold_of, pred_field, write)
    return _shard_result(run_key, pred_field, plan, chosen, len(out_ids), t0)


def _shard_result(run_key, pred_field, plan, chosen, written: int, t0: float) -> dict:
    return {
        "run_key": run_key,
        "pred_field": pred_field,
        "folds": [plan.fold_keys[u - 1] for u in chosen],
        "num_samples": written,
        "seconds": time.perf_counter() - t0,
    }


def finish_oos_predictions(
    view,
    run_key: str = defaults.OOS_RUN_KEY,
    label_field: str = defaults.GROUND_TRUTH,
    pred_field: str = defaults.OOS_FIELD,
    tags: Sequence[str] = (defaults.TRAIN_TAG, defaults.VAL_TAG),
    num_folds: int = defaults.OOS_FOLDS,
    seed: int = defaults.SPLIT_SEED,
    config=None,
    predict_others: bool = True,
    repeats: int = 1,
    exclude_tags: Sequence[str] = (),
    epoch_ensemble: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """The final step of a sharded OOS run, once every fold is committed: with
    repeats, every cross-validated sample by its R held-out fold models; the rest of
    the view by the fold ensemble, the accuracy, the ``oos/<run_key>`` record.

    Returns:
        what :func:`~classlab.labels.oos.compute_oos_predictions` returns (``seconds``:
        this step's; ``fold_seconds``: each fold model's training)

    Raises:
        InputError: a fold model is missing or belongs to another run
    """
    from fiftyone import ViewField as F

    from classlab.labels.oos_store import prune_folds, write_oos_predictions
    from classlab.lenet.data import view_tensors
    from classlab.lenet.registry import list_models, load_model

    report, t0 = as_progress(progress), time.perf_counter()
    plan = check_oos_args(
        view,
        run_key,
        label_field,
        pred_field,
        tags,
        num_folds,
        config,
        True,
        repeats,
        exclude_tags,
        epoch_ensemble,
    )
    check_sharded_plan(plan)
    dataset = view._dataset
    _check_folds(list_models(dataset), plan.fold_keys, run_key)
    members = [load_model(dataset, key, plan.device) for key in plan.fold_keys]
    recs = [rec for _, rec in members]
    plan.cfg.in_channels = recs[0]["in_channels"]
    if plan.repeats > 1:
        _predict_repeats(plan, members, label_field, pred_field, seed, report.stage(0, 0.5))
        report = report.stage(0.5, 1.0)
    n_others = plan.others.count() if predict_others else 0
    if n_others:
        report(0.0, f"predicting {n_others} other samples with the fold ensemble", True)
        cfg = plan.cfg
        args = (cfg.in_channels, cfg.input_size, plan.device, cfg.num_workers)
        oids, ox, _ = view_tensors(plan.others, None, None, *args, report.stage(0, 0.6))
        pairs = [(model, rec["temperature"]) for model, rec in members]
        ologits = ensemble_logits(pairs, ox, plan)
        zeros = np.zeros(len(oids), dtype=np.int64)
        write = report.stage(0.6, 0.95)
        write_oos_predictions(dataset, list(oids), ologits, plan.classes, zeros, pred_field, write)
    n_cv = plan.cv.count()
    right = plan.cv.match(F(f"{pred_field}.label") == F(f"{label_field}.label")).count()
    prune_folds(dataset, run_key, plan.fold_keys)
    args = dict(run_key=run_key, pred_field=pred_field, label_field=label_field)
    args.update(tags=tags, seed=seed)
    per_fold = [(rec["temperature"], len(rec["history"])) for rec in recs]
    out = run_summary(plan, args, (n_cv, n_others), float(right / n_cv), per_fold)
    skipped = plan.cv.match_tags(list(plan.exclude_tags)).count() if plan.exclude_tags else 0
    out["num_excluded"] = skipped
    out["seconds"] = time.perf_counter() - t0
    out["fold_seconds"] = [rec.get("train_seconds") for rec in recs]
    records.set_record(dataset, KIND, run_key, {**out, "config": plan.cfg.to_dict()})
    report(1.0, f"{n_cv} out-of-sample predictions in {pred_field!r} (sharded)", True)
    return out


def _predict_repeats(plan, members, label_field, pred_field, seed, report) -> None:
    """Every cross-validated sample predicted by its R held-out fold models (the
    committed ones: same weights and temperatures as when they were trained), combined
    as :func:`~classlab.labels.oos.cross_validate` combines them, and written."""
    import torch

    from classlab.labels.oos import _decode
    from classlab.labels.oos_store import write_oos_predictions
    from classlab.lenet.train import predict

    ids, x, y, _, _ = _decode(plan, label_field, False, report.stage(0, 0.5))
    y_np, cfg, folds = y.cpu().numpy(), plan.cfg, []
    splits = all_splits(y_np, plan, seed)
    for u, (model, rec) in enumerate(members, 1):
        r, k0 = unit_of(u, plan.num_folds)
        test_idx = splits[r][k0][1]
        part = x[torch.as_tensor(test_idx, device=x.device)]
        z = predict(model, part, cfg.eval_batch_size, plan.device, cfg.amp).cpu().numpy()
        logits = (z / rec["temperature"]).astype(np.float32)
        folds.append(FoldResult(u, None, rec["temperature"], test_idx, logits, 0, 0, r + 1))
    del x, y
    logits, fold_of = combine_folds(folds, len(y_np), len(plan.classes))
    write = report.stage(0.6, 1.0)
    write_oos_predictions(
        plan.cv._dataset, list(ids), logits, plan.classes, fold_of, pred_field, write
    )


def _check_folds(models: dict, keys: list[str], run_key: str) -> None:
    """Every fold model of the run is in the registry and belongs to ``run_key``."""
    missing = [k for k in keys if (models.get(k) or {}).get("oos_run") != run_key]
    if missing:
        raise InputError(
            f"The fold model(s) {missing} of OOS run {run_key!r} are missing: a shard "
            "failed or has not run; rerun it (fiftyone delegated rerun ID)"
        )
