"""Uniqueness and representativeness: FiftyOne Brain's exact computation against
ClassLab's bounded one (``embedding_method="bounded"``), side by side on the same
embeddings, at N and 4N samples.

The embeddings are MNIST digits (the IDX files, no images written): each image's
784 pixels through a fixed random projection to ``--dim`` dimensions, so that
neighbours are real digit neighbours. The 4N set repeats the N rows four times
with small seeded noise (no exact duplicates). Both sets go into a private
database as samples holding only the vector, then each (size, score, method) runs
in this process, one after the other, and the script prints wall and CPU time,
the RSS growth during the call, the large/small ratios, and, where both methods
ran at a size, how closely the bounded values follow brain's: Spearman rank
correlation, the share of brain's top 1% that the bounded top 1% recovers, and
the largest absolute difference (brain computes uniqueness from cosine distances
up to 15,000 samples and from Euclidean distances of unit vectors above, the case
that the bounded method follows: compare at N > 15,000). For representativeness it
also prints how far brain's own values move when only k-means' seed changes.

    .venv/bin/python benchmarks/bounded_scores.py --small 70000          # brain at N only
    .venv/bin/python benchmarks/bounded_scores.py --small 20000 --brain-large

``--index-only`` leaves the database out, to reach a million vectors: the vectors
(the same projection; above 70,000 further copies with seeded noise) are written to a
spill file as ClassLab's would be, and the bounded uniqueness runs on it at N and 4N,
beside the index the bounded method used before (a faiss HNSW graph over every float32
vector, built and searched the same way, at N only): wall and CPU time, peak RSS growth
and the index's bytes per vector.

    .venv/bin/python benchmarks/bounded_scores.py --index-only --small 250000 --dim 512
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = os.environ.get("CLASSLAB_MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))


def _isolate(tmp: Path) -> None:
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "tests")]
    from support.mongo import isolate

    isolate(tmp, ROOT)


def _digits(mnist_dir: str) -> np.ndarray:
    rows = []
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        with gzip.open(Path(mnist_dir) / name) as f:
            raw = f.read()
        rows.append(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784))
    return np.concatenate(rows).astype(np.float32) / 255.0


def embeddings(mnist_dir: str, n: int, copies: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = _digits(mnist_dir)[:n]
    base = pixels @ rng.normal(size=(784, dim)).astype(np.float32)
    if copies == 1:
        return base
    scale = 0.01 * float(np.abs(base).mean())
    return np.concatenate(
        [base + scale * rng.normal(size=base.shape).astype(np.float32) for _ in range(copies)]
    )


def build(name: str, emb: np.ndarray):
    import fiftyone as fo

    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    ds = fo.Dataset(name)
    step = 10_000
    for start in range(0, len(emb), step):
        ds.add_samples(
            [
                fo.Sample(filepath=f"/nonexistent/{start + i}.png", emb=row)
                for i, row in enumerate(emb[start : start + step])
            ]
        )
    return ds


class Rss:
    """Peak RSS growth (MiB) of this process during a block, sampled every 20 ms."""

    def __enter__(self):
        import psutil

        self._proc, self._stop = psutil.Process(), threading.Event()
        self.start = self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        self.growth_mib = (self.peak - self.start) / 2**20


def run(ds, score: str, method: str) -> dict:
    import gc

    from classlab.curation.scores import compute_sample_scores

    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    with Rss() as rss:
        (field,) = compute_sample_scores(
            ds, [score], embeddings_field="emb", embedding_method=method
        ).values()
    out = {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "rss_growth_mib": rss.growth_mib,
        "values": np.asarray(ds.sort_by("_id").values(field), np.float64),
    }
    ds.delete_brain_run(field)
    return out


def kmeans_reference(emb: np.ndarray, seed: int) -> np.ndarray:
    """Brain's representativeness formula with scikit-learn's full k-means under another
    seed: how far brain's own values move with k-means' initialisation alone."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=20, random_state=seed).fit(emb)
    dist = np.linalg.norm(emb - km.cluster_centers_[km.labels_], axis=1)
    top = np.zeros(20)
    np.maximum.at(top, km.labels_, dist)
    return dist / top[km.labels_]


