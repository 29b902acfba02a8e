"""find_label_issues (cleanlab on fields with logits) and the calibration helpers."""

from __future__ import annotations

import fiftyone as fo
import numpy as np
import pytest
from classlab import records
from classlab.defaults import MNIST_CLASSES
from classlab.errors import FieldError, InputError
from classlab.labels import find_label_issues
from classlab.labels.calibration import fit_temperature, softmax
from support.labels import noisy_logits


def _flagged(ds, tag="label_issue"):
    return set(ds.match_tags(tag).values("id"))


def test_finds_flipped_labels_and_writes_scores_suggestions_tag_record(mnist_small):
    ds = mnist_small
    flipped, truth = noisy_logits(ds)
    res = find_label_issues(ds, "model")
    found = _flagged(ds)
    tp = len(found & flipped)
    assert tp / len(flipped) >= 0.85 and tp / len(found) >= 0.8, (len(found), tp)
    assert res["num_flagged"] == len(found) and res["num_scored"] == len(ds)
    assert ds.count("label_quality") == len(ds)
    assert "label_quality" in ds.list_indexes()  # the review sorts by it
    assert ds.count("suggested_label") == len(found)
    # lower quality = more likely wrong
    q = dict(zip(*ds.values(["id", "label_quality"])))
    assert np.mean([q[i] for i in flipped]) < np.mean([q[i] for i in set(q) - flipped])
    # the suggestion is the true class
    ids, sugg = ds.match_tags("label_issue").values(["id", "suggested_label.label"])
    all_ids = ds.values("id")
    right = sum(s == MNIST_CLASSES[truth[all_ids.index(i)]] for i, s in zip(ids, sugg))
    assert right >= 0.9 * len(ids)
    rec = records.get_record(ds, "label_issues", "label_issues")
    assert rec["field"] == "model" and sum(rec["counts_per_class"].values()) == len(found)
    given = dict(zip(*ds.values(["id", "ground_truth.label"])))
    expect = {}
    for i in found:
        expect[given[i]] = expect.get(given[i], 0) + 1
    assert rec["counts_per_class"] == dict(sorted(expect.items()))
    tags = ds.select(list(found)).count_sample_tags()
    assert rec["counts_per_split"] == {t: tags[t] for t in ("train", "test") if t in tags}


def test_label_ok_samples_are_not_flagged_again_and_stale_flags_clear(mnist_small):
    ds = mnist_small
    flipped, _ = noisy_logits(ds)
    find_label_issues(ds, "model")
    first = _flagged(ds)
    kept = sorted(first)[:3]
    ds.select(kept).tag_samples("label_ok")
    res = find_label_issues(ds, "model")
    second = _flagged(ds)
    assert second == first - set(kept) and res["num_ok"] == 3
    assert not set(ds.exists("suggested_label").values("id")) & set(kept)


def test_confidently_wrong_samples_are_flagged_after_calibration(mnist_small):
    """Label smoothing caps every probability; temperature scaling on clean held-out
    samples restores the scale, and then every sample whose label the model contradicts
    with high confidence is flagged."""
    ds = mnist_small
    flipped, truth = noisy_logits(ds, smoothing=0.05)
    ids, z = ds.values("id"), np.array(ds.values("model.logits"))
    held = np.arange(0, len(ids), 5)  # clean labels of held-out samples: the truth
    t = fit_temperature(z[held], truth[held])
    assert t < 1.0  # smoothing makes the network under-confident: sharpen
    calibrated = z / t
    ds.set_values(
        "calibrated",
        [
            fo.Classification(label=MNIST_CLASSES[int(r.argmax())], logits=r.tolist())
            for r in calibrated
        ],
    )
    find_label_issues(ds, "calibrated", key="cal", tag="cal_issue")
    p = softmax(calibrated)
    given = np.array([MNIST_CLASSES.index(g) for g in ds.values("ground_truth.label")])
    wrong = {ids[i] for i in range(len(ids)) if p[i].argmax() != given[i] and p[i].max() > 0.9}
    assert wrong and wrong <= _flagged(ds, "cal_issue")
    assert len(flipped & _flagged(ds, "cal_issue")) >= 0.85 * len(flipped)


