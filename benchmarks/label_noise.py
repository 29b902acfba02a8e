"""Label-error detection on known noise: out-of-sample cleanlab vs in-sample cleanlab vs
Brain's mistakenness, side by side on the same seeded flips.

For each model setting, each noise kind (``uniform``: to another class at random;
``confusable``: each digit to its most confusable class, 0->6 1->7 2->7 3->5 4->9
5->3 6->0 7->1 8->3 9->4) and each rate, a seeded share of the first
``--train-size`` MNIST training labels is flipped, then:

(a) ``oos``: ClassLab's K-fold cross-validation (:func:`classlab.labels.oos.cross_validate`:
    calibrated out-of-sample logits; ``--repeats R``: repeated K-fold, each sample's R
    held-out models averaged) -> ``cleanlab.filter.find_label_issues``;
    ``--two-pass`` adds (a2) the same folds trained again without the samples (a)
    flagged (``exclude_tags=["label_issue"]``), and (a3) the mean of both passes'
    probabilities;
(b) ``insample``: one model trained on all the noisy labels, its predictions on
    those same samples -> ``find_label_issues``;
(c) ``mistakenness``: Brain's mistakenness (``classlab.curation.scores.mistakenness_values``,
    the formula of ``fob.compute_mistakenness``) on (b)'s predictions, top N.

Reported: precision and recall of the flagged set, and of the top N by score (N =
the number of flips; (a) and (b) rank by ``get_label_quality_scores``).

Model settings: ``default`` (the default LeNet-5: label smoothing 0.05, augmentation;
the OOS fold models as ``compute_oos_predictions`` trains them: no label smoothing)
and ``fit`` (fits its training labels: no label smoothing, no augmentation, no
dropout or weight decay, no early stopping, ``--fit-epochs``).

Pixels come from the IDX files (torch only, no database). Usage::

    .venv/bin/python benchmarks/label_noise.py --train-size 10000 --epochs 3 \\
        --fit-epochs 10 --json /tmp/label_noise.json
    .venv/bin/python benchmarks/label_noise.py speed [--baseline]   # the OOS timing
    .venv/bin/python benchmarks/label_noise.py variants DIR  # other filters on --save DIR
    .venv/bin/python benchmarks/label_noise.py pass2 DIR [PATTERN]  # epoch-ensemble pass 2

``--save DIR --epoch-logits`` also keeps every epoch's calibrated out-of-sample logits
of the fold models (``<setting>-epochs.npy``, epochs x samples x classes): the fold
models are the epoch of lowest validation loss (``fit_tensors``), and these show what
the other epochs, or a mean over epochs, would have found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
MNIST = os.environ.get("CLASSLAB_MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))
CONFUSE = {0: 6, 1: 7, 2: 7, 3: 5, 4: 9, 5: 3, 6: 0, 7: 1, 8: 3, 9: 4}


def flip(y: np.ndarray, kind: str, rate: float, seed: int):
    """``(noisy labels, flipped indices)``: a seeded ``rate`` of ``y`` flipped."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), size=int(round(rate * len(y))), replace=False)
    noisy = y.copy()
    if kind == "confusable":
        noisy[idx] = [CONFUSE[int(c)] for c in y[idx]]
    else:
        noisy[idx] = (y[idx] + rng.integers(1, 10, len(idx))) % 10
    return noisy, idx


def configs(epochs: int, fit_epochs: int, device: str) -> dict:
    """``{setting: (fold models' options, in-sample model's options)}``."""
    from classlab.labels.oos import oos_config

    base = dict(epochs=epochs, device=device)
    fit = dict(
        epochs=fit_epochs,
        device=device,
        label_smoothing=0.0,
        augment=False,
        dropout=0.0,
        weight_decay=0.0,
        patience=0,
    )
    return {
        "default": (oos_config(base), dict(base)),
        "fit": (oos_config(fit), dict(fit)),
    }


