"""Scale: time and peak memory of every long operator at N and 4N samples.

Builds two datasets in a private database: N samples, and 4N samples that
reference the same PNG files four times (no new image files: the MNIST PNGs are
written once by ``classlab.data.mnist.load_mnist``, the 4x dataset is added with
``add_samples`` over the same filepaths). Then runs, at each size, each long
operator in a FRESH process (so that one operator's peak is not hidden by
another's): CLIP embeddings (the tests' tiny config, random weights), zero-shot
(reusing the stored embeddings, with evaluation), apply of a 1-epoch LeNet-5,
hardness + mistakenness, label issues (cleanlab on apply's logits), uniqueness and
representativeness (ClassLab's bounded
method, ``embedding_method="bounded"``; ``uniqueness_brain`` and
``representativeness_brain`` run FiftyOne Brain's own, which needs every vector at
once, when named in ``--ops``), and augmentation of 2% of the samples. For each it
prints wall time, CPU time, peak RSS (the process and its loader workers) and the
MongoDB server's peak RSS, and the large/small ratios against the goals (time <= 4.4x,
peak RSS <= +10%).

    .venv/bin/python benchmarks/scale.py --small 7000            # 7,000 vs 28,000
    .venv/bin/python benchmarks/scale.py --small 7000 --chunk-size 1000   # both sizes multi-chunk
    .venv/bin/python benchmarks/scale.py --small 70000 --skip uniqueness representativeness
    .venv/bin/python benchmarks/scale.py --small 70000 --ops embeddings uniqueness apply \
        --dir /tmp/scale-70k --timeout 1800    # in this order; datasets kept and reused

A child that fails, is killed (e.g. by hand, by its printed pid) or runs past
``--timeout`` is recorded as such with its elapsed time, and the run goes on with
the next operator (the large size is skipped when the small one failed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPS = (
    "embeddings",
    "zero_shot",
    "apply",
    "scores",
    "label_issues",
    "uniqueness",
    "representativeness",
    "augment",
    "uniqueness_brain",
    "representativeness_brain",
)
DEFAULT_OPS = OPS[:8]  # FiftyOne Brain's own (N^2 k-NN) only when asked for
GOAL_TIME, GOAL_RSS = 4.4, 1.10
AUGMENT_FRACTION = 0.02


def _isolate(tmp: Path) -> None:
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "tests")]
    if "FIFTYONE_DATABASE_URI" in os.environ and os.environ.get("CLASSLAB_SCALE_DIR"):
        return  # a child: the parent's private database is inherited
    from support.mongo import isolate

    isolate(tmp, ROOT)
    os.environ["CLASSLAB_SCALE_DIR"] = str(tmp)
    import psutil  # the private mongod: a child of this process, sampled by the children

    mongod = [c for c in psutil.Process().children() if c.name() == "mongod"]
    os.environ["CLASSLAB_SCALE_MONGOD"] = str(mongod[0].pid) if mongod else ""


class DbPeak:
    """Peak RSS (MiB) of the benchmark's mongod (another process's child), sampled."""

    def __init__(self, interval: float = 0.1):
        import threading

        import psutil

        pid = os.environ.get("CLASSLAB_SCALE_MONGOD")
        self.proc = psutil.Process(int(pid)) if pid else None
        self.peak, self.interval = 0.0, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            if self.proc is not None:
                self.peak = max(self.peak, self.proc.memory_info().rss / 2**20)
            if self.stop.wait(self.interval):
                return

    def __enter__(self) -> "DbPeak":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _clip():
    from classlab.clip import ClipSpec, LoaderOptions
    from support.tiny_clip import register_tiny_clip

    spec = ClipSpec(register_tiny_clip(), None, random_weights=True)
    return spec, LoaderOptions(batch_size=256, num_workers=2, device="cpu")


# ---------------------------------------------------------------- building the datasets


def _copy_samples(base, name: str, times: int):
    """A dataset of ``times`` x base's samples over the SAME files, added in chunks."""
    import fiftyone as fo
    from classlab.chunks import iter_chunks

    ds = fo.Dataset(name, persistent=True, overwrite=True)
    for _ in range(times):
        for c in iter_chunks(base, ["filepath", "ground_truth.label", "tags"]):
            ds.add_samples(
                [
                    fo.Sample(filepath=p, tags=t, ground_truth=fo.Classification(label=lab))
                    for p, lab, t in zip(c["filepath"], c["ground_truth.label"], c["tags"])
                ],
                progress=False,
            )
    ds.default_classes = base.default_classes
    ds.save()
    return ds


