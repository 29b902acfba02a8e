"""Uniqueness and representativeness in chunks (classlab.curation.bounded) against
FiftyOne Brain's exact computation on the same embeddings."""

import numpy as np
import pytest
from classlab import config, defaults, records
from classlab.curation import scores
from classlab.errors import InputError
from scipy.stats import spearmanr


def _clustered(ds, field="clip_embeddings", dim=16, clusters=20, seed=0, spread=0.35):
    """Embeddings in ``clusters`` well-separated groups (rows in sample-id order)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 4
    view = ds.sort_by("_id")
    n = len(view)
    emb = centres[rng.integers(0, clusters, n)] + spread * rng.normal(size=(n, dim))
    view.set_values(field, list(emb.astype(np.float32)))
    return emb


def _by_id(ds, field):
    return np.asarray(ds.sort_by("_id").values(field), dtype=np.float64)


def _both(ds, score, monkeypatch, chunk=10_000):
    """(brain's values, bounded values) of ``score`` on ``ds``'s clip_embeddings; brain
    as it computes above 15,000 samples (k-NN, no distance matrix), the case that the
    bounded method replaces."""
    import fiftyone.brain.internal.core.sklearn as brain_sklearn

    monkeypatch.setattr(brain_sklearn, "_MAX_PRECOMPUTE_DISTS", 0)
    fn = getattr(scores, f"compute_{score}")
    out = fn(ds, "clip_embeddings", embedding_method="brain")
    exact = _by_id(ds, out)
    ds.delete_brain_run(out)  # and its field
    assert not ds.has_field(out)
    records.delete_record(ds, "scores", out)
    monkeypatch.setattr(defaults, "CHUNK_SIZE", chunk)
    assert fn(ds, "clip_embeddings", embedding_method="bounded") == out
    return exact, _by_id(ds, out)


def test_uniqueness_matches_brains_exact_values(mnist_small, monkeypatch):
    _clustered(mnist_small)
    # 600 samples, in chunks of 128: five chunks, the last one short
    exact, bounded = _both(mnist_small, "uniqueness", monkeypatch, chunk=128)
    assert np.isfinite(bounded).all() and bounded.max() == pytest.approx(1.0)
    # the same neighbours: the same values (float32 sums)
    assert np.abs(exact - bounded).max() < 1e-4
    assert spearmanr(exact, bounded).statistic > 0.999
    # the 5% most unique samples (what tag_samples_to_fix's unique_top takes) agree
    top = 30
    overlap = set(np.argsort(-exact)[:top]) & set(np.argsort(-bounded)[:top])
    assert len(overlap) >= top - 2
    info = mnist_small.get_brain_info("clip_embeddings_uniqueness")
    assert type(info.config).__name__ == "UniquenessConfig"
    rec = records.get_record(mnist_small, "scores", "clip_embeddings_uniqueness")
    assert rec["method"] == "bounded" and rec["num_samples"] == 600


def test_representativeness_matches_brains_values(mnist_small, monkeypatch):
    _clustered(mnist_small)
    exact, bounded = _both(mnist_small, "representativeness", monkeypatch, chunk=128)
    assert np.isfinite(bounded).all() and 0 <= bounded.min() and bounded.max() == 1.0
    # same 20 clusters found by full and mini-batch k-means: close values, same order
    assert spearmanr(exact, bounded).statistic > 0.95
    assert np.abs(exact - bounded).mean() < 0.05
    info = mnist_small.get_brain_info("clip_embeddings_representativeness")
    assert type(info.config).__name__ == "RepresentativenessConfig"


def _compressed(monkeypatch, list_size=64):
    """The compressed index (inverted lists of PQ codes) even for the tests' 600 samples."""
    from classlab.curation import bounded

    monkeypatch.setattr(bounded, "FLAT_MAX", 0)
    monkeypatch.setattr(bounded, "PQ_MIN_TRAIN", 0)
    monkeypatch.setattr(bounded, "LIST_SIZE", list_size)


@pytest.mark.parametrize("index", ["flat", "compressed"])
def test_bounded_values_do_not_depend_on_the_chunk_size_and_repeat(mnist_small, monkeypatch, index):
    from classlab.curation.bounded import uniqueness_values

    if index == "compressed":
        _compressed(monkeypatch)
    _clustered(mnist_small, seed=4)
    runs = []
    for chunk in (10_000, 97, 97):
        monkeypatch.setattr(defaults, "CHUNK_SIZE", chunk)
        ids, values, info = uniqueness_values(mnist_small, "clip_embeddings")
        runs.append((ids.slice(0, len(values)), values))
    assert runs[0][0] == runs[1][0] == mnist_small.sort_by("_id").values("id")
    np.testing.assert_array_equal(runs[1][1], runs[2][1])  # the same run twice: the same
    np.testing.assert_allclose(runs[0][1], runs[1][1], atol=1e-4)
    assert info["dim"] == 16
    assert info["index"].startswith(
        "faiss IVF9,PQ16x4fs" if index == "compressed" else "faiss Flat"
    )


def test_auto_uses_brain_up_to_the_limit_and_bounded_above(mnist_small, monkeypatch):
    _clustered(mnist_small)
    seen = []
    scores.compute_uniqueness(mnist_small, "clip_embeddings", progress=lambda f, s: seen.append(f))
    rec = records.get_record(mnist_small, "scores", "clip_embeddings_uniqueness")
    assert rec["method"] == "brain"
    monkeypatch.setattr(defaults, "BRAIN_EMBEDDING_SCORES_MAX", 599)
    seen.clear()
    scores.compute_sample_scores(
        mnist_small, ["uniqueness", "representativeness"], embeddings_field="clip_embeddings",
        progress=lambda f, s: seen.append(f),
    )  # fmt: skip
    for score in ("uniqueness", "representativeness"):
        rec = records.get_record(mnist_small, "scores", f"clip_embeddings_{score}")
        assert rec["method"] == "bounded"
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_the_spill_file_lives_under_the_root_and_goes(mnist_small, monkeypatch):
    from classlab.curation import bounded

    emb = _clustered(mnist_small)
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 128)
    with bounded._Spill(mnist_small, "clip_embeddings") as spill:
        assert config.inside_root(spill.path) and spill.path.is_file()
        back = np.concatenate([rows for _, rows in spill.chunks()])
        np.testing.assert_array_equal(back, emb.astype(np.float32))
        np.testing.assert_allclose(spill.mean, emb.astype(np.float32).mean(axis=0), rtol=1e-5)
        # rows read back one by one, a range, and rewritten in place
        f32 = emb.astype(np.float32)
        np.testing.assert_array_equal(spill.gather(np.array([1, 5, 599])), f32[[1, 5, 599]])
        np.testing.assert_array_equal(spill.read(3, 7), f32[3:7])
        spill.write(2, np.zeros((2, f32.shape[1]), np.float32))
        assert not spill.read(2, 4).any() and (spill.read(4, 5) == f32[4:5]).all()
        assert spill.path.stat().st_size == f32.nbytes
    assert not spill.path.exists()


