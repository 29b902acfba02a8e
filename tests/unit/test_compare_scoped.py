"""classlab.compare.store / scoped / repeats / panel_data: the panel's fast path gives
compare_models' numbers, reads each field once per dataset version, and groups repeats."""

from __future__ import annotations

import numpy as np
import pytest
from classlab import compare
from classlab.compare import plots
from classlab.compare.repeats import repeat_groups, repeat_summary
from classlab.compare.scoped import compare_scoped, label_issue_counts
from classlab.compare.store import FieldStore
from classlab.errors import EmptyViewError
from support.models import make_models_dataset


@pytest.fixture
def models(dataset_name):
    ds = make_models_dataset(dataset_name)
    ids = ds.values("id")
    ds.select(ids[:6]).tag_samples("train")
    ds.select(ids[6:]).tag_samples("test")
    return ds


def _same(fast, slow):
    assert fast["fields"] == slow["fields"] and fast["n_samples"] == slow["n_samples"]
    assert fast["summary"].equals(slow["summary"])
    assert fast["per_class"].equals(slow["per_class"])
    assert fast["confusion"] == slow["confusion"]
    assert fast["agreement"]["counts"] == slow["agreement"]["counts"]
    assert sorted(fast["agreement"]["ids"]["only_a_right"]) == sorted(
        slow["agreement"]["ids"]["only_a_right"]
    )


@pytest.mark.parametrize("scope", ["test", "train", "all"])
def test_scoped_equals_compare_models_on_the_split(models, scope):
    store = FieldStore()
    view = models.view() if scope == "all" else models.match_tags(scope)
    pair = ("model_b", "model_a")
    fast = compare_scoped(models, scope=scope, baseline="model_b", agreement_pair=pair, store=store)
    _same(fast, compare.compare_models(view, baseline="model_b", agreement_pair=pair))
    assert fast["scope"] == scope and store.reads == 1


def test_view_scope_and_missing_labels(models):
    store = FieldStore()
    grid = models.match({"ground_truth.label": {"$in": ["cat", "owl"]}})
    fast = compare_scoped(models, scope="view", view=grid, agreement_pair=(None, None), store=store)
    _same(fast, compare.compare_models(grid, agreement_pair=(None, None)))
    # a sample without a prediction is left out, with the same note as compare_models
    first = models.first()
    first["model_b"] = None
    first.save()
    fast = compare_scoped(models, scope="all", store=store)
    slow = compare.compare_models(models)
    assert fast["n_samples"] == slow["n_samples"] == 11
    assert fast["notes"] == slow["notes"]
    assert fast["summary"].equals(slow["summary"])
    with pytest.raises(EmptyViewError, match="No sample in the scope 'val'"):
        compare_scoped(models, scope="val", store=store)


def test_store_reads_once_and_again_after_any_change(models):
    store = FieldStore()
    store.arrays(models, ["ground_truth", "model_a"])
    store.arrays(models, ["model_a"])
    assert store.reads == 1
    store.arrays(models, ["model_b"])  # a new field: one pass for it alone
    assert store.reads == 2
    for change in (
        lambda: models.set_values("model_a.label", ["cat"] * 12),
        lambda: models.delete_samples(models.first()),
        lambda: models.take(2, seed=1).tag_samples("val"),
    ):
        change()
        _, _, ids, arr = store.arrays(models, ["model_a"])
        assert len(arr["model_a"]["labels"]) == len(ids) == len(models)
    assert store.reads == 5
    assert list(arr["model_a"]["labels"]) == models.values("model_a.label")
    assert store.tag_counts(models)["val"] == 2


def test_store_reads_only_the_scopes_samples(models):
    store = FieldStore()
    _, key, ids, arr = store.arrays(models, ["model_a"], "test")
    assert key == "test" and sorted(ids) == sorted(models.match_tags("test").values("id"))
    assert len(arr["model_a"]["labels"]) == 6 and store.reads == 1
    grid = models.match({"ground_truth.label": "owl"})
    _, key, ids, arr = store.arrays(models, ["model_a", "model_b"], "view", grid)
    assert key.startswith("view:") and sorted(ids) == sorted(grid.values("id"))
    by_id = dict(zip(grid.values("id"), grid.values("model_b.label")))
    assert [by_id[i] for i in ids] == list(arr["model_b"]["labels"])
    store.arrays(models, ["model_a"], "test")
    assert store.reads == 2


