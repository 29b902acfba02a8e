"""Times the model comparison panel's own handlers on full MNIST (70,000 samples) with
three prediction fields (synthetic: seeded noise on the ground truth, with logits).

Targets (issue 14 item 5): first render <= 2 s, every interaction <= 0.5 s.

Baseline in the same script: the code path of the panel before the field cache
(every handler re-ran ``compare_models`` over the whole dataset: one full read of
the ground truth and every model's labels, confidences and logits, then all
metrics). Printed side by side with the new handlers, as a ratio.

    .venv/bin/python benchmarks/comparison_panel.py [--mnist-dir DIR] [--repeats 3]

The database is the benchmark's own (kept in ``.classlab-data/bench-panel``), so
the 70,000-sample dataset is built once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".classlab-data" / "bench-panel"
DATASET = "classlab-bench-panel"
FIELDS = ("model_a", "model_b", "model_c")
ACCURACIES = (0.99, 0.97, 0.9)
FIRST_RENDER_S, INTERACTION_S = 2.0, 0.5
# another split reads that split's samples once (like a first render); not an interaction
SCOPE_ROW = "split: all samples"


def _isolate() -> None:
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "tests")]
    from support.mongo import isolate

    isolate(BENCH_DIR, ROOT)


def synthesise(ds, fields=FIELDS, accs=ACCURACIES, seed=0) -> list[str]:
    """Writes prediction fields with logits whose accuracy is about ``accs``, and
    evaluates them (the panel lists evaluated fields)."""
    import fiftyone as fo

    classes = sorted(ds.distinct("ground_truth.label"))
    gt = np.array([classes.index(x) for x in ds.values("ground_truth.label")])
    rng = np.random.default_rng(seed)
    for field, acc in zip(fields, accs):
        if f"eval_{field}" in ds.list_evaluations():
            continue
        logits = rng.normal(size=(len(gt), len(classes))).astype(np.float32)
        right = rng.random(len(gt)) < acc
        target = np.where(right, gt, rng.integers(0, len(classes), len(gt)))
        logits[np.arange(len(gt)), target] += 5.0
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        pred = p.argmax(1)
        labels = [
            fo.Classification(label=classes[k], confidence=float(p[i, k]), logits=logits[i])
            for i, k in enumerate(pred)
        ]
        ds.set_values(field, labels)
        del labels
        ds.evaluate_classifications(field, gt_field="ground_truth", eval_key=f"eval_{field}")
    ds.default_classes = classes
    ds.save()
    return list(fields)


def build(mnist_dir: str):
    import fiftyone as fo
    from classlab.data.mnist import load_mnist

    t = time.perf_counter()
    if fo.dataset_exists(DATASET):
        ds = fo.load_dataset(DATASET)
    else:
        ds = load_mnist(mnist_dir, dataset_name=DATASET)
    synthesise(ds)
    print(f"dataset: {len(ds)} samples, {len(FIELDS)} models ({time.perf_counter() - t:.1f} s)")
    return ds


BASELINE_COMMIT = "a81f490"  # the panel before the field cache (issue 14 item 5)


def _load_panel(source: str, name: str):
    """A ModelComparisonPanel class from ``source`` (a file's text)."""
    import importlib.util
    import tempfile

    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ModelComparisonPanel()


def _old_panel():
    import subprocess

    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASELINE_COMMIT}:panels/comparison.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return _load_panel(src, "old_comparison_panel")


def _time(fn, repeats):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t)
    return out, result


def _pick(state, container, **values):
    state = dict(state)
    state[container] = {**(state.get(container) or {}), **values}
    return state


def interactions(new_state):
    """``[(name, method, state, params)]``: every picker and click, from a loaded state."""
    s = new_state
    return [
        ("pick models (two)", "on_pick", _pick(s, "choices", fields=list(FIELDS[:2])), None),
        ("pick models (three)", "on_pick", _pick(s, "choices", fields=list(FIELDS)), None),
        ("baseline", "on_pick", _pick(s, "pickers", baseline=FIELDS[1]), None),
        ("confusion model", "on_pick", _pick(s, "pickers", cm_model=FIELDS[2]), None),
        (
            "agreement pair",
            "on_pick",
            _pick(s, "pickers", agree_a=FIELDS[2], agree_b=FIELDS[0]),
            None,
        ),
        (SCOPE_ROW, "on_pick", _pick(s, "choices", scope="all"), None),
        ("confusion: log scale", "on_pick", _pick(s, "confusion_row", cm_mode="log"), None),
        ("sort summary", "on_pick", _pick(s, "sort", sort_by="accuracy", sort_desc=False), None),
        ("click a confusion cell", "on_confusion_click", s, {"x": "7 - seven", "y": "2 - two"}),
        ("click a class row", "on_class_click", s, {"row": 3, "column": f"{FIELDS[1]}_f1"}),
        ("click an F1 bar", "on_bar_click", s, {"x": "3 - three", "id": f"{FIELDS[2]}|3 - three"}),
        ("click an agreement count", "on_agreement_click", s, {"category": "only_a_right"}),
    ]