def test_identical_embeddings_give_zero_not_nan(mnist_small):
    mnist_small.set_values("clip_embeddings", [np.ones(8, np.float32)] * len(mnist_small))
    scores.compute_uniqueness(mnist_small, "clip_embeddings", embedding_method="bounded")
    assert set(mnist_small.values("clip_embeddings_uniqueness")) == {0.0}


@pytest.mark.parametrize(
    "case, method, match",
    [
        ("unknown method", "fast", "embedding_method: 'fast' is not a method"),
        ("NaN vector", "bounded", "embeddings_field: 'clip_embeddings' holds NaN"),
        ("ragged vectors", "bounded", "differ in length"),
    ],
)
def test_bad_inputs_change_nothing(mnist_small, unchanged, monkeypatch, case, method, match):
    emb = _clustered(mnist_small).astype(np.float32)
    view = mnist_small.sort_by("_id")
    if case == "NaN vector":
        emb[-1, 3] = np.nan
        view.set_values("clip_embeddings", list(emb))
    if case == "ragged vectors":
        monkeypatch.setattr(defaults, "CHUNK_SIZE", 100)
        view.skip(550).set_values("clip_embeddings", [np.zeros(4, np.float32)] * 50)
    for score in ("uniqueness", "representativeness"):
        with unchanged(mnist_small):
            with pytest.raises(InputError, match=match):
                scores.compute_sample_scores(
                    mnist_small, [score], embeddings_field="clip_embeddings",
                    embedding_method=method,
                )  # fmt: skip
        assert f"clip_embeddings_{score}" not in mnist_small.list_brain_runs()
    assert not list((config.root_dir() / "tmp").glob(".embeddings-*")), "temp file left"


