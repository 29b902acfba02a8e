"""The linear probe: scikit-learn on synthetic separable vectors and on tiny CLIP
embeddings of MNIST, recorded (weights as .npz), applied, evaluated; every bad input
refused before the first write."""

from __future__ import annotations

from pathlib import Path

import fiftyone as fo
import numpy as np
import pytest
from classlab import config, records
from classlab.errors import FieldError, InputError, RunExistsError
from classlab.lenet.data import SplitLeakageError
from classlab.probe import (
    apply_linear_probe,
    delete_linear_probe,
    fit_probe,
    list_probes,
    load_probe,
    train_linear_probe,
)
from classlab.probe.model import save_probe

CLASSES = ["ant", "bee", "cat", "dog"]


def _blobs(n_per_class: int, dim: int = 6, seed: int = 0, spread: float = 1.0):
    """Gaussian blobs: class ``c`` centred at 3 on axis ``c`` (separable, not trivially)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    x = rng.normal(scale=spread, size=(len(y), dim)).astype(np.float32)
    x[np.arange(len(y)), y] += 3.0
    return x, y


@pytest.fixture
def blobs(dataset_name):
    """A dataset of 240 samples: 120 train, 40 val, 80 test, embeddings in ``emb``."""
    x, y = _blobs(60)
    order = np.random.default_rng(1).permutation(len(y))
    tags = ["train"] * 120 + ["val"] * 40 + ["test"] * 80
    samples = []
    for tag, i in zip(tags, order):
        s = fo.Sample(filepath=f"/nonexistent/probe-{i}.png", tags=[tag])
        s["ground_truth"] = fo.Classification(label=CLASSES[y[i]])
        s["emb"] = x[i]
        samples.append(s)
    ds = fo.Dataset(dataset_name)
    ds.add_samples(samples)
    return ds


def test_fit_probe_learns_separable_blobs_and_folds_the_scaling():
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(100, seed=2)
    xv, yv = _blobs(50, seed=3)
    probe = fit_probe(x * 50 + 7, y, xv * 50 + 7, yv, CLASSES, c_grid=(0.1, 1.0))
    assert (probe.predict(xv * 50 + 7) == yv).mean() > 0.9
    assert [r["C"] for r in probe.grid] == [0.1, 1.0] and probe.C in (0.1, 1.0)
    assert probe.num_params == 4 * 6 + 4
    # the folded weights give sklearn's own decision function on standardised data
    mean, std = (x * 50 + 7).mean(0), (x * 50 + 7).std(0)
    ref = LogisticRegression(C=probe.C, max_iter=1000).fit(((x * 50 + 7) - mean) / std, y)
    want = ref.decision_function(((xv * 50 + 7) - mean) / std)
    np.testing.assert_allclose(probe.logits(xv * 50 + 7), want, rtol=1e-3, atol=1e-3)


def test_binary_probe_gives_two_logits_whose_softmax_is_sklearns_probability():
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(50, seed=4)
    keep = y < 2
    x, y = x[keep], y[keep]
    probe = fit_probe(x, y, x, y, CLASSES[:2], c_grid=1.0)
    z = probe.logits(x)
    assert z.shape == (len(x), 2)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    mean, std = x.mean(0), x.std(0)
    ref = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / std, y)
    np.testing.assert_allclose(p, ref.predict_proba((x - mean) / std), atol=1e-4)


def test_weights_round_trip_without_pickle(tmp_path):
    x, y = _blobs(20)
    probe = fit_probe(x, y, x, y, CLASSES)
    path = save_probe(tmp_path / "w.npz", probe)
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        assert set(z.files) == {"coef", "intercept", "classes", "C"}
    back = load_probe(path, CLASSES)
    np.testing.assert_array_equal(back.coef, probe.coef)
    with pytest.raises(Exception, match="the file was replaced"):
        load_probe(path, CLASSES[::-1])


def test_train_records_applies_and_evaluates(blobs):
    seen = []
    out = train_linear_probe(
        blobs,
        "emb",
        run_key="p",
        label_field="pp",
        eval_key="ev",
        progress=lambda f, label: seen.append(f),
    )
    assert out["val_acc"] > 0.85 and out["accuracy"] > 0.85  # chance is 0.25
    assert out["num_train"] == 120 and out["num_val"] == 40 and out["num_samples"] == 80
    rec = list_probes(blobs)["p"]
    assert rec["kind"] == "linear_probe" and rec["embedding_dim"] == 6
    assert rec["num_params"] == 28 and rec["train_seconds"] > 0 and rec["applied_to"] == ["pp"]
    weights = Path(rec["checkpoint"])
    assert weights.suffix == ".npz" and weights.parent == config.models_dir(blobs.name)
    assert weights.stem == rec["model_id"] and weights.is_file()
    pred = blobs.match_tags("test").first()["pp"]
    assert len(pred.logits) == 4 and 0.25 < pred.confidence <= 1.0
    assert blobs.match_tags("train").count("pp") == 0  # only apply_tag's samples
    assert "ev" in blobs.list_evaluations() and seen[-1] == 1.0
    from classlab.compare.fields import evaluated_fields

    assert "pp" in {e["field"] for e in evaluated_fields(blobs)}


def test_apply_to_another_view_and_delete(blobs):
    train_linear_probe(blobs, "emb", run_key="p", label_field="")
    assert not blobs.has_field("clip_probe")  # label_field="": recorded only
    out = apply_linear_probe(blobs, "p", label_field="all_pred", eval_key="ev_all")
    assert out["num_samples"] == 240 and out["accuracy"] > 0.85
    assert list_probes(blobs)["p"]["applied_to"] == ["all_pred"]
    weights = list_probes(blobs)["p"]["checkpoint"]
    delete_linear_probe(blobs, "p")
    assert list_probes(blobs) == {} and not Path(weights).exists()


def test_overwrite_replaces_weights_and_removes_the_old_file(blobs):
    train_linear_probe(blobs, "emb", run_key="p", label_field="")
    old = list_probes(blobs)["p"]["checkpoint"]
    with pytest.raises(RunExistsError, match="overwrite=True"):
        train_linear_probe(blobs, "emb", run_key="p", label_field="")
    train_linear_probe(blobs, "emb", run_key="p", label_field="", overwrite=True, c_grid=[2.0])
    rec = list_probes(blobs)["p"]
    assert rec["C"] == 2.0 and rec["checkpoint"] != old and not Path(old).exists()


def _nan(ds):
    v = ds.match_tags("test").first()
    v["emb"] = np.full(6, np.nan, np.float32)
    v.save()


def _short(ds):
    v = ds.match_tags("train").first()
    v["emb"] = np.zeros(5, np.float32)
    v.save()


def _leak(ds):
    """Three val samples also tagged train: the probe's val accuracy would be dishonest."""
    ds.match_tags("val").limit(3).tag_samples("train")