def scores(flipped: np.ndarray, flagged: np.ndarray, ranking: np.ndarray) -> dict:
    """Precision/recall of the flagged set and of the top N of ``ranking`` (worst first)."""
    truth = set(flipped.tolist())
    found = set(np.flatnonzero(flagged).tolist())
    top = set(ranking[: len(truth)].tolist())
    tp, tp_top = len(found & truth), len(top & truth)
    return {
        "flagged": len(found),
        "precision": tp / max(len(found), 1),
        "recall": tp / max(len(truth), 1),
        "top_n_precision": tp_top / max(len(top), 1),
        "top_n_recall": tp_top / max(len(truth), 1),
    }


def cleanlab_scores(labels, probs, flipped) -> dict:
    import warnings

    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mask = find_label_issues(labels, probs)
        quality = get_label_quality_scores(labels, probs)
    return scores(flipped, mask, np.argsort(quality, kind="stable"))


def in_sample(x, y, opts, device):
    """One model on every (noisy) label; its logits on those samples, and its train acc."""
    import torch
    from classlab.labels.oos import inner_split
    from classlab.lenet.config import TrainConfig
    from classlab.lenet.train import fit_tensors, predict

    cfg = TrainConfig.from_dict(opts)
    cfg.in_channels = 1
    _, val = inner_split(np.arange(len(y)), y.cpu().numpy(), cfg.seed)
    v = torch.as_tensor(val, device=x.device)
    res = fit_tensors(x, y, x[v], y[v], cfg, device, 10)
    return predict(res.model, x, cfg.eval_batch_size, device, cfg.amp).cpu().numpy(), res


def run_setting(x, y_true, name, opts, kind, rate, args) -> dict:
    import torch
    from classlab.curation.scores import mistakenness_values
    from classlab.labels.calibration import softmax
    from classlab.labels.oos import OosPlan, cross_validate

    noisy, flipped = flip(y_true, kind, rate, args.seed)
    y = torch.as_tensor(noisy, dtype=torch.long).to(x.device)
    fold_cfg, insample_opts = opts
    fold_cfg.in_channels = 1
    classes = [str(c) for c in range(10)]
    plan = OosPlan(None, None, classes, args.folds, fold_cfg, args.device, [], args.repeats)
    plan.epoch_logits = bool(args.save and args.epoch_logits)
    plan.epoch_ensemble = args.epoch_ensemble
    t0 = time.perf_counter()
    oos_logits, fold_of, folds = cross_validate(x, y, plan, args.seed)
    t_oos = time.perf_counter() - t0
    second = second_pass(x, y, noisy, flipped, oos_logits, plan, args) if args.two_pass else {}
    t1 = time.perf_counter()
    z, res = in_sample(x, y, insample_opts, args.device)
    t_in = time.perf_counter() - t1
    names = [str(c) for c in range(10)]
    pred = [names[i] for i in z.argmax(1)]
    mist = np.array(mistakenness_values(pred, [names[i] for i in noisy], list(z), True))
    row = {
        "model": name,
        "noise": kind,
        "rate": rate,
        "n": len(noisy),
        "repeats": args.repeats,
        "flips": len(flipped),
        "oos": cleanlab_scores(noisy, softmax(oos_logits), flipped),
        "insample": cleanlab_scores(noisy, softmax(z), flipped),
        "mistakenness": scores(flipped, np.zeros(len(noisy), bool), np.argsort(-mist)),
        "oos_seconds": round(t_oos, 1),
        "insample_seconds": round(t_in, 1),
        "insample_train_acc": res.history[-1]["train_acc"],
        "insample_fits_noisy": float((z.argmax(1) == noisy).mean()),
        "oos_acc_vs_true": float((oos_logits.argmax(1) == y_true).mean()),
        "temperatures": [round(f.temperature, 3) for f in folds],
    }
    del row["mistakenness"]["flagged"]
    logits2 = second.pop("logits", None)
    row.update(second)
    if args.save:
        save_arrays(args.save, row, (y_true, noisy, flipped), oos_logits, fold_of, folds, z)
        if logits2 is not None:
            np.save(Path(args.save) / f"{stem(row)}-pass2.npy", logits2)
        if plan.epoch_logits:
            np.save(Path(args.save) / f"{stem(row)}-epochs.npy", epoch_logits(folds, len(noisy)))
    return row


