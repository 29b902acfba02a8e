"""Model files: named by an immutable id, never clobbered by rename/re-train, never deleted
while a record (of any dataset, clones included) references them, swept after a crash."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest
from classlab import config, records
from classlab.errors import RunExistsError
from classlab.lenet import checkpoints
from classlab.lenet.registry import delete_model, list_models, load_model, rename_model
from classlab.lenet.runs import train_lenet


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def ds(lenet_ds):
    """A fresh clone of the suite's trained dataset (its records share ``base``'s file)."""
    clone = lenet_ds.clone()
    clone.persistent = True
    yield clone
    clone.delete()


def folder_files(dataset) -> set[str]:
    folder = config.models_dir(dataset.name)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_file_is_named_by_model_id_inside_the_root(ds, fast):
    rec = train_lenet(ds, run_key="v1.0", config=fast)
    path = Path(rec["checkpoint"])
    assert path.name == f"{rec['model_id']}.pt" and len(rec["model_id"]) == 32
    assert path.parent == config.models_dir(ds.name) and config.inside_root(path)


def test_rename_then_retrain_keeps_the_old_weights(ds, fast):
    first = train_lenet(ds, run_key="v1", config=fast)
    before = digest(first["checkpoint"])
    rename_model(ds, "v1", "old")
    second = train_lenet(ds, run_key="v1", config={**fast, "seed": 7})
    old = list_models(ds)["old"]
    assert old["checkpoint"] == first["checkpoint"] != second["checkpoint"]
    assert digest(old["checkpoint"]) == before != digest(second["checkpoint"])
    load_model(ds, "old")
    load_model(ds, "v1")


def test_delete_on_a_clone_keeps_the_sources_checkpoint(lenet_ds, ds):
    source = records.get_record(lenet_ds, "models", "base")["checkpoint"]
    assert list_models(ds)["base"]["checkpoint"] == source  # clones share the file
    before = digest(source)
    delete_model(ds, "base", delete_checkpoint=True)
    assert "base" not in list_models(ds) and digest(source) == before
    load_model(lenet_ds, "base")


def test_delete_removes_the_file_once_nothing_references_it(ds, fast):
    rec = train_lenet(ds, run_key="solo", config=fast)
    records.set_record(ds, "models", "alias", rec)  # a second record of the same file
    delete_model(ds, "solo", delete_checkpoint=True)
    assert Path(rec["checkpoint"]).is_file()  # "alias" still uses it
    delete_model(ds, "alias", delete_checkpoint=True)
    assert not Path(rec["checkpoint"]).exists()


def test_overwrite_replaces_then_removes_the_old_file(ds, fast):
    old = train_lenet(ds, run_key="m", config=fast)
    new = train_lenet(ds, run_key="m", config={**fast, "seed": 3}, overwrite=True)
    assert new["model_id"] != old["model_id"] and Path(new["checkpoint"]).is_file()
    assert not Path(old["checkpoint"]).exists()
    assert list_models(ds)["m"]["model_id"] == new["model_id"]


def test_overwrite_keeps_an_old_file_a_clone_still_uses(ds, fast):
    old = train_lenet(ds, run_key="m", config=fast)
    twin = ds.clone()
    try:
        train_lenet(ds, run_key="m", config=fast, overwrite=True)
        assert Path(old["checkpoint"]).is_file()
        load_model(twin, "m")
    finally:
        twin.delete()


def test_two_creators_of_one_key_exactly_one_wins(ds):
    payload = {"state_dict": {}, "classes": ["a", "b"]}
    won = checkpoints.commit(ds, "race", payload, {"classes": ["a", "b"]}, overwrite=False)
    before = folder_files(ds)
    with pytest.raises(RunExistsError, match="exists"):
        checkpoints.commit(ds, "race", payload, {"classes": ["a", "b"]}, overwrite=False)
    assert folder_files(ds) == before  # the loser removed its own file
    assert list_models(ds)["race"]["model_id"] == won["model_id"]


def test_diverging_training_leaves_nothing(ds, unchanged, no_writes, fast):
    cfg = {**fast, "architecture": "lenet5_modern", "epochs": 8, "batch_size": 32}
    cfg.update(lr=50.0, optimizer="sgd", schedule="constant")
    with unchanged(ds), no_writes():
        with pytest.raises(Exception, match=r"training diverged at epoch \d+: lower the learning"):
            train_lenet(ds, run_key="boom", config=cfg)


def test_stale_temp_files_are_swept_by_the_next_training(ds, fast):
    folder = config.models_dir(ds.name)
    folder.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    dead = folder / f".abc.pt~{host}~999999999.tmp"  # a writer that no longer runs
    legacy = folder / ".v1.pt.1a2b3c4d.tmp"  # the old writer's name
    live = folder / f".def.pt~{host}~{os.getpid()}.tmp"  # this process: still writing
    orphan = folder / "0123456789abcdef0123456789abcdef.pt"  # a dead writer's new file
    journal = folder / f".0123456789abcdef0123456789abcdef~{host}~999999999.pending"
    journal.write_text(f'{{"new": "{orphan}", "old": null}}')
    for p in (dead, legacy, live, orphan):
        p.write_bytes(b"x")
    train_lenet(ds, run_key="next", config=fast)
    assert live.exists() and not dead.exists() and not legacy.exists()
    assert not orphan.exists() and not journal.exists()
    live.unlink()
