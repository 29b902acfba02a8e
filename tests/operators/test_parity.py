"""The SDK path stays proven: every operator of fiftyone.yml, run through
``foo.execute_operator``, gives the same fields, values, records, tags and counts
as the core function it wraps, called on an identical copy of the same data.

Each test clones one source dataset twice (``twins``): copy ``a`` goes through
the operator, copy ``b`` through the core call, then ``support.parity`` compares
them (wall times, timestamps, paths and the datasets' names aside). Seeded work
(splits, LeNet-5 training on CPU, the random-weight CLIP model, augmentation)
must agree value for value.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import fiftyone as fo
import numpy as np
import pytest
import yaml
from classlab import defaults, records
from support.curation import add_embeddings, add_predictions
from support.parity import assert_same_state, assert_same_values, file_hashes, normalize
from support.tiny_clip import register_tiny_clip

ROOT = Path(__file__).resolve().parents[2]
FAST = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "device": "cpu"}
TESTED = set()  # operators with a parity test below (checked against fiftyone.yml)


def covers(name):
    TESTED.add(name)
    return lambda fn: fn


def _name() -> str:
    return f"classlab-parity-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def twins():
    """``twins(source)`` -> two fresh clones of a dataset or view, deleted afterwards."""
    made = []

    def make(source):
        pair = (source.clone(_name()), source.clone(_name()))
        made.extend(pair)
        return pair

    yield make
    for ds in made:
        if not ds.deleted:
            ds.delete()


@pytest.fixture(scope="module")
def split_base(mnist_base):
    """mnist_base with its train tag split 240 train / 60 val (300 test untouched)."""
    from classlab.data.splits import split_dataset

    ds = mnist_base.clone(_name())
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    yield ds
    ds.delete()


@pytest.fixture(scope="module")
def trained_base(split_base):
    """split_base with the model ``base`` (1 epoch) recorded."""
    from classlab.lenet.runs import train_lenet

    ds = split_base.clone(_name())
    train_lenet(ds, run_key="base", config=FAST)
    yield ds
    ds.delete()


@pytest.fixture(scope="module")
def clip_model():
    """(operator params, ClipSpec, LoaderOptions) of the tiny random-weight model."""
    from classlab.clip import ClipSpec, LoaderOptions

    tiny = register_tiny_clip()
    params = {
        "model_name": tiny,
        "random_weights": True,
        "device": "cpu",
        "batch_size": 16,
        "num_workers": 0,
    }
    spec = ClipSpec(model_name=tiny, pretrained=None, random_weights=True)
    return params, spec, LoaderOptions(batch_size=16, num_workers=0, device="cpu")


def test_every_manifest_operator_has_a_parity_test():
    manifest = yaml.safe_load((ROOT / "fiftyone.yml").read_text())
    assert set(manifest["operators"]) == TESTED


def test_the_comparison_sees_differences(twins, split_base):
    """The helpers below would catch an operator that did something else."""
    a, b = twins(split_base)
    a.limit(1).tag_samples("x")
    with pytest.raises(AssertionError, match="tags differ"):
        assert_same_state(a, b)
    b.limit(1).tag_samples("x")
    for ds, seed in ((a, 1), (b, 2)):
        add_predictions(ds, "p", seed=seed)
    with pytest.raises(AssertionError):
        assert_same_values(a, b, ["p.logits"])
    add_predictions(b, "p", seed=1)
    assert_same_values(a, b, ["p.logits"])
    records.set_record(a, "models", "m", {"classes": ["a"], "seconds": 1.0})
    records.set_record(b, "models", "m", {"classes": ["a"], "seconds": 2.0})
    assert_same_state(a, b)  # times are not compared
    records.set_record(b, "models", "m", {"classes": ["b"], "seconds": 2.0})
    with pytest.raises(AssertionError, match="records differ"):
        assert_same_state(a, b)


# ---- data ---------------------------------------------------------------------------


@covers("load_mnist")
def test_load_mnist(execute, mnist_dir, mnist_base):
    from classlab.data.mnist import load_mnist

    names = (_name(), _name())
    try:
        res = execute(
            "load_mnist",
            dataset=mnist_base,
            params=dict(source_dir=str(mnist_dir), dataset_name=names[0], limit_per_split=20),
        ).result
        b = load_mnist(mnist_dir, dataset_name=names[1], limit_per_split=20)
        a = fo.load_dataset(names[0])
        assert_same_state(a, b)
        assert res == {"dataset_name": names[0], "num_samples": 40, "tags": b.count_sample_tags()}
        assert b.count_sample_tags() == {"train": 20, "test": 20}
        assert_same_values(a, b, ["ground_truth.label", "tags", "metadata.width"])
        assert file_hashes(a.values("filepath")) == file_hashes(b.values("filepath"))
        assert a.values("filepath") != b.values("filepath")  # each has its own images
    finally:
        for name in names:
            if fo.dataset_exists(name):
                fo.delete_dataset(name)


@covers("split_dataset")
def test_split_dataset(execute, twins, mnist_base):
    from classlab.data.splits import split_dataset

    a, b = twins(mnist_base)
    res = execute(
        "split_dataset",
        view=a.match_tags("train"),
        params=dict(train=0.75, val=0.25, overwrite=True, seed=7),
    ).result
    counts = split_dataset(
        b.match_tags("train"), {"train": 0.75, "val": 0.25}, seed=7, overwrite=True
    )
    assert res == {"counts": counts} and counts == {"train": 225, "val": 75}
    assert_same_state(a, b)
    assert_same_values(a, b, ["tags"])  # the same samples in each split


# ---- LeNet-5 --------------------------------------------------------------------------


@covers("train_lenet")
def test_train_lenet(execute, twins, split_base):
    import torch
    from classlab.lenet.registry import load_model
    from classlab.lenet.runs import train_lenet

    a, b = twins(split_base)
    res = execute("train_lenet", dataset=a, params=dict(run_key="m", **FAST)).result
    rec = train_lenet(b, run_key="m", config=FAST)
    best = rec["history"][rec["best_epoch"] - 1]
    assert normalize(res) == normalize(
        {
            "run_key": "m",
            "architecture": rec["architecture"],
            "parent": rec["parent"],
            "num_train": rec["num_train"],
            "num_val": rec["num_val"],
            "best_epoch": rec["best_epoch"],
            "val_acc": best["val_acc"],
            "val_loss": best["val_loss"],
            "epochs_run": len(rec["history"]),
            "num_params": rec["num_params"],
        }
    )
    assert rec["num_train"] == 240 and rec["num_val"] == 60
    # the records (history included: seeded training on CPU is deterministic)
    assert_same_state(a, b)
    ma, _ = load_model(a, "m")
    mb, _ = load_model(b, "m")
    sa, sb = ma.state_dict(), mb.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa), "the trained weights differ"


@covers("apply_lenet")
def test_apply_lenet(execute, twins, trained_base):
    from classlab.lenet.apply import apply_lenet

    a, b = twins(trained_base)
    kw = dict(run_key="base", label_field="pred", embeddings_field="emb", eval_key="ev")
    res = execute("apply_lenet", view=a.match_tags("test"), params=dict(kw, device="cpu")).result
    out = apply_lenet(b.match_tags("test"), device="cpu", **kw)
    assert normalize(res) == normalize(out) and out["num_samples"] == 300
    assert_same_state(a, b)
    assert_same_values(a, b, ["pred.label", "pred.confidence", "pred.logits", "emb", "ev"])
    assert a.match_tags("train").count("pred") == 0


@covers("evaluate_predictions")
def test_evaluate_predictions(execute, twins, mnist_base):
    from classlab.lenet.evaluate import evaluate_predictions

    a, b = twins(mnist_base)
    for ds in (a, b):
        add_predictions(ds, "lenet", seed=3)
    res = execute(
        "evaluate_predictions", dataset=a, params=dict(pred_field="lenet", eval_key="e", k=2)
    ).result
    out = evaluate_predictions(b, "lenet", eval_key="e", k=2)
    assert normalize(res) == normalize(out)
    assert out["num_evaluated"] == 600 and out["top_2_accuracy"] >= out["accuracy"]
    assert_same_state(a, b)
    assert_same_values(a, b, ["e"])


@covers("list_models")
def test_list_models(execute, twins, trained_base):
    from classlab.lenet.registry import list_models

    a, b = twins(trained_base)
    res = execute("list_models", dataset=a).result
    models = list_models(b)
    assert res["count"] == len(models) == 1 and set(res["models"]) == set(models) == {"base"}
    for key, rec in models.items():
        row = res["models"][key]
        for name in ("architecture", "best_epoch", "parent", "num_params", "applied_to"):
            assert row[name] == rec[name], name
        assert row["val_acc"] == rec["history"][rec["best_epoch"] - 1]["val_acc"]
        assert row["checkpoint"] == rec["checkpoint"]  # clones share the one file
    assert_same_state(a, b)


@covers("rename_model")
def test_rename_model(execute, twins, trained_base):
    from classlab.lenet.registry import list_models, rename_model

    a, b = twins(trained_base)
    res = execute("rename_model", dataset=a, params={"run_key": "base", "new_key": "v2"}).result
    rec = rename_model(b, "base", "v2")
    assert res == {"run_key": "v2"} and set(list_models(b)) == {"v2"}
    assert normalize(list_models(a)["v2"]) == normalize(rec)
    assert_same_state(a, b)


@covers("delete_model")
def test_delete_model(execute, twins, trained_base):
    from classlab import config
    from classlab.lenet.registry import delete_model, list_models

    a, b = twins(trained_base)
    shared = records.get_record(a, "models", "base")["checkpoint"]
    own = {}
    for ds in (a, b):  # a second model each, with its own checkpoint file in the root
        own[ds.name] = config.models_dir(ds.name) / "own.pt"
        own[ds.name].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared, own[ds.name])
        rec = dict(list_models(ds)["base"], checkpoint=str(own[ds.name]))
        records.set_record(ds, "models", "own", rec)
    # the shared file is kept (the other twin and trained_base use it), the own ones go
    for key, path_a, path_b, gone in (
        ("base", shared, shared, False),
        ("own", str(own[a.name]), str(own[b.name]), True),
    ):
        params = {"run_key": key, "delete_checkpoint": True}
        res = execute("delete_model", dataset=a, params=params).result
        rec = delete_model(b, key, delete_checkpoint=True)
        assert res == {"deleted": key, "checkpoint": path_a, "checkpoint_deleted": gone}
        assert rec["checkpoint"] == path_b
        assert Path(path_a).exists() is Path(path_b).exists() is not gone
        assert_same_state(a, b)
    assert list_models(a) == list_models(b) == {}


@covers("train_model")
def test_train_model(execute, twins, split_base):
    from classlab.lenet.backbone_runs import train_model

    a, b = twins(split_base)
    options = {k: v for k, v in FAST.items() if k != "architecture"}
    params = dict(run_key="m", architecture="lenet5", **options)
    res = execute("train_model", dataset=a, params=params).result
    rec = train_model(b, "m", "lenet5", config=options)
    assert res["architecture"] == rec["architecture"] == "lenet5"
    assert res["num_params"] == rec["num_params"] == 61706
    assert res["val_acc"] == rec["history"][rec["best_epoch"] - 1]["val_acc"]
    assert set(res["latency_ms"]["torch"]) == set(rec["latency_ms"]["torch"]) == {"1", "256"}
    assert_same_state(a, b)


@covers("export_model")
def test_export_model(execute, twins, trained_base):
    from classlab.lenet.export import export_model

    a, b = twins(trained_base)
    res = execute("export_model", dataset=a, params={"run_key": "base", "num_samples": 32})
    out = export_model(b, "base", num_samples=32)
    assert normalize(res.result) == normalize(out) and out["num_verified"] == 32
    assert Path(res.result["onnx_path"]).is_file() and Path(out["onnx_path"]).is_file()
    assert res.result["onnx_path"] != out["onnx_path"]  # each clone's own folder
    assert_same_state(a, b)


# ---- CLIP ------------------------------------------------------------------------------


@covers("compute_clip_embeddings")
def test_compute_clip_embeddings(execute, twins, mnist_base, clip_model):
    from classlab.clip import compute_clip_embeddings

    params, spec, options = clip_model
    a, b = twins(mnist_base.limit(40))
    maps = dict(compute_viz=True, viz_method="pca", compute_similarity=True)
    res = execute("compute_clip_embeddings", dataset=a, params=dict(params, **maps)).result
    out = compute_clip_embeddings(b, spec, options, **maps)
    assert normalize(res) == normalize(out)
    assert out["num_embedded"] == 40 and out["num_failed"] == 0
    state = assert_same_state(a, b)
    assert {"clip_viz", "clip_sim"} <= set(state["brain_runs"])
    assert_same_values(a, b, ["clip_embeddings"], rtol=1e-5, atol=1e-6)


@covers("zero_shot_classify")
def test_zero_shot_classify(execute, twins, mnist_base, clip_model):
    from classlab.clip import zero_shot_classify

    params, spec, options = clip_model
    a, b = twins(mnist_base.limit(40))
    kw = dict(template_set="mnist", prompt_style="last", eval_key="ev")
    res = execute(
        "zero_shot_classify", dataset=a, params=dict(params, embeddings_field="", **kw)
    ).result
    out = zero_shot_classify(b, spec, options, embeddings_field=None, **kw)
    assert normalize(res) == normalize(out)
    assert out["num_predicted"] == 40 and out["prompt_names"]["3 - three"] == "three"
    assert_same_state(a, b)
    assert_same_values(
        a, b, ["clip_zero_shot.label", "clip_zero_shot.logits", "ev"], rtol=1e-5, atol=1e-6
    )


# ---- curation --------------------------------------------------------------------------


@covers("compute_sample_scores")
def test_compute_sample_scores(execute, twins, mnist_base):
    from classlab.curation.scores import score_samples

    a, b = twins(mnist_base.limit(200))
    for ds in (a, b):
        add_predictions(ds, "lenet", seed=5)
        add_embeddings(ds, "clip_embeddings", dim=8, seed=5)
    fields = dict(pred_field="lenet", embeddings_field="clip_embeddings")
    chosen = ["hardness", "uniqueness", "representativeness"]  # not the default (all four)
    res = execute("compute_sample_scores", dataset=a, params=dict(scores=chosen, **fields)).result
    out = score_samples(b, scores=chosen, **fields)
    assert normalize(res) == normalize(out) and list(out["fields"]) == chosen
    assert_same_state(a, b)
    assert_same_values(a, b, list(out["fields"].values()))


@covers("tag_samples_to_fix")
def test_tag_samples_to_fix(execute, twins, split_base):
    from classlab.curation.tagging import Criteria, tag_samples

    a, b = twins(split_base)
    hardness = np.random.default_rng(6).random(len(a)).tolist()
    for ds in (a, b):
        add_predictions(ds, "lenet", seed=6)
        ds.set_values("lenet_hardness", hardness)
    crit = dict(misclassified=True, hardness_top=0.05, split="train", pred_field="lenet")
    res = execute("tag_samples_to_fix", dataset=a, params=crit).result
    out = tag_samples(b, Criteria(**crit))
    assert res == {k: v for k, v in out.items() if k != "ids"}
    assert out["tagged"] > out["counts"]["hardness"] == 12  # ceil(5% of 240)
    assert_same_state(a, b)
    assert_same_values(a, b, ["tags"])
    # and back: untag everything
    res = execute("tag_samples_to_fix", dataset=a, params=dict(untag=True)).result
    out = tag_samples(b, untag=True)
    assert res == {k: v for k, v in out.items() if k != "ids"}
    assert defaults.TO_FIX_TAG not in b.count_sample_tags()
    assert_same_state(a, b)


def _augmented(ds, run_key):
    """(source filepath, copy, image hash) of a run's samples, sorted."""
    from classlab.curation.augment import run_samples

    aug = run_samples(ds, run_key)
    src = dict(zip(ds.values("id"), ds.values("filepath")))
    rows = zip(aug.values("source_id"), aug.values("augmentation.copy"), aug.values("filepath"))
    return sorted((src[s], c, file_hashes([p])[0]) for s, c, p in rows)


