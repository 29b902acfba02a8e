"""The ``speed`` part of benchmarks/lenet_training.py (see its docstring)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import numpy as np


def _pngs(images: np.ndarray, root: Path) -> list[str]:
    from classlab.data.mnist import _write_pngs

    root.mkdir(parents=True, exist_ok=True)
    paths = [root / f"{i:05d}.png" for i in range(len(images))]
    if not all(p.exists() for p in (paths[0], paths[-1])):
        _write_pngs(images, paths, lambda *a, **k: None)
    return [str(p) for p in paths]


def _sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _tutorial_epoch(
    paths, labels, model, batch_size: int, max_batches: int, device="cpu"
) -> tuple[float, float]:
    """The tutorial's loop: per-item PIL Dataset + DataLoader. Returns (data-only s, train s)
    for ``max_batches`` batches."""
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    class PilDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return tf(Image.open(paths[i]).convert("L")), int(labels[i])

    loader = torch.utils.data.DataLoader(PilDataset(), batch_size=batch_size, shuffle=True)
    t = time.perf_counter()
    for k, _ in enumerate(loader):
        if k + 1 >= max_batches:
            break
    data_s = time.perf_counter() - t
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    t = time.perf_counter()
    for k, (xb, yb) in enumerate(loader):
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k + 1 >= max_batches:
            break
    _sync(device)
    return data_s, time.perf_counter() - t


def _classlab_epoch(x, y, batch_size: int, device="cpu") -> tuple[float, float]:
    """ClassLab's loop on the uint8 tensor cache (on ``device``): (data-only s, train s)
    for one epoch."""
    import torch
    from classlab.lenet.config import TrainConfig
    from classlab.lenet.models import build_model
    from classlab.lenet.train import make_optimizer, to_input, train_one_epoch

    cfg = TrainConfig(
        architecture="lenet5",
        batch_size=batch_size,
        augment=False,
        amp=False,
        label_smoothing=0.0,
        optimizer="adam",
        lr=1e-3,
        schedule="constant",
    )
    x, y = x.to(device), y.to(device)
    gen = torch.Generator(device=x.device).manual_seed(0)
    _sync(device)
    t = time.perf_counter()
    order = torch.randperm(len(x), generator=gen, device=x.device)
    for s in range(0, len(x), batch_size):
        idx = order[s : s + batch_size]
        to_input(x[idx]), y[idx]
    _sync(device)
    data_s = time.perf_counter() - t
    model = build_model("lenet5", 10, 1, 28).to(device)
    t = time.perf_counter()
    train_one_epoch(model, x, y, make_optimizer(model, cfg), None, cfg, gen, device)
    _sync(device)
    return data_s, time.perf_counter() - t


def _writer(n: int = 70_000) -> None:
    import fiftyone as fo
    from classlab.lenet.apply import predictions, write_predictions

    classes = [f"c{i}" for i in range(10)]
    ds = fo.Dataset(f"classlab-bench-writer-{uuid.uuid4().hex[:6]}")
    try:
        ds.add_samples([fo.Sample(filepath=f"/bench/{i}.png") for i in range(n)], progress=False)
        ids = ds.values("id")
        logits = np.random.default_rng(0).normal(size=(n, 10)).astype(np.float32)
        raw_values = predictions(logits, classes)
        t = time.perf_counter()
        ds.set_values("raw", raw_values)
        raw = time.perf_counter() - t
        t = time.perf_counter()
        write_predictions(ds, ids, "lenet", logits, classes)
        ours = time.perf_counter() - t
        assert ds.count("lenet") == n and ds.first()["lenet"].logits is not None
        print(
            f"write {n} predictions with logits: apply's writer {ours:.1f}s (softmax, "
            f"Classification objects, set_values by id), one raw set_values of the same "
            f"values {raw:.1f}s: ratio {ours / raw:.2f}x (target <= 1.5x)"
        )
    finally:
        ds.delete()


def speed(args, machine: str) -> None:
    import torch
    from classlab.config import resolve_device, root_dir
    from classlab.data.mnist import read_mnist
    from classlab.lenet.data import decode_images
    from classlab.lenet.models import build_model

    print(f"machine: {machine}\ntorch threads: {torch.get_num_threads()}")
    images, labels = read_mnist(args.mnist_dir)["train"]
    paths = _pngs(images, root_dir() / "bench" / "mnist-train-png")
    y = torch.from_numpy(labels.astype(np.int64))
    t = time.perf_counter()
    x = decode_images(paths, 1, 28, workers=os.cpu_count() or 2)
    decode_s = time.perf_counter() - t
    assert torch.equal(x[:, 0], torch.from_numpy(images))  # lossless
    device = resolve_device(args.device)
    bs, nb = args.batch_size, args.baseline_batches
    batches = (len(paths) + bs - 1) // bs
    c_data, c_train = _classlab_epoch(x, y, bs, device)
    model = build_model("lenet5", 10, 1, 28)
    t_data, t_train = _tutorial_epoch(paths, labels, model, bs, nb, device)
    scale = batches / nb
    print(f"{len(paths)} MNIST PNGs, classic LeNet-5 (61,706 params), batch {bs}, {device}")
    print(f"ClassLab: decode once into the uint8 cache {decode_s:.1f}s (then never again)")
    print(f"tutorial baseline timed over {nb} of {batches} batches, extrapolated x{scale:.1f}")
    print(
        f"data only, one epoch: ClassLab {c_data:.2f}s, tutorial {t_data * scale:.1f}s: "
        f"{t_data * scale / c_data:.0f}x"
    )
    print(
        f"training epoch: ClassLab {c_train:.1f}s, tutorial {t_train * scale:.1f}s: "
        f"{t_train * scale / c_train:.1f}x (target >= 10x; on a CPU the model's compute "
        "dominates both, the data path is what ClassLab removes)"
    )
    if args.skip_writer:
        return
    _writer()
