"""Grad-CAM: the target layer of every architecture, the alignment of LeNet's maps, and
on MNIST with a briefly trained LeNet-5 the heatmaps peak inside the digits."""

from __future__ import annotations

import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from classlab import config, records
from classlab.errors import ClassLabError, FieldError, InputError, RunNotFoundError
from classlab.explain import TARGET_LAYERS, compute_gradcam, target_layer
from classlab.explain.gradcam import VALID_STRIDES, gradcam_batch, upsample


def test_every_architecture_has_a_target_layer_that_gradcam_runs_on():
    import torch
    from classlab.lenet.models import ARCHITECTURES, build_model

    assert set(TARGET_LAYERS) == set(ARCHITECTURES)
    expected = {"lenet5": "Conv2d", "lenet5_modern": "Conv2d", "resnet18": "Sequential"}
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    for arch in ARCHITECTURES:
        model = build_model(arch, 10, 1, 28).eval()
        layer = target_layer(model, arch)
        if arch in expected:
            assert type(layer).__name__ == expected[arch], arch
        maps, pred = gradcam_batch(
            model, layer, x, {"p": None, "g": torch.tensor([1, 2])}, VALID_STRIDES.get(arch)
        )
        assert maps["p"].shape == maps["g"].shape == (2, 28, 28) and pred.shape == (2,)
        assert (maps["p"] >= 0).all(), arch  # ReLU'd, as Grad-CAM defines it


def test_valid_maps_are_centred_not_stretched():
    import torch

    attr = torch.zeros(1, 1, 10, 10)
    attr[0, 0, 0, 0] = 1.0  # LeNet's first cell sees the digit's top-left, pixels 4-5
    up = upsample(attr, 28, stride=2)[0].numpy()
    r, c = np.unravel_index(np.argmax(up), up.shape)
    assert 4 <= r <= 5 and 4 <= c <= 5
    assert up[:4].max() == 0 and up[:, :4].max() == 0  # the border no cell covers
    stretched = upsample(attr, 28)[0].numpy()  # padded networks: the whole input
    assert np.unravel_index(np.argmax(stretched), stretched.shape) == (0, 0)


@pytest.fixture(scope="module")
def trained(mnist_dir):
    """1,000 train (800 train / 200 val) + 1,000 test digits, lenet5_modern trained for
    3 epochs as ``m`` and applied to test (predictions ``lenet``)."""
    from classlab.data.mnist import load_mnist
    from classlab.data.splits import split_dataset
    from classlab.lenet.apply import apply_lenet
    from classlab.lenet.runs import train_lenet

    ds = load_mnist(
        mnist_dir, dataset_name=f"classlab-gradcam-{uuid.uuid4().hex[:6]}", limit_per_split=1000
    )
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    cfg = {"epochs": 3, "batch_size": 64, "architecture": "lenet5_modern", "device": "cpu"}
    train_lenet(ds, run_key="m", config=cfg)
    apply_lenet(ds.match_tags("test"), "m", embeddings_field="", device="cpu")
    yield ds
    ds.delete()


@pytest.fixture
def copy(trained):
    ds = trained.clone(f"classlab-gradcam-{uuid.uuid4().hex[:6]}")
    yield ds
    ds.delete()


def _inside_fraction(view, field: str) -> float:
    """Share of the samples whose heatmap's maximum lies in the digit's bounding box (the
    box of its nonzero pixels); an all-zero map counts as outside."""
    hits = []
    for path, hm in zip(*view.values(["filepath", f"{field}.map"])):
        ys, xs = np.nonzero(cv2.imread(path, cv2.IMREAD_GRAYSCALE))
        r, c = np.unravel_index(np.argmax(hm), hm.shape)
        inside = ys.min() <= r <= ys.max() and xs.min() <= c <= xs.max()
        hits.append(bool(inside and hm.max() > 0))
    return float(np.mean(hits))


