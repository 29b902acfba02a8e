import pytest
from classlab import records
from classlab.errors import RunExistsError, RunNotFoundError


def test_records_roundtrip(mnist_small):
    assert records.list_records(mnist_small, "models") == {}
    records.set_record(mnist_small, "models", "a", {"x": 1, "hist": [1, 2]})
    rec = records.get_record(mnist_small, "models", "a")
    rec["x"] = 99  # a copy: the stored record is unchanged
    assert records.get_record(mnist_small, "models", "a")["x"] == 1
    records.update_record(mnist_small, "models", "a", y=2)
    records.rename_record(mnist_small, "models", "a", "b")
    assert records.list_records(mnist_small, "models") == {"b": {"x": 1, "hist": [1, 2], "y": 2}}
    assert records.delete_record(mnist_small, "models", "b")["y"] == 2
    assert records.get_record(mnist_small, "models", "b") is None


def test_keys_with_dots_dollars_and_percent_roundtrip(mnist_small):
    keys = ["v1.2", "$x", "50%", "a%2Eb"]
    for k in keys:
        records.set_record(mnist_small, "models", k, {"k": k})
    assert sorted(records.list_records(mnist_small, "models")) == sorted(keys)
    assert records.get_record(mnist_small, "models", "v1.2") == {"k": "v1.2"}
    assert records.get_record(mnist_small, "models", "a.b") is None
    records.rename_record(mnist_small, "models", "v1.2", "v1.3")
    assert records.get_record(mnist_small, "models", "v1.3") == {"k": "v1.2"}
    # the in-memory dataset.info reflects the direct writes
    assert "v1%2E3" in mnist_small.info["classlab_runs"]["models"]


def test_create_only_and_rename_guards(mnist_small):
    records.set_record(mnist_small, "models", "a", {"x": 1}, create_only=True)
    with pytest.raises(RunExistsError, match="'a' exists"):
        records.set_record(mnist_small, "models", "a", {"x": 2}, create_only=True)
    records.set_record(mnist_small, "models", "b", {"x": 3})
    with pytest.raises(RunExistsError, match="'b' exists"):
        records.rename_record(mnist_small, "models", "a", "b")
    with pytest.raises(RunNotFoundError, match="'zz'"):
        records.rename_record(mnist_small, "models", "zz", "c")
    assert records.list_records(mnist_small, "models") == {"a": {"x": 1}, "b": {"x": 3}}
    assert records.delete_record(mnist_small, "models", "a") == {"x": 1}
    assert records.delete_record(mnist_small, "models", "a") is None


_WRITER = r"""
import sys
import fiftyone as fo
from classlab import records
from classlab.errors import RunExistsError, RunNotFoundError
ds = fo.load_dataset(sys.argv[1])
mode, tag = sys.argv[2], sys.argv[3]
if mode == "write":
    for i in range(100):
        records.set_record(ds, "models", f"{tag}-{i}", {"i": i})
        records.update_record(ds, "scores", "shared", **{f"{tag}_{i}": i})
else:
    print("go", flush=True)
    sys.stdin.readline()
    try:
        records.rename_record(ds, "models", "v1", tag)
        print("renamed")
    except (RunExistsError, RunNotFoundError) as e:
        print("refused:", e)
"""


def _python(*args, **kw):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, *args], text=True, stdout=subprocess.PIPE, **kw
    )


def test_two_processes_lose_no_record(mnist_small):
    mnist_small.persistent = True
    procs = [_python(mnist_small.name, "write", tag) for tag in ("p", "q")]
    for p in procs:
        p.communicate(timeout=300)
        assert p.returncode == 0
    recs = records.list_records(mnist_small, "models")
    assert len(recs) == 200
    assert len(records.get_record(mnist_small, "scores", "shared")) == 200


def test_two_concurrent_renames_exactly_one_wins(mnist_small):
    import subprocess

    mnist_small.persistent = True
    for trial in range(3):
        records.set_record(mnist_small, "models", "v1", {"trial": trial})
        procs = [
            _python(mnist_small.name, "rename", f"old{trial}{t}", stdin=subprocess.PIPE)
            for t in "ab"
        ]
        for p in procs:  # both ready (fiftyone imported), then released together
            assert p.stdout.readline().strip() == "go"
        for p in procs:
            p.stdin.write("\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert sorted(o.split()[0] for o in outs) == ["refused:", "renamed"], outs
        assert "v1" not in records.list_records(mnist_small, "models")
        names = [k for k in records.list_records(mnist_small, "models") if k.startswith("old")]
        assert len(names) == trial + 1


def test_replace_record_returns_what_it_replaced(mnist_small):
    assert records.replace_record(mnist_small, "models", "k.1", {"v": 1}) is None
    assert records.replace_record(mnist_small, "models", "k.1", {"v": 2}) == {"v": 1}
    assert records.get_record(mnist_small, "models", "k.1") == {"v": 2}
