import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from classlab import records
from classlab.curation import augment, presets
from classlab.errors import DataSourceError, InputError, RunExistsError, RunNotFoundError


def _hashes(view):
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in view.values("filepath")}


def test_presets_are_data():
    import albumentations as A

    assert presets.list_presets()["tutorial"] == [
        "Affine",
        "ElasticTransform",
        "Perspective",
        "GridDistortion",
    ]
    assert {"tutorial", "mild", "strong"} <= set(presets.PRESETS)
    for name in presets.PRESETS:
        assert isinstance(presets.build_pipeline(name, seed=1), A.Compose)


def test_augment_and_undo(mnist_small):
    src = mnist_small.match_tags("train").limit(10)
    before = _hashes(mnist_small)
    n0 = len(mnist_small)
    seen = []
    res = augment.augment_samples(
        src, run_key="r1", num_copies=3, seed=7, progress=lambda f, lab: seen.append(f)
    )
    assert res["num_samples"] == 30 and res["num_sources"] == 10 and seen[-1] == 1.0
    assert res["num_copies"] == 3 and res["per_split"] == {"train": 30}
    assert res["tag"] == "augmented" and res["fields"] == ["source_id", "augmentation"]
    assert res["seconds"] > 0
    assert len(mnist_small) == n0 + 30
    new = augment.run_samples(mnist_small, "r1")
    assert new.count_sample_tags() == {"augmented": 30, "train": 30}
    src_labels = dict(zip(*src.values(["id", "ground_truth.label"])))
    for sid, label, aug, path in zip(
        *new.values(["source_id", "ground_truth.label", "augmentation", "filepath"])
    ):
        assert src_labels[sid] == label
        assert aug["run_key"] == "r1" and aug["recipe"] == "tutorial"
        assert path.startswith(res["dir"]) and path.endswith(".png")
    import cv2

    img = cv2.imread(new.first().filepath, cv2.IMREAD_UNCHANGED)
    assert img.shape == (28, 28) and img.dtype == np.uint8
    rec = records.get_record(mnist_small, "augmentations", "r1")
    assert rec["seed"] == 7 and rec["num_copies"] == 3 and rec["preset"] == "tutorial"
    assert "transforms" in rec["pipeline"]["transform"]
    assert _hashes(mnist_small.exists("source_id", False)) == before  # originals untouched

    out = augment.delete_augmentations(mnist_small, "r1")
    assert out == {"run_key": "r1", "deleted_samples": 30, "deleted_files": 30}
    assert len(mnist_small) == n0 and not Path(res["dir"]).exists()
    assert records.get_record(mnist_small, "augmentations", "r1") is None
    assert _hashes(mnist_small) == before


def test_seeded_reproducible_and_preview_matches(mnist_small):
    src = mnist_small.limit(3)
    pv = augment.preview_augmentations(src, preset="strong", num_copies=2, seed=3, write=True)
    assert len(pv) == 3 and all(len(e["images"]) == 2 for e in pv)
    assert all(Path(p).exists() for e in pv for p in e["paths"])
    assert pv[0]["data_uris"][0].startswith("data:image/png;base64,")
    assert len(mnist_small) == 600  # a preview commits nothing
    res = augment.augment_samples(src, "a", preset="strong", num_copies=2, seed=3)
    import cv2

    for e in pv:
        for k, img in enumerate(e["images"]):
            path = Path(res["dir"]) / f"{e['source_id']}_{k}.png"
            assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), img)
    other = augment.preview_augmentations(src, preset="strong", num_copies=2, seed=4)
    assert any(not np.array_equal(a, b) for a, b in zip(pv[0]["images"], other[0]["images"]))


def test_rerun_with_overwrite_replaces(mnist_small):
    src = mnist_small.limit(4)
    augment.augment_samples(src, "r", num_copies=2)
    old_ids = set(augment.run_samples(mnist_small, "r").values("id"))
    res = augment.augment_samples(mnist_small.limit(2), "r", preset="mild", overwrite=True)
    assert res["replaced"] == 8 and res["num_samples"] == 2
    new = augment.run_samples(mnist_small, "r")
    assert new.count() == 2 and not old_ids & set(new.values("id"))
    assert len(os.listdir(res["dir"])) == 2 and len(mnist_small) == 602


def test_user_json_pipeline(mnist_small):
    import albumentations as A

    pipe = A.Compose([A.Rotate(limit=(10, 10), p=1.0)])
    res = augment.augment_samples(
        mnist_small.limit(2), "j", pipeline_json=json.dumps(A.to_dict(pipe))
    )
    assert res["num_samples"] == 2
    rec = records.get_record(mnist_small, "augmentations", "j")
    assert rec["preset"] is None
    assert rec["pipeline"]["transform"]["transforms"][0]["__class_fullname__"] == "Rotate"
    assert augment.run_samples(mnist_small, "j").first().augmentation["recipe"] == "custom"


