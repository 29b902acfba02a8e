"""Out-of-sample predictions by stratified K-fold cross-validation of LeNet-5.

Every labelled sample of the cross-validated part of a view (the ``train`` and
``val`` tags by default) is predicted by the one fold model that did not see it.
The images are decoded once into a tensor cache shared by all folds
(:func:`classlab.lenet.data.view_tensors`); each fold trains with
:func:`classlab.lenet.train.fit_tensors`, early-stopping on a stratified 10% slice
of its own training part, and is temperature-scaled on that same slice
(:mod:`classlab.labels.calibration`), so the stored logits are calibrated. The
other samples of the view (e.g. ``test``), when ``predict_others``, get the mean of
the calibrated fold models' probabilities (none of them saw those samples).
Augmented copies are left out: a copy in another fold would leak its source.

``repeats=R`` repeats the K-fold split R times with other seeds (repeated K-fold
cross-validation): each labelled sample is then predicted by R fold models that did
not see it, and its stored logits are the log of their mean calibrated probabilities
(an ensemble; R times the training). Repeat 1 is exactly the ``repeats=1`` run.

``epoch_ensemble=True`` stores, for each held-out sample, the mean of its fold
model's calibrated probabilities over the epochs up to the one the fold keeps (the
lowest validation loss), each epoch calibrated on the fold's validation slice: a
temporal ensemble of the early-learning epochs (as in SELF, Nguyen et al. 2020),
which helps most where the fold models go on to memorise wrong labels (no
regularisation, many epochs). The fold models kept, and the predictions of the other
samples, stay the kept epoch's.

``exclude_tags`` leaves the samples carrying any of those tags out of every fold
model's training (and its early-stopping slice) while still predicting them out of
sample: a second pass after :func:`~classlab.labels.issues.find_label_issues`
(``exclude_tags=["label_issue"]``) trains on the labels the first pass trusts, so a
systematic flip (every tenth 4 labelled 9) no longer teaches the models to doubt
the right labels, and more of the wrong ones stand out.

Storage: fold ``k`` (1-based) of run ``R`` is the model ``R-fold<k>`` in the
model registry (:mod:`classlab.lenet.registry`; keys cannot hold ``/``), with its
history, and the run itself is the record ``oos/R`` (``folds`` lists the fold
keys, plus temperatures, sizes and the out-of-sample accuracy). With repeats the
folds are numbered on: repeat ``r``'s fold ``k`` is ``R-fold<(r - 1) * K + k>``. Each
prediction carries ``fold`` (``k`` of repeat 1, or 0 for a sample predicted by the
ensemble).

Nothing is written before every fold has trained: a failure leaves the dataset as
it was. (``shards=N`` trains the folds in N delegated operations that each write
their own folds: :mod:`classlab.labels.oos_shards`.)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from classlab import defaults, records
from classlab.config import check_key, resolve_device
from classlab.errors import EmptyViewError, InputError
from classlab.progress import ProgressFn, as_progress

logger = logging.getLogger("classlab")

KIND = "oos"
MAX_FOLDS = 50
MAX_REPEATS = 10
REPEAT_SEED_STEP = 7919  # repeat r draws its folds with seed + r * this (a prime)
WRITE_CHUNK = 5000


def fold_key(run_key: str, k: int) -> str:
    """The registry key of fold ``k`` (1-based) of the OOS run ``run_key``."""
    return run_key + defaults.OOS_FOLD_SUFFIX.format(k=k)


def list_oos_runs(dataset) -> dict[str, dict]:
    """The OOS runs of ``dataset``: ``{run_key: record}``."""
    return records.list_records(dataset, KIND)


def check_num_folds(num_folds) -> int:
    """``num_folds`` is an integer from 2 to 50."""
    ok = isinstance(num_folds, (int, float)) and not isinstance(num_folds, bool)
    if not ok or num_folds != int(num_folds) or not 2 <= num_folds <= MAX_FOLDS:
        raise InputError(f"num_folds must be an integer from 2 to {MAX_FOLDS}, got {num_folds!r}")
    return int(num_folds)


def check_repeats(repeats) -> int:
    """``repeats`` is an integer from 1 to ``MAX_REPEATS``."""
    ok = isinstance(repeats, (int, float)) and not isinstance(repeats, bool)
    if not ok or repeats != int(repeats) or not 1 <= repeats <= MAX_REPEATS:
        raise InputError(
            f"repeats must be an integer from 1 to {MAX_REPEATS} (1: plain K-fold), got {repeats!r}"
        )
    return int(repeats)


def repeat_seed(seed: int, r: int) -> int:
    """The seed of repeat ``r`` (0-based) of the folds: ``seed`` itself for the first."""
    return int(seed) + r * REPEAT_SEED_STEP


def unit_of(u: int, num_folds: int) -> tuple[int, int]:
    """``(repeat, fold)``, both 0-based, of fold model ``u`` (1-based, across repeats)."""
    return divmod(u - 1, num_folds)


def oos_config(config=None):
    """The training options of the fold models: :class:`TrainConfig` defaults, except
    ``epochs`` (``defaults.OOS_EPOCHS``) and ``label_smoothing``
    (``defaults.OOS_LABEL_SMOOTHING`` = 0: smoothing caps the probabilities that
    confident learning thresholds), unless ``config`` (a dict or TrainConfig) sets them."""
    from classlab.lenet.config import TrainConfig

    given = config.to_dict() if isinstance(config, TrainConfig) else dict(config or {})
    base = {"epochs": defaults.OOS_EPOCHS, "label_smoothing": defaults.OOS_LABEL_SMOOTHING}
    return TrainConfig.from_dict({**base, **{k: v for k, v in given.items() if v is not None}})


def split_view(view, label_field: str, tags: Sequence[str]):
    """``(cv, others)``: the labelled samples carrying one of ``tags`` (all labelled
    samples when ``tags`` is empty), and the rest of the view; augmented copies in neither."""
    from fiftyone import ViewField as F

    base = view.match_tags(defaults.AUGMENTED_TAG, bool=False)
    chosen = F(label_field).exists()
    if tags:
        chosen = chosen & F("tags").contains(list(tags))
    return base.match(chosen), base.match(~chosen)


@dataclass
class OosPlan:
    """What :func:`check_oos_args` checked, before any write."""

    cv: object
    others: object
    classes: list[str]
    num_folds: int
    cfg: object
    device: str
    fold_keys: list[str] = field(default_factory=list)
    repeats: int = 1
    exclude_tags: tuple = ()
    skip: Optional[np.ndarray] = None  # per decoded sample: True = never trained on
    epoch_ensemble: bool = False  # held-out probabilities averaged over epochs 1..kept
    epoch_logits: bool = False  # keep every epoch's calibrated test logits (benchmarks)

    @property
    def num_units(self) -> int:
        """Fold models in all: K per repeat."""
        return self.num_folds * self.repeats


def check_oos_args(
    view,
    run_key,
    label_field,
    pred_field,
    tags,
    num_folds,
    config=None,
    overwrite=False,
    repeats=1,
    exclude_tags=(),
    epoch_ensemble=False,
) -> OosPlan:
    """Every check of :func:`compute_oos_predictions`, in order (aggregations only).

    Raises:
        InputError / FieldError / EmptyViewError / RunExistsError: naming the parameter
    """
    from classlab.lenet import registry
    from classlab.lenet.apply import check_label_field
    from classlab.validation import require_classification_field

    check_key(run_key, "run_key")
    k = check_num_folds(num_folds)
    n_rep = check_repeats(repeats)
    exclude = check_exclude_tags(exclude_tags)
    if not isinstance(epoch_ensemble, bool):
        raise InputError(f"epoch_ensemble must be true or false, got {epoch_ensemble!r}")
    cfg = oos_config(config)
    device = resolve_device(cfg.device)
    dataset = view._dataset
    require_classification_field(view, label_field, "label_field")
    if run_key in list_oos_runs(dataset) and not overwrite:
        from classlab.errors import RunExistsError

        raise RunExistsError(
            f"An OOS run {run_key!r} exists: pick another run_key or pass overwrite=True"
        )
    models = registry.list_models(dataset)
    keys = [fold_key(run_key, i) for i in range(1, k * n_rep + 1)]
    for key in keys:
        registry.check_new_run_key(key, models, overwrite, "run_key")
    try:  # the rule of apply_lenet's prediction field, under this function's name for it
        check_label_field(dataset, pred_field, label_field, overwrite)
    except InputError as e:
        raise type(e)(str(e).replace("label_field", "pred_field")) from None
    cv, others = split_view(view, label_field, tags)
    counts = {c: n for c, n in cv.count_values(f"{label_field}.label").items() if c}
    _check_counts(counts, k, tags)
    classes = sorted(counts)
    if exclude:
        kept = cv.match_tags(list(exclude), bool=False)
        left = [c for c, n in kept.count_values(f"{label_field}.label").items() if c and n]
        if len(left) < 2:
            raise InputError(
                f"exclude_tags={list(exclude)} leaves {len(left)} class to train on: need 2 "
                "or more; exclude fewer tags, or review the tagged samples first"
            )
    plan = OosPlan(cv, others, classes, k, cfg, device, keys, n_rep, exclude)
    plan.epoch_ensemble = epoch_ensemble
    return plan


def check_exclude_tags(exclude_tags) -> tuple:
    """``exclude_tags``: a list of non-empty tag names (may be empty)."""
    ok = isinstance(exclude_tags, (list, tuple))
    ok = ok and all(isinstance(t, str) and t.strip() for t in exclude_tags)
    if not ok:
        raise InputError(
            f"exclude_tags must be a list of tag names (e.g. ['label_issue']), got {exclude_tags!r}"
        )
    return tuple(dict.fromkeys(exclude_tags))


def mark_skipped(plan: OosPlan, ids: Sequence[str]) -> int:
    """Sets ``plan.skip`` for the decoded samples ``ids`` (those carrying an exclude
    tag); returns how many."""
    plan.skip = np.zeros(len(ids), bool)
    if plan.exclude_tags:
        out = set(plan.cv.match_tags(list(plan.exclude_tags)).values("id"))
        plan.skip = np.fromiter((i in out for i in ids), bool, len(ids))
    return int(plan.skip.sum())


def _check_counts(counts: dict, k: int, tags) -> None:
    n = sum(counts.values())
    where = f"tagged {', '.join(tags)}" if tags else "of the view"
    if n == 0:
        raise EmptyViewError(
            f"No labelled sample {where}: split the dataset first, or change tags "
            "(empty: every labelled sample of the view)"
        )
    if len(counts) < 2:
        raise InputError(f"The labelled samples {where} have {len(counts)} class: need 2 or more")
    if max(counts.values()) < k:
        raise InputError(
            f"num_folds={k} is more than the samples of every class ({max(counts.values())} at "
            "most): lower num_folds or label more samples"
        )


def make_folds(y: np.ndarray, num_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, shuffled, seeded K folds: ``[(train_idx, test_idx), ...]``."""
    import warnings

    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed % 2**32)
    with warnings.catch_warnings():  # "least populated class has only n members"
        warnings.simplefilter("ignore", UserWarning)
        return list(skf.split(np.zeros(len(y)), y))


