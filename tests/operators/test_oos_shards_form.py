"""compute_oos_predictions' form checks the request as the core does (run key taken,
training options, shards), and shards=N queues one delegated operation per group of
folds (no worker here: the queue is inspected, then emptied)."""

from __future__ import annotations

import pytest
from classlab import records
from classlab.shards import check_shards
from support.forms import core_message, errors, form


@pytest.fixture
def split_small(mnist_small):
    from classlab.data.splits import split_dataset

    split_dataset(mnist_small.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    return mnist_small


def test_form_checks_run_key_options_and_shards(split_small):
    ds = split_small
    assert not errors(form("compute_oos_predictions", ds, {"shards": 3}))
    inputs = form("compute_oos_predictions", ds, {"shards": 0})
    assert errors(inputs)["shards"] == core_message(check_shards, 0)
    inputs = form("compute_oos_predictions", ds, {"config": {"nope": 1}})
    assert "Unknown training option(s): nope" in errors(inputs)["checks"]
    records.set_record(ds, "oos", "lenet_oos", {"folds": []})
    inputs = form("compute_oos_predictions", ds, {})
    assert "An OOS run 'lenet_oos' exists" in errors(inputs)["checks"]
    assert not errors(form("compute_oos_predictions", ds, {"overwrite": True}))


def test_shards_queue_one_operation_per_group_of_folds(split_small, execute):
    from bson import ObjectId
    from fiftyone.operators.delegated import DelegatedOperationService
    from fiftyone.operators.executor import ExecutionError

    ds, svc = split_small, DelegatedOperationService()
    res = execute("compute_oos_predictions", view=ds, params={"shards": 2}).result
    assert res["num_shards"] == 2 and res["ranges"] == []
    try:
        ops = [svc.get(ObjectId(i)) for i in res["operations"]]
        params = [op.context.request_params["params"] for op in ops]
        assert [p["_oos_folds"] for p in params] == [[1, 2, 3], [4, 5]]  # 5 folds
        assert all(p["overwrite"] is True and p["shards"] == 1 for p in params)
        assert all(p["_shard"]["restore"] == {"overwrite": None} for p in params)  # unset
        # each shard runs on the whole view (the folds need every labelled sample)
        views = [op.context.request_params["view"] for op in ops]
        assert views == [[], []]  # the dataset itself: no stages
        assert all(p["_shard"]["view"] == [] for p in params)  # the final step's view
    finally:
        for i in res["operations"]:
            svc.delete_operation(ObjectId(i))
    assert not ds.has_field("lenet_oos")
    # with repeats the shards share out K x R fold models
    res = execute(
        "compute_oos_predictions", view=ds, params={"shards": 2, "num_folds": 2, "repeats": 2}
    ).result
    try:
        ops = [svc.get(ObjectId(i)) for i in res["operations"]]
        params = [op.context.request_params["params"] for op in ops]
        assert [p["_oos_folds"] for p in params] == [[1, 2], [3, 4]]
        assert all(p["repeats"] == 2 for p in params)
    finally:
        for i in res["operations"]:
            svc.delete_operation(ObjectId(i))
    # checked before anything is queued: more folds than samples per class
    before = len(svc.list_operations(dataset_name=ds.name))
    with pytest.raises(ExecutionError, match="num_folds=50 is more than"):
        execute("compute_oos_predictions", view=ds, params={"shards": 2, "num_folds": 50})
    assert len(svc.list_operations(dataset_name=ds.name)) == before


def test_epoch_ensemble_with_repeats_is_refused_sharded_before_queueing(split_small, execute):
    """With repeats the final step predicts from stored fold models (one epoch each):
    ``epoch_ensemble`` cannot be honoured there, so the parent refuses it; with
    repeats=1 it is queued and reaches every shard."""
    from bson import ObjectId
    from fiftyone.operators.delegated import DelegatedOperationService
    from fiftyone.operators.executor import ExecutionError

    ds, svc = split_small, DelegatedOperationService()
    before = len(svc.list_operations(dataset_name=ds.name))
    params = {"shards": 2, "num_folds": 2, "repeats": 2, "epoch_ensemble": True}
    with pytest.raises(ExecutionError, match="epoch_ensemble with shards needs repeats=1"):
        execute("compute_oos_predictions", view=ds, params=params)
    assert len(svc.list_operations(dataset_name=ds.name)) == before
    res = execute("compute_oos_predictions", view=ds, params=dict(params, repeats=1)).result
    try:
        ops = [svc.get(ObjectId(i)) for i in res["operations"]]
        assert all(op.context.request_params["params"]["epoch_ensemble"] is True for op in ops)
    finally:
        for i in res["operations"]:
            svc.delete_operation(ObjectId(i))
