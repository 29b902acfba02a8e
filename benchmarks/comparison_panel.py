"""Times the model comparison panel's on_load on full MNIST (70,000 samples) with
three prediction fields (synthetic predictions with logits, written in bulk).

Baseline in the same script: FiftyOne's own ``evaluate_classifications`` of the
same three fields (what the built-in Model Evaluation panel relies on).

    CLASSLAB_ROOT=... FIFTYONE_DATABASE_DIR=... \
        python benchmarks/comparison_panel.py --mnist-dir DIR
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "tests")]


def synthesise(ds, fields=("model_a", "model_b", "model_c"), accs=(0.98, 0.9, 0.6), seed=0):
    """Writes prediction fields with logits whose accuracy is about ``accs``."""
    import fiftyone as fo

    classes = ds.distinct("ground_truth.label")
    gt = np.array([classes.index(x) for x in ds.values("ground_truth.label")])
    rng = np.random.default_rng(seed)
    for field, acc in zip(fields, accs):
        if ds.has_field(field):
            continue
        logits = rng.normal(size=(len(gt), len(classes)))
        right = rng.random(len(gt)) < acc
        target = np.where(right, gt, rng.integers(0, len(classes), len(gt)))
        logits[np.arange(len(gt)), target] += 4.0
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        pred = p.argmax(1)
        labels = [
            fo.Classification(
                label=classes[k], confidence=float(p[i, k]), logits=logits[i].tolist()
            )
            for i, k in enumerate(pred)
        ]
        ds.set_values(field, labels)
    ds.default_classes = classes
    ds.save()
    return list(fields)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--mnist-dir", default=os.environ.get("CLASSLAB_MNIST_DIR", "/work/shared/datasets/mnist")
    )
    ap.add_argument("--dataset", default="classlab-bench-mnist")
    args = ap.parse_args()
    import fiftyone as fo
    from classlab.data.mnist import load_mnist

    t = time.perf_counter()
    ds = (
        fo.load_dataset(args.dataset)
        if fo.dataset_exists(args.dataset)
        else load_mnist(args.mnist_dir, dataset_name=args.dataset)
    )
    print(f"dataset: {len(ds)} samples ({time.perf_counter() - t:.1f} s to load)")
    fields = synthesise(ds)
    t = time.perf_counter()
    for f in fields:
        if f"eval_{f}" not in ds.list_evaluations():
            ds.evaluate_classifications(f, gt_field="ground_truth", eval_key=f"eval_{f}")
    t_eval = time.perf_counter() - t
    print(f"baseline: FiftyOne evaluate_classifications x3: {t_eval:.2f} s (first run only)")

    from classlab import compare
    from support.panel import run_panel_method

    spec = importlib.util.spec_from_file_location("cl_panel", ROOT / "panels" / "comparison.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    panel = mod.ModelComparisonPanel()
    times, sdk = [], []
    for _ in range(3):
        t = time.perf_counter()
        compare.compare_models(ds, fields)
        sdk.append(time.perf_counter() - t)
        t = time.perf_counter()
        state, _, _, _ = run_panel_method(panel, ds, "on_load")
        times.append(time.perf_counter() - t)
    assert state.get("ready"), state.get("message")
    print(f"compare_models (3 models, {len(ds)} samples): best {min(sdk):.2f} s")
    print(f"panel on_load + render: best {min(times):.2f} s, runs {[round(x, 2) for x in times]}")
    t = time.perf_counter()
    compare.agreement(ds, fields[0], fields[1])
    print(f"agreement (2 models): {time.perf_counter() - t:.2f} s")
    if t_eval > 1:
        print(f"ratio on_load / evaluate_classifications x3: {min(times) / t_eval:.2f}")


if __name__ == "__main__":
    main()