@covers("augment_samples")
def test_augment_samples(execute, twins, split_base):
    from classlab.curation.augment import augment_samples

    a, b = twins(split_base)
    for ds in (a, b):
        ds.match_tags("train").limit(4).tag_samples(defaults.TO_FIX_TAG)
    kw = dict(run_key="a1", num_copies=2, seed=1, preset="tutorial")
    res = execute("augment_samples", dataset=a, params=kw).result
    out = augment_samples(b.match_tags(defaults.TO_FIX_TAG), **kw)
    assert normalize(res) == normalize(out) and out["num_samples"] == 8
    assert_same_state(a, b, skip_fields=(defaults.SOURCE_ID_FIELD,))  # ids differ per clone
    assert _augmented(a, "a1") == _augmented(b, "a1")  # same sources, same pixels


@covers("delete_augmentations")
def test_delete_augmentations(execute, twins, split_base):
    from classlab.curation.augment import augment_samples, delete_augmentations, run_dir

    a, b = twins(split_base)
    for ds in (a, b):
        augment_samples(ds.match_tags("train").limit(3), run_key="a1", seed=2)
    res = execute("delete_augmentations", dataset=a, params={"run_key": "a1"}).result
    out = delete_augmentations(b, "a1")
    assert res == out == {"run_key": "a1", "deleted_samples": 3, "deleted_files": 3}
    assert not run_dir(a.name, "a1").exists() and not run_dir(b.name, "a1").exists()
    assert len(a) == len(b) == len(split_base)
    assert_same_state(a, b)


