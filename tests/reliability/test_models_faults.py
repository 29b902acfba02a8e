"""Workers writing the files added after the checkpoint writer are SIGKILLed at each of
their critical points (CLASSLAB_FAULT): an ONNX re-export (classlab.lenet.export), a
linear probe's re-training (classlab.probe.store) and Grad-CAM PNG heatmaps replacing
older ones (classlab.explain.compute). No file is ever partial under its final name,
every record/field points at a whole file (the old one, or the new one), and a re-run
succeeds, sweeping what the dead writer left (no temp file, journal or unreferenced
file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from classlab import config, records
from classlab.explain import compute as gradcam
from classlab.explain import compute_gradcam
from classlab.lenet import export
from classlab.lenet.registry import get_model_record, load_model
from classlab.probe import load_probe, train_linear_probe
from classlab.probe import store as probe_store
from classlab.writers import FAULT_ENV
from support.curation import add_embeddings

WORKER = textwrap.dedent(
    """
    import sys
    import fiftyone as fo

    ds = fo.load_dataset(sys.argv[1])
    if sys.argv[2] == "onnx":
        from classlab.lenet.export import export_model

        export_model(ds, "base", num_samples=16, overwrite=True)
    elif sys.argv[2] == "probe":
        from classlab.probe import train_linear_probe

        train_linear_probe(ds, "emb", run_key="p", label_field="", c_grid=[0.5], overwrite=True)
    else:
        from classlab.explain import compute_gradcam

        compute_gradcam(
            ds.match_tags("test").limit(20), "base", samples="all", storage="png",
            heatmap_field="cam", batch_size=1, device="cpu", overwrite=True,
        )
    """
)
# (writer, fault point, whether an older version exists when the worker starts)
CASES = [
    ("onnx", "onnx_after_tmp_write", True),
    ("onnx", "onnx_after_replace", True),
    ("onnx", "onnx_after_replace", False),
    *[("probe", point, True) for point in probe_store.FAULT_POINTS],
    *[("gradcam", point, True) for point in gradcam.FAULT_POINTS],
]
OLD_MAP = 7  # the value of every pixel of the "old" Grad-CAM PNGs


def _prepare(ds, writer: str, previous: bool) -> dict:
    """Writes the old version the worker will replace; returns what the test compares."""
    if writer == "onnx":
        if not previous:
            return {}
        out = export.export_model(ds, "base", num_samples=16)
        return {"path": out["onnx_path"], "bytes": Path(out["onnx_path"]).read_bytes()}
    if writer == "probe":
        add_embeddings(ds, "emb")
        train_linear_probe(ds, "emb", run_key="p", label_field="", c_grid=[2.0])
        rec = records.get_record(ds, "linear_probe", "p")
        return {"rec": rec, "bytes": Path(rec["checkpoint"]).read_bytes()}
    view = ds.match_tags("test").limit(20)
    kw = {"samples": "all", "device": "cpu"}
    compute_gradcam(view, "base", storage="database", heatmap_field="cam_db", **kw)
    compute_gradcam(view, "base", storage="png", heatmap_field="cam", **kw)
    for heatmap in view.values("cam"):  # an old version unlike the new maps
        old = np.full_like(cv2.imread(heatmap.map_path, cv2.IMREAD_UNCHANGED), OLD_MAP)
        cv2.imwrite(heatmap.map_path, old)
    return {}


@pytest.fixture(scope="module")
def killed(lenet_ds):
    """One clone of lenet_ds per case, holding the old version, and a worker replacing
    it, killed at the case's point (the workers run at the same time)."""
    runs = {}
    for case in CASES:
        writer, point, previous = case
        ds = lenet_ds.clone()
        ds.persistent = True  # the worker process loads it by name
        old = _prepare(ds, writer, previous)
        env = {**os.environ, FAULT_ENV: point, "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", WORKER, ds.name, writer]
        proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
        runs[case] = (ds, old, proc)
    for _, _, proc in runs.values():
        proc.wait(timeout=600)
    yield runs
    for ds, _, _ in runs.values():
        ds.delete()


def _check_killed(proc) -> None:
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]


def _verified(ds, path: str) -> None:
    """The ONNX file at ``path`` is whole: onnxruntime loads it and it matches torch."""
    model, rec = load_model(ds, "base", "cpu")
    x = export._samples(ds, rec, 16)
    export.verify(model, export.session(path), x)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "onnx"], ids=str)