def epoch_logits(folds, n: int) -> np.ndarray:
    """``--epoch-logits``: every epoch's calibrated out-of-sample logits of repeat 1's
    fold models, ``epochs x n x C`` (NaN after a fold that stopped early)."""
    first = [f for f in folds if f.repeat == 1]
    epochs = max(len(f.epoch_logits) for f in first)
    out = np.full((epochs, n, first[0].logits.shape[1]), np.nan, np.float32)
    for f in first:
        out[: len(f.epoch_logits), f.test_idx] = f.epoch_logits
    return out


def second_pass(x, y, noisy, flipped, oos_logits, plan, args) -> dict:
    """``--two-pass``: the folds again, never trained on what the first pass flagged
    (``compute_oos_predictions(exclude_tags=["label_issue"])``), scored alone and
    averaged with the first pass (``find_label_issues`` over both fields)."""
    import dataclasses
    import warnings

    from classlab.labels.calibration import softmax
    from classlab.labels.oos import cross_validate
    from cleanlab.filter import find_label_issues

    p1 = softmax(oos_logits)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = find_label_issues(noisy, p1)
    plan2 = dataclasses.replace(plan, exclude_tags=("label_issue",), skip=flagged)
    t0 = time.perf_counter()
    logits2, _, _ = cross_validate(x, y, plan2, args.seed)
    p2 = softmax(logits2)
    return {
        "pass1_flagged": int(flagged.sum()),
        "oos_pass2": cleanlab_scores(noisy, p2, flipped),
        "oos_mean": cleanlab_scores(noisy, (p1 + p2) / 2, flipped),
        "pass2_seconds": round(time.perf_counter() - t0, 1),
        "logits": logits2,
    }


def stem(row) -> str:
    """A setting's file name in ``--save``: ``<model>-<noise>-<rate>-<n>[-r<repeats>]``."""
    name = f"{row['model']}-{row['noise']}-{row['rate']}-{row['n']}"
    return name + (f"-r{row['repeats']}" if row["repeats"] > 1 else "")


def save_arrays(folder, row, labels, oos_logits, fold_of, folds, z) -> None:
    """One ``.npz`` per setting (``--save``): the noisy labels, the flips, the calibrated
    OOS logits, each sample's fold and the folds' temperatures, the in-sample logits:
    enough to try other filters or calibrations without training again."""
    y_true, noisy, flipped = labels
    Path(folder).mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        Path(folder) / f"{stem(row)}.npz",
        y_true=y_true,
        noisy=noisy,
        flipped=flipped,
        oos_logits=oos_logits,
        fold_of=fold_of,
        temperatures=np.array([f.temperature for f in folds]),
        kept_epochs=np.array([f.fit.best_epoch for f in folds]),
        insample_logits=z,
        repeats=row["repeats"],
    )


def line(r: dict) -> str:
    a, b, c = r["oos"], r["insample"], r["mistakenness"]
    model = r["model"] + (f" R={r['repeats']}" if r.get("repeats", 1) > 1 else "")
    return (
        f"{model:8s} {r['noise']:10s} {r['rate']:4.0%} flips {r['flips']:5d} | "
        f"(a) OOS P {a['precision']:.3f} R {a['recall']:.3f} topN {a['top_n_recall']:.3f} | "
        f"(b) in-sample P {b['precision']:.3f} R {b['recall']:.3f} "
        f"topN {b['top_n_recall']:.3f} | (c) mistakenness topN {c['top_n_recall']:.3f} | "
        f"in-sample fits noisy {r['insample_fits_noisy']:.3f}, "
        f"{r['oos_seconds']:.0f}+{r['insample_seconds']:.0f} s"
    ) + "".join(
        f" | {tag} P {r[k]['precision']:.3f} R {r[k]['recall']:.3f} topN {r[k]['top_n_recall']:.3f}"
        for k, tag in (("oos_pass2", "(a2) pass 2"), ("oos_mean", "(a3) mean of passes"))
        if k in r
    )