# ---- label issues ----------------------------------------------------------------------


@covers("compute_oos_predictions")
def test_compute_oos_predictions(execute, twins, split_base):
    from classlab.labels.oos import compute_oos_predictions

    a, b = twins(split_base)
    kw = dict(run_key="oos", num_folds=2, seed=3)
    res = execute("compute_oos_predictions", dataset=a, params=dict(config=FAST, **kw)).result
    out = compute_oos_predictions(b, config=FAST, **kw)
    assert normalize(res) == normalize(out) and out["num_samples"] == 300
    assert_same_state(a, b)
    assert_same_values(a, b, ["lenet_oos.label", "lenet_oos.fold", "lenet_oos.logits"])


def _issues_twins(twins, split_base):
    from support.labels import noisy_logits

    a, b = twins(split_base)
    for ds in (a, b):
        noisy_logits(ds, "p", seed=8)
    return a, b


@covers("find_label_issues")
def test_find_label_issues(execute, twins, split_base):
    from classlab.labels.issues import find_label_issues

    a, b = _issues_twins(twins, split_base)
    kw = dict(pred_fields=["p"], filter_by="both", method="normalized_margin")
    res = execute("find_label_issues", dataset=a, params=kw).result
    out = find_label_issues(b, **kw)
    assert normalize(res) == normalize(out) and out["num_flagged"] > 0
    assert_same_state(a, b)
    assert_same_values(a, b, ["label_quality", "suggested_label.label", "tags"])


