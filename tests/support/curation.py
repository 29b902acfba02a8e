"""Fake predictions and embeddings for curation tests (no LeNet or CLIP needed)."""

from __future__ import annotations

import numpy as np
from classlab.defaults import MNIST_CLASSES


def add_predictions(dataset, field="lenet", seed=0, accuracy=0.85, logits=True, view=None):
    """A Classification field from random logits that favour the true class for about
    ``accuracy`` of the samples; confidence is the softmax maximum."""
    import fiftyone as fo

    view = view if view is not None else dataset
    rng = np.random.default_rng(seed)
    gt = view.values("ground_truth.label")
    n = len(gt)
    z = rng.normal(size=(n, len(MNIST_CLASSES)))
    truth = np.array([MNIST_CLASSES.index(g) for g in gt])
    boost = rng.random(n) < accuracy
    z[np.arange(n), truth] += np.where(boost, 4.0, 0.0)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = []
    for row, prob in zip(z, p):
        k = int(prob.argmax())
        kw = dict(label=MNIST_CLASSES[k], confidence=float(prob[k]))
        if logits:
            kw["logits"] = row.tolist()
        labels.append(fo.Classification(**kw))
    view.set_values(field, labels)
    return labels


def add_embeddings(dataset, field="clip_embeddings", dim=16, seed=0, view=None):
    """Random embeddings, one array per sample."""
    view = view if view is not None else dataset
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(len(view), dim)).astype(np.float32)
    view.set_values(field, list(emb))
    return emb
