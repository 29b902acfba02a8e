"""Bounded memory: the long operators read and write in chunks (classlab.chunks) and give
the same results with chunks of 7 samples as in one chunk, and no read of theirs returns
more than one chunk of values."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from support.curation import add_embeddings, add_predictions
from support.tiny_clip import register_tiny_clip

SMALL = 7  # chunk size of the chunked runs
ONE = 10**6  # one chunk for the whole view


@pytest.fixture
def reads(monkeypatch):
    """``with reads() as got:`` records the length of every ``values()`` list read
    (any collection) inside the block."""
    import fiftyone.core.collections as foc

    real = foc.SampleCollection.values

    @contextlib.contextmanager
    def spy():
        got: list[int] = []

        def values(self, *args, **kwargs):
            out = real(self, *args, **kwargs)
            first = out[0] if isinstance(out, tuple) and out else out
            if isinstance(first, list):
                got.append(len(first))
            return out

        monkeypatch.setattr(foc.SampleCollection, "values", values)
        try:
            yield got
        finally:
            monkeypatch.setattr(foc.SampleCollection, "values", real)

    return spy


def _chunked(monkeypatch, size):
    from classlab import defaults

    monkeypatch.setattr(defaults, "CHUNK_SIZE", size)


def test_iter_chunks_pages_by_id_lazily(mnist_small, reads):
    from classlab import chunks

    view = mnist_small.match_tags("test").limit(30)
    with reads() as got:
        it = chunks.iter_chunks(view, ["filepath", "ground_truth.label"], size=SMALL)
        first = next(it)
        assert got == [SMALL]  # one query so far, of one chunk
        rest = list(it)
    assert [len(c) for c in [first, *rest]] == [7, 7, 7, 7, 2]
    assert max(got) <= SMALL and len(got) == 5
    ids = [i for c in [first, *rest] for i in c.ids]
    assert ids == sorted(view.values("id")) and len(set(ids)) == 30
    labels = dict(zip(*view.values(["id", "ground_truth.label"])))
    assert all(labels[i] == lab for c in rest for i, lab in zip(c.ids, c["ground_truth.label"]))
    assert [c.start for c in rest] == [7, 14, 21, 28]
    assert sorted(first.view.values("id")) == first.ids
    with pytest.raises(Exception, match="chunk_size must be a positive integer"):
        next(chunks.iter_chunks(view, size=0))


def test_iter_chunks_sees_each_sample_once_while_writing(mnist_small):
    """Keyset paging: samples leaving the view (written) are neither skipped nor repeated."""
    from classlab import chunks

    todo = mnist_small.limit(40).exists("done", False)
    seen = []
    for c in chunks.iter_chunks(todo, size=SMALL):
        seen += c.ids
        chunks.write(mnist_small, "done", {i: True for i in c.ids})
    assert len(seen) == len(set(seen)) == 40 and mnist_small.count("done") == 40


def test_vectors_one_float32_array_in_id_order(mnist_small):
    from classlab import chunks

    add_embeddings(mnist_small, "emb", dim=5)
    view = mnist_small.skip(3).limit(20)
    arr = chunks.vectors(view, "emb", size=SMALL)
    assert arr.dtype == np.float32 and arr.shape == (20, 5)
    ids, vecs = chunks.sorted_by_id(view).values(["id", "emb"])
    assert ids == sorted(ids)
    np.testing.assert_allclose(arr, np.asarray(vecs, np.float32))


def _clip_runs(ds, monkeypatch, size, reads):
    from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings, zero_shot_classify

    _chunked(monkeypatch, size)
    spec = ClipSpec(register_tiny_clip(), None, random_weights=True)
    opts = LoaderOptions(batch_size=4, num_workers=0, device="cpu")
    view = ds.limit(24)
    with reads() as got:
        emb = compute_clip_embeddings(view, spec, opts)
        zs = zero_shot_classify(view, spec, opts, embeddings_field="", evaluate=False)
    zs_reuse = zero_shot_classify(view, spec, opts, label_field="zs2", eval_key="eval_zs2")
    return emb, zs, zs_reuse, got


def test_clip_operators_chunked_equal_one_chunk(mnist_base, monkeypatch, reads):
    a, b = mnist_base.clone(), mnist_base.clone()
    try:
        emb_a, zs_a, re_a, got = _clip_runs(a, monkeypatch, SMALL, reads)
        emb_b, zs_b, re_b, _ = _clip_runs(b, monkeypatch, ONE, reads)
        assert max(got) <= SMALL  # never more than one chunk read at once
        for x, y in ((emb_a, emb_b), (zs_a, zs_b), (re_a, re_b)):
            x, y = dict(x), dict(y)
            x.pop("seconds"), y.pop("seconds")
            x.pop("images_per_second", None), y.pop("images_per_second", None)
            assert x == y
        assert emb_a["num_embedded"] == 24 and re_a["num_reused_embeddings"] == 24
        for field in ("clip_embeddings",):
            np.testing.assert_allclose(
                np.asarray(a.limit(24).values(field)),
                np.asarray(b.limit(24).values(field)),
                rtol=1e-5,
                atol=1e-6,
            )
        for field in ("clip_zero_shot.label", "zs2.label", "eval_zs2"):
            assert a.limit(24).values(field) == b.limit(24).values(field)
        np.testing.assert_allclose(
            a.limit(24).values("clip_zero_shot.confidence"),
            b.limit(24).values("clip_zero_shot.confidence"),
            rtol=1e-5,
        )
    finally:
        a.delete(), b.delete()


def _lenet_and_scores(ds, monkeypatch, size, reads):
    from classlab.curation.scores import compute_sample_scores
    from classlab.lenet.apply import apply_lenet

    _chunked(monkeypatch, size)
    view = ds.match_tags("test").limit(30)
    with reads() as got:
        res = apply_lenet(view, "m", evaluate=False, num_workers=1)
        add_predictions(ds, "fake", seed=3)  # a whole-field write by the test: not counted
        got.clear()
        compute_sample_scores(view, ["hardness", "mistakenness"], pred_field="lenet")
        compute_sample_scores(ds, ["hardness"], pred_field="fake")
    uniq = compute_sample_scores(view, ["uniqueness"], embeddings_field="lenet_embeddings")
    return res, got, uniq


def test_apply_and_scores_chunked_equal_one_chunk(mnist_base, monkeypatch, reads):
    from classlab.data.splits import split_dataset
    from classlab.lenet.runs import train_lenet

    a = mnist_base.clone()
    split_dataset(a.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    cfg = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "num_workers": 1}
    train_lenet(a, run_key="m", config=cfg)
    b = a.clone()
    try:
        res_a, got, _ = _lenet_and_scores(a, monkeypatch, SMALL, reads)
        res_b, _, _ = _lenet_and_scores(b, monkeypatch, ONE, reads)
        assert max(got) <= SMALL
        assert res_a["num_samples"] == res_b["num_samples"] == 30
        view_a, view_b = a.match_tags("test").limit(30), b.match_tags("test").limit(30)
        fields = ["lenet.label", "lenet_hardness", "lenet_mistakenness"]
        for f in fields + ["lenet_embeddings_uniqueness"]:
            va, vb = view_a.values(f), view_b.values(f)
            assert sum(v is not None for v in va) == 30
            if isinstance(va[0], float):
                np.testing.assert_allclose(va, vb, rtol=1e-6)
            else:
                assert va == vb
        np.testing.assert_allclose(a.values("fake_hardness"), b.values("fake_hardness"))
        np.testing.assert_allclose(
            np.asarray(view_a.values("lenet_embeddings")),
            np.asarray(view_b.values("lenet_embeddings")),
            rtol=1e-5,
            atol=1e-6,
        )
    finally:
        a.delete(), b.delete()


def test_augment_adds_samples_in_chunks(mnist_small, monkeypatch):
    from classlab.curation.augment import augment_samples

    _chunked(monkeypatch, SMALL)
    added = []
    real = type(mnist_small).add_samples

    def add_samples(self, samples, *args, **kwargs):
        samples = list(samples)
        added.append(len(samples))
        return real(self, samples, *args, **kwargs)

    monkeypatch.setattr(type(mnist_small), "add_samples", add_samples)
    src = mnist_small.match_tags("train").limit(10)
    res = augment_samples(src, run_key="chunked", num_copies=2)
    assert res["num_samples"] == 20 and added == [7, 7, 6]
    assert mnist_small.match_tags("augmented").count() == 20
