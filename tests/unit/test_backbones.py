"""torchvision backbones through the one trainer: adaptation to the data, weights files
(written here from randomly initialised torchvision models: nothing is downloaded),
freeze_backbone, and a tiny resnet18 on a few hundred MNIST samples end to end."""

from pathlib import Path

import numpy as np
import pytest
import torch
from classlab.errors import DataSourceError, InputError
from classlab.lenet.backbones import (
    TORCHVISION,
    build_backbone,
    read_weights,
    torchvision_model,
    transfer,
)
from classlab.lenet.config import TrainConfig
from classlab.lenet.models import build_model
from classlab.lenet.train import fit_tensors

# a tiny resnet18 run: 16 x 16 inputs (the CPU is shared), one epoch
TINY = {"epochs": 1, "batch_size": 20, "input_size": 16, "device": "cpu", "augment": False}


def _weights_file(tmp_path: Path, architecture: str, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    path = tmp_path / f"{architecture}-random.pth"
    torch.save(torchvision_model(architecture).state_dict(), path)
    return path


@pytest.mark.parametrize("architecture", TORCHVISION)
def test_backbones_adapt_to_gray_small_inputs_and_classes(architecture):
    model = build_model(architecture, num_classes=7, in_channels=1, input_size=28).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        logits, feats = model(x), model.features(x)
    assert logits.shape == (2, 7)
    assert feats.ndim == 2 and feats.shape[1] == model.head.in_features
    assert torch.allclose(model.head(feats), logits, atol=1e-5)


def test_resnet_stem_keeps_full_resolution_only_for_small_inputs():
    small, large = build_backbone("resnet18", 10, 1, 28), build_backbone("resnet18", 10, 3, 224)
    assert small.body.conv1.stride == (1, 1) and small.body.conv1.in_channels == 1
    assert isinstance(small.body.maxpool, torch.nn.Identity)
    assert large.body.conv1.stride == (2, 2) and large.body.conv1.in_channels == 3
    assert isinstance(large.body.maxpool, torch.nn.MaxPool2d)


def test_weights_file_transfers_every_layer_but_the_head(tmp_path):
    path = _weights_file(tmp_path, "resnet18")
    state = read_weights(path, "resnet18")
    model = build_backbone("resnet18", 10, 1, 28)
    out = transfer(model, state, "resnet18")
    assert torch.equal(out["body.layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])
    assert torch.equal(out["body.bn1.running_var"], state["bn1.running_var"])
    # RGB stem summed over its 3 input channels for a grayscale input
    assert torch.allclose(out["body.conv1.weight"], state["conv1.weight"].sum(1, keepdim=True))
    assert out["head.weight"].shape == (10, 512)


def test_mismatched_weights_file_names_the_parameter(tmp_path):
    wrong = _weights_file(tmp_path, "mobilenet_v3_small")
    with pytest.raises(InputError, match=r"weights: .* does not match torchvision's resnet18"):
        read_weights(wrong, "resnet18")
    with pytest.raises(DataSourceError, match="weights: .* is not a file"):
        read_weights(tmp_path / "missing.pth", "resnet18")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(DataSourceError, match="weights-only"):
        read_weights(garbage, "resnet18")
    with pytest.raises(InputError, match="torchvision architectures"):
        read_weights(wrong, "lenet5")


def _tensors(mnist_dir, n, size=16):
    import torch.nn.functional as F
    from classlab.data.mnist import read_mnist

    x, y = read_mnist(mnist_dir)["train"]
    x = torch.from_numpy(x[:n].copy())[:, None].float()
    x = F.interpolate(x, size=size, mode="area").round().to(torch.uint8)
    return x, torch.from_numpy(y[:n].astype(np.int64))


def test_freeze_backbone_trains_only_the_head(mnist_dir, tmp_path):
    x, y = _tensors(mnist_dir, 100)
    cfg = TrainConfig(architecture="resnet18", freeze_backbone=True, **TINY)
    state = read_weights(_weights_file(tmp_path, "resnet18"), "resnet18")
    init = transfer(build_backbone("resnet18", 10, 1, 16), state, "resnet18")
    init = {k: v.clone() for k, v in init.items()}
    res = fit_tensors(x[:80], y[:80], x[80:], y[80:], cfg, "cpu", 10, init)
    after = res.model.state_dict()
    body = [k for k in init if k.startswith("body.")]
    # weights AND batch-norm statistics of the backbone are untouched
    assert all(torch.equal(after[k], init[k]) for k in body)
    assert not torch.equal(after["head.weight"], init["head.weight"])
    assert not any(p.requires_grad for p in res.model.body.parameters())


def test_train_model_checks_where_training_starts(mnist_small, unchanged, tmp_path):
    from classlab.data.splits import split_dataset
    from classlab.lenet.backbone_runs import train_model

    split_dataset(mnist_small.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    wrong = _weights_file(tmp_path, "efficientnet_b0")
    with unchanged(mnist_small):
        with pytest.raises(InputError, match="weights: .* does not match"):
            train_model(mnist_small, "r", "resnet18", weights=str(wrong), config=TINY)
        with pytest.raises(InputError, match="freeze_backbone needs pretrained"):
            train_model(mnist_small, "r", "resnet18", freeze_backbone=True, config=TINY)
        with pytest.raises(InputError, match="architecture must be one of"):
            train_model(mnist_small, "r", "resnet19", config=TINY)
        with pytest.raises(InputError, match="weights and init_from are both given"):
            train_model(mnist_small, "r", weights=str(wrong), init_from="x", config=TINY)


@pytest.fixture(scope="module")
def tiny_resnet(mnist_base):
    """120 train / 40 val / 100 test MNIST samples, with a tiny resnet18 ``r18`` (2
    epochs of 6 steps) trained once."""
    from classlab.data.splits import split_dataset
    from classlab.lenet.backbone_runs import train_model

    ds = mnist_base.match_tags("train").take(160, seed=1).clone("classlab-test-backbones")
    # copies, not merge_samples: merging would put a unique filepath index on mnist_base
    ds.add_samples([s.copy() for s in mnist_base.match_tags("test").take(100, seed=1)])
    split_dataset(ds.match_tags("train"), {"train": 0.75, "val": 0.25}, overwrite=True)
    rec = train_model(ds, "r18", "resnet18", config=dict(TINY, epochs=2, lr=0.003))
    yield ds, rec
    ds.delete()


def test_tiny_resnet18_trains_applies_and_evaluates(tiny_resnet):
    from classlab.lenet.apply import apply_model
    from classlab.lenet.registry import list_models, load_model

    ds, rec = tiny_resnet
    assert rec["architecture"] == "resnet18" and rec["input_size"] == 16
    assert isinstance(rec["num_params"], int) and rec["num_params"] > 11_000_000
    assert rec["trainable_params"] == rec["num_params"]
    assert isinstance(rec["train_seconds"], float) and rec["train_seconds"] > 0
    assert set(rec["latency_ms"]) == {"torch"} and set(rec["latency_ms"]["torch"]) == {"1", "256"}
    assert all(v > 0 for v in rec["latency_ms"]["torch"].values())
    assert list_models(ds)["r18"]["latency_ms"] == rec["latency_ms"]
    out = apply_model(
        ds.match_tags("test"), "r18", "r18", "r18_emb", eval_key="eval_r18", device="cpu"
    )
    assert out["num_samples"] == 100 and out["num_evaluated"] == 100
    assert out["accuracy"] > 0.2  # 10 classes: chance is 0.1
    emb = ds.match_tags("test").values("r18_emb")
    assert len(emb) == 100 and np.asarray(emb[0]).shape == (512,)
    assert len(ds.match_tags("test").values("r18.logits")[0]) == 10
    model, _ = load_model(ds, "r18")
    assert sum(p.numel() for p in model.parameters()) == rec["num_params"]