def inner_split(train_idx: np.ndarray, y: np.ndarray, seed: int, fraction: float = 0.1):
    """A stratified ``fraction`` of ``train_idx`` for early stopping and temperature
    scaling (plain random when a class is too small to stratify): ``(fit, val)``."""
    from sklearn.model_selection import train_test_split

    n_val = max(1, int(round(fraction * len(train_idx))))
    try:
        fit, val = train_test_split(
            train_idx, test_size=n_val, stratify=y[train_idx], random_state=seed % 2**32
        )
    except ValueError:
        fit, val = train_test_split(train_idx, test_size=n_val, random_state=seed % 2**32)
    return np.sort(fit), np.sort(val)


@dataclass
class FoldResult:
    """One fold's trained model, history, temperature and test predictions."""

    k: int
    fit: object
    temperature: float
    test_idx: np.ndarray
    logits: np.ndarray
    num_train: int
    num_val: int
    repeat: int = 1
    epoch_logits: Optional[np.ndarray] = None  # epochs x test x C, when the plan asks


def fold_label(plan: OosPlan, u: int) -> str:
    """How progress names fold model ``u``: ``fold k/K`` (``repeat r/R, fold k/K``)."""
    r, k = unit_of(u, plan.num_folds)
    fold = f"fold {k + 1}/{plan.num_folds}"
    return fold if plan.repeats == 1 else f"repeat {r + 1}/{plan.repeats}, {fold}"