def speed(argv) -> int:
    """``speed``: :func:`compute_oos_predictions` with its defaults on full MNIST (60,000
    training digits split 54,000/6,000, all cross-validated; the 10,000 test digits
    predicted by the fold ensemble) in a private database, timed against the 10-minute
    goal; ``--baseline`` also times one ``train_lenet`` with the same epochs."""
    import tempfile

    p = argparse.ArgumentParser(description=speed.__doc__)
    p.add_argument("--mnist-dir", default=MNIST)
    p.add_argument("--device", default="auto")
    p.add_argument("--baseline", action="store_true")
    args = p.parse_args(argv)
    sys.path[:0] = [str(ROOT / "tests")]
    from support.mongo import isolate

    isolate(Path(tempfile.mkdtemp(prefix="classlab-oos-bench-")), ROOT)
    from classlab.config import configure_logging
    from classlab.data.mnist import load_mnist
    from classlab.data.splits import split_dataset
    from classlab.labels.oos import compute_oos_predictions

    configure_logging()
    ds = load_mnist(args.mnist_dir, dataset_name="oos-bench")
    split_dataset(ds.match_tags("train"), {"train": 0.9, "val": 0.1}, overwrite=True)
    t0 = time.perf_counter()
    res = compute_oos_predictions(ds, config={"device": args.device})
    seconds = time.perf_counter() - t0
    print(
        f"compute_oos_predictions: {res['num_folds']} folds x epochs {res['epochs_run']} over "
        f"{res['num_samples']} samples (+{res['num_others']} by the ensemble): {seconds:.0f} s "
        f"= {seconds / 60:.1f} min, {seconds / 600:.2f}x the 10-minute goal; OOS accuracy "
        f"{res['accuracy']:.4f}, temperatures {[round(t, 3) for t in res['temperatures']]}",
        flush=True,
    )
    if args.baseline:
        from classlab.lenet.runs import train_lenet

        t1 = time.perf_counter()
        rec = train_lenet(ds, run_key="one", config={"epochs": res["epochs_run"][0]})
        one = time.perf_counter() - t1
        print(
            f"one train_lenet ({len(rec['history'])} epochs, {rec['num_train']} samples): "
            f"{one:.0f} s; the {res['num_folds']} folds cost {seconds / one:.1f}x",
            flush=True,
        )
    return 0


FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
)


RANKINGS = ("self_confidence", "normalized_margin")


def kept_epochs(d, per_epoch: np.ndarray) -> dict:
    """``{fold: the epoch its model is}``: saved (``kept_epochs``), or else the epoch
    whose held-out logits are the stored ones (runs saved before it was)."""
    folds = np.unique(d["fold_of"])
    if "kept_epochs" in d.files:
        return {int(k): int(e) for k, e in zip(folds, d["kept_epochs"])}
    out = {}
    for k in folds:
        rows = d["fold_of"] == k
        gaps = [np.abs(e[rows] - d["oos_logits"][rows]).max() for e in per_epoch]
        out[int(k)] = int(np.argmin(gaps)) + 1
    return out


def epoch_means(d, per_epoch: np.ndarray) -> dict:
    """From ``--epoch-logits``: (a) with each held-out sample's probabilities averaged
    over its fold's epochs 1..kept (``epoch_ensemble=True``) and over every epoch."""
    from classlab.labels.calibration import softmax

    kept = kept_epochs(d, per_epoch)
    p = np.stack([softmax(e) for e in per_epoch])
    to_kept = np.zeros_like(p[0])
    for k, e in kept.items():
        rows = d["fold_of"] == k
        to_kept[rows] = p[:e, rows].mean(axis=0)
    return {"(a) ep<=kept": to_kept, "(a) ep all": p.mean(axis=0)}


