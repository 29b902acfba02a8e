"""Seeded, stratified train/val/test splits as sample tags, for any classification dataset."""

from __future__ import annotations

import logging
import math
from typing import Optional

import numpy as np

from classlab import defaults
from classlab.errors import InputError
from classlab.validation import require_classification_field, require_nonempty

logger = logging.getLogger("classlab")


def check_fraction(tag: str, value) -> float:
    """One split's fraction: ``tag`` is a non-empty string and ``value`` is in (0, 1].

    Raises:
        InputError: naming the split and the value
    """
    if not tag or not isinstance(tag, str) or not tag.strip():
        raise InputError(f"Split tag {tag!r} is not valid: name each split with a non-empty tag")
    try:
        v = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not 0.0 < v <= 1.0:  # also refuses NaN
        raise InputError(
            f"The {tag} fraction must be in (0, 1], got {value!r}: give the share of the "
            f"samples to tag {tag!r}, e.g. 0.1"
        )
    return v


def check_fractions(fractions: dict[str, float]) -> dict[str, float]:
    """Checks every fraction (:func:`check_fraction`) and that they sum to at most 1.

    Returns:
        the fractions as floats, in the given order

    Raises:
        InputError: no split, a bad fraction, or a sum above 1
    """
    if not fractions:
        raise InputError(
            "fractions: give at least one split fraction, e.g. {'train': 0.9, 'val': 0.1}"
        )
    out = {tag: check_fraction(tag, frac) for tag, frac in fractions.items()}
    total = sum(out.values())
    if total > 1.0 + 1e-9:
        raise InputError(
            f"Split fractions must sum to at most 1, got {total:g} "
            f"({', '.join(f'{k}={v:g}' for k, v in out.items())}). Lower one of them."
        )
    return out


def check_seed(seed) -> int:
    """``seed`` is an integer from 0 to 2**63 - 1.

    Raises:
        InputError: naming ``seed``
    """
    try:
        ok = not isinstance(seed, bool) and float(seed) == int(seed) and 0 <= int(seed) < 2**63
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise InputError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    return int(seed)


def check_split_tags(view, tags, overwrite: bool = False) -> dict[str, int]:
    """Refuses to re-split samples of ``view`` that already carry one of ``tags``.

    One aggregation (``count_sample_tags``). Returns the counts of those tags.

    Raises:
        InputError: some samples are tagged and ``overwrite`` is False
    """
    existing = {t: c for t, c in view.count_sample_tags().items() if t in set(tags)}
    if existing and not overwrite:
        raise InputError(
            "Some samples of this view already have split tags ("
            + ", ".join(f"{t}: {c}" for t, c in sorted(existing.items()))
            + "). Pass overwrite=True to re-split them, or split only the untagged samples."
        )
    return existing


def _allocate(n: int, fractions: list[float]) -> list[int]:
    """Counts per split for ``n`` items: largest remainder rounding of ``n * f``."""
    raw = np.array(fractions) * n
    counts = np.floor(raw).astype(int)
    budget = min(n, int(round(raw.sum()))) - counts.sum()
    for i in np.argsort(-(raw - counts), kind="stable")[: max(budget, 0)]:
        counts[i] += 1
    return counts.tolist()


def split_assignment(
    labels: list, fractions: dict[str, float], seed: int = defaults.SPLIT_SEED
) -> list[Optional[str]]:
    """The split tag of each item (None for the remainder), stratified by label.

    Each item gets a position in [0, 1): its shuffled rank within its class,
    spread evenly over the interval. Sorting all items by position and cutting
    at the cumulative fractions gives exact overall counts (``round(n * f)``)
    and per-class counts within one of ``class_size * f``.

    Pure function: the same labels, fractions and seed give the same result.
    """
    fractions = check_fractions(fractions)
    n = len(labels)
    rng = np.random.default_rng(seed)
    keys = np.array(["\0none" if x is None else str(x) for x in labels], dtype=object)
    position = np.empty(n)
    for key in sorted(set(keys.tolist())):
        idx = np.flatnonzero(keys == key)
        ranks = rng.permutation(len(idx))
        position[idx] = (ranks + rng.random()) / len(idx)
    order = np.lexsort((rng.random(n), position))
    out: list[Optional[str]] = [None] * n
    bounds = np.round(np.cumsum(list(fractions.values())) * n).astype(int)
    start = 0
    for tag, stop in zip(fractions, bounds):
        for i in order[start:stop]:
            out[i] = tag
        start = stop
    return out


def split_dataset(
    view,
    fractions: Optional[dict[str, float]] = None,
    label_field: str = defaults.GROUND_TRUTH,
    seed: int = defaults.SPLIT_SEED,
    overwrite: bool = False,
) -> dict[str, int]:
    """Tags the samples of ``view`` with split tags, stratified by ``label_field``.

    Args:
        view: the samples to split (a dataset or view)
        fractions: tag -> fraction, each in (0, 1], summing to at most 1; samples
            left over get no split tag. Default ``{"train": 0.9, "val": 0.1}``.
        label_field: the Classification field to stratify by
        seed: the random seed
        overwrite: re-split samples of the view that already carry a split tag
            (``train``/``val``/``test`` or a tag of ``fractions``: all of them are
            removed from the view first). Without it, such samples make the call fail
            and nothing is changed.

    Returns:
        the number of samples given each tag
    """
    if fractions is not None and not isinstance(fractions, dict):
        raise InputError(f"fractions must be a dict of tag -> fraction, got {fractions!r}")
    fractions = check_fractions(dict(defaults.SPLIT_FRACTIONS if fractions is None else fractions))
    seed = check_seed(seed)
    require_nonempty(view)
    require_classification_field(view, label_field, "label_field")
    tags = list(fractions)
    # Every split tag is managed (a test fraction of 0 still clears old ``test`` tags),
    # so that no re-split sample ends with two split tags.
    managed = list(dict.fromkeys([*defaults.SPLIT_TAGS, *tags]))
    existing = check_split_tags(view, managed, overwrite)

    ids, labels = view.values(["id", f"{label_field}.label"])
    assignment = split_assignment(labels, fractions, seed)

    # Work on the dataset by id: untagging may change which samples ``view`` matches.
    dataset = view._dataset
    if existing:
        dataset.select(ids).untag_samples(managed)
    counts = {}
    for tag in tags:
        chosen = [i for i, t in zip(ids, assignment) if t == tag]
        if chosen:
            dataset.select(chosen).tag_samples(tag)
        counts[tag] = len(chosen)
    logger.info("Split %d samples: %s", len(ids), counts)
    return counts
