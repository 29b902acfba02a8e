"""ONNX export: parity with torch (checked by onnxruntime at export and here again),
apply with runtime="onnxruntime", the file's life cycle, and bad inputs that change
nothing. A 1-epoch LeNet-5 keeps it fast (the tiny resnet18 export is in
tests/operators/test_model_operators.py)."""

from pathlib import Path

import numpy as np
import pytest
from classlab import config, defaults
from classlab.errors import InputError, RunExistsError, RunNotFoundError
from classlab.lenet.apply import apply_lenet
from classlab.lenet.export import ExportMismatchError, export_model, onnx_file, session
from classlab.lenet.registry import delete_model, list_models, load_model
from classlab.lenet.runs import train_lenet

FAST = {"epochs": 1, "batch_size": 64, "architecture": "lenet5_modern", "device": "cpu"}


@pytest.fixture(scope="module")
def trained(mnist_base):
    """mnist_base split 240 train / 60 val with the model ``m`` (1 epoch) exported once."""
    from classlab.data.splits import split_dataset

    ds = mnist_base.clone("classlab-test-onnx")
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    train_lenet(ds, run_key="m", config=FAST)
    out = export_model(ds, "m")
    yield ds, out
    ds.delete()


def _files(ds):
    folder = config.models_dir(ds.name)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_export_is_verified_and_recorded(trained):
    ds, out = trained
    rec = list_models(ds)["m"]
    path = Path(out["onnx_path"])
    assert path.parent == onnx_file(ds.name, rec["model_id"]).parent and path.is_file()
    assert path.name.startswith(f"{rec['model_id']}-") and path.suffix == ".onnx"
    assert config.inside_root(path) and rec["onnx_path"] == str(path)
    assert out["num_verified"] == 256 and out["max_abs_diff"] <= 1e-4
    assert rec["onnx_opset"] == defaults.ONNX_OPSET == out["opset"]
    assert set(rec["latency_ms"]) == {"torch", "onnx"}
    assert all(set(v) == {"1", "256"} for v in rec["latency_ms"].values())
    assert rec["onnx_latency_ms"] == rec["latency_ms"]["onnx"]["1"] > 0
    assert not [n for n in _files(ds) if n.endswith(".tmp")]


def test_onnx_file_matches_torch_on_256_samples(trained):
    import onnx
    from classlab.lenet.data import view_tensors
    from classlab.lenet.train import predict, to_input

    ds, out = trained
    assert onnx.load(out["onnx_path"]).opset_import[0].version == defaults.ONNX_OPSET
    model, rec = load_model(ds, "m")
    _, x, _ = view_tensors(ds.match_tags("test").limit(256), None, None, 1, 28)
    ref, feats = predict(model, x, 64, "cpu", amp=False, features=True)
    logits, emb = session(out["onnx_path"]).run(None, {"images": to_input(x).numpy()})
    assert len(x) == 256
    assert np.abs(logits - ref.numpy()).max() <= 1e-4
    assert (logits.argmax(1) == ref.numpy().argmax(1)).all()
    np.testing.assert_allclose(emb, feats.numpy(), atol=1e-4)


def test_apply_with_onnxruntime_equals_torch(trained):
    ds, _ = trained
    view = ds.match_tags("test")
    a = apply_lenet(view, "m", "pt", "pt_emb", eval_key="ev_pt", device="cpu")
    b = apply_lenet(view, "m", "ox", "ox_emb", eval_key="ev_ox", runtime="onnxruntime")
    assert view.values("pt.label") == view.values("ox.label")
    assert a["accuracy"] == b["accuracy"] and b["num_samples"] == 300
    np.testing.assert_allclose(
        np.array(view.values("ox.logits")), np.array(view.values("pt.logits")), atol=1e-4
    )
    np.testing.assert_allclose(
        np.array(view.values("ox_emb")), np.array(view.values("pt_emb")), atol=1e-4
    )


def test_bad_inputs_change_nothing(trained, unchanged):
    ds, _ = trained
    files = _files(ds)
    with unchanged(ds):
        with pytest.raises(RunNotFoundError, match="No model with run key 'nope'"):
            export_model(ds, "nope")
        for bad in (99, 17, 21.5, "21", True):
            with pytest.raises(InputError, match="opset must be an integer from 18 to 23"):
                export_model(ds, "m", opset=bad, overwrite=True)
        with pytest.raises(InputError, match="num_samples must be an integer"):
            export_model(ds, "m", num_samples=0, overwrite=True)
        with pytest.raises(RunExistsError, match="exported already"):
            export_model(ds, "m")
        view = ds.match_tags("test")
        with pytest.raises(InputError, match="runtime must be one of torch, onnxruntime"):
            apply_lenet(view, "m", "bad", "", evaluate=False, runtime="tensorrt")
    assert _files(ds) == files


def test_a_failed_verification_keeps_nothing(trained, unchanged, monkeypatch):
    from classlab.lenet import export

    ds, _ = trained
    train_lenet(ds, run_key="fresh", config=FAST)
    files = _files(ds)

    def mismatch(model, sess, x, tolerance=0.0):
        return export.__dict__["_real_verify"](model, sess, x, -1.0)  # nothing is <= -1

    monkeypatch.setitem(export.__dict__, "_real_verify", export.verify)
    monkeypatch.setattr(export, "verify", mismatch)
    with unchanged(ds):
        with pytest.raises(ExportMismatchError, match="does not match torch on 256 samples"):
            export_model(ds, "fresh")
        with pytest.raises(InputError, match="model 'fresh' has no ONNX file: export it"):
            apply_lenet(ds, "fresh", "f", "", evaluate=False, runtime="onnxruntime")
    assert _files(ds) == files


def test_deleting_a_model_deletes_its_onnx_file_unless_a_clone_uses_it(trained):
    ds, _ = trained
    train_lenet(ds, run_key="doomed", config=FAST)
    path = Path(export_model(ds, "doomed", num_samples=8)["onnx_path"])
    clone = ds.clone("classlab-test-onnx-clone")
    try:
        delete_model(ds, "doomed", delete_checkpoint=True)
        assert path.is_file()  # the clone's record still uses it
        delete_model(clone, "doomed", delete_checkpoint=True)
        assert not path.exists()
        assert not Path(list_models(ds)["m"]["onnx_path"]).with_name(path.name).exists()
    finally:
        clone.delete()


def test_reexport_writes_a_new_file_and_removes_the_one_it_replaced(trained):
    """overwrite=True: a new file under a new name, the record's figures its own; the old
    file goes, unless a clone's record still names it."""
    import onnx

    ds, _ = trained
    train_lenet(ds, run_key="twice", config=FAST)
    first = Path(export_model(ds, "twice", num_samples=8)["onnx_path"])
    clone = ds.clone("classlab-test-onnx-reexport")
    try:
        lo, hi = defaults.ONNX_OPSETS
        other = hi if defaults.ONNX_OPSET != hi else lo
        second = Path(
            export_model(ds, "twice", opset=other, num_samples=8, overwrite=True)["onnx_path"]
        )
        rec = list_models(ds)["twice"]
        assert second != first and rec["onnx_path"] == str(second)
        assert rec["onnx_opset"] == other == onnx.load(second).opset_import[0].version
        assert first.is_file()  # the clone's record still names it
        assert list_models(clone)["twice"]["onnx_path"] == str(first)
        third = Path(export_model(clone, "twice", num_samples=8, overwrite=True)["onnx_path"])
        assert not first.exists() and third.is_file() and second.is_file()
        assert not [n for n in _files(ds) if n.endswith((".tmp", ".pending"))]
    finally:
        clone.delete()