def variants(argv) -> int:
    """``variants DIR``: on the arrays a quality run saved (``--save DIR``), no training:
    (a) with each cleanlab ``filter_by`` and its top N by each of cleanlab's
    :data:`RANKINGS`, and with the fold models' logits before temperature scaling
    (T = 1); where ``--two-pass`` saved the second pass, the same for (a2) pass 2 and
    (a3) the mean of both passes; where ``--epoch-logits`` saved every epoch, (a) as
    ``epoch_ensemble=True`` gives it and with every epoch averaged; all against the
    flips."""
    import warnings

    from classlab.labels.calibration import softmax
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    for path in sorted(Path(argv[0]).glob("*.npz")):
        d = np.load(path)
        p1 = softmax(d["oos_logits"])
        probs = {"(a)": p1}
        if "repeats" not in d.files or int(d["repeats"]) == 1:  # one fold model a sample
            raw = d["oos_logits"] * d["temperatures"][d["fold_of"] - 1][:, None]
            probs["(a) T=1"] = softmax(raw)
        epochs = path.with_name(f"{path.stem}-epochs.npy")
        if epochs.is_file() and ("repeats" not in d.files or int(d["repeats"]) == 1):
            probs.update(epoch_means(d, np.load(epochs)))
        second = path.with_name(f"{path.stem}-pass2.npy")
        if second.is_file():
            p2 = softmax(np.load(second))
            probs.update({"(a2)": p2, "(a3)": (p1 + p2) / 2})
        print(f"{path.stem}: {len(d['flipped'])} flips", flush=True)
        for name, p in probs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tops = []
                for method in RANKINGS:
                    quality = get_label_quality_scores(d["noisy"], p, method=method)
                    order = np.argsort(quality, kind="stable")
                    top = scores(d["flipped"], np.zeros(0, bool), order)["top_n_recall"]
                    tops.append(f"{method} {top:.3f}")
                print(f"  {name:12s} top N: " + ", ".join(tops), flush=True)
                for how in FILTERS:
                    mask = find_label_issues(d["noisy"], p, filter_by=how)
                    r = scores(d["flipped"], mask, np.arange(0))
                    print(
                        f"  {name:12s} {how:20s} flagged {r['flagged']:5d} "
                        f"P {r['precision']:.3f} R {r['recall']:.3f}",
                        flush=True,
                    )
    return 0