@pytest.mark.parametrize(
    "setup, kwargs, error, match",
    [
        (_leak, {}, SplitLeakageError, "shares 3 sample"),
        (_nan, {}, FieldError, "NaN"),
        (_short, {}, FieldError, "one dimension"),
        (None, {"embeddings_field": "ground_truth"}, FieldError, "not a vector field"),
        (None, {"embeddings_field": "nope"}, FieldError, "does not exist"),
        (None, {"label_field": "ground_truth"}, FieldError, "trained and evaluated on"),
        (None, {"label_field": "emb"}, FieldError, "embeddings the probe reads"),
        (None, {"label_field": "filepath"}, FieldError, "built-in"),
        (None, {"gt_field": "emb"}, FieldError, "Classification"),
        (None, {"val_tag": "nothing"}, InputError, "validation split is empty"),
        (None, {"run_key": "a/b"}, InputError, "not a valid key"),
        (None, {"c_grid": [0.0]}, InputError, "positive numbers"),
        (None, {"eval_key": "emb"}, FieldError, "eval_key"),
        (None, {"apply_tag": "nothing"}, InputError, "no samples"),
    ],
)
def test_bad_inputs_change_nothing(blobs, unchanged, setup, kwargs, error, match):
    if setup:
        setup(blobs)
    args = dict(embeddings_field="emb", run_key="p") | kwargs
    with unchanged(blobs), pytest.raises(error, match=match):
        train_linear_probe(blobs, **args)
    assert records.list_records(blobs, "linear_probe") == {}
    folder = config.models_dir(blobs.name)
    assert not folder.exists() or not list(folder.glob("*.npz"))


def test_probe_on_tiny_clip_embeddings_of_mnist(mnist_base, dataset_name):
    """The 'CLIP linear probe' path end to end, with the tiny random-weight CLIP model:
    random ViT features of digits still separate well above chance (0.1)."""
    from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings
    from classlab.data.splits import split_dataset
    from support.tiny_clip import register_tiny_clip

    ds = mnist_base.clone(dataset_name)
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    spec = ClipSpec(model_name=register_tiny_clip(), pretrained=None, random_weights=True)
    compute_clip_embeddings(ds, spec, LoaderOptions(batch_size=64, num_workers=0, device="cpu"))
    out = train_linear_probe(ds)  # the defaults: clip_embeddings -> clip_probe on test
    assert out["num_samples"] == 300 and out["accuracy"] > 0.3, out
    assert ds.match_tags("test").count("clip_probe") == 300
