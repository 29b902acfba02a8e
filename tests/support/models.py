"""Synthetic classification models with known answers (for the comparison tests)."""

from __future__ import annotations

import numpy as np

CLASSES = ["cat", "dog", "owl"]


def make_models_dataset(name: str, evaluate: bool = True, filepaths=None):
    """12 samples, ground truth + two models ``model_a`` / ``model_b`` with logits.

    gt:      c c c c d d d d o o o o
    model_a: c c c d d d d o o o c c   -> 8 right
    model_b: c c d d d d o o o o o d   -> 7 right
    agreement: both right 6, only A 2, only B 1, both wrong same 2, different 1
    """
    import fiftyone as fo

    gt = list("ccccddddoooo")
    a = list("cccddddooocc")
    b = list("ccddddoooood")
    full = {"c": "cat", "d": "dog", "o": "owl"}
    ds = fo.Dataset(name, persistent=True)
    conf_a = [0.9, 0.8, 0.7, 0.6, 0.9, 0.8, 0.7, 0.6, 0.9, 0.8, 0.7, 0.6]
    samples = []
    for i in range(12):
        path = filepaths[i] if filepaths else f"/nonexistent/classlab-{i}.png"
        s = fo.Sample(filepath=path)
        s["ground_truth"] = fo.Classification(label=full[gt[i]])
        for field, preds, conf in (("model_a", a, conf_a), ("model_b", b, [0.5] * 12)):
            lg = np.array([-1.0, -1.1, -1.2])  # no ties: top-k is well defined
            lg[CLASSES.index(full[preds[i]])] = 2.0
            lg[(CLASSES.index(full[gt[i]]) + 1) % 3] = 1.0 if i % 2 else -2.0
            s[field] = fo.Classification(label=full[preds[i]], confidence=conf[i], logits=lg)
        samples.append(s)
    ds.add_samples(samples)
    ds.default_classes = CLASSES
    ds.save()
    if evaluate:
        ds.evaluate_classifications("model_a", gt_field="ground_truth", eval_key="eval_a")
        ds.evaluate_classifications("model_b", gt_field="ground_truth", eval_key="eval_b")
    return ds
