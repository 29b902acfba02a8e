"""Delegated execution: operations queued from the SDK, run by a real
``fiftyone delegated launch`` worker in another process against the same
database, with results, progress and failures visible to the first process.

On one machine the two processes share the embedded MongoDB (same
``FIFTYONE_DATABASE_DIR``); on several machines they share one MongoDB through
``FIFTYONE_DATABASE_URI`` (see the README), the code path is the same.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import fiftyone as fo
import pytest

TERMINAL = ("completed", "failed")


@pytest.fixture
def worker(tmp_path):
    """Starts ``fiftyone delegated launch`` (this checkout's plugin, the same
    database); stops it with SIGTERM."""
    procs = []

    def start(tag: str = ""):
        log = open(tmp_path / f"worker{tag}.log", "w")
        exe = Path(sys.executable).with_name("fiftyone")
        proc = subprocess.Popen(
            [str(exe), "delegated", "launch"],
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append((proc, log))
        return proc

    yield start
    for proc, log in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _wait(op_ids, proc, log_path, timeout=180.0):
    from fiftyone.operators.delegated import DelegatedOperationService

    svc = DelegatedOperationService()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ops = {i: svc.get(i) for i in op_ids}
        if all(str(op.run_state) in TERMINAL for op in ops.values()):
            return ops
        if proc.poll() is not None:
            pytest.fail(f"the worker exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        time.sleep(1.0)
    pytest.fail(
        f"delegated operations did not finish in {timeout} s:\n{log_path.read_text()[-3000:]}"
    )


def test_queue_from_sdk_run_by_worker(
    mnist_base, mnist_dir, dataset_name, tmp_path, worker, execute
):
    assert mnist_base.persistent  # a worker loads the context's dataset by name
    corrupt = tmp_path / "corrupt"  # passes the form's check, fails when read
    corrupt.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (corrupt / name).write_bytes(b"not an IDX file")
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (corrupt / name).write_bytes(b"not an IDX file")
    ok = execute(
        "load_mnist",
        dataset=mnist_base,
        request_delegation=True,
        params=dict(source_dir=str(mnist_dir), dataset_name=dataset_name, limit_per_split=25),
    ).result
    bad_name = dataset_name + "-bad"
    bad = execute(
        "load_mnist",
        dataset=mnist_base,
        request_delegation=True,
        params=dict(source_dir=str(corrupt), dataset_name=bad_name),
    ).result
    # queued, not run: nothing exists yet
    assert str(ok["run_state"]) == "queued" and str(bad["run_state"]) == "queued"
    assert not fo.dataset_exists(dataset_name)

    proc = worker()
    ops = _wait([ok["id"], bad["id"]], proc, tmp_path / "worker.log")
    done, failed = ops[ok["id"]], ops[bad["id"]]

    # the worker's result is visible here
    assert str(done.run_state) == "completed", done.result
    assert fo.dataset_exists(dataset_name)
    ds = fo.load_dataset(dataset_name)
    assert ds.count_sample_tags() == {"train": 25, "test": 25}
    assert done.result.result["num_samples"] == 50
    # progress reported by the operator was stored on the operation
    assert done.status is not None and done.status.progress is not None
    assert 0.0 < float(done.status.progress) <= 1.0
    # a failure is recorded with ClassLab's message
    assert str(failed.run_state) == "failed"
    # (FiftyOne stores the traceback, whose last line is ClassLab's error and message)
    last = failed.result.error.strip().splitlines()[-1]
    assert last.startswith("classlab.errors.DataSourceError") and "train-images" in last
    assert failed.failed_at is not None and not fo.dataset_exists(bad_name)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) is not None


def test_operator_without_delegation_runs_immediately(mnist_small, execute):
    # split_dataset is quick and declares no delegation: asking for it runs it now
    res = execute(
        "split_dataset",
        view=mnist_small.match_tags("train"),
        request_delegation=True,
        params=dict(train=0.8, val=0.2, overwrite=True),
    ).result
    assert res["counts"] == {"train": 240, "val": 60}


def test_two_workers_one_mongodb_server(mnist_base, tmp_path, worker, execute):
    """Two ``fiftyone delegated launch`` workers against the session's standalone
    mongod (FIFTYONE_DATABASE_URI): five trainings queued on one dataset, two of
    them with the same run key (both valid when queued). Every distinct one
    completes and records its model (no record lost); of the two with one key,
    exactly one completes and the other fails with ClassLab's "exists" message
    (never two silent successes)."""
    from classlab import records
    from classlab.data.splits import split_dataset

    assert os.environ["FIFTYONE_DATABASE_URI"].startswith("mongodb://127.0.0.1:")
    ds = mnist_base.clone(f"two-workers-{uuid.uuid4().hex[:8]}", persistent=True)
    try:
        split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
        keys = [f"w{i}" for i in range(4)]
        queued = [
            execute(
                "train_lenet",
                dataset=ds,
                request_delegation=True,
                params=dict(run_key=k, epochs=1, seed=i),
            ).result["id"]
            for i, k in enumerate(keys)
        ]
        twin = execute(
            "train_lenet",
            dataset=ds,
            request_delegation=True,
            params=dict(run_key=keys[0], epochs=1, seed=9),
        ).result["id"]
        procs = [worker("-a"), worker("-b")]
        ops = _wait(queued + [twin], procs[0], tmp_path / "worker-a.log", timeout=400)
        assert all(p.poll() is None for p in procs), "a worker died"
        states = {i: str(ops[i].run_state) for i in queued + [twin]}
        for i in queued[1:]:
            assert states[i] == "completed", ops[i].result
        assert sorted(records.list_records(ds, "models")) == keys
        pair = [queued[0], twin]
        assert sorted(states[i] for i in pair) == ["completed", "failed"], states
        loser = next(ops[i] for i in pair if states[i] == "failed")
        last = loser.result.error.strip().splitlines()[-1]
        # refused by the form's check when the worker validates it, or by the core's
        # atomic create when both ran at once: ClassLab's message either way
        assert repr(keys[0]) in last and "exists" in last, last
    finally:
        ds.delete()
