"""Paired significance of two (or more) models' predictions on a view.

Reads the labels of every field in one bulk pass
(:func:`classlab.compare.load_predictions`, only the samples where the ground
truth and every field have a label) and hands the per-sample "is right" arrays
to :mod:`classlab.compare.stats`.

Example::

    from classlab.compare.paired import paired_from_view
    from classlab.compare.stats import describe

    test = dataset.match_tags("test")
    res = paired_from_view(test, "lenet", "lenet_v2", "ground_truth")
    print(describe("lenet", "lenet_v2", res))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from classlab import defaults
from classlab.compare.predictions import load_predictions
from classlab.compare.stats import paired_comparison, pooled_comparison
from classlab.errors import EmptyViewError, InputError


def right_from_view(
    view, fields: Sequence[str], gt_field: str = defaults.GROUND_TRUTH
) -> dict[str, np.ndarray]:
    """``{field: boolean array}``: per sample, whether ``field``'s label is the ground
    truth's, on the samples where every field and the ground truth have a label
    (the same samples, in the same order, for every field).

    Raises:
        InputError: a field is not on the dataset
        EmptyViewError: no sample has a label in every field and the ground truth
    """
    fields = list(dict.fromkeys(fields))
    missing = [f for f in [gt_field, *fields] if not view.has_sample_field(f)]
    if missing:
        raise InputError(f"No field {missing} on the samples: choose labelled fields")
    data = load_predictions(view, fields, gt_field)
    if not len(data["gt"]):
        raise EmptyViewError(
            f"No sample has a label in {fields} and in {gt_field!r}: nothing to compare"
        )
    return {f: data["preds"][f] == data["gt"] for f in fields}


def paired_from_view(
    view, field_a: str, field_b: str, gt_field: str = defaults.GROUND_TRUTH, **kwargs
) -> dict[str, Any]:
    """:func:`~classlab.compare.stats.paired_comparison` of ``field_b`` against
    ``field_a`` on the view's samples (those labelled by both and the ground truth).

    Args:
        view: the samples (e.g. the test split)
        field_a, field_b: Classification fields (A: the baseline)
        gt_field: the ground truth
        **kwargs: ``resamples``, ``confidence``, ``seed`` of the bootstrap

    Returns:
        ``paired_comparison``'s dict (``n``, ``accuracy_a``, ``accuracy_b``,
        ``diff``, ``ci_low``, ``ci_high``, ``confidence``, ``fixed``,
        ``broken``, ``p_value``)
    """
    right = right_from_view(view, [field_a, field_b], gt_field)
    return paired_comparison(right[field_a], right[field_b], **kwargs)


def pooled_from_view(
    view,
    pairs: Sequence[tuple[str, str]],
    gt_field: str = defaults.GROUND_TRUTH,
    **kwargs,
) -> dict[str, Any]:
    """:func:`~classlab.compare.stats.pooled_comparison` of repeated pairs of
    fields (``[(a_seed0, b_seed0), (a_seed1, b_seed1), ...]``) on the samples that
    every field labels; see there how McNemar and the interval are pooled."""
    fields = [f for pair in pairs for f in pair]
    right = right_from_view(view, fields, gt_field)
    return pooled_comparison([(right[a], right[b]) for a, b in pairs], **kwargs)
