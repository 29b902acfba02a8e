"""The augmentation writer's files: a worker SIGKILLed while rendering (CLASSLAB_FAULT, see
classlab.curation.augment) leaves only its staging folder, which the next run and
``delete_augmentations`` sweep (never a live writer's); ``num_copies`` has a bound that
is refused before any write."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from classlab import config, records
from classlab.curation import augment
from classlab.errors import InputError
from classlab.writers import FAULT_ENV

WORKER = textwrap.dedent(
    """
    import sys
    import fiftyone as fo
    from classlab.curation.augment import augment_samples

    ds = fo.load_dataset(sys.argv[1])
    augment_samples(ds.match_tags("train").limit(4), run_key="r", num_copies=2, seed=1)
    """
)


def _staging(ds) -> list:
    parent = config.media_dir(ds.name, "augmentations")
    return sorted(parent.glob(".staging-*")) if parent.is_dir() else []


@pytest.fixture
def persistent_small(mnist_small):
    mnist_small.persistent = True  # the worker process loads it by name
    return mnist_small


@pytest.mark.parametrize("point", augment.FAULT_POINTS)
def test_killed_augmentation_staging_is_swept(persistent_small, point):
    ds = persistent_small
    env = {**os.environ, FAULT_ENV: point, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, ds.name],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    left = _staging(ds)
    assert len(left) == 1, left
    assert any(left[0].glob("*.png")), "the killed writer should have written images"
    assert f"~{socket.gethostname()}~" in left[0].name
    final = augment.run_dir(ds.name, "r")
    assert not final.exists() and records.get_record(ds, "augmentations", "r") is None
    ds.reload()
    assert len(augment.run_samples(ds, "r")) == 0

    # a live writer's staging folder (this process) is never swept
    live = final.with_name(f".staging-r-live~{socket.gethostname()}~{os.getpid()}.staging")
    live.mkdir()
    try:
        res = augment.augment_samples(
            ds.match_tags("train").limit(4), run_key="r", num_copies=2, seed=1
        )
        assert res["num_samples"] == 8
        assert _staging(ds) == [live]
        assert len(list(final.glob("*.png"))) == 8
    finally:
        config.remove_tree(live)

    # delete_augmentations sweeps a dead writer's folder (the worker's pid is gone)
    dead = final.with_name(f".staging-r-dead~{socket.gethostname()}~{proc_pid_dead()}.staging")
    dead.mkdir()
    (dead / "x.png").write_bytes(b"")
    out = augment.delete_augmentations(ds, "r")
    assert out["deleted_samples"] == 8
    assert _staging(ds) == [] and not final.exists()


def proc_pid_dead() -> int:
    """A pid of this host that no process has (a reaped child's)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_num_copies_bound_refused_before_any_write(mnist_small, unchanged, no_writes):
    src = mnist_small.match_tags("train").limit(2)
    with no_writes(), unchanged(mnist_small):
        with pytest.raises(InputError) as err:
            augment.augment_samples(src, run_key="big", num_copies=10**6)
    msg = str(err.value)
    assert "num_copies" in msg and "max_copies" in msg and "100" in msg
    assert not augment.run_dir(mnist_small.name, "big").exists() and _staging(mnist_small) == []


def test_operator_refuses_num_copies_above_bound(mnist_small, execute, unchanged):
    from fiftyone.operators.executor import ExecutionError

    mnist_small.tag_samples("to_augment")
    with unchanged(mnist_small):
        with pytest.raises(ExecutionError, match="max_copies"):
            execute("augment_samples", dataset=mnist_small, params=dict(num_copies=10**6))
    assert _staging(mnist_small) == []


def test_max_copies_raises_the_bound_deliberately(mnist_small):
    src = mnist_small.match_tags("train").limit(1)
    with pytest.raises(InputError, match="max_copies"):
        augment.check_augmentation(src, "r", num_copies=3, max_copies=2)
    req = augment.check_augmentation(src, "r", num_copies=150, max_copies=200)
    assert req["num_copies"] == 150
