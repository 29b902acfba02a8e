"""Classification metrics over integer-coded labels, vectorised with numpy."""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def encode(gt: np.ndarray, preds: dict[str, np.ndarray], classes: list | None = None):
    """Class list and integer codes (-1: not in the list) for ground truth and predictions.

    Vectorised by hashing (``pandas.factorize``): a lookup per distinct label, not
    per sample."""
    import pandas as pd

    arrays = [gt, *preds.values()]
    if classes is None:
        seen = set()
        for arr in arrays:
            seen.update(pd.unique(np.asarray(arr, dtype=object)))
        classes = sorted(c for c in seen if isinstance(c, str))
    classes = [c for c in classes if c != ""]
    lookup = {c: i for i, c in enumerate(classes)}

    def codes(arr):
        idx, uniq = pd.factorize(np.asarray(arr, dtype=object))
        lut = np.array([lookup.get(u, -1) for u in uniq] + [-1], dtype=np.int64)
        return lut[idx]  # factorize's -1 (missing) picks the trailing -1

    return classes, codes(gt), {f: codes(p) for f, p in preds.items()}


def confusion(gt_idx: np.ndarray, pred_idx: np.ndarray, k: int) -> np.ndarray:
    """``k x k`` confusion counts, rows = ground truth, columns = prediction."""
    ok = (gt_idx >= 0) & (pred_idx >= 0)
    flat = np.bincount(gt_idx[ok] * k + pred_idx[ok], minlength=k * k)
    return flat.reshape(k, k)


def per_class_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(float)
    pred_n, true_n = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred_n > 0, tp / pred_n, 0.0)
        recall = np.where(true_n > 0, tp / true_n, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": true_n}


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS):
    """ECE over equal-width confidence bins; None when no confidences exist."""
    ok = ~np.isnan(conf)
    if not ok.any():
        return None
    conf, correct = np.clip(conf[ok], 0.0, 1.0), correct[ok].astype(float)
    b = np.minimum((conf * bins).astype(int), bins - 1)
    acc = np.bincount(b, weights=correct, minlength=bins)
    cs = np.bincount(b, weights=conf, minlength=bins)
    return float(np.abs(acc - cs).sum() / len(conf))


def top_k_accuracy(logits: np.ndarray, gt_idx: np.ndarray, k: int) -> float | None:
    """Share of samples whose true class is among the ``k`` highest logits."""
    if logits.ndim != 2 or logits.shape[1] <= k or len(gt_idx) == 0:
        return None
    rows = ~np.isnan(logits).any(axis=1) & (gt_idx >= 0)
    if not rows.any():
        return None
    top = np.argpartition(-logits[rows], k - 1, axis=1)[:, :k]
    return float((top == gt_idx[rows, None]).any(axis=1).mean())


def agreement_masks(gt, pred_a, pred_b) -> dict[str, np.ndarray]:
    """Boolean masks of the five agreement categories between models A and B."""
    ra, rb = pred_a == gt, pred_b == gt
    wrong = ~ra & ~rb
    return {
        "both_right": ra & rb,
        "only_a_right": ra & ~rb,
        "only_b_right": ~ra & rb,
        "both_wrong_same": wrong & (pred_a == pred_b),
        "both_wrong_diff": wrong & (pred_a != pred_b),
    }