def test_averages_several_fields(mnist_small):
    ds = mnist_small
    flipped, _ = noisy_logits(ds, "a", seed=1)
    z = np.array(ds.values("a.logits")) + np.random.default_rng(2).normal(size=(len(ds), 10))
    ds.set_values(
        "b", [fo.Classification(label=MNIST_CLASSES[int(r.argmax())], logits=r.tolist()) for r in z]
    )
    res = find_label_issues(ds, ["a", "b"])
    assert res["fields"] == ["a", "b"] and res["field"] == "a, b"
    assert len(_flagged(ds) & flipped) >= 0.85 * len(flipped)


def test_fit_temperature_recovers_the_scale():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 5)) * 2
    y = np.array([rng.choice(5, p=row) for row in softmax(z)])
    assert fit_temperature(z * 3, y) == pytest.approx(3.0, rel=0.15)
    assert fit_temperature(z / 2, y) == pytest.approx(0.5, rel=0.15)


def test_bad_arguments_raise_before_any_write(mnist_small, unchanged):
    ds = mnist_small
    noisy_logits(ds)
    ds.set_values("nologits", [fo.Classification(label="1 - one")] * len(ds))
    cases = [
        (dict(pred_fields="model", filter_by="nope"), InputError, "filter_by"),
        (dict(pred_fields="model", method="nope"), InputError, "method"),
        (dict(pred_fields="nologits"), FieldError, "no logits"),
        (dict(pred_fields="ground_truth"), InputError, "label field itself"),
        (dict(pred_fields="model", quality_field="ground_truth"), FieldError, "quality_field"),
        (dict(pred_fields="model", suggestion_field="tags"), FieldError, "suggestion_field"),
        (dict(pred_fields=[]), InputError, "pred_fields"),
        (dict(pred_fields="model", key="a/b"), InputError, "key"),
    ]
    with unchanged(ds):
        for kwargs, exc, match in cases:
            with pytest.raises(exc, match=match):
                find_label_issues(ds, **kwargs)


def test_read_in_chunks_gives_cleanlab_s_own_answer(mnist_small, monkeypatch):
    """The labels and logits are read chunk by chunk into arrays (bounded memory): with
    chunks of 7 samples, exactly what cleanlab says on the whole arrays at once, and a
    sample without a label or a prediction is left out, not misaligned."""
    from classlab import defaults
    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores

    ds = mnist_small
    noisy_logits(ds)
    skipped = ds.values("id")[:2]
    ds.select(skipped[0]).set_values("model", [None])
    ds.select(skipped[1]).set_values("ground_truth", [None])
    ids, gt, z = (
        ds.exists("model")
        .exists("ground_truth")
        .values(["id", "ground_truth.label", "model.logits"])
    )
    labels = np.array([MNIST_CLASSES.index(g) for g in gt])
    probs = softmax(np.array(z))
    expect = set(np.array(ids)[cl_find(labels, probs, n_jobs=1)])
    quality = dict(zip(ids, get_label_quality_scores(labels, probs)))
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 7)
    res = find_label_issues(ds, "model")
    assert _flagged(ds) == expect and res["num_scored"] == len(ds) - 2
    got = dict(zip(*ds.exists("label_quality").values(["id", "label_quality"])))
    assert set(got) == set(ids) and not set(got) & set(skipped)
    assert max(abs(got[i] - quality[i]) for i in ids) < 1e-12


def test_logits_of_different_lengths_are_refused_before_any_write(mnist_small, unchanged):
    ds = mnist_small
    noisy_logits(ds)
    sample = ds[ds.values("id")[-1]]
    sample["model"] = fo.Classification(label="7", logits=[0.0] * 5)  # another model's
    sample.save()
    assert len(ds.values("model.logits")[-1]) == 5
    with unchanged(ds), pytest.raises(FieldError, match="differ in length"):
        find_label_issues(ds, "model")
