"""A worker training ``overwrite=True`` is SIGKILLed at each critical point of the
checkpoint writer (CLASSLAB_FAULT, see classlab.lenet.checkpoints): the record and the
file still agree (the old model or the new one, loadable), the next run sweeps what the
dead writer left (no .tmp, no journal, no unreferenced file) and succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from classlab import config, records, writers
from classlab.lenet import checkpoints
from classlab.lenet.registry import load_model
from classlab.lenet.runs import train_lenet

WORKER = textwrap.dedent(
    """
    import sys
    import fiftyone as fo
    from classlab.lenet.runs import train_lenet

    ds = fo.load_dataset(sys.argv[1])
    train_lenet(ds, run_key="m", config=eval(sys.argv[2]), overwrite=True)
    """
)


@pytest.fixture(scope="module")
def killed(lenet_ds, fast):
    """One clone per fault point, each with model ``m``, and a worker retraining ``m``
    with overwrite=True killed at that point (the workers run at the same time)."""
    runs = {}
    for point in checkpoints.FAULT_POINTS:
        ds = lenet_ds.clone()
        ds.persistent = True  # the worker process loads it by name
        old = train_lenet(ds, run_key="m", config=fast)
        env = {**os.environ, writers.FAULT_ENV: point, "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", WORKER, ds.name, repr({**fast, "seed": 9})]
        proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
        runs[point] = (ds, old, proc)
    for _, _, proc in runs.values():
        proc.wait(timeout=300)
    yield runs
    for ds, _, _ in runs.values():
        ds.delete()


@pytest.mark.parametrize("point", checkpoints.FAULT_POINTS)
def test_killed_writer_leaves_old_or_new_model_whole(killed, fast, point):
    ds, old, proc = killed[point]
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]

    rec = records.get_record(ds, "models", "m")
    assert Path(rec["checkpoint"]).name == f"{rec['model_id']}.pt"
    load_model(ds, "m")  # the record's file is whole and matches the record
    replaced = rec["model_id"] != old["model_id"]
    assert replaced == (point == "after_record"), point
    folder = config.models_dir(ds.name)
    left = {p.name for p in folder.glob(".*")}
    assert left, "the killed writer should have left its journal (or temp file)"

    again = train_lenet(ds, run_key="m", config={**fast, "seed": 11}, overwrite=True)
    load_model(ds, "m")
    referenced = {Path(r["checkpoint"]).name for r in records.list_records(ds, "models").values()}
    on_disk = {p.name for p in folder.iterdir()}
    assert on_disk == referenced & on_disk, f"orphans: {on_disk - referenced}"
    assert f"{again['model_id']}.pt" in on_disk
    assert not list(folder.glob("*.tmp")) and not list(folder.glob("*.pending"))
