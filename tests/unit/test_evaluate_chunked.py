"""The chunked evaluation (``classlab.lenet.eval_run``) against FiftyOne's own
``evaluate_classifications``, on twin copies of a small dataset read in several chunks:
the same run config, stored results (labels, ids, confidences, classes), metrics,
confusion matrix and per-sample eval field, for the simple and the top-k methods."""

from __future__ import annotations

import fiftyone as fo
import numpy as np
import pytest
from classlab import defaults
from classlab.lenet.evaluate import evaluate_predictions
from fiftyone import ViewField as F

CLASSES = ["ant", "bee", "cat", "dog"]


@pytest.fixture
def twins(dataset_name):
    """Two copies of 230 samples: 200 with a prediction (logits, confidence; some
    wrong, a few without confidence, one with no label), 30 without; chunks of 37."""
    rng = np.random.default_rng(7)
    samples = []
    for i in range(230):
        y = int(rng.integers(4))
        s = fo.Sample(filepath=f"/nonexistent/eval-{i}.png")
        s["ground_truth"] = fo.Classification(label=CLASSES[y])
        if i < 200:
            z = rng.normal(size=4)
            z[y] += 1.5
            p = int(np.argmax(z))
            conf = None if i % 29 == 0 else float(np.exp(z[p]) / np.exp(z).sum())
            label = None if i == 13 else CLASSES[p]
            s["pred"] = fo.Classification(label=label, confidence=conf, logits=z.tolist())
        samples.append(s)
    a = fo.Dataset(dataset_name)
    a.add_samples(samples)
    b = a.clone(f"{dataset_name}-twin")
    yield a, b
    b.delete()


def _old_path(ds, eval_key, **kwargs):
    """What evaluate_predictions did before: FiftyOne's call on the scored samples."""
    scored = ds.match(F("ground_truth").exists() & F("pred").exists())
    return scored.evaluate_classifications(
        "pred", gt_field="ground_truth", eval_key=eval_key, **kwargs
    )


def _stored(ds, eval_key):
    """The results as stored in the database (not a cached object), rows by label id."""
    ds.clear_cache()
    res = ds.load_evaluation_results(eval_key, cache=False)
    order = np.argsort(res.ytrue_ids)  # every sample has ground truth: unique ids
    return res, order


def _assert_same_run(a, b, key, n=200):
    ra, oa = _stored(a, key)
    rb, ob = _stored(b, key)
    assert type(ra) is type(rb) is fo.utils.eval.classification.ClassificationResults
    for name in ("ytrue", "ypred", "ytrue_ids"):
        np.testing.assert_array_equal(getattr(ra, name)[oa], getattr(rb, name)[ob], name)
    for name in ("confs", "ypred_ids"):  # objects with None where some are missing
        x, y = getattr(ra, name), getattr(rb, name)
        assert x.dtype == y.dtype and x[oa].tolist() == y[ob].tolist(), name
    np.testing.assert_array_equal(ra.classes, rb.classes)
    assert ra.missing == rb.missing and ra.weights is None and rb.weights is None
    assert ra.metrics() == rb.metrics() and ra.report() == rb.report()
    np.testing.assert_array_equal(ra.confusion_matrix(), rb.confusion_matrix())
    ia, ib = a.get_evaluation_info(key), b.get_evaluation_info(key)
    assert ia.config.serialize() == ib.config.serialize()
    assert ia.key == ib.key == key
    assert a.values("id") == b.values("id")  # clones keep the ids: fields compare by id
    assert a.values(key) == b.values(key) and a.count(key) == b.count(key) == n
    assert a.get_field(key).__class__ is b.get_field(key).__class__
    assert a.app_config.sidebar_groups == b.app_config.sidebar_groups
    return ra


