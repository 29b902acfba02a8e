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
from classlab.compare.agreement import AGREEMENT
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


def paired_from_agreement(counts: dict[str, int], **kwargs) -> dict[str, Any]:
    """:func:`~classlab.compare.stats.paired_comparison` from an agreement's
    ``counts`` (:func:`classlab.compare.agreement`'s, or ``compare_models``'
    ``agreement["counts"]``): no second read of the view.

    Every statistic of ``paired_comparison`` depends only on how many samples
    each model gets right (``both_right``, ``only_a_right``, ``only_b_right``,
    the rest wrong for both), not on their order, so the "is right" arrays rebuilt
    from the counts give exactly the result on the samples themselves.

    Raises:
        InputError: a category is missing or not a whole number >= 0
        EmptyViewError: the counts hold no sample
    """
    bad = [
        k
        for k in AGREEMENT
        if isinstance(counts.get(k), bool)
        or not isinstance(counts.get(k), (int, np.integer))
        or counts[k] < 0
    ]
    if bad:
        raise InputError(
            f"agreement counts {bad} must be whole numbers >= 0: pass "
            "compare.agreement(...)['counts']"
        )
    both, only_a, only_b = counts["both_right"], counts["only_a_right"], counts["only_b_right"]
    wrong = counts["both_wrong_same"] + counts["both_wrong_diff"]
    if not both + only_a + only_b + wrong:
        raise EmptyViewError("The agreement counts hold no sample: nothing to compare")
    right_a = np.repeat([True, True, False, False], [both, only_a, only_b, wrong])
    right_b = np.repeat([True, False, True, False], [both, only_a, only_b, wrong])
    return paired_comparison(right_a, right_b, **kwargs)


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
