"""The model_comparison panel's Python side against a real ExecutionContext."""

from __future__ import annotations

import pytest
from classlab import compare
from classlab.compare import plots as compare_plots
from support.models import make_models_dataset
from support.panel import run_panel_method


@pytest.fixture
def panel():
    import fiftyone.operators as foo

    return foo.get_operator("@classlab/classlab/model_comparison")


def _views(ds, triggered):
    from fiftyone.core.view import DatasetView

    return [DatasetView._build(ds, p["view"]) for uri, p in triggered if uri.endswith("set_view")]


def test_panel_is_listed(panel):
    assert panel.config.name == "model_comparison"
    assert panel.config.label == "ClassLab: model comparison"


def test_on_load_shows_the_sdk_numbers(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    state, data, rendered, _ = run_panel_method(panel, ds, "on_load")
    assert state["ready"] and state["message"] is None
    sdk = compare.compare_models(ds)
    assert state["summary"] == compare_plots.table_rows(sdk["summary"])
    assert state["per_class"] == compare_plots.table_rows(sdk["per_class"])
    assert state["summary"][0]["accuracy"] == "0.6667"
    assert state["agreement"] == compare.agreement(ds, "model_a", "model_b")["counts"]
    assert data["confusion_plot"][0]["z"] == sdk["confusion"]["model_a"]["matrix"]
    assert [t["name"] for t in data["f1_plot"]] == ["model_a", "model_b"]
    props = rendered.to_json()["type"]["properties"]
    assert {"summary", "per_class", "f1_plot", "confusion_plot", "agreement_buttons"} <= set(props)


def test_choices_survive_a_reload(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    state, *_ = run_panel_method(panel, ds, "on_load")
    state["pickers"].update(
        baseline="model_b", cm_model="model_b", agree_a="model_b", agree_b="model_a"
    )
    state, data, *_ = run_panel_method(panel, ds, "on_pick", state=state)
    assert (state["baseline"], state["cm_model"], state["agree_a"]) == ("model_b",) * 3
    state, data, *_ = run_panel_method(panel, ds, "on_load", state=state)  # reopened panel
    assert state["baseline"] == "model_b" and state["agree_b"] == "model_a"
    assert "model_a_f1_delta" in state["per_class"][0]
    assert state["agreement"]["only_a_right"] == 1  # A is model_b now
    assert data["confusion_plot"][0]["z"] == [[2, 2, 0], [0, 2, 2], [0, 1, 3]]


def test_clicks_set_the_grid_view(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    state, *_ = run_panel_method(panel, ds, "on_load")
    _, _, _, trig = run_panel_method(
        panel, ds, "on_agreement_click", state=state, params={"category": "only_a_right"}
    )
    (view,) = _views(ds, trig)
    assert sorted(view.values("id")) == sorted(
        compare.agreement(ds, "model_a", "model_b")["ids"]["only_a_right"]
    )
    _, _, _, trig = run_panel_method(
        panel, ds, "on_confusion_click", state=state, params={"x": "cat", "y": "owl"}
    )
    assert len(_views(ds, trig)[0]) == 2
    _, _, _, trig = run_panel_method(
        panel, ds, "on_class_mistakes", state=state, params={"row": 0}
    )  # cat: one mistake by model_a
    assert len(_views(ds, trig)[0]) == 1


def test_no_evaluated_models_offers_evaluation(panel, dataset_name):
    ds = make_models_dataset(dataset_name, evaluate=False)
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    assert not state["ready"] and "No classification field is evaluated" in state["message"]
    props = rendered.to_json()["type"]["properties"]
    assert {"message", "evaluate_model_a", "evaluate_model_b"} <= set(props)
    state, *_ = run_panel_method(panel, ds, "on_evaluate", state=state, params={"field": "model_a"})
    assert "eval_model_a" in ds.list_evaluations()
    assert state["ready"] and state["fields"] == ["model_a"]
    assert any("Only one model" in n for n in state["notes"])
    assert state["agreement"] is None


def test_deleted_field_after_opening(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    state, *_ = run_panel_method(panel, ds, "on_load")
    ds.delete_sample_field("model_b")
    state2, *_ = run_panel_method(panel, ds, "on_pick", state=state)
    assert state2["ready"] and state2["fields"] == ["model_a"]  # falls back, says so
    assert any("'model_b' was deleted" in n for n in state2["notes"])
    state_c, _, _, trig = run_panel_method(
        panel, ds, "on_agreement_click", state=state, params={"category": "both_right"}
    )
    assert not _views(ds, trig) and "'model_b' does not exist" in state_c["message"]
    ds.delete_sample_field("model_a")
    state3, *_ = run_panel_method(panel, ds, "on_load", state=state2)
    assert not state3["ready"] and "No classification field is evaluated" in state3["message"]


def test_a_refresh_reads_the_evaluations_once(panel, dataset_name, monkeypatch):
    """One read of the evaluation list per refresh, shared by the pickers, the
    'Evaluate' buttons and compare_models."""
    from classlab.compare import comparison, fields

    ds = make_models_dataset(dataset_name)
    calls = []
    real = fields.evaluated_fields

    def counted(dataset):
        calls.append(dataset.name)
        return real(dataset)

    for module in (compare, comparison, fields):
        monkeypatch.setattr(module, "evaluated_fields", counted)
    state, *_ = run_panel_method(panel, ds, "on_load")
    assert state["ready"] and calls == [ds.name]
    state, *_ = run_panel_method(panel, ds, "on_pick", state=state)
    assert calls == [ds.name] * 2
    # the core reads them itself when not given, with the same result
    assert compare.compare_models(ds)["fields"] == state["fields"] and len(calls) == 3


def _independent_paired(ds, field_a, field_b):
    """McNemar with scipy's binomtest and the interval of ``paired_comparison``, from
    the labels read here (not through the panel or compare_models)."""
    import numpy as np
    from classlab.compare.stats import paired_comparison
    from scipy.stats import binomtest

    gt, a, b = (np.array(ds.values(f"{f}.label")) for f in ("ground_truth", field_a, field_b))
    right_a, right_b = a == gt, b == gt
    fixed, broken = int((right_b & ~right_a).sum()), int((right_a & ~right_b).sum())
    p_value = binomtest(min(fixed, broken), fixed + broken, 0.5).pvalue
    return fixed, broken, p_value, paired_comparison(right_a, right_b)


@pytest.mark.parametrize("all_cat", [False, True])
def test_agreement_shows_paired_significance(panel, dataset_name, all_cat):
    """The agreement section holds B vs A's accuracy difference, its seeded bootstrap
    interval and the exact McNemar p-value, equal to ones computed independently."""
    from classlab.compare.stats import describe

    ds = make_models_dataset(dataset_name)
    if all_cat:  # model_b says "cat" everywhere: fixed 1, broken 5, p = 14/64
        ds.set_values("model_b.label", ["cat"] * len(ds))
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    assert (state["agree_a"], state["agree_b"]) == ("model_a", "model_b")
    fixed, broken, p_value, expected = _independent_paired(ds, "model_a", "model_b")
    assert (fixed, broken) == ((1, 5) if all_cat else (1, 2))
    paired = state["paired"]
    assert (paired["fixed"], paired["broken"], paired["n"]) == (fixed, broken, 12)
    assert paired["p_value"] == pytest.approx(p_value, abs=1e-12)
    assert paired["p_value"] == pytest.approx(14 / 64 if all_cat else 1.0)
    assert (paired["ci_low"], paired["ci_high"]) == (expected["ci_low"], expected["ci_high"])
    assert paired["diff"] == pytest.approx(expected["diff"]) == (fixed - broken) / 12
    assert paired["ci_low"] <= paired["diff"] <= paired["ci_high"]
    assert paired["ci_low"] < paired["ci_high"]
    # the rendered line is describe()'s, with the same numbers
    text = rendered.to_json()["type"]["properties"]["agreement_significance"]["default"]
    line = describe("A `model_a`", "B `model_b`", expected)
    assert line in text
    assert f"{100 * expected['ci_low']:+.2f}, {100 * expected['ci_high']:+.2f}] pt" in text
    assert f"fixed {fixed}, broken {broken}" in text


def test_paired_significance_follows_the_pickers(panel, dataset_name):
    """Swapping A and B flips the difference and its interval's sign; p stays."""
    ds = make_models_dataset(dataset_name)
    state, *_ = run_panel_method(panel, ds, "on_load")
    before = dict(state["paired"])
    state["pickers"].update(agree_a="model_b", agree_b="model_a")
    state, *_ = run_panel_method(panel, ds, "on_pick", state=state)
    _, _, p_value, expected = _independent_paired(ds, "model_b", "model_a")
    after = state["paired"]
    assert (after["fixed"], after["broken"]) == (before["broken"], before["fixed"])
    assert after["diff"] == pytest.approx(-before["diff"])
    assert (after["ci_low"], after["ci_high"]) == (expected["ci_low"], expected["ci_high"])
    assert after["p_value"] == pytest.approx(p_value) == pytest.approx(before["p_value"])


def test_no_second_model_no_paired_line(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    ds.delete_sample_field("model_b")
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    assert state["ready"] and state["paired"] is None
    assert "agreement_significance" not in rendered.to_json()["type"]["properties"]


def test_paired_from_agreement_equals_paired_from_view(dataset_name):
    """The panel's count-based helper gives paired_from_view's dict exactly."""
    from classlab.compare.paired import paired_from_agreement, paired_from_view
    from classlab.errors import InputError

    ds = make_models_dataset(dataset_name)
    counts = compare.agreement(ds, "model_a", "model_b")["counts"]
    assert paired_from_agreement(counts) == paired_from_view(ds, "model_a", "model_b")
    with pytest.raises(InputError, match="only_b_right"):
        paired_from_agreement({**counts, "only_b_right": -1})