def test_store_logits_match_fiftyone_decoding(models):
    store = FieldStore()
    _, _, _, arr = store.arrays(models, ["model_a", "ground_truth"])
    assert np.allclose(arr["model_a"]["logits"], np.array(models.values("model_a.logits")))
    assert arr["ground_truth"]["logits"] is None
    assert np.allclose(arr["model_a"]["confidence"], models.values("model_a.confidence"))


def test_store_is_bounded():
    store = FieldStore(max_datasets=1)
    store._entries["a"] = object()
    store.clear()
    assert not store._entries


def test_repeat_groups_and_summary():
    fields = ["lenet", "lenet_v2", "lenet_v2_s1", "lenet_v2_s2", "x_seed1", "x_seed2", "y_s1"]
    assert repeat_groups(fields) == {
        "lenet_v2": ["lenet_v2", "lenet_v2_s1", "lenet_v2_s2"],
        "x": ["x_seed1", "x_seed2"],
    }
    rng = np.random.default_rng(0)
    right = {f: rng.random(200) < 0.8 for f in fields}
    rows = repeat_summary(right, fields, "lenet")
    v2 = rows[0]
    acc = [right[f].mean() for f in v2["fields"]]
    assert v2["mean"] == pytest.approx(np.mean(acc)) and v2["std"] == pytest.approx(
        np.std(acc, ddof=1)
    )
    fixed = sum(int((right[f] & ~right["lenet"]).sum()) for f in v2["fields"])
    assert v2["paired"]["fixed"] == fixed and v2["paired"]["repeats"] == 3
    assert v2["paired_text"].startswith("lenet_v2 (3 seeds) vs lenet:")
    # the baseline inside a group: that group has no test, the others pair seed by seed
    rows = repeat_summary(right, fields, "lenet_v2_s1")
    assert rows[0]["paired"] is None and rows[1]["paired"]["repeats"] == 2


def test_label_issue_counts_picks_the_newest_on_the_ground_truth(models):
    from classlab import records

    assert label_issue_counts(models) is None
    for key, when, gt, counts in (
        ("old", "2026-01-01", "ground_truth", {"cat": 1}),
        ("new", "2026-02-01", "ground_truth", {"owl": 2}),
        ("other", "2026-03-01", "other_gt", {"dog": 9}),
    ):
        records.set_record(
            models,
            "label_issues",
            key,
            {"field": "m", "label_field": gt, "counts_per_class": counts, "created_at": when},
        )
    assert label_issue_counts(models) == {"key": "new", "field": "m", "counts": {"owl": 2}}


def test_cells_latency_missing_and_zoomed_ranges():
    from classlab.compare.comparison import latency_columns

    cols = latency_columns({"torch": {"1": 0.5, "256": 0.01}, "onnx": "bad"})
    assert cols == {
        "latency_torch_1": 0.5,
        "latency_torch_256": 0.01,
        "latency_onnx_1": None,
        "latency_onnx_256": None,
    }
    assert latency_columns(None)["latency_torch_1"] is None
    assert plots.fmt_cell("latency_torch_1", 0.5) == "0.500"
    assert plots.fmt_cell("num_params", None) == "—"
    low, high = plots.zoomed_range([0.99, 0.995, 0.992], 0, 1.0005)
    assert 0.98 < low < 0.99 and 0.995 < high <= 1.0005
    assert plots.zoomed_range([]) is None


def test_encode_is_exact_with_unknown_labels():
    from classlab.compare.metrics import encode

    gt = np.array(["b", "a", "c", "a"], dtype=object)
    classes, g, p = encode(gt, {"m": np.array(["a", "z", "", "c"], dtype=object)})
    assert classes == ["a", "b", "c", "z"]
    assert g.tolist() == [1, 0, 2, 0] and p["m"].tolist() == [0, 3, -1, 2]
    _, g, p = encode(gt, {"m": np.array(["a", "z", "b", "c"], dtype=object)}, classes=["a", "b"])
    assert g.tolist() == [1, 0, -1, 0] and p["m"].tolist() == [0, -1, 1, -1]