def test_heatmaps_peak_inside_the_digit(copy):
    test = copy.match_tags("test").limit(150)
    out = compute_gradcam(
        test, "m", samples="all", target="both", heatmap_field="cam", device="cpu"
    )
    assert out["num_samples"] == 150 and out["fields"] == ["cam", "cam_gt"]
    hm = test.first()["cam"]
    assert hm.map.dtype == np.uint8 and hm.map.shape == (28, 28) and list(hm.range) == [0, 255]
    assert hm.map.max() == 255
    # the digit's box covers ~38% of an MNIST image: a map that ignored the digit would
    # peak inside about that often; measured 0.83 on 1,000 test digits
    assert _inside_fraction(test, "cam") >= 0.7
    assert _inside_fraction(test, "cam_gt") >= 0.7


def test_default_explains_the_models_mistakes(copy):
    from fiftyone import ViewField as F

    wrong = copy.match(F("lenet").exists() & (F("lenet.label") != F("ground_truth.label")))
    seen = []
    out = compute_gradcam(copy, "m", device="cpu", progress=lambda f, label: seen.append(f))
    assert out["num_samples"] == len(wrong) > 0 and out["fields"] == ["lenet_gradcam"]
    assert copy.count("lenet_gradcam") == len(wrong) == wrong.count("lenet_gradcam")
    assert out["num_wrong"] == len(wrong)  # the model's own argmax: the same mistakes
    assert seen[-1] == 1.0


def test_png_storage_under_the_root(copy):
    view = copy.match_tags("test").limit(5)
    kw = dict(samples="all", device="cpu")
    compute_gradcam(view, "m", storage="png", heatmap_field="cam_png", **kw)
    compute_gradcam(view, "m", heatmap_field="cam_db", **kw)
    for png, db in zip(*view.values(["cam_png", "cam_db"])):
        path = Path(png.map_path)
        config.inside_root(path)  # raises outside ClassLab's root
        assert path.parent == config.media_dir(copy.name, "gradcam", "cam_png")
        assert png.map is None and list(png.range) == [0, 255]
        np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), db.map)


def test_overwrite(copy):
    view = copy.match_tags("test").limit(3)
    compute_gradcam(view, "m", samples="all", heatmap_field="cam", device="cpu")
    with pytest.raises(FieldError, match="overwrite=True"):
        compute_gradcam(view, "m", samples="all", heatmap_field="cam", device="cpu")
    out = compute_gradcam(
        view, "m", samples="all", heatmap_field="cam", overwrite=True, device="cpu"
    )
    assert out["num_samples"] == 3


def _fake_model(ds):
    rec = dict(records.get_record(ds, "models", "m"), architecture="logistic_regression")
    records.set_record(ds, "models", "flat", rec)


def _unapplied(ds):
    rec = dict(records.get_record(ds, "models", "m"), applied_to=[])
    records.set_record(ds, "models", "fresh", rec)


@pytest.mark.parametrize(
    "setup, kwargs, error, match",
    [
        (None, {"run_key": "nope"}, RunNotFoundError, "No model with run key"),
        (_fake_model, {"run_key": "flat"}, InputError, "not a CNN"),
        (_unapplied, {"run_key": "fresh"}, FieldError, "apply the model first"),
        (None, {"heatmap_field": "ground_truth"}, FieldError, "ground truth"),
        (None, {"heatmap_field": "lenet"}, FieldError, "predictions"),
        (None, {"heatmap_field": "filepath"}, FieldError, "built-in"),
        (None, {"heatmap_field": "bad.name"}, InputError, "not valid"),
        (None, {"heatmap_field": "eval_lenet"}, FieldError, "not a Heatmap field"),
        (None, {"target": "everything"}, InputError, "target must be"),
        (None, {"samples": "some"}, InputError, "samples must be"),
        (None, {"storage": "s3"}, InputError, "storage must be"),
        (None, {"pred_field": "ground_truth"}, ClassLabError, "same field"),
        (None, {"batch_size": 0}, InputError, "batch_size"),
    ],
)
def test_bad_inputs_change_nothing(copy, unchanged, setup, kwargs, error, match):
    if setup:
        setup(copy)
    args = dict(run_key="m", device="cpu") | kwargs
    with unchanged(copy), pytest.raises(error, match=match):
        compute_gradcam(copy, **args)
