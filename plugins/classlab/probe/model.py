"""The linear probe itself: plain arrays in, plain arrays out (no FiftyOne here).

A probe is scikit-learn's ``LogisticRegression`` on standardised embeddings, with
the standardisation folded into the weights, so that applying it is one matrix
product: ``logits = x @ coef.T + intercept`` (``C x D`` and ``C``). Weights are
saved as ``.npz`` (arrays only; read back with ``allow_pickle=False``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classlab.errors import DataSourceError, InputError
from classlab.writers import fault, owner


@dataclass
class Probe:
    """Weights of a fitted probe: ``logits = x @ coef.T + intercept``."""

    coef: np.ndarray  # C x D, float32
    intercept: np.ndarray  # C, float32
    classes: list[str]
    C: float = 1.0
    grid: list[dict] = field(default_factory=list)  # one row per C tried
    train_seconds: float = 0.0

    @property
    def num_params(self) -> int:
        return int(self.coef.size + self.intercept.size)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``N x C`` float32 logits of ``N x D`` embeddings."""
        return (np.asarray(x, dtype=np.float32) @ self.coef.T + self.intercept).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices (into :attr:`classes`)."""
        return self.logits(x).argmax(axis=1)


def check_c_grid(c_grid) -> list[float]:
    """Checks the C values (positive, finite, at least one); returns them as floats."""
    try:
        values = [float(c) for c in ([c_grid] if np.isscalar(c_grid) else list(c_grid))]
    except (TypeError, ValueError):
        values = []
    if not values or not all(np.isfinite(c) and c > 0 for c in values):
        raise InputError(
            f"c_grid must be one or more positive numbers (e.g. [0.1, 1, 10]), got {c_grid!r}"
        )
    return values


def _folded(clf, mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's weights on raw embeddings (standardisation folded in); a binary
    classifier's one row becomes two logits ``[-z/2, z/2]`` (softmax = sigmoid(z))."""
    w = clf.coef_ / scale
    b = clf.intercept_ - (w * mean).sum(axis=1)
    if w.shape[0] == 1:
        w, b = np.vstack([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
    return w.astype(np.float32), b.astype(np.float32)


def fit_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    classes: list[str],
    c_grid=(1.0,),
    max_iter: int = 1000,
) -> Probe:
    """Fits one logistic regression per C on train, keeps the best on val (ties: the
    smaller C, the stronger regularisation).

    Args:
        x_train, x_val: ``N x D`` float embeddings
        y_train, y_val: class indices into ``classes``
        classes: the class names (every index of ``y_train`` must occur)
        c_grid: the C values to try
        max_iter: the solver's iteration limit
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    x_train = np.asarray(x_train, dtype=np.float64)
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale[scale < 1e-12] = 1.0
    z_train, z_val = (x_train - mean) / scale, (np.asarray(x_val, np.float64) - mean) / scale
    best, grid = None, []
    for c in sorted(check_c_grid(c_grid)):
        clf = LogisticRegression(C=c, max_iter=int(max_iter))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(z_train, y_train)
        row = {
            "C": c,
            "train_acc": float((clf.predict(z_train) == y_train).mean()),
            "val_acc": float((clf.predict(z_val) == y_val).mean()),
            "iterations": int(np.max(clf.n_iter_)),
        }
        grid.append(row)
        if best is None or row["val_acc"] > best[0]["val_acc"]:
            best = (row, clf)
    coef, intercept = _folded(best[1], mean, scale)
    seconds = time.perf_counter() - start
    return Probe(coef, intercept, list(classes), best[0]["C"], grid, seconds)


def save_probe(path: str | Path, probe: Probe) -> Path:
    """Writes the weights as ``.npz`` atomically (a temp file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}~{owner()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                coef=probe.coef,
                intercept=probe.intercept,
                classes=np.array(probe.classes, dtype=str),
                C=np.float64(probe.C),
            )
            f.flush()
            os.fsync(f.fileno())
        fault("probe_after_tmp_write")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_probe(path: str | Path, classes: list[str] | None = None, run_key: str = "") -> Probe:
    """Reads weights written by :func:`save_probe` (never unpickles anything).

    Raises:
        DataSourceError: the file is missing, unreadable, or holds other classes
    """
    path = Path(path or "")
    if not path.is_file():
        raise DataSourceError(
            f"The weights of linear probe {run_key!r} are missing ({path}): train it again, "
            "or delete its record with delete_linear_probe."
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            probe = Probe(z["coef"], z["intercept"], [str(c) for c in z["classes"]], float(z["C"]))
    except (OSError, ValueError, KeyError) as e:
        raise DataSourceError(
            f"The weights {path} of linear probe {run_key!r} are unreadable ({e}): train it again."
        ) from None
    if classes is not None and probe.classes != list(classes):
        raise DataSourceError(
            f"The weights {path} hold classes {probe.classes} but linear probe {run_key!r} was "
            f"recorded with {list(classes)}: the file was replaced. Train it again."
        )
    return probe
