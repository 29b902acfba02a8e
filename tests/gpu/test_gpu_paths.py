"""The CUDA paths, on a machine with an NVIDIA GPU: ``./run.sh test -m gpu tests/gpu``.

Deselected by the default run (``-m "not slow and not gpu"``); on a machine
without CUDA they are skipped with that reason. They need only torch,
open_clip and the MNIST IDX files.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_lenet_trains_on_the_gpu_from_plain_tensors(mnist_dir):
    from classlab.data.mnist import read_mnist
    from classlab.lenet.config import TrainConfig
    from classlab.lenet.train import evaluate, fit_tensors

    data = read_mnist(mnist_dir)
    x, y = data["train"]
    x = torch.from_numpy(np.array(x[:12000, None])).cuda()
    y = torch.from_numpy(y[:12000].astype(np.int64)).cuda()
    cfg = TrainConfig(epochs=2, device="cuda", amp=True)
    res = fit_tensors(x[:10000], y[:10000], x[10000:], y[10000:], cfg, device="cuda")
    assert next(res.model.parameters()).is_cuda
    assert len(res.history) == 2
    xs, ys = data["test"]
    test = evaluate(
        res.model,
        torch.from_numpy(np.array(xs[:2000, None])),
        torch.from_numpy(ys[:2000].astype(np.int64)),
        cfg,
        "cuda",
    )
    assert test["acc"] > 0.9, test


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_clip_encodes_on_the_gpu_with_autocast(mnist_base, precision):
    from classlab.clip.images import encode_images
    from classlab.clip.models import ClipSpec, load_clip
    from support.tiny_clip import register_tiny_clip

    name = register_tiny_clip()
    paths = mnist_base.limit(64).values("filepath")
    ref = encode_images(load_clip(ClipSpec(name, None, True, "fp32"), "cpu"), paths, 32, 0)
    gpu = encode_images(load_clip(ClipSpec(name, None, True, precision), "cuda"), paths, 32, 2)
    assert list(gpu.indices) == list(ref.indices) and not gpu.failures
    cos = (np.asarray(gpu.features, np.float32) * np.asarray(ref.features, np.float32)).sum(1)
    assert cos.min() > 0.98, cos.min()


def test_clip_embeddings_end_to_end_on_the_gpu(mnist_small):
    """The public API with a ClipSpec and LoaderOptions on CUDA: same vectors as the CPU."""
    from classlab.clip import ClipSpec, LoaderOptions, ModelCache, compute_clip_embeddings
    from support.tiny_clip import register_tiny_clip

    name = register_tiny_clip()
    view = mnist_small.limit(96)
    cache = ModelCache()
    cpu = compute_clip_embeddings(
        view,
        ClipSpec(name, None, True, "fp32"),
        LoaderOptions(batch_size=32, num_workers=0, device="cpu"),
        embeddings_field="emb_cpu",
        cache=cache,
    )
    gpu = compute_clip_embeddings(
        view,
        ClipSpec(name, None, True, "fp16"),
        LoaderOptions(batch_size=32, num_workers=2, device="cuda"),
        embeddings_field="emb_gpu",
        cache=cache,
    )
    assert cpu["num_embedded"] == gpu["num_embedded"] == 96 and gpu["num_failed"] == 0
    assert len(cache) == 2 and "fp16" in gpu["model"]
    a = np.stack(view.values("emb_cpu")).astype(np.float32)
    b = np.stack(view.values("emb_gpu")).astype(np.float32)
    cos = (a * b).sum(1)
    assert cos.min() > 0.98, cos.min()
