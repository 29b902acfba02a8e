"""apply_lenet's ``runtime`` choice (torch / onnxruntime) through the form and through
``foo.execute_operator``: both runtimes always offered, the core's ``check_runtime``
message on the field for a model without an ONNX file, and the operator's onnxruntime
predictions equal to the core's (a 1-epoch LeNet-5 exported once)."""

from __future__ import annotations

import numpy as np
import pytest
from classlab import defaults
from classlab.lenet.apply import apply_lenet
from classlab.lenet.export import check_runtime, export_model
from classlab.lenet.registry import list_models
from classlab.lenet.runs import train_lenet
from support.forms import core_message, errors, form

FAST = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "device": "cpu"}


@pytest.fixture(scope="module")
def models(mnist_base):
    """mnist_base split 240 train / 60 val; ``onnx`` (exported) and ``plain`` (not)."""
    from classlab.data.splits import split_dataset

    ds = mnist_base.clone("classlab-test-apply-runtime")
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    train_lenet(ds, run_key="onnx", config=FAST)
    train_lenet(ds, run_key="plain", config=FAST)
    export_model(ds, "onnx", num_samples=32)
    yield ds
    ds.delete()


def _choices(inputs) -> dict:
    prop = inputs.properties["runtime"]
    return {c.value: c.label for c in prop.view.choices}


def test_the_form_offers_both_runtimes_and_says_which_is_exported(models):
    for key, shown in (("onnx", "onnxruntime"), ("plain", "onnxruntime (not exported)")):
        inputs = form("apply_lenet", models, {"run_key": key})
        prop = inputs.properties["runtime"]
        assert list(prop.type.values) == list(defaults.RUNTIMES)
        assert prop.default == "torch"
        assert _choices(inputs) == {"torch": "torch", "onnxruntime": shown}
        assert "runtime" not in errors(inputs)


def test_the_form_shows_the_cores_message(models):
    rec = list_models(models)["plain"]
    bad = errors(form("apply_lenet", models, {"run_key": "plain", "runtime": "onnxruntime"}))
    assert bad["runtime"] == core_message(check_runtime, "onnxruntime", rec, "plain")
    assert "export it first" in bad["runtime"]
    ok = errors(form("apply_lenet", models, {"run_key": "onnx", "runtime": "onnxruntime"}))
    assert "runtime" not in ok
    unknown = errors(form("apply_lenet", models, {"run_key": "onnx", "runtime": "tensorrt"}))
    assert unknown["runtime"] == core_message(check_runtime, "tensorrt")


def test_execute_with_onnxruntime_equals_the_core_call(execute, models):
    view = models.match_tags("test").limit(50)
    params = {"run_key": "onnx", "label_field": "op_ox", "embeddings_field": ""}
    params |= {"eval_key": "ev_op_ox", "runtime": "onnxruntime"}
    res = execute("apply_lenet", view=view, params=params).result
    out = apply_lenet(view, "onnx", "core_ox", "", eval_key="ev_core_ox", runtime="onnxruntime")
    assert res["num_samples"] == out["num_samples"] == 50
    assert res["accuracy"] == out["accuracy"]
    assert view.values("op_ox.label") == view.values("core_ox.label")
    np.testing.assert_array_equal(
        np.array(view.values("op_ox.logits")), np.array(view.values("core_ox.logits"))
    )
    # and onnxruntime's predictions are torch's (to the export's tolerance)
    apply_lenet(view, "onnx", "core_pt", "", evaluate=False, device="cpu")
    assert view.values("op_ox.label") == view.values("core_pt.label")


def test_execute_refuses_onnxruntime_without_an_export(execute, models, unchanged):
    from fiftyone.operators.executor import ExecutionError

    rec = list_models(models)["plain"]
    message = core_message(check_runtime, "onnxruntime", rec, "plain")
    view = models.match_tags("test").limit(10)
    params = {"run_key": "plain", "label_field": "never", "runtime": "onnxruntime"}
    with unchanged(models), pytest.raises(ExecutionError, match="export it first") as e:
        execute("apply_lenet", view=view, params=params)
    assert message in str(e.value)


def test_a_sharded_onnxruntime_request_is_checked_before_queueing(models, execute):
    """shards=N with runtime='onnxruntime' for a model that was never exported: the
    form's check (the core's message) refuses it before anything is queued (each shard
    would fail)."""
    from fiftyone.operators.delegated import DelegatedOperationService
    from fiftyone.operators.executor import ExecutionError

    svc = DelegatedOperationService()
    before = len(svc.list_operations(dataset_name=models.name))
    params = {"run_key": "plain", "runtime": "onnxruntime", "shards": 2, "label_field": "p"}
    with pytest.raises(ExecutionError, match="has no ONNX file: export it first"):
        execute("apply_lenet", view=models, params=params)
    assert len(svc.list_operations(dataset_name=models.name)) == before
    assert not models.has_field("p")
