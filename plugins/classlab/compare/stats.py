"""Is model B's gain over model A real? Paired statistics on the same samples.

- :func:`mcnemar_exact`: the exact McNemar test on the discordant pairs
  (``fixed``: B right where A was wrong; ``broken``: the reverse). Under "no
  difference" each discordant sample is a fair coin, so the two-sided p-value
  is the binomial test of ``min(fixed, broken)`` successes in ``fixed + broken``
  trials at 0.5 (scipy's ``binomtest``).
- :func:`bootstrap_accuracy_diff`: a seeded paired bootstrap interval of
  ``accuracy(B) - accuracy(A)``. Per sample the paired difference is -1, 0 or
  +1, so resampling ``n`` samples with replacement is exactly a multinomial
  draw of how many -1s and +1s a resample holds: 1,000 resamples cost 1,000
  multinomial draws, whatever ``n`` is (no ``resamples x n`` index matrix).
- :func:`paired_comparison`: both, from two boolean "is right" arrays.
- :func:`pooled_comparison`: both, pooled over repeated (seeded) pairs of runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from classlab.errors import InputError

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95
SEED = 51


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{name} must be a whole number of samples >= 0, got {value!r}")
    return int(value)


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value for ``fixed`` vs ``broken`` discordant samples.

    Returns 1.0 when there is no discordant sample (nothing to tell apart).
    """
    from scipy.stats import binomtest

    fixed, broken = _count(fixed, "fixed"), _count(broken, "broken")
    n = fixed + broken
    if n == 0:
        return 1.0
    return float(min(1.0, binomtest(min(fixed, broken), n, 0.5).pvalue))


def _right(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of booleans (one per sample)")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise InputError(f"{name} must hold booleans (True: the model is right)")
        arr = arr.astype(bool)
    return arr


def _check_bootstrap(resamples: Any, confidence: Any) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)):
        raise InputError(f"resamples must be a whole number >= 100, got {resamples!r}")
    if resamples < 100:
        raise InputError(f"resamples must be a whole number >= 100, got {resamples!r}")
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise InputError(f"confidence must be a number between 0 and 1, got {confidence!r}")


