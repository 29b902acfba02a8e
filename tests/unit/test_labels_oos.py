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


def _assert_trained_without_tagged(cv, models, num_folds, tag="label_issue"):
    """Each fold model of ``lenet_oos`` trained (and validated) on the other folds'
    samples minus the ones tagged ``tag`` there."""
    folds = np.array(cv.values("lenet_oos.fold"))
    tagged = np.array([tag in t for t in cv.values("tags")])
    for k in range(1, num_folds + 1):
        m = models[fold_key("lenet_oos", k)]
        assert m["num_train"] + m["num_val"] == int(((folds != k) & ~tagged).sum())


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
    _assert_trained_without_tagged(cv, models, 3)
    plain = compute_oos_predictions(
        ds, run_key="plain", pred_field="plain", num_folds=3, config=FAST
    )
    assert plain["num_excluded"] == 0
    assert (
        models[fold_key("lenet_oos", 1)]["num_train"]
        < list_models(ds)[fold_key("plain", 1)]["num_train"]
    )


def test_epoch_logits_keep_every_epoch_and_the_best_is_what_is_stored():
    """``OosPlan.epoch_logits`` (the label-noise benchmark's ``--epoch-logits``): every
    epoch's held-out logits, each calibrated on the fold's validation slice; the epoch
    the fold restores (lowest val loss) gives exactly the stored logits."""
    import torch
    from classlab.labels.oos import OosPlan, cross_validate, oos_config

    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(3), 40)
    x = rng.integers(0, 60, size=(len(y), 1, 28, 28), dtype=np.uint8)
    for c in range(3):  # a learnable bright square per class
        x[y == c, 0, 4 + 7 * c : 10 + 7 * c, 4:10] = 250
    cfg = oos_config({**FAST, "epochs": 3, "patience": 0, "augment": False})
    cfg.in_channels = 1
    plan = OosPlan(None, None, ["a", "b", "c"], 3, cfg, "cpu", [])
    plan.epoch_logits = True
    xt, yt = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.long)
    logits, _, folds = cross_validate(xt, yt, plan, 0)
    for f in folds:
        assert f.epoch_logits.shape == (3, len(f.test_idx), 3)
        best = f.epoch_logits[f.fit.best_epoch - 1]
        np.testing.assert_allclose(best, f.logits, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(logits[f.test_idx], f.logits)
    assert any(not np.allclose(f.epoch_logits[0], f.epoch_logits[-1]) for f in folds)
    plan.epoch_logits = False
    assert all(f.epoch_logits is None for f in cross_validate(xt, yt, plan, 0)[2])


def test_epoch_ensemble_stores_the_mean_over_epochs_up_to_the_kept_one():
    """``epoch_ensemble``: each held-out sample's logits are the log of its calibrated
    probabilities averaged over epochs 1..kept (lowest validation loss), computed from
    the same epochs that ``epoch_logits`` keeps; the fold model stays the kept epoch's."""
    import torch
    from classlab.labels.calibration import softmax
    from classlab.labels.oos import OosPlan, cross_validate, oos_config

    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(3), 40)
    x = rng.integers(0, 60, size=(len(y), 1, 28, 28), dtype=np.uint8)
    for c in range(3):
        x[y == c, 0, 4 + 7 * c : 10 + 7 * c, 4:10] = 250
    x[::7] = rng.integers(0, 255, size=x[::7].shape, dtype=np.uint8)  # some noise images
    cfg = oos_config({**FAST, "epochs": 4, "patience": 0, "augment": False})
    cfg.in_channels = 1
    plan = OosPlan(None, None, ["a", "b", "c"], 3, cfg, "cpu", [])
    plan.epoch_logits = plan.epoch_ensemble = True
    xt, yt = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.long)
    logits, _, folds = cross_validate(xt, yt, plan, 0)
    for f in folds:
        kept = f.fit.best_epoch
        want = np.mean([softmax(z) for z in f.epoch_logits[:kept]], axis=0)
        np.testing.assert_allclose(softmax(f.logits), want, atol=1e-6)
        np.testing.assert_allclose(logits[f.test_idx], f.logits)
    plan.epoch_ensemble = False
    plain = cross_validate(xt, yt, plan, 0)[0]
    assert not np.allclose(plain, logits, atol=1e-4)  # a mean of several epochs, not one


def test_epoch_ensemble_is_recorded_and_checked(split_small, unchanged):
    ds = split_small
    with unchanged(ds), pytest.raises(InputError, match="epoch_ensemble must be true or false"):
        compute_oos_predictions(ds, num_folds=3, config=FAST, epoch_ensemble="yes")
    res = compute_oos_predictions(
        ds, num_folds=3, seed=5, config={**FAST, "epochs": 2}, epoch_ensemble=True
    )
    assert res["epoch_ensemble"] is True
    assert records.get_record(ds, "oos", "lenet_oos")["epoch_ensemble"] is True
    assert ds.count("lenet_oos.logits") == len(ds)


def test_second_pass_with_epoch_ensemble(split_small):
    """The recipe for fold models that memorise (docs/labels.md): a second pass that
    leaves the flagged samples out of training and averages each fold's epochs too."""
    from classlab.lenet.registry import list_models

    ds = split_small
    cv = ds.match_tags(["train", "val"])
    cv.take(30, seed=4).tag_samples("label_issue")
    res = compute_oos_predictions(
        ds,
        num_folds=3,
        config={**FAST, "epochs": 2},
        exclude_tags=["label_issue"],
        epoch_ensemble=True,
    )
    assert res["num_excluded"] == 30 and res["epoch_ensemble"] is True
    assert ds.count("lenet_oos.logits") == len(ds)
    rec = records.get_record(ds, "oos", "lenet_oos")
    assert rec["epoch_ensemble"] is True and rec["exclude_tags"] == ["label_issue"]
    _assert_trained_without_tagged(cv, list_models(ds), 3)
    probs = np.exp(np.array(cv.values("lenet_oos.logits"), dtype=np.float64))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)  # log of a mean of softmaxes
