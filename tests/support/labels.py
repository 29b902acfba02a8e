"""Known label noise for the label-issue tests (import as ``support.labels``)."""

from __future__ import annotations

import numpy as np
from classlab.defaults import MNIST_CLASSES
from classlab.labels.calibration import softmax


def noisy_logits(ds, field="model", flip=0.05, seed=0, scale=8.0, smoothing=0.0):
    """Flips a seeded share of the labels; writes logits of a model that knows the TRUE
    class (``smoothing``: probabilities capped as label smoothing does). Returns the
    flipped ids and the true classes."""
    import fiftyone as fo

    rng = np.random.default_rng(seed)
    ids, gt = ds.values(["id", "ground_truth.label"])
    truth = np.array([MNIST_CLASSES.index(g) for g in gt])
    n, k = len(ids), len(MNIST_CLASSES)
    flipped = rng.choice(n, size=int(flip * n), replace=False)
    given = truth.copy()
    given[flipped] = (truth[flipped] + rng.integers(1, k, len(flipped))) % k
    z = rng.normal(size=(n, k))
    z[np.arange(n), truth] += scale
    if smoothing:  # the probabilities a label-smoothed network converges to, and logits of them
        p = softmax(z * 4)
        p = (1 - smoothing) * p + smoothing / k
        z = np.log(p)
    ds.set_values(
        "ground_truth",
        {i: fo.Classification(label=MNIST_CLASSES[g]) for i, g in zip(ids, given)},
        key_field="id",
    )
    preds = {
        i: fo.Classification(label=MNIST_CLASSES[int(r.argmax())], logits=r.tolist())
        for i, r in zip(ids, z)
    }
    ds.set_values(field, preds, key_field="id")
    return {ids[j] for j in flipped}, truth
