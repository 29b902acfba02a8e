"""Synthetic label noise on real MNIST digits: K-fold out-of-sample LeNet-5 predictions
plus cleanlab must find most of the flipped labels, and few others (a threshold that
fails when the OOS predictions or the calibration go wrong)."""

from __future__ import annotations

import numpy as np
import pytest
from classlab import defaults

FAST = {"epochs": 6, "batch_size": 32, "device": "cpu", "augment": False, "patience": 0}
# confusable flips (issue 15): each digit to its most confusable class
CONFUSE = {0: 6, 1: 7, 2: 7, 3: 5, 4: 9, 5: 3, 6: 0, 7: 1, 8: 3, 9: 4}


def flip_labels(dataset, fraction: float, seed: int, view=None) -> list[str]:
    """Flips a seeded ``fraction`` of ``view``'s ground truth to the confusable class;
    returns the flipped ids."""
    import fiftyone as fo

    view = view if view is not None else dataset
    ids, labels = view.values(["id", "ground_truth.label"])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(ids), size=int(round(fraction * len(ids))), replace=False)
    values = {}
    for i in chosen:
        k = defaults.MNIST_CLASSES.index(labels[i])
        values[ids[i]] = fo.Classification(label=defaults.MNIST_CLASSES[CONFUSE[k]])
    dataset.set_values("ground_truth", values, key_field="id")
    return [ids[i] for i in chosen]


@pytest.fixture(scope="module")
def noisy(mnist_dir):
    """600 MNIST training digits (all cross-validated), 5% of them flipped."""
    from classlab.data.mnist import load_mnist

    ds = load_mnist(mnist_dir, dataset_name="classlab-test-noise", limit_per_split=600)
    ds.delete_samples(ds.match_tags("test"))  # keep the 600 training digits
    flipped = flip_labels(ds, 0.05, seed=3)
    yield ds, set(flipped)
    ds.delete()


def test_oos_and_cleanlab_find_synthetic_flips(noisy):
    from classlab.labels import compute_oos_predictions, find_label_issues

    ds, flipped = noisy
    res = compute_oos_predictions(ds, tags=[], num_folds=3, config=FAST, seed=1)
    assert res["num_samples"] == 600 and res["num_others"] == 0
    out = find_label_issues(ds, "lenet_oos")
    found = set(ds.match_tags("label_issue").values("id"))
    assert out["num_flagged"] == len(found)
    tp = len(found & flipped)
    precision, recall = tp / max(len(found), 1), tp / len(flipped)
    ranked = ds.sort_by("label_quality").limit(len(flipped)).values("id")
    top_recall = len(set(ranked) & flipped) / len(flipped)
    print(
        f"flagged {len(found)}, precision {precision:.3f}, recall {recall:.3f}, "
        f"top-N recall {top_recall:.3f}, oos acc {res['accuracy']:.3f}, T {res['temperatures']}"
    )
    assert recall >= 0.8, f"recall {recall:.3f}"
    assert precision >= 0.5, f"precision {precision:.3f}"
    assert top_recall >= 0.7
