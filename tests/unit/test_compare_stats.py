"""Paired significance: exact McNemar and the paired bootstrap interval."""

import math
import time

import numpy as np
import pytest
from classlab.compare.stats import (
    bootstrap_accuracy_diff,
    describe,
    mcnemar_exact,
    paired_comparison,
    pooled_comparison,
)
from classlab.errors import InputError
from scipy.stats import binomtest


def test_mcnemar_hand_computed_cases():
    # 0 fixed vs 5 broken: p = 2 * 0.5**5
    assert mcnemar_exact(0, 5) == pytest.approx(2 * 0.5**5)
    # 1 vs 4: p = 2 * (C(5,0) + C(5,1)) / 2**5 = 12/32
    assert mcnemar_exact(1, 4) == pytest.approx(12 / 32)
    assert mcnemar_exact(4, 1) == mcnemar_exact(1, 4)
    # 3 vs 3: the test cannot tell them apart
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


@pytest.mark.parametrize("fixed,broken", [(24, 15), (30, 9), (10, 0), (100, 70), (1, 2)])
def test_mcnemar_matches_scipy_and_the_binomial_sum(fixed, broken):
    n, k = fixed + broken, min(fixed, broken)
    by_hand = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert mcnemar_exact(fixed, broken) == pytest.approx(by_hand, rel=1e-9)
    assert mcnemar_exact(fixed, broken) == pytest.approx(binomtest(k, n, 0.5).pvalue)


def test_the_issue_example_is_not_significant():
    # lenet 99.33% -> lenet_v2 99.42% with 24 fixed, 15 broken: p about 0.2
    assert 0.15 < mcnemar_exact(24, 15) < 0.25


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None, True])
def test_mcnemar_rejects_bad_counts(bad):
    with pytest.raises(InputError, match="fixed must be a whole number"):
        mcnemar_exact(bad, 3)


def _pair(n, fixed, broken, wrong_both, seed=0):
    a = np.ones(n, bool)
    b = np.ones(n, bool)
    idx = np.random.default_rng(seed).permutation(n)
    a[idx[:fixed]] = False
    b[idx[fixed : fixed + broken]] = False
    both = idx[fixed + broken : fixed + broken + wrong_both]
    a[both] = b[both] = False
    return a, b


def test_bootstrap_interval_is_seeded_and_matches_an_index_bootstrap():
    a, b = _pair(10_000, fixed=60, broken=20, wrong_both=50)
    lo, hi = bootstrap_accuracy_diff(a, b, seed=7)
    assert (lo, hi) == bootstrap_accuracy_diff(a, b, seed=7)
    assert lo < 0.004 < hi and lo > 0  # true diff 0.4 pt, clearly positive
    # the same distribution as the textbook index bootstrap (slow way), within noise
    rng = np.random.default_rng(1)
    d = b.astype(int) - a.astype(int)
    slow = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(1000)])
    s_lo, s_hi = np.quantile(slow, [0.025, 0.975])
    assert abs(lo - s_lo) < 0.0008 and abs(hi - s_hi) < 0.0008


def test_bootstrap_speed_against_the_index_bootstrap():
    """Not a timed assertion of wall time: a ratio against the naive way, same process."""
    a, b = _pair(10_000, fixed=60, broken=20, wrong_both=50)
    t0 = time.perf_counter()
    bootstrap_accuracy_diff(a, b)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = b.astype(np.int8) - a.astype(np.int8)
    idx = np.random.default_rng(0).integers(0, len(d), (1000, len(d)))
    d[idx].mean(axis=1)
    naive = time.perf_counter() - t0
    assert fast < naive


def test_paired_comparison_and_description():
    a, b = _pair(1000, fixed=30, broken=9, wrong_both=5)
    res = paired_comparison(a, b)
    assert res["fixed"] == 30 and res["broken"] == 9 and res["n"] == 1000
    assert res["diff"] == pytest.approx((30 - 9) / 1000)
    assert res["p_value"] == pytest.approx(binomtest(9, 39, 0.5).pvalue)
    assert res["ci_low"] <= res["diff"] <= res["ci_high"]
    line = describe("lenet", "lenet_v2", res)
    assert line.startswith("lenet_v2 vs lenet: +2.10 pt, 95% CI [")
    assert "McNemar p = " in line and "(significant at 0.05" in line


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(right_a=[True, False], right_b=[True]), "same length"),
        (dict(right_a=[], right_b=[]), "non-empty"),
        (dict(right_a=[0, 2], right_b=[1, 1]), "right_a must hold booleans"),
        (dict(right_a=[1, 1], right_b=[1, 0], resamples=10), "resamples must be"),
        (dict(right_a=[1, 1], right_b=[1, 0], confidence=1.5), "confidence must be"),
        (dict(right_a=[1, 1], right_b=[1, 0], confidence=float("nan")), "confidence must be"),
    ],
)
def test_bootstrap_rejects_bad_input(kwargs, message):
    with pytest.raises(InputError, match=message):
        bootstrap_accuracy_diff(**kwargs)


def test_pooled_with_one_pair_is_the_paired_comparison():
    a, b = _pair(1000, fixed=30, broken=9, wrong_both=5)
    assert pooled_comparison([(a, b)]) == {**paired_comparison(a, b), "repeats": 1}


def test_pooled_sums_mcnemar_and_bootstraps_the_samples():
    pairs = [_pair(5000, 25, 10, 20, seed=s) for s in range(3)]
    res = pooled_comparison(pairs, seed=3)
    assert res["repeats"] == 3 and res["n"] == 5000
    assert (res["fixed"], res["broken"]) == (75, 30)
    assert res["p_value"] == pytest.approx(binomtest(30, 105, 0.5).pvalue)
    assert res["diff"] == pytest.approx((75 - 30) / (3 * 5000))
    assert res == pooled_comparison(pairs, seed=3)  # seeded
    # the cluster bootstrap: resample samples, each with its 3 repeats (slow way)
    d = np.mean([b.astype(int) - a.astype(int) for a, b in pairs], axis=0)
    rng = np.random.default_rng(0)
    slow = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(1000)])
    s_lo, s_hi = np.quantile(slow, [0.025, 0.975])
    assert abs(res["ci_low"] - s_lo) < 0.0006 and abs(res["ci_high"] - s_hi) < 0.0006
    assert res["ci_low"] <= res["diff"] <= res["ci_high"]


def test_pooled_rejects_pairs_on_different_samples():
    with pytest.raises(InputError, match="same non-empty set of samples"):
        pooled_comparison([([1, 0], [1, 1]), ([1, 0, 1], [1, 1, 1])])
    with pytest.raises(InputError, match="at least one"):
        pooled_comparison([])
