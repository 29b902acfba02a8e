"""compute_oos_predictions: stratified seeded folds, each sample predicted by the fold
model that did not see it, calibrated logits, fold models in the registry, checks."""

from __future__ import annotations

import numpy as np
import pytest
from classlab import records
from classlab.errors import EmptyViewError, FieldError, InputError, RunExistsError
from classlab.labels import compute_oos_predictions
from classlab.labels.oos import fold_key, inner_split, make_folds

FAST = {"epochs": 1, "batch_size": 64, "architecture": "lenet5", "device": "cpu"}


def test_folds_are_stratified_seeded_and_disjoint():
    y = np.repeat(np.arange(4), [40, 30, 20, 10])
    folds = make_folds(y, 5, seed=3)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests.tolist()) == list(range(len(y)))  # each sample tested exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        assert np.bincount(y[test], minlength=4).tolist() == [8, 6, 4, 2]
    again = make_folds(y, 5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not np.array_equal(make_folds(y, 5, seed=4)[0][1], folds[0][1])
    fit, val = inner_split(folds[0][0], y, seed=1)
    assert len(val) == 8 and not set(fit) & set(val) and set(fit) | set(val) == set(folds[0][0])


@pytest.fixture
def split_small(mnist_small):
    from classlab.data.splits import split_dataset

    split_dataset(mnist_small.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    return mnist_small


def test_each_sample_is_predicted_by_the_model_that_did_not_see_it(split_small):
    import torch
    from classlab.labels.calibration import softmax
    from classlab.lenet.data import view_tensors
    from classlab.lenet.registry import list_models, load_model
    from classlab.lenet.train import predict

    ds = split_small
    seen = []
    res = compute_oos_predictions(
        ds, num_folds=3, config=FAST, progress=lambda f, label: seen.append(label)
    )
    assert res["num_samples"] == 300 and res["num_others"] == 300  # train+val; test
    assert (
        res["folds"]
        == [fold_key("lenet_oos", k) for k in (1, 2, 3)]
        == ["lenet_oos-fold1", "lenet_oos-fold2", "lenet_oos-fold3"]
    )
    assert all(any(f"fold {k}/3" in (s or "") for s in seen) for k in (1, 2, 3))
    cv = ds.match_tags(["train", "val"])
    folds = cv.values("lenet_oos.fold")
    assert sorted(set(folds)) == [1, 2, 3] and set(
        ds.match_tags("test").values("lenet_oos.fold")
    ) == {0}
    assert ds.count("lenet_oos.logits") == 600
    models = list_models(ds)
    rec = records.get_record(ds, "oos", "lenet_oos")
    assert rec["folds"] == res["folds"] and len(rec["temperatures"]) == 3
    for k in (1, 2, 3):
        m = models[fold_key("lenet_oos", k)]
        assert m["oos_run"] == "lenet_oos" and m["fold"] == k and m["applied_to"] == ["lenet_oos"]
        assert m["num_train"] + m["num_val"] + folds.count(k) == 300  # it never saw fold k
        model, _ = load_model(ds, fold_key("lenet_oos", k))
        part = cv.match({"lenet_oos.fold": k})
        _, x, _ = view_tensors(part, None, None, 1, 28)
        z = predict(model, x, amp=False).numpy() / m["temperature"]
        stored = np.array(part.values("lenet_oos.logits"))
        assert np.allclose(z, stored, atol=1e-4)
        conf = np.array(part.values("lenet_oos.confidence"))
        assert np.allclose(softmax(z).max(1), conf, atol=1e-4)
    assert torch.is_tensor(x)
    with pytest.raises(RunExistsError):
        compute_oos_predictions(ds, num_folds=3, config=FAST)
    res2 = compute_oos_predictions(ds, num_folds=2, config=FAST, overwrite=True)
    assert res2["folds"] == ["lenet_oos-fold1", "lenet_oos-fold2"]
    assert "lenet_oos-fold3" not in list_models(ds)


def test_oos_checks_run_before_any_write(split_small, unchanged):
    ds = split_small
    cases = [
        (dict(num_folds=1), InputError, "num_folds"),
        (dict(run_key="a/b"), InputError, "run_key"),
        (dict(pred_field="ground_truth"), FieldError, "ground truth"),
        (dict(pred_field="tags"), FieldError, "built-in"),
        (dict(tags=["nope"]), EmptyViewError, "No labelled sample"),
        (dict(label_field="nope"), FieldError, "label_field"),
        (dict(config={"epochs": 0}), InputError, "epochs"),
        (dict(num_folds=200), InputError, "num_folds"),
        (dict(repeats=0), InputError, "repeats must be an integer from 1 to 10"),
        (dict(repeats=11), InputError, "repeats"),
        (dict(repeats=1.5), InputError, "repeats"),
        (dict(repeats=True), InputError, "repeats"),
        (dict(repeats="2"), InputError, "repeats"),
        (dict(exclude_tags="label_issue"), InputError, "exclude_tags must be a list"),
        (dict(exclude_tags=[""]), InputError, "exclude_tags"),
        (dict(exclude_tags=["train", "val"]), InputError, "exclude_tags=.* leaves 0 class"),
    ]
    with unchanged(ds):
        for kwargs, exc, match in cases:
            with pytest.raises(exc, match=match):
                compute_oos_predictions(ds, **{"config": FAST, **kwargs})


def test_repeats_average_each_samples_held_out_models_and_keep_repeat_one(split_small):
    import torch
    from classlab.labels.calibration import log_mean_probs, softmax
    from classlab.labels.oos import repeat_seed
    from classlab.lenet.data import view_tensors
    from classlab.lenet.registry import list_models, load_model
    from classlab.lenet.train import predict

    ds = split_small
    res = compute_oos_predictions(ds, num_folds=3, repeats=2, seed=5, config=FAST)
    assert res["folds"] == [fold_key("lenet_oos", u) for u in range(1, 7)]
    assert res["repeats"] == 2 and records.get_record(ds, "oos", "lenet_oos")["repeats"] == 2
    models = list_models(ds)
    assert [models[k]["repeat"] for k in res["folds"]] == [1, 1, 1, 2, 2, 2]
    cv = ds.match_tags(["train", "val"])
    ids, x, y = view_tensors(cv, "ground_truth", res["classes"], 1, 28)
    # each repeat's folds: that repeat's seeded split, every sample held out once
    per_repeat = []
    for r in range(2):
        z = np.full((len(ids), 10), np.nan)
        for k, (_, test) in enumerate(make_folds(y.numpy(), 3, repeat_seed(5, r)), 1):
            key = fold_key("lenet_oos", r * 3 + k)
            m = models[key]
            assert m["num_train"] + m["num_val"] + len(test) == 300  # never saw its test
            model, _ = load_model(ds, key)
            z[test] = predict(model, x[torch.as_tensor(test)], amp=False).numpy()
            z[test] /= m["temperature"]
        assert not np.isnan(z).any()
        per_repeat.append(z)
    assert not np.allclose(per_repeat[0], per_repeat[1], atol=1e-3)  # two ensembles
    stored = np.array(cv.select(ids, ordered=True).values("lenet_oos.logits"))
    want = softmax(log_mean_probs([softmax(z) for z in per_repeat]))
    assert np.allclose(softmax(stored), want, atol=1e-4)
    assert set(cv.values("lenet_oos.fold")) == {1, 2, 3}  # repeat 1's fold
    # repeat 1 is the plain run: same folds, bitwise the same models
    one = compute_oos_predictions(
        ds, run_key="one", pred_field="one", num_folds=3, seed=5, config=FAST
    )
    assert one["repeats"] == 1 and len(one["folds"]) == 3
    for k in (1, 2, 3):
        a, _ = load_model(ds, fold_key("one", k))
        b, _ = load_model(ds, fold_key("lenet_oos", k))
        wa, wb = a.state_dict(), b.state_dict()
        assert all(torch.equal(wa[n], wb[n]) for n in wa)
    c, _ = load_model(ds, fold_key("lenet_oos", 4))
    assert not all(torch.equal(c.state_dict()[n], wa[n]) for n in wa)
    # a rerun with fewer repeats removes the surplus fold models
    compute_oos_predictions(ds, num_folds=3, seed=5, config=FAST, overwrite=True)
    assert not any(fold_key("lenet_oos", u) in list_models(ds) for u in (4, 5, 6))


def test_exclude_tags_are_predicted_but_never_trained_on(split_small):
    from classlab.lenet.registry import list_models

    ds = split_small
    cv = ds.match_tags(["train", "val"])
    out = cv.take(40, seed=2)
    out.tag_samples("label_issue")
    res = compute_oos_predictions(ds, num_folds=3, config=FAST, exclude_tags=["label_issue"])
    assert res["num_excluded"] == 40 and res["exclude_tags"] == ["label_issue"]
    assert res["num_samples"] == 300 and ds.count("lenet_oos") == 600  # all predicted
    assert set(out.values("lenet_oos.fold")) <= {1, 2, 3} and None not in out.values("lenet_oos")
    models = list_models(ds)
    folds = np.array(cv.values("lenet_oos.fold"))
    tagged = np.array(["label_issue" in t for t in cv.values("tags")])
    for k in (1, 2, 3):
        m = models[fold_key("lenet_oos", k)]
        # trained on the other folds' samples minus the tagged ones there
        assert m["num_train"] + m["num_val"] == int(((folds != k) & ~tagged).sum())
    plain = compute_oos_predictions(
        ds, run_key="plain", pred_field="plain", num_folds=3, config=FAST
    )
    assert plain["num_excluded"] == 0
    assert (
        models[fold_key("lenet_oos", 1)]["num_train"]
        < list_models(ds)[fold_key("plain", 1)]["num_train"]
    )