def test_bad_inputs(mnist_small, unchanged, tmp_path):
    src = mnist_small.limit(3)
    root = augment.run_dir(mnist_small.name, "x").parent
    with unchanged(mnist_small):
        with pytest.raises(InputError, match="Unknown preset 'wild'"):
            augment.augment_samples(src, "x", preset="wild")
        with pytest.raises(InputError, match="not valid JSON"):
            augment.augment_samples(src, "x", pipeline_json="{not json")
        with pytest.raises(InputError, match="albumentations cannot build"):
            augment.augment_samples(
                src,
                "x",
                pipeline_json=json.dumps(
                    {"transform": {"__class_fullname__": "NoSuchTransform", "p": 1.0}}
                ),
            )
        with pytest.raises(InputError, match="no transform"):
            augment.augment_samples(src, "x", pipeline_json='{"foo": 1}')
        for n in (0, -2):
            with pytest.raises(InputError, match="num_copies must be a positive"):
                augment.augment_samples(src, "x", num_copies=n)
        with pytest.raises(RunNotFoundError, match="No augmentation run 'x'"):
            augment.delete_augmentations(mnist_small, "x")
        with pytest.raises(InputError, match="no samples"):
            augment.augment_samples(src.limit(0), "x")
    assert not root.exists() or not any(root.iterdir())

    augment.augment_samples(src, "x")
    before = _hashes(mnist_small)
    with unchanged(mnist_small):
        with pytest.raises(RunExistsError, match="overwrite=True"):
            augment.augment_samples(src, "x")
    assert _hashes(mnist_small) == before

    # a source image missing on disk: nothing written, nothing added
    clone = mnist_small.clone()
    try:
        s = clone.limit(1).first()
        s.filepath = str(tmp_path / "gone.png")
        s.save()
        with unchanged(clone):
            with pytest.raises(DataSourceError, match="1 source image"):
                augment.augment_samples(clone.limit(3), "y")
        assert not augment.run_dir(clone.name, "y").exists()
    finally:
        clone.delete()


def test_check_augmentation_writes_nothing(mnist_small, unchanged):
    src = mnist_small.limit(3)
    with unchanged(mnist_small):
        req = augment.check_augmentation(src, " r ", preset="mild", num_copies=2, seed="7")
        assert (req["run_key"], req["num_copies"], req["seed"]) == ("r", 2, 7)
        assert req["exists"] is False and req["recipe"]["preset"] == "mild"
        with pytest.raises(InputError, match="seed must be an integer"):
            augment.check_augmentation(src, "r", seed=1.5)
    assert not augment.run_dir(mnist_small.name, "r").exists()
    src.limit(1).set_field("ground_truth", None).save()
    with unchanged(mnist_small):
        with pytest.raises(InputError, match=r"1 source sample\(s\) have no 'ground_truth'"):
            augment.augment_samples(src, "r")


def test_eval_sources_refused_and_copies_keep_their_split(mnist_small, unchanged):
    """No leak: val/test sources are refused unless asked, and a copy carries its
    source's split tag only (never train for a test source)."""
    mnist_small.match_tags("train").limit(4).untag_samples("train")
    mnist_small.match_tags("train").limit(4).set_values("tags", [["val"]] * 4)
    src = mnist_small.limit(12)  # 4 val, 4 without a split tag, 4 train
    assert src.count_sample_tags() == {"val": 4, "train": 4}
    mixed = mnist_small.limit(12).concat(mnist_small.match_tags("test").limit(3))
    with unchanged(mnist_small):
        with pytest.raises(InputError) as e:
            augment.augment_samples(mixed, "leak")
        with pytest.raises(InputError, match="no split tag"):
            augment.augment_samples(src.match_tags("train"), "t", tags=["augmented", "train"])
    msg = str(e.value)
    assert "7 source sample(s)" in msg and "val: 4, test: 3" in msg
    assert (
        "allow_eval_splits=True" in msg and not augment.run_dir(mnist_small.name, "leak").exists()
    )

    res = augment.augment_samples(mixed, "ok", num_copies=2, allow_eval_splits=True)
    assert res["per_split"] == {"val": 8, "": 8, "train": 8, "test": 6}
    copies = augment.run_samples(mnist_small, "ok")
    source_tags = dict(zip(*mnist_small.values(["id", "tags"])))
    for sid, tags in zip(*copies.values(["source_id", "tags"])):
        splits = [t for t in tags if t in ("train", "val", "test")]
        assert splits == [t for t in source_tags[sid] if t in ("train", "val", "test")]
        assert "augmented" in tags
    assert copies.match_tags("test").count() == 6 and copies.match_tags("train").count() == 8


def test_preview_shows_originals_enlarged_with_labels(mnist_small):
    import base64

    import cv2

    src = mnist_small.limit(2)
    pv = augment.preview_augmentations(src, preset="mild", num_copies=2, seed=1)
    labels = src.values("ground_truth.label")
    for entry, label in zip(pv, labels):
        assert entry["label"] == label
        for uri in [entry["original_uri"], *entry["data_uris"]]:
            raw = base64.b64decode(uri.split(",", 1)[1])
            img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
            assert img.shape[:2] == (112, 112)  # 28 px enlarged 4x, nearest neighbour
        assert entry["images"][0].shape == (28, 28)  # the real copies keep their size
    original = cv2.imread(pv[0]["filepath"], cv2.IMREAD_UNCHANGED)
    raw = base64.b64decode(pv[0]["original_uri"].split(",", 1)[1])
    big = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(big[::4, ::4], original)