@covers("fix_labels")
def test_fix_labels(execute, twins, split_base):
    from classlab.labels.fixes import fix_labels, mark_labels_ok
    from classlab.labels.issues import find_label_issues

    a, b = _issues_twins(twins, split_base)
    for ds in (a, b):
        find_label_issues(ds, "p")
    keep = a.match_tags("label_issue").limit(2).values("id")
    params = dict(action="keep", sample_ids=keep)
    assert execute("fix_labels", dataset=a, params=params).result["kept"] == 2
    mark_labels_ok(b.select(keep))
    res = execute("fix_labels", dataset=a, params=dict(action="suggested")).result
    out = fix_labels(b.match_tags("label_issue"))
    assert res == {k: v for k, v in out.items() if k != "ids"} and out["fixed"] > 0
    assert_same_state(a, b)
    assert_same_values(a, b, ["ground_truth.label", "tags", "ground_truth_original.label"])


@covers("revert_label_fixes")
def test_revert_label_fixes(execute, twins, split_base):
    from classlab.labels.fixes import fix_labels, revert_label_fixes

    a, b = twins(split_base)
    for ds in (a, b):
        fix_labels(ds.limit(5), label="0 - zero")
    res = execute("revert_label_fixes", dataset=a, params={}).result
    out = revert_label_fixes(b.match_tags("label_fixed"))
    assert res == {k: v for k, v in out.items() if k != "ids"} and out["reverted"] > 0
    assert_same_values(a, b, ["ground_truth.label", "tags"])
    assert a.count_values("ground_truth.label") == split_base.count_values("ground_truth.label")