def build(mnist_dir: str, small: int, keep: Path) -> dict:
    """The base MNIST dataset (PNGs written once), the N and 4N datasets, and a 1-epoch
    LeNet-5 trained on the base and registered on both; reused from ``keep/built.json``
    when a run with the same N built them in that directory before."""
    marker = keep / "built.json"
    if marker.is_file():
        built = json.loads(marker.read_text())
        if built["small"] == small:
            print(f"reusing the datasets of {marker}: {built['names']}", flush=True)
            return {k: tuple(v) for k, v in built["names"].items()}
    from classlab import records
    from classlab.data.mnist import load_mnist
    from classlab.data.splits import split_dataset
    from classlab.lenet.runs import train_lenet

    start = time.perf_counter()
    half = None if small >= 70000 else small // 2
    base = load_mnist(mnist_dir, dataset_name="scale-base", overwrite=True, limit_per_split=half)
    split_dataset(base.match_tags("train"), {"train": 0.9, "val": 0.1}, overwrite=True)
    cfg = {"epochs": 1, "batch_size": 256, "architecture": "lenet5", "num_workers": 2}
    rec = train_lenet(base.limit(min(len(base), 20000)), run_key="m", config=cfg)
    names = {}
    for times, label in ((1, "small"), (4, "large")):
        ds = _copy_samples(base, f"scale-{label}", times)
        records.set_record(ds, "models", "m", rec)
        names[label] = (ds.name, len(ds))
    print(f"built {names} in {time.perf_counter() - start:.0f} s", flush=True)
    marker.write_text(json.dumps({"small": small, "names": names}))
    return names


# ---------------------------------------------------------------- one operator (child)


def run_op(op: str, name: str) -> dict:
    import fiftyone as fo
    from classlab.job.memory import MemorySampler, cpu_seconds

    ds = fo.load_dataset(name)
    call = _call(op, ds)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with MemorySampler(0.05) as mem, DbPeak() as db:
        call()
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": cpu_seconds() - cpu0,
        "start_mib": mem.start_mb,
        "peak_mib": mem.peak_mb,
        "db_mib": db.peak,
    }


def _call(op: str, ds):
    from classlab.clip import compute_clip_embeddings, zero_shot_classify
    from classlab.curation.augment import augment_samples
    from classlab.curation.scores import compute_sample_scores
    from classlab.labels.issues import find_label_issues
    from classlab.lenet.apply import apply_lenet

    spec, opts = _clip()
    if op == "embeddings":
        return lambda: compute_clip_embeddings(ds, spec, opts)
    if op == "zero_shot":
        return lambda: zero_shot_classify(ds, spec, opts)
    if op == "apply":
        return lambda: apply_lenet(ds, "m", label_field="lenet", eval_key="eval_lenet")
    if op == "scores":
        return lambda: compute_sample_scores(ds, ["hardness", "mistakenness"], "lenet")
    if op == "label_issues":  # on apply's predictions (the 1-epoch LeNet-5's logits)
        return lambda: find_label_issues(ds, pred_fields="lenet", key="scale")
    if op.startswith(("uniqueness", "representativeness")):
        score, _, method = op.partition("_")  # "uniqueness" (bounded), "uniqueness_brain"
        return lambda: compute_sample_scores(
            ds, [score], embeddings_field="clip_embeddings", embedding_method=method or "bounded"
        )
    if op == "augment":
        src = ds.match_tags("train").take(int(AUGMENT_FRACTION * len(ds)), seed=51)
        return lambda: augment_samples(src, run_key="scale", overwrite=True)
    raise ValueError(op)


