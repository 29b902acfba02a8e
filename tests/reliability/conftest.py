"""Shared fixtures of the reliability suite: a small trained dataset, and a check that a
call wrote no file anywhere (outside ClassLab's root, nor inside it)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

# tiny and fast: 1 epoch of the classic LeNet on 240 images
FAST = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "num_workers": 2}


def files_under(top: Path, skip=()) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file below ``top`` (``skip``: top-level names)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        if Path(dirpath) == top:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            p = Path(dirpath) / name
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="session")
def fast() -> dict:
    """Training options of the suite's tiny runs."""
    return dict(FAST)


@pytest.fixture
def no_writes(tmp_root, tmp_path, monkeypatch):
    """``with no_writes(): ...`` asserts that the block wrote, changed or deleted no file
    in the session's directory (ClassLab's root included; the database's own files
    excepted), none in the working directory, and no dataset was created or deleted."""
    import fiftyone as fo

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)

    @contextmanager
    def check():
        before = files_under(tmp_root, skip=("db",))
        datasets = sorted(fo.list_datasets())
        yield
        after = files_under(tmp_root, skip=("db",))
        added = sorted(set(after) - set(before))
        changed = sorted(p for p in before if after.get(p) != before[p])
        assert not added and not changed, f"files written: {added}, changed/removed: {changed}"
        assert list(cwd.iterdir()) == [], "files written in the working directory"
        assert sorted(fo.list_datasets()) == datasets, "a dataset was created or deleted"

    return check


@pytest.fixture(scope="session")
def lenet_ds(mnist_base):
    """A clone of mnist_base split 240 train / 60 val, with model ``base`` trained once,
    its predictions in ``lenet`` and a model ``outside`` whose checkpoint lies outside
    ClassLab's root. Tests must leave it as they found it."""
    import tempfile

    from classlab import records
    from classlab.data.splits import split_dataset
    from classlab.lenet.apply import apply_lenet
    from classlab.lenet.runs import train_lenet

    ds = mnist_base.clone("classlab-test-reliability")
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    rec = train_lenet(ds, run_key="base", config=FAST)
    apply_lenet(ds.match_tags("test").limit(20), "base", embeddings_field="", evaluate=False)
    outside = Path(tempfile.mkdtemp(prefix="classlab-outside-")) / "user.pt"
    outside.write_bytes(Path(rec["checkpoint"]).read_bytes())
    records.set_record(ds, "models", "outside", {**rec, "checkpoint": str(outside)})
    yield ds
    ds.delete()
    outside.unlink(missing_ok=True)
    outside.parent.rmdir()