# ---- linear probe and Grad-CAM (operators/explain.py) -----------------------------------


@covers("train_linear_probe")
def test_train_linear_probe(execute, twins, split_base):
    from classlab.probe import list_probes, train_linear_probe

    a, b = twins(split_base)
    for ds in (a, b):
        add_embeddings(ds, "emb", dim=8, seed=9)
    kw = dict(embeddings_field="emb", run_key="p", label_field="pp", eval_key="ev")
    res = execute("train_linear_probe", dataset=a, params=kw).result
    out = train_linear_probe(b, **kw)
    assert normalize(res) == normalize(out)
    assert out["num_samples"] == 300 and list_probes(b)["p"]["applied_to"] == ["pp"]
    assert_same_state(a, b)
    assert_same_values(a, b, ["pp.label", "pp.confidence", "pp.logits", "ev"], rtol=1e-5)


@covers("compute_gradcam")
def test_compute_gradcam(execute, twins, trained_base):
    from classlab.explain import compute_gradcam

    a, b = twins(trained_base.match_tags("test").limit(20))
    kw = dict(run_key="base", samples="all", target="both", heatmap_field="cam")
    res = execute("compute_gradcam", dataset=a, params=dict(kw, device="cpu")).result
    out = compute_gradcam(b, device="cpu", **kw)
    assert res == out and out["num_samples"] == 20 and out["fields"] == ["cam", "cam_gt"]
    assert_same_state(a, b)
    assert_same_values(a, b, ["cam.map", "cam_gt.map"], atol=1)
