"""Softmax and temperature scaling (numpy + scipy): calibrated probabilities from logits.

Confident learning compares each sample's predicted probability of a class with that
class's threshold (the mean self-confidence of the samples labelled with it). Label
smoothing caps every probability and an over-confident network pushes them all to 1;
either way the thresholds stop separating the wrong labels. Temperature scaling (one
scalar ``T``, fitted by minimising the negative log-likelihood on held-out samples,
Guo et al. 2017) fixes the scale without changing any prediction.
"""

from __future__ import annotations

import numpy as np

T_BOUNDS = (0.05, 20.0)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / T)``."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in ``T_BOUNDS`` that minimises :func:`nll` (1.0 for no samples)."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 1.0
    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    res = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t))),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(np.exp(res.x))


def log_mean_probs(prob_list: list[np.ndarray]) -> np.ndarray:
    """Logits whose softmax is the mean of ``prob_list`` (an ensemble, as logits)."""
    p = np.mean(np.stack(prob_list), axis=0)
    return np.log(np.clip(p, 1e-12, None)).astype(np.float32)