def old_interactions(old_state):
    """The same pickers and clicks through the old panel (its state layout)."""
    s = old_state

    def picks(**values):
        return {**s, "pickers": {**s["pickers"], **values}}

    return {
        "pick models (two)": ("on_pick", {**s, "fields": list(FIELDS[:2])}, None),
        "pick models (three)": ("on_pick", {**s, "fields": list(FIELDS)}, None),
        "baseline": ("on_pick", picks(baseline=FIELDS[1]), None),
        "confusion model": ("on_pick", picks(cm_model=FIELDS[2]), None),
        "agreement pair": ("on_pick", picks(agree_a=FIELDS[2], agree_b=FIELDS[0]), None),
        "click a confusion cell": ("on_confusion_click", s, {"x": "7 - seven", "y": "2 - two"}),
        "click a class row": ("on_class_mistakes", s, {"row": 3}),
        "click an agreement count": ("on_agreement_click", s, {"category": "only_a_right"}),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--mnist-dir", default=os.environ.get("CLASSLAB_MNIST_DIR", "/work/shared/datasets/mnist")
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--build-only", action="store_true")
    args = ap.parse_args()
    _isolate()
    ds = build(args.mnist_dir)
    if args.build_only:
        return
    from classlab.compare.store import STORE
    from support.panel import run_panel_method

    new = _load_panel((ROOT / "panels" / "comparison.py").read_text(), "new_comparison_panel")
    old = _old_panel()
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores; other jobs running)")

    def first_render():
        STORE.clear()  # cold: the arrays are read from the database
        return run_panel_method(new, ds, "on_load")

    cold, (state, *_) = _time(first_render, args.repeats)
    assert state.get("ready"), state.get("message")
    warm, _ = _time(lambda: run_panel_method(new, ds, "on_load", state=state), args.repeats)
    old_load, (old_state, *_) = _time(lambda: run_panel_method(old, ds, "on_load"), args.repeats)
    assert old_state.get("ready"), old_state.get("message")
    rows = [("first render (cold)", cold, old_load), ("reopen (warm)", warm, old_load)]
    old_steps = old_interactions(old_state)
    for name, method, st, params in interactions(state):
        times, (after, *_) = _time(
            partial(run_panel_method, new, ds, method, state=st, params=params), args.repeats
        )
        assert after.get("ready") is not False, (name, after.get("message"))
        base = None
        if name in old_steps:
            m, ost, oparams = old_steps[name]
            base, _ = _time(partial(run_panel_method, old, ds, m, state=ost, params=oparams), 1)
        rows.append((name, times, base))
    _report(rows, len(ds), state)


def _report(rows, n, state):
    print(
        f"\n{n:,} samples, {len(FIELDS)} models; compared on the {state['scope']} split "
        f"({state['n_samples']:,}); median of the runs, seconds"
    )
    print(f"{'handler (+ render)':28} {'new':>7} {'old':>7} {'old/new':>8}  target")
    worst = 0.0
    for i, (name, times, base) in enumerate(rows):
        med = statistics.median(times)
        target = FIRST_RENDER_S if i == 0 else INTERACTION_S
        ok = "ok" if med <= target else "OVER"
        if name == SCOPE_ROW:
            target, ok = "-", f"first (a read of 70,000) {times[0]:.2f} s, then kept"
        elif i > 1:
            worst = max(worst, med)
        old_t = f"{statistics.median(base):7.3f}" if base else "      -"
        ratio = f"{statistics.median(base) / med:8.1f}" if base else "       -"
        print(f"{name:28} {med:7.3f} {old_t} {ratio}  <= {target} s {ok}")
    print(f"slowest interaction: {worst:.3f} s (target {INTERACTION_S} s)")


if __name__ == "__main__":
    main()