def pass2(argv) -> int:
    """``pass2 DIR [PATTERN]``: the second pass with ``epoch_ensemble=True`` on saved
    settings (``--save DIR --epoch-logits``), without training the first pass again:
    the first pass is (a) as ``epoch_ensemble=True`` gives it (from the saved epochs),
    its ``find_label_issues`` flags (default filter) are left out of every fold
    model's training, and the second pass (saved as ``<setting>-pass2e.npy``) is scored
    alone and averaged with the first, with the default filter and ``both``."""
    import warnings

    import torch
    from classlab import defaults
    from classlab.data.mnist import read_mnist
    from classlab.labels.calibration import softmax
    from classlab.labels.oos import OosPlan, cross_validate
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    p = argparse.ArgumentParser(prog="label_noise.py pass2")
    p.add_argument("dir")
    p.add_argument("pattern", nargs="?", default="*")
    p.add_argument("--mnist-dir", default=MNIST)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--fit-epochs", type=int, default=20)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=51)
    args = p.parse_args(argv)
    images, _ = read_mnist(args.mnist_dir)["train"]
    for path in sorted(Path(args.dir).glob(f"{args.pattern}.npz")):
        epochs_file = path.with_name(f"{path.stem}-epochs.npy")
        if not epochs_file.is_file():
            continue
        d = np.load(path)
        noisy, flipped = d["noisy"], d["flipped"]
        p1 = epoch_means(d, np.load(epochs_file))["(a) ep<=kept"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flagged = find_label_issues(noisy, p1)
        name = path.stem.split("-")[0]
        fold_cfg, _ = configs(args.epochs or defaults.OOS_EPOCHS, args.fit_epochs, "cpu")[name]
        fold_cfg.in_channels = 1
        x = torch.from_numpy(np.ascontiguousarray(images[: len(noisy), None]))
        y = torch.as_tensor(noisy, dtype=torch.long)
        classes = [str(c) for c in range(10)]
        plan = OosPlan(None, None, classes, args.folds, fold_cfg, "cpu", [], 1, ("label_issue",))
        plan.skip, plan.epoch_ensemble = flagged, True
        t0 = time.perf_counter()
        logits2, _, _ = cross_validate(x, y, plan, args.seed)
        np.save(path.with_name(f"{path.stem}-pass2e.npy"), logits2)
        p2 = softmax(logits2)
        print(
            f"{path.stem}: first pass flagged {int(flagged.sum())}, second pass "
            f"{time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        for label, prob in (("(a2e) pass 2", p2), ("(a3e) mean", (p1 + p2) / 2)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                order = np.argsort(get_label_quality_scores(noisy, prob), kind="stable")
                for how in ("prune_by_noise_rate", "both"):
                    r = scores(flipped, find_label_issues(noisy, prob, filter_by=how), order)
                    print(
                        f"  {label:12s} {how:20s} flagged {r['flagged']:5d} "
                        f"P {r['precision']:.3f} R {r['recall']:.3f} "
                        f"topN {r['top_n_recall']:.3f}",
                        flush=True,
                    )
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["speed"]:
        return speed(argv[1:])
    if argv[:1] == ["variants"]:
        return variants(argv[1:])
    if argv[:1] == ["pass2"]:
        return pass2(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mnist-dir", default=MNIST)
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--epochs", type=int, default=None, help="default: defaults.OOS_EPOCHS")
    p.add_argument("--fit-epochs", type=int, default=20)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument(
        "--repeats", type=int, default=1, help="repeated K-fold: R fold models per sample"
    )
    p.add_argument(
        "--two-pass",
        action="store_true",
        help="(a2) the folds again without what (a) flagged; (a3) both passes averaged",
    )
    p.add_argument("--models", default="default,fit")
    p.add_argument("--noise", default="uniform,confusable")
    p.add_argument("--rates", default="0.02,0.10")
    p.add_argument("--seed", type=int, default=51)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="append each row as a JSON line")
    p.add_argument("--save", default=None, help="a folder: each setting's arrays (.npz)")
    p.add_argument(
        "--epoch-ensemble",
        action="store_true",
        help="(a) with compute_oos_predictions(epoch_ensemble=True): each held-out "
        "sample's probabilities averaged over its fold's epochs up to the kept one",
    )
    p.add_argument(
        "--epoch-logits",
        action="store_true",
        help="with --save: also every epoch's out-of-sample logits (<setting>-epochs.npy)",
    )
    args = p.parse_args(argv)
    import torch
    from classlab import defaults
    from classlab.config import resolve_device
    from classlab.data.mnist import read_mnist

    args.device = resolve_device(args.device)
    images, labels = read_mnist(args.mnist_dir)["train"]
    x = torch.from_numpy(np.ascontiguousarray(images[: args.train_size, None])).to(args.device)
    y_true = labels[: args.train_size].astype(np.int64)
    epochs = args.epochs or defaults.OOS_EPOCHS
    print(
        f"{len(y_true)} MNIST training digits, {args.folds} folds, epochs {epochs} "
        f"(fit: {args.fit_epochs}), device {args.device}, torch threads "
        f"{torch.get_num_threads()}",
        flush=True,
    )
    for name in args.models.split(","):
        for kind in args.noise.split(","):
            for rate in (float(r) for r in args.rates.split(",")):
                opts = configs(epochs, args.fit_epochs, args.device)[name]
                row = run_setting(x, y_true, name, opts, kind, rate, args)
                print(line(row), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
