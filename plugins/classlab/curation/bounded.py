"""Uniqueness and representativeness in chunks, for views too large for FiftyOne Brain.

Brain's ``compute_uniqueness`` finds each sample's 3 nearest neighbours exactly
(scikit-learn, every vector and every neighbour array in memory; brute force above
15,000 samples, so its time grows as N^2), and ``compute_representativeness`` runs
scikit-learn's k-means (k=20) on every vector at once. Here the same formulas run
on the embeddings read from the database once, one chunk
(:data:`classlab.defaults.CHUNK_SIZE`) at a time, and spilled as float32 rows to a
temp file under ClassLab's root that the later passes read back (:class:`_Spill`):

- uniqueness: nearest neighbours from an approximate HNSW index (``faiss``, the
  centred unit vectors as float32; identical vectors indexed once), then brain's
  formula as its scikit-learn index computes it above 15,000 samples (see
  :func:`uniqueness_values`), divided by its maximum over the view; the rows the
  index ranks most unique are recomputed by brute force until that maximum is
  exact (:func:`_exact_top`);
- representativeness: ``sklearn.cluster.MiniBatchKMeans`` (k=20, brain's seed
  1234) fitted chunk by chunk, then brain's "cluster-center" value: each sample's
  Euclidean distance to its cluster's centre divided by the largest in that
  cluster (brain's own formula, which ranks a cluster's outskirts highest).

What grows with the view: uniqueness's index (about ``4 d + 140`` bytes a sample
for ``d``-dimensional vectors: the vectors and the graph) and, for both, a few
numbers and a 12-byte id per sample; never a Python list of vectors, never
scikit-learn's neighbour arrays. Both are approximations of brain's exact values; the
agreement is measured in tests/unit/test_bounded_scores.py and
benchmarks/RESULTS.md.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from classlab.chunks import iter_chunks
from classlab.errors import InputError

K = 3  # brain's uniqueness neighbours
WEIGHTS = np.array([0.6, 0.3, 0.1], np.float64)  # brain's weights for the K distances
CLUSTERS = 20  # brain's k-means k
SEED = 1234  # brain's k-means random_state
HNSW_M = 16
EF_CONSTRUCTION = 40
EF_SEARCH = 64
KMEANS_PASSES = 3
EXACT_TOP = 1024  # index rows whose uniqueness is recomputed exactly (at least)
BRUTE_BLOCK = 1024  # queries x rows per block of that brute force (8 MiB of float64)


class _Ids:
    """Sample ids as 12-byte rows (not Python strings), in chunk order."""

    def __init__(self):
        self._parts: list[np.ndarray] = []

    def add(self, ids: list) -> None:
        raw = np.frombuffer(b"".join(bytes.fromhex(i) for i in ids), np.uint8)
        self._parts.append(raw.reshape(-1, 12))

    def slice(self, start: int, stop: int) -> list[str]:
        if not self._parts:
            return []
        rows = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        self._parts = [rows]
        return [r.tobytes().hex() for r in rows[start:stop]]

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)


def _rows(chunk, field: str) -> np.ndarray:
    values = chunk[field]
    for k, v in enumerate(values):
        if v is None:
            raise InputError(
                f"embeddings_field: sample {chunk.ids[k]} has no {field!r}; compute the "
                "embeddings for every sample of the view first"
            )
    flat = [np.asarray(v, np.float32).ravel() for v in values]
    sizes = {len(v) for v in flat}
    if len(sizes) > 1:
        raise InputError(
            f"embeddings_field: the vectors of {field!r} differ in length ({sorted(sizes)}); "
            "recompute them with one model"
        )
    rows = np.asarray(flat, np.float32)
    if not np.isfinite(rows).all():
        raise InputError(
            f"embeddings_field: {field!r} holds NaN or infinite values; recompute the embeddings"
        )
    return rows


def _unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero: cosine distance 1 to everything, as
    scikit-learn's cosine metric gives them)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _faiss():
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - a dependency of ClassLab
        raise InputError(
            "embedding_method='bounded' needs the faiss-cpu package: pip install faiss-cpu"
        ) from e
    return faiss


class _Spill:
    """The view's vectors read from the database ONCE (every vector checked), written as
    float32 rows to a temp file under ClassLab's root and read back a chunk at a time by
    the later passes; also their ids, count and sum. Use as a context manager: the
    file is removed on exit (a killed run's file is removed by the next run)."""

    def __init__(self, view, field: str, progress=None, share: float = 0.1):
        self.view, self.field = view, field
        self._say, self._share = progress or (lambda *a, **k: None), share
        self.ids, self.n, self.dim, self.sum = _Ids(), 0, 0, None

    def __enter__(self):
        import uuid

        from classlab import config
        from classlab.writers import alive, owner

        folder = config.root_dir() / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(".embeddings-*.tmp"):  # left by killed runs
            if not alive(old.name, old.stat().st_mtime):
                config.remove_file(old)
        self.path = folder / f".embeddings-{uuid.uuid4().hex[:8]}~{owner()}.tmp"
        total = max(1, self.view.count())
        try:
            with open(self.path, "wb") as f:
                for chunk in iter_chunks(self.view, [self.field]):
                    rows = _rows(chunk, self.field)
                    if self.sum is None:
                        self.dim, self.sum = rows.shape[1], np.zeros(rows.shape[1])
                    elif rows.shape[1] != self.dim:
                        raise InputError(
                            f"embeddings_field: the vectors of {self.field!r} differ in length "
                            f"({rows.shape[1]} and {self.dim}); recompute them with one model"
                        )
                    f.write(rows.tobytes())
                    self.sum += rows.sum(axis=0, dtype=np.float64)
                    self.ids.add(chunk.ids)
                    self.n += len(rows)
                    self._say(self._share * min(1.0, self.n / total), "reading the embeddings")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        from classlab import config

        config.remove_file(self.path)

    @property
    def mean(self) -> np.ndarray:
        return self.sum / max(self.n, 1)

    def chunks(self, size: int | None = None):
        """``(start, rows)`` over the file, ``size`` rows (default: the chunk size)."""
        from classlab.chunks import chunk_size

        size = chunk_size(size)
        with open(self.path, "rb") as f:
            for start in range(0, self.n, size):
                count = min(size, self.n - start)
                rows = np.fromfile(f, np.float32, count * self.dim).reshape(count, self.dim)
                yield start, rows


def uniqueness_values(
    view, embeddings_field: str, progress: Optional[Callable] = None
) -> tuple[_Ids, np.ndarray, dict]:
    """Brain's uniqueness from an approximate k-NN index, reading the view in chunks.

    As brain's scikit-learn index does above 15,000 samples: the vectors are centred
    (the view's mean subtracted) and scaled to length 1, neighbours are found by
    Euclidean distance, the sample itself is left out, and of the 4 nearest
    neighbours the 2nd to 4th are weighted ``[0.6, 0.3, 0.1]`` (brain takes
    ``dists[:, 1:]`` of the 4 nearest *other* samples).

    Returns:
        ``(ids, values, info)``: the ids in sample-id order (:class:`_Ids`), the
        uniqueness of each (float32, in [0, 1]), and what was built (``{"index", "dim"}``)
    """
    faiss = _faiss()
    say = progress or (lambda *a, **k: None)
    with _Spill(view, embeddings_field, say, 0.2) as spill:
        return _uniqueness_of(spill, faiss, say)


def _uniqueness_of(spill: _Spill, faiss, say) -> tuple[_Ids, np.ndarray, dict]:
    ids, index, dim, n, mean = spill.ids, None, spill.dim, spill.n, spill.mean
    # identical vectors (duplicated images) go into the index once: ``of`` maps each
    # sample to its row there, ``count`` says how many samples share a row
    seen: dict[int, int] = {}
    of = np.empty(n, np.int64)
    count = np.zeros(n, np.int64)
    unit = np.zeros(n, np.uint8)  # 1 where the row's centred vector is not zero
    rows_in_index = 0
    threads = faiss.omp_get_max_threads()
    # one thread while building: HNSW's parallel insertion depends on timing, and the
    # same view must give the same values every run
    faiss.omp_set_num_threads(1)
    try:
        for first, raw_rows in spill.chunks():
            rows = _unit((raw_rows.astype(np.float64) - mean).astype(np.float32))
            if index is None:
                # float32 vectors: with float16 storage (IndexHNSWSQ) 13% of the neighbour
                # sets differed from the exact ones on a 600-sample test set
                index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = EF_CONSTRUCTION
            fresh: list[np.ndarray] = []
            for k, row in enumerate(rows):
                key = hash(row.tobytes())
                j = seen.get(key)
                if j is not None:
                    stored = fresh[j - rows_in_index] if j >= rows_in_index else None
                    if stored is None:
                        stored = index.reconstruct(int(j))
                    if not np.array_equal(stored, row):
                        j = None  # a hash collision: a row of its own
                if j is None:
                    j = rows_in_index + len(fresh)
                    seen.setdefault(key, j)
                    fresh.append(row)
                    unit[j] = bool(np.any(row != 0))
                of[first + k] = j
                count[j] += 1
            if fresh:
                index.add(np.asarray(fresh, np.float32))
                rows_in_index += len(fresh)
            say(0.2 + 0.4 * (first + len(rows)) / max(n, 1), "uniqueness: indexing")
    finally:
        faiss.omp_set_num_threads(threads)
    del seen
    if n <= K + 1:  # too few neighbours: every sample counts as unique (brain: <= K)
        return ids, np.ones(n, np.float32), {"index": "none", "dim": dim}
    index.hnsw.efSearch = EF_SEARCH
    row_raw = np.empty(rows_in_index, np.float64)
    step = 10_000
    for start in range(0, rows_in_index, step):
        stop = min(rows_in_index, start + step)
        row_raw[start:stop] = _row_uniqueness(index, start, stop, count, unit)
        say(0.6 + 0.3 * stop / rows_in_index, "uniqueness: nearest neighbours")
    exact = _exact_top(spill, index, row_raw, mean)
    say(1.0, "uniqueness: the most unique, exactly")
    raw = row_raw[of]
    top = raw.max()
    values = (raw / top if top > 0 else np.zeros(n)).astype(np.float32)
    info = {
        "index": f"faiss HNSW{HNSW_M},Flat",
        "dim": dim,
        "rows": rows_in_index,
        "exact_rows": exact,
    }
    return ids, values, info


def _exact_top(spill: _Spill, index, row_raw: np.ndarray, mean: np.ndarray) -> int:
    """Recomputes, by brute force over every sample (read from the spill file in chunks),
    the raw uniqueness of the index rows that the approximate search ranks highest, in
    place, and returns how many.

    An approximate search can only miss neighbours, never invent nearer ones, so its
    value is never below the exact one. Once the exact maximum over the re-ranked rows
    is at least the approximate value of every other row, the maximum (brain's
    normaliser) and the values of those most unique rows (what ``unique_top`` tags) are
    exact. Starts with :data:`EXACT_TOP` rows and doubles until that holds."""
    done = np.zeros(len(row_raw), bool)
    want = min(len(row_raw), EXACT_TOP)
    while True:
        order = np.argsort(-row_raw, kind="stable")
        todo = [int(r) for r in order[:want] if not done[r]]
        for first in range(0, len(todo), BRUTE_BLOCK):  # bounded: blocks of queries
            block = todo[first : first + BRUTE_BLOCK]
            queries = index.reconstruct_batch(np.asarray(block, np.int64))
            row_raw[block] = _brute_force(spill, queries, mean)
            done[block] = True
        rest = order[want:]
        best = row_raw[done].max()
        if len(rest) == 0 or row_raw[rest[~done[rest]]].max(initial=-np.inf) <= best:
            return int(done.sum())
        want = min(len(row_raw), 2 * want)


def _brute_force(spill: _Spill, queries: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Brain's raw uniqueness of ``queries`` (centred unit vectors of samples in the
    spill) against every sample, exactly: the 4 nearest others by Euclidean distance
    (the query's own sample is one of the zero distances), then the 2nd-4th weighted."""
    # in float64, as scikit-learn's euclidean_distances: copies of a vector come out at 0
    queries = queries.astype(np.float64)
    qn = np.einsum("ij,ij->i", queries, queries)
    best = np.full((len(queries), K + 2), np.inf)
    for _, raw_rows in spill.chunks(BRUTE_BLOCK):  # BRUTE_BLOCK^2 distances at a time
        rows = _unit((raw_rows.astype(np.float64) - mean).astype(np.float32)).astype(np.float64)
        rn = np.einsum("ij,ij->i", rows, rows)
        sq = qn[:, None] + rn[None, :] - 2.0 * (queries @ rows.T)
        d = np.sqrt(np.clip(sq, 0.0, 4.0))
        keep = min(K + 2, d.shape[1])
        part = np.partition(d, keep - 1, axis=1)[:, :keep]
        best = np.sort(np.concatenate([best, part], axis=1), axis=1)[:, : K + 2]
    # the smallest is the query's own sample (or a copy of it: both at 0)
    nearest = np.where(np.isfinite(best[:, 1:]), best[:, 1:], 2.0)
    return np.mean(nearest[:, 1 : K + 1] * WEIGHTS, axis=1)


def _row_uniqueness(index, start: int, stop: int, count, unit) -> np.ndarray:
    """Brain's raw uniqueness of the index rows ``start:stop``: the 4 nearest other
    samples are the row's own duplicates (distance 0) and then its nearest rows, each
    as many times as samples share it; brain weights the 2nd to 4th."""
    queries = index.reconstruct_n(start, stop - start)
    sims, labels = index.search(queries, K + 2)
    own = labels == np.arange(start, stop)[:, None]
    found = labels >= 0
    safe = np.where(found, labels, 0)
    sims = np.where(found, sims, 0.0).astype(np.float64)  # missing slots: -FLT_MAX
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b for unit (or zero) vectors
    sq = unit[start:stop, None].astype(np.float64) + unit[safe] - 2.0 * sims
    dists = np.sqrt(np.clip(sq, 0.0, 4.0))
    mult = np.where(found & ~own, count[safe], 0)
    dists = np.where(mult > 0, dists, np.inf)
    order = np.argsort(dists, axis=1, kind="stable")
    dists = np.take_along_axis(dists, order, axis=1)
    mult = np.take_along_axis(mult, order, axis=1)
    # the row's own duplicates first, at distance 0
    dists = np.concatenate([np.zeros((len(dists), 1)), dists], axis=1)
    mult = np.concatenate([(count[start:stop] - 1)[:, None], mult], axis=1)
    reach = np.cumsum(mult, axis=1)
    nearest = np.empty((len(dists), K + 1))
    for slot in range(K + 1):  # the slot-th nearest other sample
        has = reach > slot
        col = np.argmax(has, axis=1)
        value = dists[np.arange(len(dists)), col]
        nearest[:, slot] = np.where(has.any(axis=1), value, 2.0)
    return np.mean(nearest[:, 1:] * WEIGHTS, axis=1)  # brain: dists[:, 1:] of 4 others


def representativeness_values(
    view, embeddings_field: str, progress: Optional[Callable] = None
) -> tuple[_Ids, np.ndarray, dict]:
    """Brain's representativeness with k-means fitted by mini-batches, chunk by chunk.

    Returns:
        ``(ids, values, info)`` as :func:`uniqueness_values`
    """
    from sklearn.cluster import MiniBatchKMeans

    say = progress or (lambda *a, **k: None)
    with _Spill(view, embeddings_field, say, 0.2) as spill:
        n = spill.n
        km = MiniBatchKMeans(n_clusters=CLUSTERS, random_state=SEED, n_init=3, batch_size=4096)
        for p in range(KMEANS_PASSES):
            for _, rows in spill.chunks():
                # the first call needs at least k rows; a short last chunk joins later
                if hasattr(km, "cluster_centers_") or len(rows) >= CLUSTERS:
                    km.partial_fit(rows.astype(np.float64))
            say(0.2 + 0.6 * (p + 1) / KMEANS_PASSES, "representativeness: k-means")
        dist, cluster = np.empty(n, np.float64), np.empty(n, np.int32)
        for first, rows in spill.chunks():
            rows = rows.astype(np.float64)
            stop = first + len(rows)
            cluster[first:stop] = km.predict(rows)
            dist[first:stop] = np.linalg.norm(
                rows - km.cluster_centers_[cluster[first:stop]], axis=1
            )
    top = np.zeros(CLUSTERS)
    np.maximum.at(top, cluster, dist)
    scale = top[cluster]
    values = np.divide(dist, scale, out=np.zeros(n), where=scale > 0).astype(np.float32)
    say(1.0, "representativeness: done")
    return spill.ids, values, {"index": f"MiniBatchKMeans k={CLUSTERS}", "dim": spill.dim}
