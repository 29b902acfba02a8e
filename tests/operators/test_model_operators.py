"""train_model and export_model through foo.execute_operator on a real database: a tiny
resnet18 (16 x 16 inputs, 2 epochs on 120 MNIST samples), exported to ONNX, applied
with torch and with onnxruntime; the forms show the core's messages."""

from pathlib import Path

import fiftyone.operators as foo
import numpy as np
import pytest
from classlab.lenet.apply import apply_model
from classlab.lenet.export import check_opset
from classlab.lenet.registry import list_models
from support.forms import core_message, errors, form

TINY = {"epochs": 2, "batch_size": 20, "input_size": 16, "lr": 0.003, "device": "cpu"}


@pytest.fixture(scope="module")
def resnet(mnist_base):
    """120 train / 40 val / 100 test samples and ``r18``, trained by the operator."""
    from concurrent.futures import ThreadPoolExecutor

    from classlab.data.splits import split_dataset

    ds = mnist_base.match_tags("train").take(160, seed=2).clone("classlab-test-model-ops")
    # copies, not merge_samples: merging would put a unique filepath index on mnist_base
    ds.add_samples([s.copy() for s in mnist_base.match_tags("test").take(100, seed=2)])
    split_dataset(ds.match_tags("train"), {"train": 0.75, "val": 0.25}, overwrite=True)
    params = {"run_key": "r18", "architecture": "resnet18", **TINY}
    ctx = {"dataset": ds, "params": params}
    with ThreadPoolExecutor(1) as pool:  # as conftest's execute fixture (module scope here)
        uri = "@classlab/classlab/train_model"
        result = pool.submit(foo.execute_operator, uri, ctx=ctx).result().result
    yield ds, result
    ds.delete()


def test_operators_are_listed():
    names = {op.uri for op in foo.list_operators()}
    assert {"@classlab/classlab/train_model", "@classlab/classlab/export_model"} <= names


def test_train_model_records_a_resnet18(resnet):
    ds, result = resnet
    rec = list_models(ds)["r18"]
    assert rec["architecture"] == result["architecture"] == "resnet18"
    assert result["num_params"] == rec["num_params"] > 11_000_000
    assert rec["num_train"] == 120 and rec["num_val"] == 40
    assert set(result["latency_ms"]["torch"]) == {"1", "256"}
    assert Path(rec["checkpoint"]).is_file()


def test_export_model_then_apply_with_onnxruntime(execute, resnet):
    ds, _ = resnet
    out = execute("export_model", dataset=ds, params={"run_key": "r18", "num_samples": 64})
    out = out.result
    assert out["num_verified"] == 64 and out["max_abs_diff"] <= 1e-4
    assert Path(out["onnx_path"]).is_file()
    rec = list_models(ds)["r18"]
    assert rec["onnx_path"] == out["onnx_path"] and set(rec["latency_ms"]) == {"torch", "onnx"}
    view = ds.match_tags("test")
    apply_model(view, "r18", "pt", "pt_emb", evaluate=False, device="cpu")
    apply_model(view, "r18", "ox", "ox_emb", evaluate=False, runtime="onnxruntime")
    assert view.values("pt.label") == view.values("ox.label")
    np.testing.assert_allclose(
        np.array(view.values("ox.logits")), np.array(view.values("pt.logits")), atol=1e-4
    )
    assert np.asarray(view.values("ox_emb")[0]).shape == (512,)


def test_forms_show_the_cores_messages(resnet):
    ds, _ = resnet
    assert errors(form("export_model", ds, {"run_key": "r18", "overwrite": True})) == {}
    bad = errors(form("export_model", ds, {"run_key": "r18", "opset": 99, "overwrite": True}))
    assert bad["opset"] == core_message(check_opset, 99)
    assert "run_key" in errors(form("export_model", ds, {"run_key": "nope"}))
    ok = {"run_key": "new", "architecture": "mobilenet_v3_small", **TINY}
    assert errors(form("train_model", ds, ok)) == {}
    taken = errors(form("train_model", ds, dict(ok, run_key="r18")))
    assert "already exists" in taken["run_key"]
    assert "architecture" in errors(form("train_model", ds, dict(ok, architecture="vgg")))
    assert "input_size" in errors(form("train_model", ds, dict(ok, input_size=8)))