def test_killed_onnx_export_leaves_a_whole_file_and_rerun_sweeps(killed, case):
    ds, old, proc = killed[case]
    _check_killed(proc)
    _, point, previous = case
    folder = config.models_dir(ds.name)
    rec = get_model_record(ds, "base")
    if previous:  # the record still names the old file, untouched, with its own figures
        assert rec["onnx_path"] == old["path"]
        assert Path(old["path"]).read_bytes() == old["bytes"], "old export touched"
        _verified(ds, rec["onnx_path"])
    else:  # the record not updated: no path to a file it did not describe
        assert not rec.get("onnx_path")
    if point == "onnx_after_tmp_write":
        assert list(folder.glob(".*.onnx~*.tmp")), "the dead writer's temp file"
    else:  # the new file moved into place under its own name, named by the journal
        assert len(list(folder.glob("*.onnx"))) == 1 + previous
        assert list(folder.glob(".*.onnx~*.pending")), "the dead writer's journal"
    for path in folder.glob("*.onnx"):  # nothing partial under a final name
        _verified(ds, str(path))

    out = export.export_model(ds, "base", num_samples=16, overwrite=previous)
    rec = get_model_record(ds, "base")
    assert rec["onnx_path"] == out["onnx_path"] and rec["onnx_opset"] == out["opset"]
    _verified(ds, rec["onnx_path"])
    # the dead writer's file swept, the replaced one removed: only the record's is left
    assert [p.name for p in folder.glob("*.onnx")] == [Path(out["onnx_path"]).name]
    assert not list(folder.glob(".*.tmp")), "temp files left"
    assert not list(folder.glob(".*.pending")), "journals left"


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "probe"], ids=str)
def test_killed_probe_leaves_old_or_new_weights_whole_and_rerun_sweeps(killed, case):
    ds, old, proc = killed[case]
    _check_killed(proc)
    point = case[1]
    folder = config.models_dir(ds.name)
    rec = records.get_record(ds, "linear_probe", "p")
    probe = load_probe(rec["checkpoint"], rec["classes"], "p")  # whole, and the record's
    replaced = rec["model_id"] != old["rec"]["model_id"]
    assert replaced == (point == "probe_after_record"), point
    assert probe.C == (0.5 if replaced else 2.0)
    if not replaced:
        assert Path(rec["checkpoint"]).read_bytes() == old["bytes"], "old weights touched"
    for path in folder.glob("*.npz"):  # nothing partial under a final name
        np.load(path, allow_pickle=False)["coef"]
    assert list(folder.glob(f".*.{probe_store.JOURNAL}")), "the dead writer's journal"

    again = train_linear_probe(ds, "emb", run_key="p", label_field="", overwrite=True)
    rec = records.get_record(ds, "linear_probe", "p")
    assert load_probe(rec["checkpoint"], rec["classes"], "p").C == again["C"]
    assert {p.name for p in folder.iterdir()} == {Path(rec["checkpoint"]).name}, "orphans"


def _same_map(png, stored) -> None:
    """A PNG heatmap equals the map stored in the database (batch sizes differ: +-1)."""
    assert png.shape == stored.shape
    assert np.abs(png.astype(int) - stored.astype(int)).max() <= 1


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "gradcam"], ids=str)
def test_killed_gradcam_leaves_whole_pngs_and_rerun_sweeps(killed, case):
    ds, _, proc = killed[case]
    _check_killed(proc)
    point = case[1]
    view = ds.match_tags("test").limit(20)
    folder = config.media_dir(ds.name, "gradcam", "cam")
    states = []
    for png, db in zip(*view.values(["cam", "cam_db"])):
        got = cv2.imread(png.map_path, cv2.IMREAD_UNCHANGED)
        assert got is not None, f"{png.map_path} is not a whole PNG"
        states.append("old" if (got == OLD_MAP).all() else "new")
        if states[-1] == "new":
            _same_map(got, db.map)
    # the dead writer replaced the first chunk (batch_size 1: 8 samples) or nothing
    assert states.count("new") == (8 if point == "gradcam_after_pngs" else 0), states
    if point == "gradcam_after_tmp_write":
        assert list(folder.glob(".*.png~*.tmp")), "the dead writer's temp file"
    for path in folder.glob("*.png"):  # nothing partial under a final name
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is not None, path

    kw = {"samples": "all", "storage": "png", "device": "cpu", "overwrite": True}
    compute_gradcam(view, "base", heatmap_field="cam", **kw)
    for png, db in zip(*view.values(["cam", "cam_db"])):
        _same_map(cv2.imread(png.map_path, cv2.IMREAD_UNCHANGED), db.map)
    names = {Path(p.map_path).name for p in view.values("cam")}
    assert {p.name for p in folder.iterdir()} == names, "temp files or orphans left"
