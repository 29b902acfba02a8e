"""augment_samples reads its sources chunk by chunk (classlab.chunks): the same run
whatever the chunk size, and every source file is checked before the first write."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from classlab import config, defaults
from classlab.curation import augment
from classlab.errors import DataSourceError

SMALL = 3  # 10 sources: chunks of 3, 3, 3, 1
ONE = 10**6  # the whole view in one chunk


@pytest.fixture
def chunk_log(monkeypatch):
    """The length of every chunk augment reads, in order."""
    seen = []
    real = augment.iter_chunks

    def spy(view, fields=(), size=None):
        for chunk in real(view, fields, size):
            seen.append(len(chunk))
            yield chunk

    monkeypatch.setattr(augment, "iter_chunks", spy)
    return seen


def _sources(ds):
    """10 train sources: 3 re-tagged val, 3 without a split tag, 4 train."""
    ids = sorted(ds.match_tags("train").values("id"))[:10]
    ds.select(ids[:3]).set_values("tags", [["val"]] * 3)
    ds.select(ids[3:6]).set_values("tags", [[]] * 3)
    return ids


def _run(ds, run_key: str) -> dict:
    """{(source id, copy): (label, tags, sha256 of the image)} of a run's samples."""
    samples = augment.run_samples(ds, run_key)
    out = {}
    for sid, aug, label, tags, path in zip(
        *samples.values(["source_id", "augmentation", "ground_truth.label", "tags", "filepath"])
    ):
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        out[(sid, aug["copy"])] = (label, sorted(tags), digest)
    return out


def test_same_run_in_several_chunks_as_in_one(mnist_small, monkeypatch, chunk_log):
    ids = _sources(mnist_small)
    src = mnist_small.select(ids)
    kwargs = dict(num_copies=2, seed=5, preset="strong", allow_eval_splits=True)
    results = {}
    for key, size in (("several", SMALL), ("one", ONE)):
        monkeypatch.setattr(defaults, "CHUNK_SIZE", size)
        chunk_log.clear()
        results[key] = augment.augment_samples(src, run_key=key, **kwargs)
        # the files check, then the rendering, each chunk by chunk
        assert chunk_log == ([3, 3, 3, 1] * 2 if size == SMALL else [10, 10])
        assert not (Path(results[key]["dir"]) / augment.MANIFEST).exists()
    several, one = results["several"], results["one"]
    assert several["per_split"] == one["per_split"] == {"val": 6, "": 6, "train": 8}
    assert several["num_sources"] == one["num_sources"] == 10
    assert several["num_samples"] == one["num_samples"] == 20
    a, b = _run(mnist_small, "several"), _run(mnist_small, "one")
    assert len(a) == 20 and a == b  # same labels, split tags and images
    labels = dict(zip(*src.values(["id", "ground_truth.label"])))
    assert all(label == labels[sid] for (sid, _), (label, _, _) in a.items())
    tags = {sid: t for (sid, _), (_, t, _) in a.items()}
    assert [tags[i] for i in ids] == [["augmented", "val"]] * 3 + [["augmented"]] * 3 + [
        ["augmented", "train"]
    ] * 4


def test_missing_file_in_the_last_chunk_aborts_before_any_write(
    mnist_small, monkeypatch, chunk_log, unchanged, tmp_path
):
    monkeypatch.setattr(defaults, "CHUNK_SIZE", SMALL)
    ids = sorted(mnist_small.match_tags("train").values("id"))[:10]
    last = mnist_small[ids[-1]]  # the only sample of the last chunk (sample-id order)
    last.filepath = str(tmp_path / "gone.png")
    last.save()
    writes = []
    monkeypatch.setattr(augment, "write_png", lambda path, image: writes.append(path))
    with unchanged(mnist_small):
        with pytest.raises(DataSourceError, match=r"1 source image\(s\) are missing.*gone\.png"):
            augment.augment_samples(mnist_small.select(ids), run_key="gone")
    assert chunk_log == [3, 3, 3, 1]  # every chunk checked, none rendered
    assert writes == []
    parent = config.media_dir(mnist_small.name, "augmentations")
    assert not parent.exists() or not any(parent.iterdir())


def test_preview_matches_a_view_not_in_id_order(mnist_small):
    """The sources are read in sample-id order; the preview shows those same first ones."""
    src = mnist_small.limit(6).sort_by("filepath", reverse=True)
    assert src.values("id") != sorted(src.values("id"))
    pv = augment.preview_augmentations(src, preset="strong", num_copies=2, seed=9, max_samples=3)
    assert [e["source_id"] for e in pv] == sorted(src.values("id"))[:3]
    res = augment.augment_samples(src, "order", preset="strong", num_copies=2, seed=9)
    import cv2

    for e in pv:
        for k, img in enumerate(e["images"]):
            path = Path(res["dir"]) / f"{e['source_id']}_{k}.png"
            assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), img)