def all_splits(y: np.ndarray, plan: OosPlan, seed: int) -> list[list]:
    """Per repeat (0-based), its K (train, test) index pairs."""
    return [make_folds(y, plan.num_folds, repeat_seed(seed, r)) for r in range(plan.repeats)]


def _fit_fold(u, x, y, idx, plan: OosPlan, seed: int, report) -> FoldResult:
    """Trains fold model ``u`` (1-based across repeats; ``idx = (train_idx, test_idx)``
    of its repeat's split) and predicts its test part. Repeat ``r`` (0-based) splits
    off its inner validation slice with ``repeat_seed(seed, r) + k`` and trains with
    ``cfg.seed + r``, so repeat 1 is exactly a ``repeats=1`` run."""
    import dataclasses

    import torch

    from classlab.labels.calibration import fit_temperature
    from classlab.lenet.train import fit_tensors, predict

    r, k0 = unit_of(u, plan.num_folds)
    train_idx, test_idx = idx
    if plan.skip is not None:  # exclude_tags: predicted, never trained on
        train_idx = train_idx[~plan.skip[train_idx]]
    fit_idx, val_idx = inner_split(train_idx, y.cpu().numpy(), repeat_seed(seed, r) + k0 + 1)

    def take(a):
        return torch.as_tensor(a, device=x.device)

    cfg = plan.cfg if r == 0 else dataclasses.replace(plan.cfg, seed=plan.cfg.seed + r)
    name = fold_label(plan, u)

    def calibrated(model) -> tuple[float, np.ndarray]:  # (T on the val slice, test logits / T)
        val_logits = predict(model, x[take(val_idx)], cfg.eval_batch_size, plan.device, cfg.amp)
        t = fit_temperature(val_logits.cpu().numpy(), y[take(val_idx)].cpu().numpy())
        logits = predict(model, x[take(test_idx)], cfg.eval_batch_size, plan.device, cfg.amp)
        return t, (logits.cpu().numpy() / t).astype(np.float32)

    per_epoch: list[np.ndarray] = []
    mean = _EpochMean()

    def on_epoch(epoch: int, model, kept: bool) -> None:
        _, z = calibrated(model)
        if plan.epoch_logits:
            per_epoch.append(z)
        if plan.epoch_ensemble:
            mean.add(z, kept)

    watch = plan.epoch_logits or plan.epoch_ensemble
    res = fit_tensors(
        x[take(fit_idx)],
        y[take(fit_idx)],
        x[take(val_idx)],
        y[take(val_idx)],
        cfg,
        plan.device,
        len(plan.classes),
        progress=lambda f, label: report(f, f"{name}: {label}", force=True),
        on_epoch=on_epoch if watch else None,
    )
    t, logits = calibrated(res.model)
    logger.info("%s: temperature %.3f", name, t)
    if plan.epoch_ensemble:
        logits = mean.logits()
    fold = FoldResult(u, res, t, test_idx, logits, len(fit_idx), len(val_idx), r + 1)
    if per_epoch:
        fold.epoch_logits = np.stack(per_epoch)
    return fold