def agreement(exact: np.ndarray, approx: np.ndarray) -> dict:
    from scipy.stats import spearmanr

    k = max(1, len(exact) // 100)
    top = len(set(np.argsort(-exact)[:k]) & set(np.argsort(-approx)[:k])) / k
    return {
        "spearman": float(spearmanr(exact, approx).statistic),
        "top1pct": top,
        "max_abs_diff": float(np.abs(exact - approx).max()),
    }


def _spill_file(path: Path, mnist_dir: str, n: int, dim: int) -> None:
    """``n`` vectors as float32 rows in ``path``: :func:`embeddings` of up to 70,000
    digits, then copies of them with small seeded noise, written one copy at a time."""
    base = embeddings(mnist_dir, min(n, 70_000), 1, dim)
    rng = np.random.default_rng(1)
    scale = 0.01 * float(np.abs(base).mean())
    with open(path, "wb") as f:
        for start in range(0, n, len(base)):
            rows = base[: n - start]
            if start:
                rows = rows + scale * rng.normal(size=rows.shape).astype(np.float32)
            f.write(np.ascontiguousarray(rows, np.float32).tobytes())


def _file_spill(path: Path, n: int, dim: int):
    """A ``classlab.curation.bounded._Spill`` over ``path`` (no database, no ids)."""
    from classlab.curation import bounded

    spill = object.__new__(bounded._Spill)
    spill.path, spill.n, spill.dim, spill.ids = path, n, dim, None
    spill.sum = np.zeros(dim)
    for _, rows in spill.chunks():
        spill.sum += rows.sum(axis=0, dtype=np.float64)
    return spill


def _hnsw_before(spill) -> dict:
    """The index the bounded uniqueness used before: faiss ``IndexHNSWFlat`` (M 16,
    efConstruction 40, built on one thread, efSearch 64) over every centred unit vector,
    each searched for its 5 nearest."""
    import faiss
    from classlab.curation.bounded import _centred

    mean = spill.mean
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    index = faiss.IndexHNSWFlat(spill.dim, 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 40
    for _, rows in spill.chunks():
        index.add(_centred(rows, mean))
    faiss.omp_set_num_threads(threads)
    index.hnsw.efSearch = 64
    for _, rows in spill.chunks():
        index.search(_centred(rows, mean), 5)
    return {"index": "faiss HNSW16,Flat (before)", "bytes_per_vector": 4 * spill.dim + 140}


def index_only(args) -> None:
    import gc

    import faiss
    from classlab.curation import bounded

    tmp = Path(tempfile.mkdtemp(prefix="classlab-bounded-index-"))
    rows = []
    for n in (args.small, 4 * args.small):
        path = tmp / f"spill-{n}.f32"
        _spill_file(path, args.mnist_dir, n, args.dim)
        todo = [("before", _hnsw_before)] if n == args.small else []
        todo.append(("bounded", lambda s: bounded._uniqueness_of(s, faiss, lambda *a: None)[2]))
        for method, fn in todo:  # "before" first: the bounded run rewrites the file
            spill = _file_spill(path, n, args.dim)
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            with Rss() as rss:
                info = fn(spill)
            row = {
                "n": n,
                "method": method,
                "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - c0,
                "rss_growth_mib": rss.growth_mib,
                "index": info["index"],
                "bytes_per_vector": info["bytes_per_vector"],
            }
            rows.append(row)
            print(
                f"{time.strftime('%H:%M:%S')} {method} @{n:,} x {args.dim}: "
                f"{row['seconds']:.1f} s wall, {row['cpu_seconds']:.1f} s CPU, RSS "
                f"+{row['rss_growth_mib']:.0f} MiB, {info['index']}; load "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
        path.unlink()
    tmp.rmdir()
    print("\n| method | index | samples | bytes a vector | s | CPU s | RSS growth MiB |")
    print("|" + " --- |" * 7)
    for r in rows:
        print(
            f"| {r['method']} | {r['index']} | {r['n']:,} | {r['bytes_per_vector']} | "
            f"{r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['rss_growth_mib']:.0f} |"
        )
    new = [r for r in rows if r["method"] == "bounded"]
    if len(new) == 2:
        s, l_ = new
        print(
            f"\nbounded, 4x the samples: time x{l_['seconds'] / s['seconds']:.2f}, CPU "
            f"x{l_['cpu_seconds'] / s['cpu_seconds']:.2f}, RSS growth "
            f"{s['rss_growth_mib']:.0f} -> {l_['rss_growth_mib']:.0f} MiB"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mnist-dir", default=MNIST)
    p.add_argument("--small", type=int, default=70000, help="N (at most 70,000)")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--scores", default="uniqueness,representativeness")
    p.add_argument("--brain-large", action="store_true", help="brain at 4N too (slow: N^2)")
    p.add_argument("--index-only", action="store_true", help="no database: up to millions")
    args = p.parse_args()
    if args.index_only:
        sys.path[:0] = [str(ROOT / "plugins")]
        return index_only(args)
    tmp = Path(tempfile.mkdtemp(prefix="classlab-bounded-"))
    _isolate(tmp)
    sizes = {"small": (args.small, 1), "large": (args.small, 4)}
    results: dict = {}
    reference = None
    for size, (n, copies) in sizes.items():
        emb = embeddings(args.mnist_dir, n, copies, args.dim)
        if size == "small" and "representativeness" in args.scores:
            reference = kmeans_reference(emb.astype(np.float64), seed=0)
        ds = build(f"bounded-{size}", emb)
        del emb
        for score in args.scores.split(","):
            methods = ["bounded", "brain"] if size == "small" or args.brain_large else ["bounded"]
            for method in methods:
                r = run(ds, score, method)
                results[(size, score, method)] = r
                print(
                    f"{time.strftime('%H:%M:%S')} {score} {method} @{len(ds):,}: "
                    f"{r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU, "
                    f"RSS +{r['rss_growth_mib']:.0f} MiB; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        ds.delete()
    n_s, n_l = args.small, 4 * args.small
    print(
        f"\n| score | method | s @{n_s:,} | s @{n_l:,} | time x | CPU x | RSS growth MiB "
        f"@{n_s:,} / @{n_l:,} | vs brain @{n_s:,}: Spearman / top-1% / max diff |"
    )
    print("|" + " --- |" * 8)
    for score in args.scores.split(","):
        for method in ("bounded", "brain"):
            s, l_ = results.get(("small", score, method)), results.get(("large", score, method))
            if s is None:
                continue
            cells = [f"{s['seconds']:.1f}", "", "", "", f"{s['rss_growth_mib']:.0f} / "]
            if l_ is not None:
                cells = [
                    f"{s['seconds']:.1f}",
                    f"{l_['seconds']:.1f}",
                    f"{l_['seconds'] / s['seconds']:.2f}",
                    f"{l_['cpu_seconds'] / max(s['cpu_seconds'], 1e-9):.2f}",
                    f"{s['rss_growth_mib']:.0f} / {l_['rss_growth_mib']:.0f}",
                ]
            agree = ""
            if method == "bounded" and ("small", score, "brain") in results:
                a = agreement(results[("small", score, "brain")]["values"], s["values"])
                agree = f"{a['spearman']:.4f} / {a['top1pct']:.3f} / {a['max_abs_diff']:.4f}"
            print(f"| {score} | {method} | " + " | ".join(cells) + f" | {agree} |")
    brain_r = results.get(("small", "representativeness", "brain"))
    if brain_r is not None and reference is not None:
        a = agreement(brain_r["values"], reference)
        print(
            f"\nreference: brain's representativeness formula with full k-means, seed 0 instead "
            f"of 1234, vs brain @{n_s:,}: Spearman {a['spearman']:.4f} / top-1% "
            f"{a['top1pct']:.3f} / max diff {a['max_abs_diff']:.4f}"
        )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
