"""train_linear_probe and compute_gradcam through foo.execute_operator and their forms
(each form shows the core's own message)."""

from __future__ import annotations

import uuid

import fiftyone.operators as foo
import pytest
from classlab.data.splits import split_dataset
from classlab.explain import check_gradcam_args
from classlab.lenet.registry import list_models
from classlab.probe import list_probes
from classlab.probe.runs import check_train_args
from support.curation import add_embeddings
from support.forms import core_message, errors, form


@pytest.fixture(scope="module")
def base(mnist_base):
    """mnist_base split 240 train / 60 val, random 8-d embeddings ``emb``, and the model
    ``m`` (lenet5, 1 epoch) applied to test as ``lenet``."""
    from classlab.lenet.apply import apply_lenet
    from classlab.lenet.runs import train_lenet

    ds = mnist_base.clone(f"classlab-explain-{uuid.uuid4().hex[:6]}")
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    add_embeddings(ds, "emb", dim=8, seed=1)
    cfg = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "device": "cpu"}
    train_lenet(ds, run_key="m", config=cfg)
    apply_lenet(ds.match_tags("test"), "m", embeddings_field="", device="cpu")
    yield ds
    ds.delete()


@pytest.fixture
def ds(base):
    copy = base.clone(f"classlab-explain-{uuid.uuid4().hex[:6]}")
    yield copy
    copy.delete()


def test_operators_are_listed():
    names = {op.uri for op in foo.list_operators()}
    assert {"@classlab/classlab/train_linear_probe", "@classlab/classlab/compute_gradcam"} <= names


def test_train_linear_probe_operator(execute, ds):
    params = {"embeddings_field": "emb", "run_key": "p", "label_field": "p", "eval_key": "ev"}
    res = execute("train_linear_probe", dataset=ds, params=params).result
    assert res["run_key"] == "p" and res["num_samples"] == 300 and res["eval_key"] == "ev"
    rec = list_probes(ds)["p"]
    assert rec["num_params"] == res["num_params"] == 8 * 10 + 10
    assert ds.match_tags("test").count("p.logits") == 300
    assert "ev" in ds.list_evaluations()


def test_probe_form_defaults_and_core_messages(ds):
    inputs = form("train_linear_probe", ds, {"embeddings_field": "emb"})
    assert errors(inputs) == {}
    assert inputs.properties["embeddings_field"].type.values == ["emb"]
    params = {"embeddings_field": "emb", "run_key": "p", "label_field": "ground_truth"}
    got = errors(form("train_linear_probe", ds, params))
    want = core_message(
        check_train_args,
        ds,
        "emb",
        "p",
        "ground_truth",
        "train",
        "val",
        "ground_truth",
        "test",
        True,
        "eval_clip_probe",
        [0.01, 0.1, 1.0, 10.0],
        1000,
        False,
    )
    assert got == {"status": want}
    # a taken key: the form proposes the next free one
    from classlab.probe import train_linear_probe

    train_linear_probe(ds, "emb", label_field="")
    inputs = form("train_linear_probe", ds, {})
    assert inputs.properties["run_key"].default == "clip_probe_v2"


def test_compute_gradcam_operator(execute, ds):
    from fiftyone import ViewField as F

    res = execute("compute_gradcam", dataset=ds, params={"run_key": "m", "device": "cpu"}).result
    wrong = ds.match(F("lenet").exists() & (F("lenet.label") != F("ground_truth.label")))
    assert res["num_samples"] == len(wrong) and res["fields"] == ["lenet_gradcam"]
    assert ds.count("lenet_gradcam") == len(wrong)


def test_gradcam_form_lists_cnns_and_shows_core_messages(ds):
    from classlab import records

    rec = dict(records.get_record(ds, "models", "m"), architecture="logistic_regression")
    records.set_record(ds, "models", "flat", rec)
    inputs = form("compute_gradcam", ds, {})
    assert inputs.properties["run_key"].type.values == ["m"]  # CNNs only
    assert inputs.properties["heatmap_field"].default == "lenet_gradcam"
    assert errors(inputs) == {}
    bad = {"run_key": "m", "heatmap_field": "ground_truth"}
    want = core_message(check_gradcam_args, ds, "m", heatmap_field="ground_truth")
    assert errors(form("compute_gradcam", ds, bad)) == {"run_key": want}
    want = core_message(check_gradcam_args, ds, "flat")
    assert errors(form("compute_gradcam", ds, {"run_key": "flat"}))["run_key"] == want
    assert "flat" in list_models(ds)