class _EpochMean:
    """The running sum of a fold's calibrated held-out probabilities, epoch by epoch,
    and its mean as of the last epoch that was kept (lowest validation loss so far)."""

    def __init__(self):
        self.total: np.ndarray | None = None
        self.count = 0
        self.kept: tuple[np.ndarray, int] | None = None

    def add(self, logits: np.ndarray, kept: bool) -> None:
        from classlab.labels.calibration import softmax

        p = softmax(logits)
        self.total = p if self.total is None else self.total + p
        self.count += 1
        if kept:
            self.kept = (self.total.copy(), self.count)

    def logits(self) -> np.ndarray:
        """Logits whose softmax is the mean over epochs 1..kept."""
        total, count = self.kept
        return np.log(np.clip(total / count, 1e-12, None)).astype(np.float32)


def cross_validate(x, y, plan: OosPlan, seed: int, progress: ProgressFn | None = None):
    """The K folds (times ``plan.repeats``) on in-memory tensors (uint8 images ``x``,
    int64 labels ``y``): the one loop that :func:`compute_oos_predictions` and
    ``benchmarks/label_noise.py`` run.

    Returns:
        ``(logits, fold_of, folds)``: calibrated out-of-sample logits (``N x C``; with
        repeats, the log of the repeats' mean probabilities), the fold (1..K, of repeat
        1) that predicted each sample, and the :class:`FoldResult` list
    """
    report = as_progress(progress)
    y_np = y.cpu().numpy()
    n, folds = plan.num_units, []
    for r, splits in enumerate(all_splits(y_np, plan, seed)):
        for k, idx in enumerate(splits, 1):
            u = r * plan.num_folds + k
            span = ((u - 1) / n, u / n)
            report(span[0], f"{fold_label(plan, u)}: training", force=True)
            folds.append(_fit_fold(u, x, y, idx, plan, seed, report.stage(*span)))
    logits, fold_of = combine_folds(folds, len(y_np), len(plan.classes))
    return logits, fold_of, folds


