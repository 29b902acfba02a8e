"""Evaluation memory: FiftyOne's ``evaluate_classifications`` against ClassLab's
chunked run (``classlab.lenet.eval_run.evaluate_in_chunks``), at N and 4N samples.

Builds two synthetic datasets in a private database (ground truth and predictions
with confidence and 10 logits, like apply_lenet writes) and, in a FRESH process per
(size, path), evaluates the whole dataset under one eval key and prints the RSS
growth during the call (sampled every 10 ms), the Python allocation peak
(tracemalloc) and the large/small ratios. ``--stages`` also splits FiftyOne's path
into its steps (what grows): ``values()`` of the five paths, the results object,
and the serialisation of the results for GridFS.

    .venv/bin/python benchmarks/eval_memory.py --small 20000 --stages
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = "zero one two three four five six seven eight nine".split()
CLASSES = [f"{i} - {w}" for i, w in enumerate(WORDS)]  # MNIST's labels


def _isolate(tmp: Path) -> None:
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "tests")]
    if os.environ.get("CLASSLAB_EVALMEM_CHILD"):
        return  # a child: the parent's private database is inherited
    from support.mongo import isolate

    isolate(tmp, ROOT)
    os.environ["CLASSLAB_EVALMEM_CHILD"] = "1"


def build(name: str, n: int) -> None:
    import fiftyone as fo
    import numpy as np

    rng = np.random.default_rng(0)
    ds = fo.Dataset(name, persistent=True)
    for start in range(0, n, 10_000):
        m = min(10_000, n - start)
        y = rng.integers(10, size=m)
        z = rng.normal(size=(m, 10)).astype(np.float32)
        z[np.arange(m), y] += 2.0
        p = z.argmax(1)
        e = np.exp(z - z.max(1, keepdims=True))
        conf = (e.max(1) / e.sum(1)).tolist()
        ds.add_samples(
            [
                fo.Sample(
                    filepath=f"/nonexistent/{start + i}.png",
                    ground_truth=fo.Classification(label=CLASSES[y[i]]),
                    pred=fo.Classification(
                        label=CLASSES[p[i]], confidence=conf[i], logits=z[i].tolist()
                    ),
                )
                for i in range(m)
            ]
        )


class RssPeak:
    """Peak RSS (MiB) of this process, sampled in a thread."""

    def __init__(self, interval: float = 0.01):
        import threading

        import psutil

        self.proc, self.interval = psutil.Process(), interval
        self.start = self.peak = self.proc.memory_info().rss / 2**20
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, self.proc.memory_info().rss / 2**20)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss / 2**20)


def measure(name: str, path: str, trace: bool) -> dict:
    import tracemalloc

    import fiftyone as fo

    ds = fo.load_dataset(name)
    ds.count()  # connection, schema
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    with RssPeak() as rss:
        if path == "fiftyone":
            ds.evaluate_classifications("pred", gt_field="ground_truth", eval_key="ev")
        else:
            from classlab.lenet.eval_run import evaluate_in_chunks

            evaluate_in_chunks(ds, "pred", "ground_truth", "ev")
    out = {"s": time.perf_counter() - t0, "rss_growth": rss.peak - rss.start, "rss": rss.peak}
    if trace:
        out["py_peak"] = tracemalloc.get_traced_memory()[1] / 2**20
    ds.delete_evaluation("ev")
    return out


def stages(name: str) -> dict:
    """FiftyOne's simple path, step by step, with tracemalloc's peak of each (MiB)."""
    import tracemalloc

    import fiftyone as fo
    from bson import json_util
    from fiftyone.utils.eval import classification as foec

    ds = fo.load_dataset(name)
    config = foec.SimpleEvaluationConfig("pred", "ground_truth")
    tracemalloc.start()
    out = {}
    paths = ["ground_truth.label", "ground_truth.id", "pred.label", "pred.id", "pred.confidence"]
    values = ds.values(paths)
    out["values() of 5 paths (held)"] = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    ytrue, ytrue_ids, ypred, ypred_ids, confs = values
    res = foec.ClassificationResults(
        ds, config, "x", ytrue, ypred, confs=confs, ytrue_ids=ytrue_ids, ypred_ids=ypred_ids
    )
    out["results object (+ values held)"] = tracemalloc.get_traced_memory()
    del values, ytrue, ytrue_ids, ypred, ypred_ids, confs
    base = tracemalloc.get_traced_memory()[0]
    out["results arrays alone"] = (base, base)
    tracemalloc.reset_peak()
    text = json_util.dumps(res.serialize()).encode()
    out["serialize + dumps + encode (JSON size, peak over the arrays)"] = (
        len(text),
        tracemalloc.get_traced_memory()[1],
    )
    return {k: [round(v / 2**20, 1) for v in pair] for k, pair in out.items()}


def child(*args: str, extra: tuple[str, ...] = ()) -> dict:
    cmd = [sys.executable, __file__, *extra, "--child", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=20_000)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--stages", action="store_true")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        _isolate(Path(os.environ["CLASSLAB_EVALMEM_DIR"]))
        if args.chunk_size:
            from classlab import defaults

            defaults.CHUNK_SIZE = args.chunk_size
        what, name, *rest = args.child
        if what == "build":
            build(name, int(rest[0]))
            print(json.dumps({}))
        elif what == "stages":
            print(json.dumps(stages(name)))
        else:
            print(json.dumps(measure(name, rest[0], rest[1] == "trace")))
        return
    tmp = Path(tempfile.mkdtemp(prefix="classlab-evalmem-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # after mongod stops (LIFO)
    os.environ["CLASSLAB_EVALMEM_DIR"] = str(tmp)
    _isolate(tmp)
    sizes = {"small": args.small, "large": 4 * args.small}
    for label, n in sizes.items():
        child("build", label, str(n))
    print(f"load average at start: {os.getloadavg()}")
    if args.stages:
        for label in sizes:
            print(f"FiftyOne's steps at {sizes[label]:,} (MiB, tracemalloc: held, peak):")
            print(json.dumps(child("stages", label), indent=1))
    extra = ("--chunk-size", str(args.chunk_size)) if args.chunk_size else ()
    for path in ("fiftyone", "classlab"):
        for mode in ("rss", "trace"):
            r = {lb: child("measure", lb, path, mode, extra=extra) for lb in sizes}
            s, lg = r["small"], r["large"]
            key = "rss_growth" if mode == "rss" else "py_peak"
            print(
                f"{path:>9} {mode:>5}: {key} {s[key]:7.1f} MiB @{sizes['small']:,} "
                f"{lg[key]:7.1f} MiB @{sizes['large']:,} (x{lg[key] / max(s[key], 1e-9):.2f}); "
                f"peak RSS {s['rss']:.0f} / {lg['rss']:.0f} MiB; "
                f"time {s['s']:.2f} / {lg['s']:.2f} s"
            )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