@pytest.mark.parametrize("index", ["flat", "compressed"])
def test_duplicated_embeddings_get_brains_values(mnist_small, monkeypatch, index):
    """Duplicated images (1 to 5 copies of each vector): every sample gets brain's value
    (its copies are its nearest others, at exactly 0), from either index."""
    if index == "compressed":
        _compressed(monkeypatch)
    rng = np.random.default_rng(8)
    n = len(mnist_small)
    copies = rng.integers(1, 6, n)
    base = _clustered(mnist_small, seed=8)  # then overwritten with the duplicated rows
    rows = np.repeat(base, copies, axis=0)[:n].astype(np.float32)
    rng.shuffle(rows)
    mnist_small.sort_by("_id").set_values("clip_embeddings", list(rows))
    distinct = len(np.unique(rows, axis=0))
    assert distinct < n - 100
    exact, bounded = _both(mnist_small, "uniqueness", monkeypatch, chunk=128)
    assert np.abs(exact - bounded).max() < 1e-4


@pytest.mark.parametrize("quantizer", ["flat", "graph"])
def test_the_compressed_index_gives_brains_values(mnist_small, monkeypatch, quantizer):
    """Inverted lists of 4-bit PQ codes (16 dimensions: 16 bytes a vector with the id,
    against 64 for the float32 vector) only propose candidates; their exact distances,
    read back from the spill file, give brain's values. The lists' centres are compared
    one by one or, for many lists, searched by an HNSW graph."""
    from classlab.curation import bounded

    _compressed(monkeypatch)
    if quantizer == "graph":
        monkeypatch.setattr(bounded, "QUANTIZER_FLAT_MAX", 4)
    _clustered(mnist_small, seed=6, spread=1.0)
    exact, bounded_values = _both(mnist_small, "uniqueness", monkeypatch, chunk=128)
    assert np.mean(np.abs(exact - bounded_values) < 1e-4) > 0.99
    assert spearmanr(exact, bounded_values).statistic > 0.999
    _, _, info = bounded.uniqueness_values(mnist_small, "clip_embeddings")
    name = "faiss IVF9,PQ16x4fs" if quantizer == "flat" else "faiss IVF9_HNSW32,PQ16x4fs"
    assert info["index"] == name and info["bytes_per_vector"] == 16


def test_the_most_unique_samples_are_exact_even_with_a_poor_index(mnist_small, monkeypatch):
    """A deliberately poor search (one list of 18 probed, 5 candidates a sample) misses
    neighbours; the re-ranking by brute force still makes the normaliser and the most
    unique samples exact, and no value falls below brain's (a missed neighbour only
    makes a sample look more unique)."""
    from classlab.curation import bounded

    _clustered(mnist_small, seed=5, spread=1.5)
    _compressed(monkeypatch, list_size=32)
    monkeypatch.setattr(bounded, "NPROBE", 1)
    monkeypatch.setattr(bounded, "CANDIDATES", 5)
    monkeypatch.setattr(bounded, "RERANK_BLOCK", 7)
    monkeypatch.setattr(bounded, "EXACT_TOP", 8)
    monkeypatch.setattr(bounded, "BRUTE_BLOCK", 5)  # blocks of queries and of rows
    exact, approx = _both(mnist_small, "uniqueness", monkeypatch, chunk=128)
    _, _, info = bounded.uniqueness_values(mnist_small, "clip_embeddings")
    assert info["index"] == "faiss IVF18,PQ16x4fs" and info["nprobe"] == 1
    assert 8 <= info["exact_rows"] < 600
    top = np.argsort(-exact)[:8]
    np.testing.assert_allclose(approx[top], exact[top], atol=1e-4)
    assert (approx >= exact - 1e-4).all()
    assert np.abs(approx - exact).max() > 1e-3  # the poor index did miss neighbours
