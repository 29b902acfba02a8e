"""A sharded OOS run without workers: the folds split among shards, each shard's folds
trained and written, then the final step; the result equals an unsharded run."""

from __future__ import annotations

import numpy as np
import pytest
from classlab import records
from classlab.errors import InputError
from classlab.labels.oos import compute_oos_predictions, fold_key
from classlab.labels.oos_shards import (
    check_fold_list,
    compute_oos_folds,
    finish_oos_predictions,
    split_folds,
)

FAST = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "device": "cpu"}
FAST["num_workers"] = 1


def test_split_folds_cover_every_fold_once():
    assert split_folds(5, 2) == [[1, 2, 3], [4, 5]]
    assert split_folds(5, 5) == [[1], [2], [3], [4], [5]]
    assert split_folds(3, 8) == [[1], [2], [3]]  # never an empty shard
    assert split_folds(10, 3) == [[1, 2, 3, 4], [5, 6, 7], [8, 9, 10]]
    assert check_fold_list([3, 1], 3) == [1, 3]
    for bad in ([], [0], [4], [1, 1], ["1"], None):
        with pytest.raises(InputError, match="folds must be distinct fold numbers"):
            check_fold_list(bad, 3)


@pytest.fixture
def twins(mnist_small):
    """Two identical split datasets (240 train / 60 val / 300 test): sharded, unsharded."""
    from classlab.data.splits import split_dataset

    split_dataset(mnist_small.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    other = mnist_small.clone()
    yield mnist_small, other
    other.delete()


def _weights(ds, key):
    from classlab.lenet.registry import load_model

    model, _ = load_model(ds, key)
    return model.state_dict()


def test_shards_then_final_step_equal_an_unsharded_run(twins):
    import torch

    a, b = twins
    whole = compute_oos_predictions(b, num_folds=3, seed=7, config=FAST)

    part = compute_oos_folds(a, [3], num_folds=3, seed=7, config=FAST)
    assert part["folds"] == [fold_key("lenet_oos", 3)]
    assert set(a.exists("lenet_oos").values("lenet_oos.fold")) == {3}  # only its held-out
    with pytest.raises(InputError, match=r"fold model\(s\) \['lenet_oos-fold1'"):
        finish_oos_predictions(a, num_folds=3, seed=7, config=FAST)  # folds 1, 2 missing
    rest = compute_oos_folds(a, [1, 2], num_folds=3, seed=7, config=FAST)
    assert part["num_samples"] + rest["num_samples"] == 300  # train + val, each once
    final = finish_oos_predictions(a, num_folds=3, seed=7, config=FAST)

    # same folds, same fold models (bitwise: same process, same seeds), same predictions
    for k in (1, 2, 3):
        wa, wb = _weights(a, fold_key("lenet_oos", k)), _weights(b, fold_key("lenet_oos", k))
        assert all(torch.equal(wa[n], wb[n]) for n in wb), k
    for path in ("lenet_oos.label", "lenet_oos.fold", "lenet_oos.confidence"):
        assert a.values(path) == b.values(path), path
    za, zb = (np.stack(ds.values("lenet_oos.logits")) for ds in (a, b))
    assert za.shape == (600, 10) and np.array_equal(za, zb)
    assert set(a.match_tags("test").values("lenet_oos.fold")) == {0}  # the ensemble's
    timing = {"seconds", "fold_seconds"}
    same = {k: v for k, v in whole.items() if k not in timing}
    assert {k: v for k, v in final.items() if k not in timing} == same
    assert final["num_others"] == 300 and 0.0 < final["accuracy"] <= 1.0
    recs = [records.get_record(ds, "oos", "lenet_oos") for ds in (a, b)]
    rec_a, rec_b = ({k: v for k, v in r.items() if k not in timing} for r in recs)
    assert rec_a == rec_b and rec_a["folds"] == [fold_key("lenet_oos", k) for k in (1, 2, 3)]
    assert np.isclose(final["accuracy"], whole["accuracy"])


def test_sharded_repeats_equal_an_unsharded_run(twins):
    a, b = twins
    for ds in (a, b):  # and a second pass: the tagged samples are never trained on
        ds.match_tags("train").limit(30).tag_samples("label_issue")
    kw = dict(num_folds=2, repeats=2, seed=7, config=FAST, exclude_tags=["label_issue"])
    whole = compute_oos_predictions(b, **kw)
    assert whole["num_excluded"] == 30
    assert split_folds(4, 2) == [[1, 2], [3, 4]]  # the operator's split of 2 x 2 models
    with pytest.raises(InputError, match="folds must be distinct fold numbers from 1 to 4"):
        compute_oos_folds(a, [5], **kw)
    first = compute_oos_folds(a, [1, 2], **kw)
    assert first["num_samples"] == 0 and not a.has_field("lenet_oos")  # the final step's
    with pytest.raises(InputError, match=r"fold model\(s\) \['lenet_oos-fold3'"):
        finish_oos_predictions(a, **kw)
    compute_oos_folds(a, [3, 4], **kw)
    final = finish_oos_predictions(a, **kw)
    for path in ("lenet_oos.label", "lenet_oos.fold"):
        assert a.values(path) == b.values(path), path
    za, zb = (np.stack(ds.values("lenet_oos.logits")) for ds in (a, b))
    assert za.shape == (600, 10) and np.allclose(za, zb, atol=1e-5)
    timing = {"seconds", "fold_seconds"}
    same = {k: v for k, v in whole.items() if k not in timing}
    assert {k: v for k, v in final.items() if k not in timing} == same
    assert final["repeats"] == 2 and len(final["folds"]) == 4
