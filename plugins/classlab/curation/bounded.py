"""Uniqueness and representativeness in chunks, for views too large for FiftyOne Brain.

Brain's ``compute_uniqueness`` finds each sample's 3 nearest neighbours exactly
(scikit-learn, every vector and every neighbour array in memory; brute force above
15,000 samples, so its time grows as N^2), and ``compute_representativeness`` runs
scikit-learn's k-means (k=20) on every vector at once. Here the same formulas run
on the embeddings read from the database once, one chunk
(:data:`classlab.defaults.CHUNK_SIZE`) at a time, and spilled as float32 rows to a
temp file under ClassLab's root that the later passes read back (:class:`_Spill`):

- uniqueness: candidate neighbours from a compressed index of the centred unit
  vectors (:func:`_build_index`: exact up to :data:`FLAT_MAX` samples, above an
  inverted file of 4-bit product-quantised codes, ``faiss``), their exact distances
  recomputed from the spill file (:func:`_reranked`), then brain's formula as its
  scikit-learn index computes it above 15,000 samples (see :func:`uniqueness_values`),
  divided by its maximum over the view; the samples ranked most unique are
  recomputed by brute force until the :data:`EXACT_TOP` most unique, and so the
  maximum, are exact (:func:`_exact_top`);
- representativeness: ``sklearn.cluster.MiniBatchKMeans`` (k=20, brain's seed
  1234) fitted chunk by chunk, then brain's "cluster-center" value: each sample's
  Euclidean distance to its cluster's centre divided by the largest in that
  cluster (brain's own formula, which ranks a cluster's outskirts highest).

What grows with the view: uniqueness's index (``m / 2 + 8`` bytes a sample above
:data:`FLAT_MAX` samples: 24 for 64-dimensional vectors, 72 for 512, against
``4 d + 140`` for the HNSW graph over float32 vectors used before) and, for both, a few
numbers and a 12-byte id per sample; never a Python list of vectors or a dict of
them, never scikit-learn's neighbour arrays; the spill file's rows are read back one
by one (``os.preadv``), not mapped, so its pages do not count in the process. Both
are approximations of brain's exact values; the
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
KMEANS_PASSES = 3
FLAT_MAX = 10_000  # up to this many samples an exact index (at most 40 KB a dimension)
LIST_SIZE = 512  # samples per inverted list (their number grows with the view)
NPROBE = 16  # lists searched per sample
QUANTIZER_FLAT_MAX = 1024  # lists whose centres are compared one by one (above: a graph)
CANDIDATES = 32  # index candidates per sample whose exact distances are computed
PQ_DIMS = 4  # dimensions per 4-bit product-quantiser code (at most, above 128 dimensions)
PQ_MIN_CODES = 32  # codes per vector (at least, where the dimensions allow)
PQ_MAX = 256  # codes per vector (at most: 128 bytes)
PQ_MIN_TRAIN = 1024  # training rows the compressed index needs (at least)
TRAIN_ROWS = 32_768  # rows the compressed index is trained on (at most ...
TRAIN_BYTES = 32 << 20  # ... and at most 32 MiB of them)
RERANK_BLOCK = 128  # samples whose candidates are read back at a time
EXACT_TOP = 1024  # samples whose uniqueness is recomputed exactly (at least)
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

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop``."""
        with open(self.path, "rb") as f:
            f.seek(4 * self.dim * start)
            count = stop - start
            return np.fromfile(f, np.float32, count * self.dim).reshape(count, self.dim)

    def write(self, start: int, rows: np.ndarray) -> None:
        """Replaces the rows from ``start`` on with ``rows`` (float32)."""
        with open(self.path, "r+b") as f:
            f.seek(4 * self.dim * start)
            f.write(np.ascontiguousarray(rows, np.float32).tobytes())

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The rows numbered ``rows``, each read by itself (``os.preadv`` into the result):
        no map of the file, whose pages would stay in the process's memory (a map's
        read-ahead brings in the rows around each one, soon the whole file)."""
        import os

        size = 4 * self.dim
        out = np.empty((len(rows), self.dim), np.float32)
        buf = memoryview(out).cast("B")
        with open(self.path, "rb", buffering=0) as f:
            fd = f.fileno()
            for k, r in enumerate(np.asarray(rows, np.int64).tolist()):
                part = buf[k * size : (k + 1) * size]
                if hasattr(os, "preadv"):
                    got = os.preadv(fd, [part], r * size)
                else:  # pragma: no cover - Windows
                    f.seek(r * size)
                    got = f.readinto(part)
                if got != size:
                    raise RuntimeError(f"{self.path}: row {r} of {self.n} could not be read back")
        return out


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
    ids, dim, n = spill.ids, spill.dim, spill.n
    if n <= K + 1:  # too few neighbours: every sample counts as unique (brain: <= K)
        return ids, np.ones(n, np.float32), {"index": "none", "dim": dim}
    threads = faiss.omp_get_max_threads()
    # one thread while training and adding: the same view gives the same values every run
    faiss.omp_set_num_threads(1)
    try:
        index, info = _build_index(spill, faiss, say)
    finally:
        faiss.omp_set_num_threads(threads)
    # from here on the spill file holds the centred unit vectors
    raw = np.empty(n, np.float64)
    step = 8 * RERANK_BLOCK
    for start in range(0, n, step):
        stop = min(n, start + step)
        queries = spill.read(start, stop)
        _, cands = index.search(queries, min(n, CANDIDATES))
        for sub in range(0, stop - start, RERANK_BLOCK):
            block = slice(sub, min(stop - start, sub + RERANK_BLOCK))
            raw[start + block.start : start + block.stop] = _reranked(
                spill, queries[block], cands[block], start + block.start
            )
        say(0.6 + 0.3 * stop / n, "uniqueness: nearest neighbours")
    del index
    exact = _exact_top(spill, raw)
    say(1.0, "uniqueness: the most unique, exactly")
    top = raw.max()
    values = (raw / top if top > 0 else np.zeros(n)).astype(np.float32)
    return ids, values, {**info, "dim": dim, "exact_rows": exact}


def _centred(raw_rows: np.ndarray, mean: np.ndarray, out=None) -> np.ndarray:
    """The view's vectors as brain's index sees them: centred, length 1 (float32; the
    float64 arithmetic a few thousand rows at a time; ``out=raw_rows`` in place)."""
    out = np.empty(raw_rows.shape, np.float32) if out is None else out
    for start in range(0, len(raw_rows), 4096):
        part = raw_rows[start : start + 4096]
        out[start : start + len(part)] = _unit((part.astype(np.float64) - mean).astype(np.float32))
    return out


def _codes(dim: int) -> int:
    """4-bit product-quantiser codes per vector for ``dim`` dimensions: the most that
    divides ``dim`` and is at most ``max(32, dim / 4)`` and :data:`PQ_MAX`."""
    cap = max(1, min(PQ_MAX, dim, max(PQ_MIN_CODES, dim // PQ_DIMS)))
    return max(m for m in range(1, cap + 1) if dim % m == 0)


def _build_index(spill: _Spill, faiss, say):
    """The index that proposes each sample's candidate neighbours, built in one pass over
    the spill file that also turns its rows into centred unit vectors (in place).

    Up to :data:`FLAT_MAX` samples an exact flat index (4 bytes a dimension: a bounded
    size); above, an inverted file (lists of about :data:`LIST_SIZE` samples) of 4-bit
    product-quantised codes (``m / 2`` bytes a vector plus its 8-byte id; faiss's SIMD
    "fast scan"), trained on at most :data:`TRAIN_ROWS` rows (and :data:`TRAIN_BYTES`)
    drawn with a fixed seed. Its distances are only used to choose candidates:
    :func:`_reranked` recomputes them exactly from the spill file."""
    n, dim, mean = spill.n, spill.dim, spill.mean
    if n <= max(FLAT_MAX, PQ_MIN_TRAIN):
        index = faiss.IndexFlatL2(dim)
        info = {"index": "faiss Flat (exact)", "bytes_per_vector": 4 * dim}
    else:
        m, nlist = _codes(dim), max(1, n // LIST_SIZE)
        graph = "" if nlist <= QUANTIZER_FLAT_MAX else "_HNSW32"
        if not graph:
            quantizer = faiss.IndexFlatL2(dim)
        else:  # the lists' centres searched by a graph, not one by one
            quantizer = faiss.IndexHNSWFlat(dim, 32)
            quantizer.hnsw.efSearch = 4 * NPROBE
        index = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, m, 4)
        index.cp.seed = SEED
        index.pq.cp.seed = SEED
        size = min(n, TRAIN_ROWS, max(PQ_MIN_TRAIN, TRAIN_BYTES // (4 * dim)))
        pick = np.sort(np.random.default_rng(SEED).choice(n, size, replace=False))
        sample = spill.gather(pick)
        index.train(_centred(sample, mean, out=sample))
        del sample
        index.nprobe = min(nlist, NPROBE)
        info = {
            "index": f"faiss IVF{nlist}{graph},PQ{m}x4fs",
            "bytes_per_vector": index.code_size + 8,
            "nprobe": index.nprobe,
            "candidates": min(n, CANDIDATES),
        }
    for first, raw_rows in spill.chunks():
        rows = _centred(raw_rows, mean, out=raw_rows)
        spill.write(first, rows)
        index.add(rows)
        say(0.2 + 0.4 * (first + len(rows)) / max(n, 1), "uniqueness: indexing")
    return index, info


def _reranked(spill: _Spill, queries, cands, first: int) -> np.ndarray:
    """Brain's raw uniqueness of the samples ``first, first + 1, ...`` (``queries``, their
    centred unit vectors) from their index candidates ``cands``: the candidates' exact
    Euclidean distances (their vectors read back from the spill file), the sample itself
    left out, the 4 nearest others kept and the 2nd to 4th weighted. A candidate the
    index missed can only make a value larger, never smaller."""
    own = np.arange(first, first + len(queries))[:, None]
    valid = (cands >= 0) & (cands != own)
    safe = np.where(valid, cands, 0)
    rows = np.unique(safe)
    vectors = spill.gather(rows).astype(np.float64)
    queries, where = queries.astype(np.float64), np.searchsorted(rows, safe)
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b in float64, as scikit-learn's euclidean_distances
    gram = queries @ vectors.T  # queries x the block's distinct candidates
    picked = np.take_along_axis(gram, where, axis=1)
    qn = np.einsum("ij,ij->i", queries, queries)[:, None]
    vn = np.einsum("ij,ij->i", vectors, vectors)[where]
    d = np.sqrt(np.clip(qn + vn - 2.0 * picked, 0.0, 4.0))
    # at least K + 2 candidates a sample (n > K + 1), so K + 1 others once itself is out
    return _weighted(np.sort(np.where(valid, d, np.inf), axis=1))


def _weighted(others: np.ndarray) -> np.ndarray:
    """Brain's raw uniqueness from each sample's distances to its nearest OTHER samples
    (ascending, at least K + 1 columns; ``inf`` where none was found, which counts as
    brain's 2): the 2nd to 4th weighted (brain takes ``dists[:, 1:]`` of 4 others)."""
    nearest = others[:, : K + 1]
    return np.mean(np.where(np.isfinite(nearest), nearest, 2.0)[:, 1:] * WEIGHTS, axis=1)


def _exact_top(spill: _Spill, raw: np.ndarray) -> int:
    """Recomputes, by brute force over every sample (read from the spill file in chunks),
    the raw uniqueness of the samples that the index ranks highest, in place, and
    returns how many.

    The index can only miss neighbours, never invent nearer ones (every distance used
    is exact), so its value is never below the exact one. Once the
    :data:`EXACT_TOP`-th largest exact value over the re-ranked samples is at least the
    value of every other sample, the :data:`EXACT_TOP` most unique samples are among the
    re-ranked ones: the maximum (brain's normaliser) and their values (what
    ``unique_top`` tags) are exact. Starts with :data:`EXACT_TOP` samples and doubles
    until that holds."""
    done = np.zeros(len(raw), bool)
    want = min(len(raw), EXACT_TOP)
    while True:
        order = np.argsort(-raw, kind="stable")
        todo = np.sort(order[:want][~done[order[:want]]])
        for first in range(0, len(todo), BRUTE_BLOCK):  # bounded: blocks of queries
            block = todo[first : first + BRUTE_BLOCK]
            raw[block] = _brute_force(spill, spill.gather(block))
            done[block] = True
        rest = order[want:]
        # the EXACT_TOP-th largest exact value so far
        settled = np.partition(raw[done], -min(EXACT_TOP, want))[-min(EXACT_TOP, want)]
        if len(rest) == 0 or raw[rest[~done[rest]]].max(initial=-np.inf) <= settled:
            return int(done.sum())
        want = min(len(raw), 2 * want)


def _brute_force(spill: _Spill, queries: np.ndarray) -> np.ndarray:
    """Brain's raw uniqueness of ``queries`` (centred unit vectors of samples in the
    spill, which by then holds such vectors) against every sample, exactly: the 4
    nearest others by Euclidean distance (the query's own sample is one of the zero
    distances), then the 2nd-4th weighted."""
    # in float64, as scikit-learn's euclidean_distances: copies of a vector come out at 0
    # (a float32 product leaves them near 3e-4, a sqrt of its rounding error)
    queries = queries.astype(np.float64)
    qn = np.einsum("ij,ij->i", queries, queries)
    best = np.full((len(queries), K + 2), np.inf)
    for _, rows in spill.chunks(BRUTE_BLOCK):  # BRUTE_BLOCK^2 distances at a time
        rows = rows.astype(np.float64)
        rn = np.einsum("ij,ij->i", rows, rows)
        sq = qn[:, None] + rn[None, :] - 2.0 * (queries @ rows.T)
        d = np.sqrt(np.clip(sq, 0.0, 4.0))
        keep = min(K + 2, d.shape[1])
        part = np.partition(d, keep - 1, axis=1)[:, :keep]
        best = np.sort(np.concatenate([best, part], axis=1), axis=1)[:, : K + 2]
    # the smallest is the query's own sample (or a copy of it: both at 0)
    return _weighted(best[:, 1:])


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
