"""Backbone benchmarks: resnet18 from scratch on MNIST (time per epoch, test accuracy)
against LeNet-5 (modern) on the same samples, and ONNX vs torch CPU latency.

    python benchmarks/backbones.py accuracy [--train 60000] [--test 10000] [--epochs 15]
                                            [--arch resnet18] [--device auto]
    python benchmarks/backbones.py latency  [--archs lenet5_modern,resnet18] [--threads N]

``accuracy`` needs only torch (pixels from the IDX files, as
``benchmarks/lenet_training.py accuracy``): the first ``--train`` training digits split
90/10 into train/val (ClassLab's seeded stratified split), ``--epochs`` epochs of the
default :class:`TrainConfig` with ``architecture=--arch`` (28 x 28: resnet18's stem at
stride 1 without max pooling, see ``classlab.lenet.backbones``), then accuracy on the
first ``--test`` test digits. The same run with ``lenet5_modern`` is the baseline: the
script prints seconds per epoch of each, their ratio, and the time a full 54,000-sample
epoch takes (measured per sample, extrapolated when ``--train`` is smaller).

``latency`` exports each architecture (random weights, 10 classes, 1 x 28 x 28) with
``classlab.lenet.export.write_onnx`` and times it with ``classlab.lenet.latency`` in
torch and in onnxruntime (CPU, batch 1 and 256, milliseconds per image), printing
torch / onnx as a ratio (> 1: onnxruntime is faster).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
MNIST = os.environ.get("CLASSLAB_MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))


def machine() -> str:
    import platform

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()}-core CPU ({torch.get_num_threads()} torch threads, load average "
        f"{load:.1f}), {gpu}, Python {platform.python_version()}, torch {torch.__version__}"
    )


def _data(args):
    import numpy as np
    import torch
    from classlab.data.mnist import read_mnist
    from classlab.data.splits import split_assignment

    data = read_mnist(args.mnist_dir)
    x, y = data["train"]
    x, y = x[: args.train], y[: args.train]
    assign = np.array(split_assignment(list(y), {"train": 0.9, "val": 0.1}, 51))
    t = torch.from_numpy(x.copy())[:, None]
    labels = torch.from_numpy(y.astype(np.int64))
    xt, yt = data["test"]
    test = (
        torch.from_numpy(xt[: args.test].copy())[:, None],
        torch.from_numpy(yt[: args.test].copy()),
    )
    tr, va = assign == "train", assign == "val"
    return (t[tr], labels[tr]), (t[va], labels[va]), test


def _run(arch: str, args, train, val, test, device: str) -> dict:
    from classlab.lenet.config import TrainConfig
    from classlab.lenet.train import fit_tensors, predict

    cfg = TrainConfig(architecture=arch, epochs=args.epochs, device=device)
    start = time.perf_counter()
    res = fit_tensors(*train, *val, cfg, device, 10)
    seconds = time.perf_counter() - start
    logits = predict(res.model, test[0], 512, device).cpu()
    acc = float((logits.argmax(1) == test[1].long()).float().mean())
    per_epoch = [h["seconds"] for h in res.history]
    return {
        "arch": arch,
        "epoch_s": sum(per_epoch) / len(per_epoch),
        "full_epoch_s": sum(per_epoch) / len(per_epoch) * 54_000 / len(train[0]),
        "val_acc": res.history[res.best_epoch - 1]["val_acc"],
        "test_acc": acc,
        "seconds": seconds,
    }


def accuracy(args) -> None:
    from classlab.config import resolve_device

    device = resolve_device(args.device)
    train, val, test = _data(args)
    print(machine())
    print(f"{len(train[0])} train / {len(val[0])} val / {len(test[0])} test, {args.epochs} ep.")
    rows = [_run(a, args, train, val, test, device) for a in (args.arch, "lenet5_modern")]
    for r in rows:
        print(
            f"{r['arch']:>14}: {r['epoch_s']:8.1f} s/epoch on {len(train[0])} samples "
            f"(54,000-sample epoch: {r['full_epoch_s'] / 60:7.1f} min), best val acc "
            f"{r['val_acc']:.4f}, test acc {r['test_acc']:.4f} ({r['seconds']:.0f} s in all)"
        )
    ratio = rows[0]["epoch_s"] / rows[1]["epoch_s"]
    print(f"time per epoch, {args.arch} / lenet5_modern: {ratio:.1f}x")


def latency(args) -> None:
    import torch
    from classlab.lenet.export import session, write_onnx
    from classlab.lenet.latency import onnx_latency, torch_latency
    from classlab.lenet.models import build_model

    if args.threads:
        torch.set_num_threads(args.threads)  # onnxruntime's session takes the same number
    print(machine())
    for arch in args.archs.split(","):
        torch.manual_seed(0)
        model = build_model(arch, 10, 1, 28).eval()
        rec = {"in_channels": 1, "input_size": 28}
        with tempfile.TemporaryDirectory() as tmp:
            path = write_onnx(model, rec, args.opset, Path(tmp) / f"{arch}.onnx")
            onnx = onnx_latency(session(path), 1, 28)
        pt = torch_latency(model, 1, 28)
        for b in pt:
            print(
                f"{arch:>14} batch {b:>3}: torch {pt[b]:8.3f} ms/image, onnxruntime "
                f"{onnx[b]:8.3f} ms/image, torch / onnx = {pt[b] / onnx[b]:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--mnist-dir", default=MNIST)
    acc.add_argument("--train", type=int, default=60_000)
    acc.add_argument("--test", type=int, default=10_000)
    acc.add_argument("--epochs", type=int, default=15)
    acc.add_argument("--arch", default="resnet18")
    acc.add_argument("--device", default="auto")
    lat = sub.add_parser("latency")
    lat.add_argument("--archs", default="lenet5_modern,resnet18")
    lat.add_argument("--opset", type=int, default=21)
    lat.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's)")
    args = parser.parse_args()
    accuracy(args) if args.what == "accuracy" else latency(args)


if __name__ == "__main__":
    main()
