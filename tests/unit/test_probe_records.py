"""Linear-probe records read where the other models' are: the comparison's model columns
(``classlab.compare.fields.model_info``) and the class order of a field's logits
(``classlab.lenet.evaluate.logits_classes``), on a tiny probe over separable blobs."""

from __future__ import annotations

import fiftyone as fo
import numpy as np
import pytest
from classlab.compare import compare_models
from classlab.compare.fields import model_info
from classlab.lenet.evaluate import evaluate_predictions, logits_classes
from classlab.probe import list_probes, train_linear_probe

# not in sorted order: the probe's logits follow its record's (sorted) classes, so a
# dataset whose default_classes hold this order must not be read for them
CLASSES = ["dog", "ant", "cat", "bee"]


@pytest.fixture
def probed(dataset_name):
    """120 samples (60 train, 20 val, 40 test) of 4 separable blobs in ``emb``, and the
    probe ``p`` trained on them and applied to the test samples as ``pp``."""
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(4), 30)
    x = rng.normal(size=(len(y), 5)).astype(np.float32)
    x[np.arange(len(y)), y] += 4.0
    tags = ["train"] * 60 + ["val"] * 20 + ["test"] * 40
    samples = [
        fo.Sample(
            filepath=f"/nonexistent/records-{i}.png",
            tags=[tag],
            ground_truth=fo.Classification(label=CLASSES[y[i]]),
            emb=x[i],
        )
        for i, tag in enumerate(tags)
    ]
    ds = fo.Dataset(dataset_name)
    ds.add_samples(samples)
    train_linear_probe(ds, "emb", run_key="p", label_field="pp", eval_key="ev_pp")
    return ds


def test_model_info_shows_the_probe_record(probed):
    rec = list_probes(probed)["p"]
    info = model_info(probed)["pp"]
    assert info["kind"] == "linear_probe" and info["run_key"] == "p"
    assert info["num_params"] == rec["num_params"] == 4 * 5 + 4
    assert info["train_seconds"] == rec["train_seconds"] > 0
    assert info["classes"] == rec["classes"] and info["latency_ms"] is None
    assert info["history"] == [] and info["display"] == "pp"


def test_comparison_columns_show_the_probe(probed):
    """The summary row of the probe (the panel's model table) has its parameters and
    training time, and its top-k accuracy (logit classes from the record)."""
    rec = list_probes(probed)["p"]
    out = compare_models(probed.match_tags("test"), ["pp"], top_k=2)
    row = out["summary"].set_index("field").loc["pp"]
    assert row["num_params"] == 24 and row["train_seconds"] == rec["train_seconds"]
    assert row["top2_accuracy"] >= row["accuracy"] > 0.85


def test_a_probe_field_overwritten_by_another_probe_shows_the_last_writer(probed):
    train_linear_probe(probed, "emb", run_key="q", label_field="pp", overwrite=True)
    # both records name pp in applied_to; the later record (q wrote it last) wins
    info = model_info(probed)["pp"]
    assert info["run_key"] == "q" and info["kind"] == "linear_probe"
    assert info["train_seconds"] == list_probes(probed)["q"]["train_seconds"]


def test_logits_classes_reads_the_probe_record(probed):
    rec = list_probes(probed)["p"]
    assert logits_classes(probed, "pp") == rec["classes"]
    # the record wins over the dataset's default classes of the same length
    probed.default_classes = CLASSES
    probed.save()
    assert rec["classes"] == sorted(CLASSES) != CLASSES
    assert logits_classes(probed, "pp") == rec["classes"]


def test_top_k_evaluation_of_a_probe_field(probed):
    """Top-k needs the logits' class order: without the probe's record it was refused."""
    test = probed.match_tags("test")
    out = evaluate_predictions(test, "pp", eval_key="ev_top2", k=2)
    assert out["num_evaluated"] == 40
    assert out["accuracy"] <= out["top_2_accuracy"] <= 1.0
    # a correct top-2 result: the truth is within the two largest logits of each sample
    z, gt = test.values(["pp.logits", "ground_truth.label"])
    classes = list_probes(probed)["p"]["classes"]
    want = np.mean([classes.index(g) in np.argsort(lg)[-2:] for lg, g in zip(z, gt, strict=True)])
    assert out["top_2_accuracy"] == pytest.approx(want)


def test_label_issue_classes_of_a_probe_field(probed):
    from classlab.labels.issues import field_classes

    rec = list_probes(probed)["p"]
    probed.default_classes = CLASSES  # another order: the record must win over it
    probed.save()
    assert field_classes(probed, "pp", 4, CLASSES) == rec["classes"] == sorted(CLASSES)
