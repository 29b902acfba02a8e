"""``shards=N``: long operators queued as N delegated operations over disjoint id ranges
(compute_oos_predictions: over its folds), run by two ``fiftyone delegated launch``
workers against the session's standalone mongod; the shard that completes a group runs
the whole-view step (map, similarity index, evaluation, the OOS fold ensemble). The
results equal an unsharded run on an identical copy."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest
from classlab import records, shards
from support.tiny_clip import register_tiny_clip
from support.workers import Workers

# each shard's own count of the samples it wrote
COUNTS = {
    "apply_lenet": "num_samples",
    "compute_clip_embeddings": "num_embedded",
    "zero_shot_classify": "num_predicted",
}


@pytest.fixture
def workers(tmp_path):
    w = Workers(tmp_path)
    yield w
    w.stop()


@pytest.fixture
def twins(mnist_base):
    """Two persistent copies of mnist_base (240 train / 60 val / 300 test) with a
    1-epoch LeNet ``m`` trained once (the second copy is a clone of the first)."""
    from classlab.data.splits import split_dataset
    from classlab.lenet.runs import train_lenet

    a = mnist_base.clone(f"sharded-{uuid.uuid4().hex[:8]}", persistent=True)
    split_dataset(a.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    cfg = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "num_workers": 1}
    train_lenet(a, run_key="m", config=cfg)
    b = a.clone(f"unsharded-{uuid.uuid4().hex[:8]}", persistent=True)
    yield a, b
    a.delete(), b.delete()


def _calls():
    clip = {
        "model_name": register_tiny_clip(),
        "random_weights": True,
        "device": "cpu",
        "batch_size": 64,
        "num_workers": 1,
    }
    return [
        ("apply_lenet", {"run_key": "m", "label_field": "lenet", "eval_key": "eval_lenet"}),
        (
            "compute_clip_embeddings",
            dict(clip, compute_viz=True, viz_method="pca", compute_similarity=True),
        ),
        ("zero_shot_classify", dict(clip, embeddings_field="")),
    ]


def test_two_workers_run_shards_equal_to_unsharded(twins, workers, execute):
    assert os.environ["FIFTYONE_DATABASE_URI"].startswith("mongodb://127.0.0.1:")
    a, b = twins
    view_a, view_b = a.match_tags("test"), b.match_tags("test")
    unsharded = {n: execute(n, view=view_b, params=p).result for n, p in _calls()}

    queued = {}
    for (name, params), n in zip(_calls(), (2, 3, 2)):
        res = execute(name, view=view_a, params=dict(params, shards=n)).result
        assert res["num_shards"] == n and len(res["operations"]) == n
        ranges = res["ranges"]
        assert sum(r["count"] for r in ranges) == 300
        assert all(x["hi"] < y["lo"] for x, y in zip(ranges, ranges[1:]))  # disjoint
        queued[name] = res
    assert not a.has_field("lenet")  # queued, not run

    workers.start("-a"), workers.start("-b")
    ids = [i for res in queued.values() for i in res["operations"]]
    ops = workers.wait(ids)
    a.reload()  # the workers added fields and runs
    for i in ids:
        assert str(ops[i].run_state) == "completed", ops[i].result
    finals = {}
    for name, res in queued.items():
        status = shards.group_status(a, res["group"])
        assert status["done"] == list(range(res["num_shards"])), name
        assert status["final"] is not None and "result" in status["final"], name
        # exactly one shard (the last to finish) ran the whole-view step
        ran = [ops[i].result.result for i in res["operations"]]
        with_final = [r for r in ran if "final" in r]
        assert len(with_final) == 1, name
        finals[name] = with_final[0]["final"]
        assert sum(r[COUNTS[name]] for r in ran) == 300, name

    # LeNet: same predictions, embeddings and evaluation
    assert view_a.values("lenet.label") == view_b.values("lenet.label")
    np.testing.assert_allclose(
        np.asarray(view_a.values("lenet.confidence")),
        np.asarray(view_b.values("lenet.confidence")),
        rtol=1e-5,
    )
    assert finals["apply_lenet"]["accuracy"] == unsharded["apply_lenet"]["accuracy"]
    assert view_a.values("eval_lenet") == view_b.values("eval_lenet")
    # CLIP embeddings: same vectors, and the map and index over the whole view
    np.testing.assert_allclose(
        np.asarray(view_a.values("clip_embeddings")),
        np.asarray(view_b.values("clip_embeddings")),
        rtol=1e-4,
        atol=1e-5,
    )
    assert finals["compute_clip_embeddings"] == {"viz_key": "clip_viz", "sim_key": "clip_sim"}
    assert len(a.load_brain_view("clip_viz")) == len(b.load_brain_view("clip_viz")) == 300
    assert a.load_brain_results("clip_sim").total_index_size == 300
    assert b.load_brain_results("clip_sim").total_index_size == 300
    # zero-shot: same labels (one class list for every shard) and the same evaluation
    assert view_a.values("clip_zero_shot.label") == view_b.values("clip_zero_shot.label")
    acc = unsharded["zero_shot_classify"]["accuracy"]
    assert finals["zero_shot_classify"]["accuracy"] == acc
    assert a.get_evaluation_info("eval_clip").config.pred_field == "clip_zero_shot"


def test_sharded_request_is_checked_before_queueing(twins, execute):
    from fiftyone.operators.delegated import DelegatedOperationService
    from fiftyone.operators.executor import ExecutionError

    a, _ = twins
    before = len(DelegatedOperationService().list_operations(dataset_name=a.name))
    with pytest.raises(ExecutionError, match="ground truth"):
        execute(
            "apply_lenet",
            view=a.match_tags("test"),
            params={"run_key": "m", "label_field": "ground_truth", "shards": 2},
        )
    with pytest.raises(ExecutionError, match="shards must be a whole number"):
        execute("apply_lenet", view=a, params={"run_key": "m", "shards": 0})
    assert len(DelegatedOperationService().list_operations(dataset_name=a.name)) == before
    assert records.list_records(a, shards.KIND) == {} and not a.has_field("lenet")


@pytest.fixture
def oos_twins(mnist_base):
    """Two persistent identical copies of mnist_base split 240 train / 60 val / 300 test."""
    from classlab.data.splits import split_dataset

    a = mnist_base.clone(f"oos-sharded-{uuid.uuid4().hex[:8]}", persistent=True)
    split_dataset(a.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    b = a.clone(f"oos-unsharded-{uuid.uuid4().hex[:8]}", persistent=True)
    yield a, b
    a.delete(), b.delete()


def test_oos_folds_as_shards_equal_to_unsharded(oos_twins, workers, execute):
    """compute_oos_predictions' shards are its folds (3 folds over 2 shards: [1, 2], [3]),
    each trained over the whole view; the final step predicts test by the ensemble."""
    import torch
    from classlab.lenet.registry import load_model

    a, b = oos_twins
    params = {
        "num_folds": 3,
        "seed": 5,
        "epochs": 1,
        "batch_size": 64,
        "device": "cpu",
        "config": {"architecture": "lenet5", "num_workers": 1},
    }
    whole = execute("compute_oos_predictions", view=b, params=params).result
    res = execute("compute_oos_predictions", view=a, params=dict(params, shards=2)).result
    assert res["num_shards"] == 2 and len(res["operations"]) == 2 and res["ranges"] == []
    assert not a.has_field("lenet_oos")  # queued, not run

    workers.start("-a"), workers.start("-b")
    ops = workers.wait(res["operations"])
    a.reload()
    for i in res["operations"]:
        assert str(ops[i].run_state) == "completed", ops[i].result
    ran = [ops[i].result.result for i in res["operations"]]
    assert sorted(f for r in ran for f in r["folds"]) == whole["folds"]
    assert sum(r["num_samples"] for r in ran) == 300  # each train/val sample once
    with_final = [r for r in ran if "final" in r]
    assert len(with_final) == 1 and shards.group_status(a, res["group"])["done"] == [0, 1]
    final = with_final[0]["final"]
    timing = ("seconds", "fold_seconds")
    assert {k: v for k, v in final.items() if k not in timing} == {
        k: v for k, v in whole.items() if k not in timing
    }
    assert final["num_others"] == 300 and records.get_record(a, "oos", "lenet_oos")["folds"] == [
        "lenet_oos-fold1",
        "lenet_oos-fold2",
        "lenet_oos-fold3",
    ]
    # the same fold models, bit for bit (trained in the workers: each fold seeds its own
    # training; same CPU, same thread count), and so the same predictions
    for key in whole["folds"]:
        wa, wb = load_model(a, key)[0].state_dict(), load_model(b, key)[0].state_dict()
        assert all(torch.equal(wa[name], w) for name, w in wb.items()), key
    for path in ("lenet_oos.label", "lenet_oos.fold", "lenet_oos.confidence"):
        assert a.values(path) == b.values(path), path
    za, zb = (np.stack(ds.values("lenet_oos.logits")) for ds in (a, b))
    assert za.shape == (600, 10) and np.array_equal(za, zb)