def child(op: str, name: str, timeout: float | None = None) -> dict:
    """Runs ``op`` on ``name`` in a fresh process; on failure, kill or timeout returns
    ``{"error", "seconds"}`` (the elapsed wall time) instead of the figures."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", op, name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{time.strftime('%H:%M:%S')} {op} on {name}: pid {proc.pid}, load {load}", flush=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        error = f"timed out after {timeout:.0f} s (killed)"
    else:
        if not proc.returncode:
            return json.loads(out.strip().splitlines()[-1])
        last = err.strip().splitlines()[-1:] or ["(no message)"]
        error = f"exit status {proc.returncode}: {last[0]}"
        print(err.strip()[-3000:], flush=True)
    seconds = time.perf_counter() - t0
    print(f"{op} on {name} FAILED after {seconds:.0f} s: {error}", flush=True)
    return {"error": error, "seconds": seconds}


# ---------------------------------------------------------------- report


def table(results: dict, sizes: dict) -> str:
    n_s, n_l = sizes["small"][1], sizes["large"][1]
    head = (
        f"| operator | s @{n_s:,} | s @{n_l:,} | time x | CPU x | peak RSS MiB @{n_s:,} | "
        f"@{n_l:,} | RSS x | RSS growth MiB (small / large) | db RSS MiB (small / large) | "
        "goal |"
    )
    rows = [head, "|" + " --- |" * 11]
    for op, r in results.items():
        s, l_ = r["small"], r["large"]
        if "error" in s or "error" in l_:
            peak = f"{s['peak_mib']:.0f}" if "error" not in s else ""
            rows.append(
                f"| {op} | {_cell(s)} | {_cell(l_)} | | | {peak} |" + " |" * 4 + " not measured |"
            )
            continue
        tx, cx = l_["seconds"] / s["seconds"], l_["cpu_seconds"] / max(s["cpu_seconds"], 1e-9)
        rx = l_["peak_mib"] / s["peak_mib"]
        ok = "met" if tx <= GOAL_TIME and rx <= GOAL_RSS else "NOT met"
        rows.append(
            f"| {op} | {s['seconds']:.1f} | {l_['seconds']:.1f} | {tx:.2f} | {cx:.2f} | "
            f"{s['peak_mib']:.0f} | {l_['peak_mib']:.0f} | {rx:.2f} | "
            f"{s['peak_mib'] - s['start_mib']:.0f} / {l_['peak_mib'] - l_['start_mib']:.0f} | "
            f"{s['db_mib']:.0f} / {l_['db_mib']:.0f} | {ok} |"
        )
    return "\n".join(rows)


def _cell(r: dict) -> str:
    if "error" in r:
        timed = r.get("seconds") and "timed out" not in r["error"]
        return f"{r['error']} (after {r['seconds']:.0f} s)" if timed else r["error"]
    return f"{r['seconds']:.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--mnist-dir",
        default=os.environ.get("CLASSLAB_MNIST_DIR", ROOT.parent / "shared/datasets/mnist"),
    )
    p.add_argument("--small", type=int, default=7000, help="N (the large dataset is 4N)")
    p.add_argument("--skip", nargs="*", default=[], choices=OPS)
    p.add_argument("--ops", nargs="*", choices=OPS, help="these operators, in this order")
    p.add_argument("--dir", help="the private database etc.: kept, and reused if built")
    p.add_argument("--timeout", type=float, default=0, help="seconds per child (0: none)")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=0,
        help="classlab.defaults.CHUNK_SIZE for the operators (0: the default, 10,000)",
    )
    p.add_argument("--json", help="write the figures here too")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.chunk_size:
        os.environ["CLASSLAB_SCALE_CHUNK"] = str(args.chunk_size)
    if args.child:
        _isolate(Path(os.environ["CLASSLAB_SCALE_DIR"]))
        if os.environ.get("CLASSLAB_SCALE_CHUNK"):
            from classlab import defaults

            defaults.CHUNK_SIZE = int(os.environ["CLASSLAB_SCALE_CHUNK"])
        print(json.dumps(run_op(*args.child)))
        return
    keep = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="classlab-scale-"))
    _isolate(keep)
    sizes = build(str(args.mnist_dir), args.small, keep)
    results = {}
    for op in (o for o in (args.ops or DEFAULT_OPS) if o not in args.skip):
        small = child(op, sizes["small"][0], args.timeout or None)
        large = (
            {"error": "skipped (the small size failed)"}
            if "error" in small
            else child(op, sizes["large"][0], args.timeout or None)
        )
        results[op] = {"small": small, "large": large}
        print(time.strftime("%H:%M:%S"), op, json.dumps(results[op]), os.getloadavg(), flush=True)
    from classlab import defaults

    chunk = os.environ.get("CLASSLAB_SCALE_CHUNK") or defaults.CHUNK_SIZE
    print(f"chunk size: {chunk}; load average: {os.getloadavg()}")
    print(table(results, sizes))
    if args.json:
        Path(args.json).write_text(json.dumps({"sizes": sizes, "results": results}, indent=1))


if __name__ == "__main__":
    main()