def bootstrap_accuracy_diff(
    right_a: Any,
    right_b: Any,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> tuple[float, float]:
    """A paired bootstrap interval of ``accuracy(B) - accuracy(A)`` (fractions).

    Args:
        right_a, right_b: per sample, whether A (B) is right, on the same samples
        resamples: how many bootstrap resamples (>= 100)
        confidence: the interval's coverage, in (0, 1)
        seed: the generator's seed (same inputs and seed: same interval)

    Returns:
        ``(low, high)``: the percentile interval
    """
    a, b = _right(right_a, "right_a"), _right(right_b, "right_b")
    if len(a) != len(b) or not len(a):
        raise InputError("right_a and right_b must be non-empty and of the same length")
    _check_bootstrap(resamples, confidence)
    n = len(a)
    fixed, broken = int((b & ~a).sum()), int((a & ~b).sum())
    probs = np.array([fixed, broken, n - fixed - broken], dtype=float) / n
    draws = np.random.default_rng(seed).multinomial(n, probs, size=int(resamples))
    diffs = (draws[:, 0] - draws[:, 1]) / n
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    return float(low), float(high)


def paired_comparison(
    right_a: Any,
    right_b: Any,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> dict[str, Any]:
    """Accuracy of A and B on the same samples, their difference with a bootstrap
    interval, and the exact McNemar p-value.

    Returns:
        ``{"n", "accuracy_a", "accuracy_b", "diff", "ci_low", "ci_high",
        "confidence", "fixed", "broken", "p_value"}`` (accuracies as fractions)
    """
    a, b = _right(right_a, "right_a"), _right(right_b, "right_b")
    low, high = bootstrap_accuracy_diff(a, b, resamples, confidence, seed)
    fixed, broken = int((b & ~a).sum()), int((a & ~b).sum())
    return {
        "n": len(a),
        "accuracy_a": float(a.mean()),
        "accuracy_b": float(b.mean()),
        "diff": float(b.mean() - a.mean()),
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "fixed": fixed,
        "broken": broken,
        "p_value": mcnemar_exact(fixed, broken),
    }


def describe(name_a: str, name_b: str, result: dict[str, Any]) -> str:
    """One line: ``B vs A: +0.09 pt, 95% CI [-0.02, +0.20] pt, McNemar p = 0.21``."""
    pct = round(100 * result["confidence"])
    p = result["p_value"]
    p_text = f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"
    sig = "significant" if p < 0.05 else "not significant"
    return (
        f"{name_b} vs {name_a}: {100 * result['diff']:+.2f} pt, {pct}% CI "
        f"[{100 * result['ci_low']:+.2f}, {100 * result['ci_high']:+.2f}] pt, "
        f"McNemar p = {p_text} ({sig} at 0.05; fixed {result['fixed']}, "
        f"broken {result['broken']})"
    )


def _pairs(pairs: Any) -> tuple[np.ndarray, np.ndarray]:
    """``repeats x n`` boolean matrices of A's and B's "is right", from the pairs."""
    pairs = list(pairs)
    if not pairs:
        raise InputError("pairs must hold at least one (right_a, right_b) pair")
    a = [_right(ra, "right_a") for ra, _ in pairs]
    b = [_right(rb, "right_b") for _, rb in pairs]
    n = len(a[0])
    if not n or any(len(x) != n for x in a + b):
        raise InputError(
            "every (right_a, right_b) pair must hold the same non-empty set of samples"
        )
    return np.stack(a), np.stack(b)


def pooled_comparison(
    pairs: Any,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> dict[str, Any]:
    """:func:`paired_comparison` pooled over repeats: several (A, B) pairs of runs
    (e.g. seeds ``s, s+1, ...`` of both models) on the SAME samples.

    - accuracies and their difference: the means over the pairs;
    - McNemar: the exact test on ``fixed`` and ``broken`` SUMMED over the pairs
      (it treats every discordant (sample, repeat) as independent; the repeats
      share the test samples, so with several repeats this p-value is optimistic);
    - the bootstrap interval resamples the TEST SAMPLES (a cluster bootstrap):
      each resampled sample brings all its repeats, so the sharing is accounted
      for. Per sample the summed difference over ``R`` repeats is an integer in
      ``[-R, R]``, so a resample is again one multinomial draw (no index matrix).

    With one pair the result equals :func:`paired_comparison`'s.

    Args:
        pairs: ``[(right_a, right_b), ...]``, each as in :func:`paired_comparison`

    Returns:
        :func:`paired_comparison`'s keys (``fixed``/``broken`` summed) plus
        ``"repeats"``
    """
    a, b = _pairs(pairs)
    repeats, n = a.shape
    if repeats == 1:
        return {**paired_comparison(a[0], b[0], resamples, confidence, seed), "repeats": 1}
    _check_bootstrap(resamples, confidence)
    per_sample = (b.astype(int) - a.astype(int)).sum(axis=0) + repeats  # 0 .. 2R
    probs = np.bincount(per_sample, minlength=2 * repeats + 1) / n
    draws = np.random.default_rng(seed).multinomial(n, probs, size=int(resamples))
    diffs = draws @ (np.arange(2 * repeats + 1) - repeats) / (n * repeats)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    fixed, broken = int((b & ~a).sum()), int((a & ~b).sum())
    return {
        "n": n,
        "accuracy_a": float(a.mean()),
        "accuracy_b": float(b.mean()),
        "diff": float(b.mean() - a.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "confidence": confidence,
        "fixed": fixed,
        "broken": broken,
        "p_value": mcnemar_exact(fixed, broken),
        "repeats": repeats,
    }