def test_simple_evaluation_equals_fiftyones(twins, monkeypatch):
    a, b = twins
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 37)  # 200 scored samples: 6 chunks
    out = evaluate_predictions(a, "pred", eval_key="ev")
    old = _old_path(b, "ev")
    res = _assert_same_run(a, b, "ev")
    assert 0.3 < out["accuracy"] < 1.0  # some wrong, some right: a real comparison
    assert out["num_evaluated"] == 200 and "(none)" in res.ypred.tolist()
    assert res.confs.dtype == object and None in res.confs.tolist()  # missing confidences
    avg = old.report()["weighted avg"]
    assert out["precision"] == pytest.approx(avg["precision"])
    assert out["f1"] == pytest.approx(avg["f1-score"])
    # the ids stored are the samples' label ids (the App's panel filters by them)
    gt_ids = set(a.exists("pred").values("ground_truth.id"))
    assert set(res.ytrue_ids.tolist()) == gt_ids


def test_top_k_evaluation_equals_fiftyones(twins, monkeypatch):
    from classlab.lenet.eval_run import evaluate_in_chunks

    a, b = twins
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 50)
    scored = a.match(F("ground_truth").exists() & F("pred").exists())
    new = evaluate_in_chunks(scored, "pred", "ground_truth", "ev2", CLASSES, k=2)
    old = _old_path(b, "ev2", method="top-k", classes=CLASSES, k=2)
    _assert_same_run(a, b, "ev2")
    assert new.metrics() == old.metrics()
    # the eval field says whether the truth is among each sample's two largest logits
    z, gt = scored.values(["pred.logits", "ground_truth.label"])
    want = sum(CLASSES.index(g) in np.argsort(lg)[-2:] for lg, g in zip(z, gt, strict=True))
    assert a.match(F("ev2")).count() == want and 0 < want < 200


def test_a_whole_view_with_samples_lacking_predictions(twins, monkeypatch):
    """As zero-shot evaluates: every sample, 30 with no prediction field (None ids)."""
    from classlab.lenet.eval_run import evaluate_in_chunks

    a, b = twins
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 40)
    evaluate_in_chunks(a, "pred", "ground_truth", "evw")
    b.evaluate_classifications("pred", gt_field="ground_truth", eval_key="evw")
    res = _assert_same_run(a, b, "evw", n=230)
    assert None in res.ypred_ids.tolist() and res.ypred_ids.dtype == object


def test_one_chunk_and_several_agree_and_the_rerun_replaces(twins, monkeypatch):
    """The chunk size changes nothing; evaluating again under the same key replaces
    the run (one evaluation, results read back equal)."""
    a, b = twins
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 1)
    evaluate_predictions(a, "pred", eval_key="ev")
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 10_000)
    evaluate_predictions(b, "pred", eval_key="ev")
    evaluate_predictions(b, "pred", eval_key="ev")
    assert b.list_evaluations() == ["ev"]
    _assert_same_run(a, b, "ev")


def test_the_comparison_reads_the_chunked_run(twins, monkeypatch):
    from classlab.compare import compare_models
    from classlab.compare.fields import evaluated_fields

    a, _ = twins
    monkeypatch.setattr(defaults, "CHUNK_SIZE", 64)
    evaluate_predictions(a, "pred", eval_key="ev")
    assert evaluated_fields(a) == [{"field": "pred", "eval_key": "ev", "gt_field": "ground_truth"}]
    row = compare_models(a, ["pred"])["summary"].iloc[0]
    # the comparison leaves out the prediction without a label; the eval field agrees
    assert row["n"] == 199 and row["accuracy"] == pytest.approx(a.match(F("ev")).count() / 199)


def test_the_stream_reader_gives_back_the_whole_text_in_any_read_sizes():
    from classlab.lenet.eval_run import _Reader

    pieces = ["{", '"a": [', "1,2", "", ",3]", "}"]
    for size in (1, 2, 5, 1000):
        reader, got = _Reader(iter(pieces)), b""
        while chunk := reader.read(size):
            assert len(chunk) <= size
            got += chunk
        assert got == "".join(pieces).encode()
    assert _Reader(iter(pieces)).read() == b'{"a": [1,2,3]}'