def combine_folds(folds, n: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, fold_of)`` of ``n`` samples from the fold results (``test_idx``,
    ``logits``, ``repeat``, ``k``): one repeat's logits as they are; several repeats'
    as the log of their mean probabilities. ``fold_of``: the fold of repeat 1."""
    from classlab.labels.calibration import log_mean_probs, softmax

    per_repeat: dict[int, np.ndarray] = {}
    fold_of = np.zeros(n, dtype=np.int64)
    for fold in folds:
        z = per_repeat.setdefault(fold.repeat, np.zeros((n, num_classes), dtype=np.float32))
        z[fold.test_idx] = fold.logits
        if fold.repeat == 1:
            fold_of[fold.test_idx] = fold.k
    if len(per_repeat) == 1:
        return next(iter(per_repeat.values())), fold_of
    return log_mean_probs([softmax(z) for _, z in sorted(per_repeat.items())]), fold_of


def ensemble_logits(members, x, plan: OosPlan) -> np.ndarray:
    """Logits of the mean calibrated probabilities on ``x`` of ``members``: the fold
    models as ``(model, temperature)`` pairs, in fold order."""
    from classlab.labels.calibration import log_mean_probs, softmax
    from classlab.lenet.train import predict

    cfg = plan.cfg
    probs = []
    for model, temperature in members:
        model = model.to(plan.device)
        z = predict(model, x, cfg.eval_batch_size, plan.device, cfg.amp).cpu().numpy()
        probs.append(softmax(z, temperature))
    return log_mean_probs(probs)


def run_summary(plan: OosPlan, args: dict, counts: tuple, accuracy: float, folds: list) -> dict:
    """The result (and, with ``config``, the ``oos/<run>`` record) of an OOS run, sharded
    or not: ``args`` = run_key, pred_field, label_field, tags, seed; ``counts`` =
    (cross-validated samples, others); ``folds``: ``(temperature, epochs run)`` per fold."""
    return {
        "run_key": args["run_key"],
        "pred_field": args["pred_field"],
        "label_field": args["label_field"],
        "tags": list(args["tags"]),
        "folds": plan.fold_keys,
        "num_folds": plan.num_folds,
        "repeats": plan.repeats,
        "exclude_tags": list(plan.exclude_tags),
        "epoch_ensemble": plan.epoch_ensemble,
        "seed": int(args["seed"]),
        "classes": plan.classes,
        "num_samples": counts[0],
        "num_others": counts[1],
        "accuracy": accuracy,
        "temperatures": [t for t, _ in folds],
        "epochs_run": [n for _, n in folds],
    }


def _decode(plan: OosPlan, label_field: str, predict_others: bool, report):
    """Decodes the cross-validated samples (and the others) once: ``(ids, x, y, oids, ox)``."""
    from classlab.lenet.data import detect_channels, view_tensors

    cfg = plan.cfg
    if cfg.in_channels is None:
        cfg.in_channels = detect_channels(plan.cv.limit(16).values("filepath"))
    args = (cfg.in_channels, cfg.input_size, plan.device, cfg.num_workers)
    ids, x, y = view_tensors(plan.cv, label_field, plan.classes, *args, report.stage(0, 0.8))
    oids, ox = [], None
    if predict_others and plan.others.count():
        oids, ox, _ = view_tensors(plan.others, None, None, *args, report.stage(0.8, 1.0))
    return ids, x, y, oids, ox


def compute_oos_predictions(
    view,
    run_key: str = defaults.OOS_RUN_KEY,
    label_field: str = defaults.GROUND_TRUTH,
    pred_field: str = defaults.OOS_FIELD,
    tags: Sequence[str] = (defaults.TRAIN_TAG, defaults.VAL_TAG),
    num_folds: int = defaults.OOS_FOLDS,
    seed: int = defaults.SPLIT_SEED,
    config=None,
    predict_others: bool = True,
    overwrite: bool = False,
    repeats: int = 1,
    exclude_tags: Sequence[str] = (),
    epoch_ensemble: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Out-of-sample predictions of every labelled sample by K-fold cross-validation.

    Args:
        view: a dataset or view of image samples with Classification labels
        run_key: the OOS run; fold ``k``'s model is ``<run_key>-fold<k>`` in the registry
        label_field: the labels to learn (and later to doubt)
        pred_field: the Classification field written (label, confidence, logits, fold)
        tags: the samples to cross-validate (any of these tags; empty: every labelled one)
        num_folds: K (stratified by class, shuffled with ``seed``)
        seed: seeds the folds and (unless ``config`` sets one) nothing else
        config: fold training options (:func:`oos_config`: 5 epochs, no label smoothing)
        predict_others: also predict the rest of the view (e.g. test) with the mean of
            the fold models' calibrated probabilities
        overwrite: replace an existing run / fold models / field
        repeats: R, repeated K-fold (1 to 10): each sample predicted by R fold models
            that did not see it (the log of their mean calibrated probabilities); R
            times the training, fold models ``<run_key>-fold1`` .. ``-fold<R*K>``
        exclude_tags: samples with any of these tags are predicted but never trained
            on (e.g. ``["label_issue"]``: a second pass after find_label_issues)
        epoch_ensemble: store each held-out sample's probabilities averaged over its
            fold model's epochs up to the kept one (lowest validation loss), each
            calibrated; for fold models that memorise (see the module docstring)
        progress: ``fn(fraction, label)``, with one report per fold epoch

    Returns:
        ``{run_key, pred_field, folds, num_samples, num_others, accuracy,
        temperatures, seconds}`` (``accuracy``: out-of-sample, against ``label_field``)
    """
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
        overwrite,
        repeats,
        exclude_tags,
        epoch_ensemble,
    )
    ids, x, y, oids, ox = _decode(plan, label_field, predict_others, report.stage(0, 0.1))
    n_skip = mark_skipped(plan, ids)
    logits, fold_of, folds = cross_validate(x, y, plan, seed, report.stage(0.1, 0.9))
    y_np = y.cpu().numpy()
    del x, y
    if ox is not None:
        report(0.9, f"predicting {len(oids)} other samples with the fold ensemble", force=True)
        ologits = ensemble_logits([(f.fit.model, f.temperature) for f in folds], ox, plan)
        ids, logits = list(ids) + list(oids), np.concatenate([logits, ologits])
        fold_of = np.concatenate([fold_of, np.zeros(len(oids), dtype=np.int64)])
    dataset = view._dataset
    commit_folds(dataset, run_key, plan, folds, label_field, pred_field, overwrite)
    write_oos_predictions(
        dataset, list(ids), logits, plan.classes, fold_of, pred_field, report.stage(0.92, 0.99)
    )
    n_cv = len(y_np)
    acc = float((logits[:n_cv].argmax(1) == y_np).mean())
    args = dict(run_key=run_key, pred_field=pred_field, label_field=label_field)
    args.update(tags=tags, seed=seed)
    per_fold = [(f.temperature, len(f.fit.history)) for f in folds]
    out = run_summary(plan, args, (n_cv, len(oids)), acc, per_fold)
    out["num_excluded"] = n_skip
    out["seconds"] = time.perf_counter() - t0
    records.set_record(dataset, KIND, run_key, {**out, "config": plan.cfg.to_dict()})
    report(1.0, f"{n_cv} out-of-sample predictions in {pred_field!r}, accuracy {acc:.4f}", True)
    return out
