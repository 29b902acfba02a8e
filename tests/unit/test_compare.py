"""classlab.compare on synthetic labels with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from classlab import compare
from classlab.errors import EmptyViewError, FieldError, InputError
from support.models import CLASSES, make_models_dataset


@pytest.fixture
def models(dataset_name):
    return make_models_dataset(dataset_name)


def _codes(ds, field):
    return np.array([CLASSES.index(x) for x in ds.values(f"{field}.label")])


def test_summary_matches_hand_counts_and_sklearn(models):
    from sklearn.metrics import precision_recall_fscore_support, top_k_accuracy_score

    r = compare.compare_models(models, top_k=2)
    s = r["summary"].set_index("field")
    assert r["fields"] == ["model_a", "model_b"] and r["n_samples"] == 12
    assert s.loc["model_a", "accuracy"] == pytest.approx(8 / 12)
    assert s.loc["model_b", "accuracy"] == pytest.approx(7 / 12)
    gt = _codes(models, "ground_truth")
    for f in ("model_a", "model_b"):
        p, rc, f1, _ = precision_recall_fscore_support(gt, _codes(models, f), average="macro")
        assert s.loc[f, "precision"] == pytest.approx(p)
        assert s.loc[f, "recall"] == pytest.approx(rc)
        assert s.loc[f, "f1"] == pytest.approx(f1)
        logits = np.array(models.values(f"{f}.logits"))
        assert s.loc[f, "top2_accuracy"] == pytest.approx(top_k_accuracy_score(gt, logits, k=2))
    # ECE by hand: A's confidence bins 0.9/0.8/0.7/0.6 hold 3 samples each
    assert s.loc["model_a", "ece"] == pytest.approx((0.3 + 0.6 + 0.1 + 1.8) / 12)
    assert s.loc["model_b", "ece"] == pytest.approx(abs(7 / 12 - 0.5))
    assert s.loc["model_a", "mean_confidence"] == pytest.approx(0.75)


def test_per_class_confusion_and_deltas(models):
    r = compare.compare_models(models, baseline="model_b")
    assert r["confusion"]["model_a"]["matrix"] == [[3, 1, 0], [0, 3, 1], [2, 0, 2]]
    assert r["confusion"]["model_b"]["matrix"] == [[2, 2, 0], [0, 2, 2], [0, 1, 3]]
    pc = r["per_class"].set_index("class")
    assert pc.loc["cat", "model_a_precision"] == pytest.approx(3 / 5)
    assert pc.loc["owl", "model_a_recall"] == pytest.approx(2 / 4)
    assert "model_b_f1_delta" not in pc.columns  # B is the baseline
    delta = pc["model_a_f1"] - pc["model_b_f1"]
    assert np.allclose(pc["model_a_f1_delta"], delta)


def test_agreement_and_fixed_vs_broken(models):
    agr = compare.agreement(models, "model_a", "model_b")
    assert agr["counts"] == {
        "both_right": 6,
        "only_a_right": 2,
        "only_b_right": 1,
        "both_wrong_same": 2,
        "both_wrong_diff": 1,
    }
    for cat, ids in agr["ids"].items():
        view = compare.agreement_view(models, "model_a", "model_b", cat, "ground_truth")
        assert sorted(view.values("id")) == sorted(ids)
    same_read = compare.compare_models(models, agreement_pair=("model_a", "model_b"))
    assert same_read["agreement"]["counts"] == agr["counts"]
    assert compare.compare_models(models, agreement_pair=("x", None))["agreement"]["a"] == "model_a"
    fb = compare.fixed_vs_broken(models, "model_a", "model_b")
    assert (fb["fixed"], fb["broken"], fb["still_right"], fb["still_wrong"]) == (1, 2, 6, 3)
    assert sorted(fb["broken_ids"]) == sorted(agr["ids"]["only_a_right"])
    # sample 10 (owl): A said cat, B said owl -> fixed by B
    assert fb["fixed_ids"] == [models.values("id")[10]]


def test_confusion_view(models):
    v = compare.confusion_view(models, "model_a", "ground_truth", "owl", "cat")
    assert len(v) == 2
    assert len(compare.confusion_view(models, "model_a", "ground_truth", "owl")) == 2
    assert len(compare.confusion_view(models, "model_a", "ground_truth", "cat")) == 1


def test_learning_curves_and_model_records(models):
    from classlab import records

    hist = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4}]
    records.set_record(
        models,
        "models",
        "lenet_v1",
        {
            "applied_to": ["model_a"],
            "num_params": 61706,
            "train_seconds": 12.5,
            "images_per_second": 3000.0,
            "history": hist,
        },
    )
    records.set_record(models, "clip", "model_b", {"random_weights": True})
    r = compare.compare_models(models)
    s = r["summary"].set_index("field")
    assert s.loc["model_a", "num_params"] == 61706
    assert s.loc["model_b", "model"] == "model_b (random weights)"
    assert r["display"]["model_b"] == "model_b (random weights)"
    assert r["learning_curves"] == {"model_a": hist}


def test_no_evaluated_models(dataset_name):
    ds = make_models_dataset(dataset_name, evaluate=False)
    with pytest.raises(FieldError, match="No classification field is evaluated"):
        compare.compare_models(ds)
    assert compare.unevaluated_fields(ds) == ["model_a", "model_b"]


def test_one_model_and_explicit_fields(models):
    r = compare.compare_models(models, fields=["model_b"])
    assert r["fields"] == ["model_b"] and any("Only one model" in n for n in r["notes"])
    with pytest.raises(FieldError, match="does not exist"):
        compare.compare_models(models, fields=["nope"])
    with pytest.raises(InputError, match="ground-truth"):
        compare.compare_models(models, fields=["ground_truth"])


def test_different_gt_fields(models):
    import fiftyone as fo

    models.clone_sample_field("ground_truth", "gt2")
    models.clone_sample_field("model_b", "model_c")
    models.evaluate_classifications("model_c", gt_field="gt2", eval_key="eval_c")
    r = compare.compare_models(models)
    assert r["fields"] == ["model_a", "model_b"]
    assert any("'model_c' was evaluated against 'gt2'" in n for n in r["notes"])
    r2 = compare.compare_models(models, gt_field="gt2")
    assert r2["fields"] == ["model_c"]
    assert isinstance(models.get_field("gt2"), fo.EmbeddedDocumentField)


def test_different_sample_sets_use_intersection(models):
    ids = models.values("id")
    models.select(ids[:3]).set_field("model_b", None).save()
    r = compare.compare_models(models)
    assert r["n_samples"] == 9
    assert any("9 samples" in n and "3 of 12" in n for n in r["notes"])
    models.set_values("model_a", [None] * 6 + models.values("model_a")[6:])
    with pytest.raises(EmptyViewError):
        compare.compare_models(models.select(ids[:6]))


def test_deleted_field_is_skipped(models):
    models.delete_sample_field("model_b")
    assert [e["field"] for e in compare.evaluated_fields(models)] == ["model_a"]
    with pytest.raises(FieldError):
        compare.compare_models(models, fields=["model_a", "model_b"])


def test_evaluate_field_and_bad_input(dataset_name, unchanged):
    ds = make_models_dataset(dataset_name, evaluate=False)
    with unchanged(ds), pytest.raises(FieldError):
        compare.evaluate_field(ds, "nope")
    assert compare.evaluate_field(ds, "model_a") == "eval_model_a"
    with unchanged(ds), pytest.raises(InputError, match="exists"):
        compare.evaluate_field(ds, "model_b", eval_key="eval_model_a")


def test_write_report(models, tmp_path):
    from classlab.compare.report import write_report

    path = write_report(tmp_path / "r" / "report.html", models)
    text = path.read_text()
    assert "Model comparison" in text and "0.6667" in text and "only A right" in text
    assert text.count("plotly-graph-div") >= 3


def test_table_cells_counts_rates_and_missing():
    import pandas as pd
    from classlab.compare import plots as compare_plots

    # a missing parameter count makes pandas store the column as float
    frame = pd.DataFrame(
        [
            dict(field="clip", n=2000, accuracy=0.0985, num_params=None, train_seconds=None),
            dict(field="lenet", n=2000, accuracy=1.0, num_params=120550, train_seconds=5.8123),
        ]
    )
    assert frame["num_params"].dtype.kind == "f"
    rows = compare_plots.table_rows(frame)
    assert rows[0] == dict(
        field="clip", n="2,000", accuracy="0.0985", num_params="—", train_seconds="—"
    )
    assert rows[1]["num_params"] == "120,550" and rows[1]["train_seconds"] == "5.8"
    assert rows[1]["accuracy"] == "1.0000"
    assert compare_plots.fmt_cell("lenet_support", 980.0) == "980"
