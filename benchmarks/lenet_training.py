"""LeNet-5 benchmarks: ClassLab's trainer vs the tutorial's loop, prediction writes,
and the MNIST test accuracy of the default training.

    python benchmarks/lenet_training.py speed      [--mnist-dir D] [--baseline-batches 40]
                                                   [--device auto] [--skip-writer]
    python benchmarks/lenet_training.py accuracy   [--mnist-dir D] [--device auto]

``speed`` loads full MNIST (70,000 PNGs) into a throwaway FiftyOne dataset and
prints, on the same 60,000 training files and the same model and batch size:
ClassLab's epoch (images decoded once into a uint8 tensor cache, batches
sliced on the device) against the tutorial's epoch (a per-item PIL Dataset
over the filepaths + DataLoader, decoding every image every epoch). The
baseline is timed over ``--baseline-batches`` batches and extrapolated to the
epoch (said in the output). Then: writing 70,000 predictions with logits
through ``classlab.lenet.apply.write_predictions`` vs one raw ``set_values``
of the same ``fo.Classification`` values.

``accuracy`` needs only torch: the default :class:`TrainConfig` on MNIST's
60,000 training digits split 90/10 into train/val (ClassLab's seeded
stratified split), then accuracy on the 10,000 test digits. Pixels are read
from the IDX files: the PNGs that load_mnist writes are lossless copies.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
MNIST = os.environ.get("CLASSLAB_MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))


def machine() -> str:
    import platform

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()}-core CPU, {gpu}, {platform.system()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def accuracy(args) -> None:
    import numpy as np
    import torch
    from classlab.config import resolve_device
    from classlab.data.mnist import read_mnist
    from classlab.data.splits import split_assignment
    from classlab.lenet.config import TrainConfig
    from classlab.lenet.train import evaluate, fit_tensors

    device = resolve_device(args.device)
    data = read_mnist(args.mnist_dir)
    x, y = data["train"]
    assign = np.array(split_assignment(list(y), {"train": 0.9, "val": 0.1}, 51))
    tr, va = assign == "train", assign == "val"

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    xt, yt = t(x[:, None]).to(device), t(y.astype(np.int64)).to(device)
    cfg = TrainConfig(device=device)
    print(f"machine: {machine()}\ndevice: {device}\nconfig: {cfg.to_dict()}")
    print(f"train {int(tr.sum())}, val {int(va.sum())}, test {len(data['test'][1])}")
    res = fit_tensors(xt[t(tr)], yt[t(tr)], xt[t(va)], yt[t(va)], cfg, device)
    for row in res.history:
        print(
            "epoch {epoch:2d}  train loss {train_loss:.4f} acc {train_acc:.4f}  "
            "val loss {val_loss:.4f} acc {val_acc:.4f}  {seconds:.1f}s".format(**row)
        )
    xs, ys = data["test"]
    test = evaluate(res.model, t(xs[:, None]), t(ys.astype(np.int64)), cfg, device)
    print(
        f"best epoch {res.best_epoch}, training {res.seconds:.0f}s "
        f"({res.seconds / len(res.history):.1f}s/epoch)"
    )
    print(
        f"MNIST test accuracy (default TrainConfig): {100 * test['acc']:.2f}% "
        f"(test loss {test['loss']:.4f})"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["speed", "accuracy"])
    p.add_argument("--mnist-dir", default=MNIST)
    p.add_argument("--device", default="auto")
    p.add_argument("--baseline-batches", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--skip-writer", action="store_true", help="speed: skip the DB write part")
    args = p.parse_args()
    if args.mode == "accuracy":
        accuracy(args)
    else:
        from lenet_speed import speed

        speed(args, machine())


if __name__ == "__main__":
    main()
