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
    assert data["confusion_plot"][0]["text"] == sdk["confusion"]["model_a"]["matrix"]
    assert data["confusion_plot"][0]["z"] == [[None, 1, 0], [0, None, 1], [2, 0, None]]
    assert [t["name"] for t in data["f1_plot"]] == ["model_a", "model_b"]
    assert state["scope"] == "all"  # no split tags on these samples
    props = rendered.to_json()["type"]["properties"]
    assert {"summary", "per_class", "f1_plot", "confusion_plot", "agreement_buttons"} <= set(props)
    assert {"delta_plot", "choices", "pickers", "sort", "confusion_row"} <= set(props)


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
    assert data["confusion_plot"][0]["text"] == [[2, 2, 0], [0, 2, 2], [0, 1, 3]]


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
        panel, ds, "on_class_click", state=state, params={"row": 0, "column": "class"}
    )  # cat: one mistake by model_a (the confusion model)
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

    from classlab.compare import panel_data

    for module in (compare, comparison, fields, panel_data):
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


# ---------------------------------------------------------------- issue 14 items 3, 5-7


def _tagged(dataset_name):
    """The 12 samples, the first 6 tagged ``train`` and the last 6 ``test``."""
    ds = make_models_dataset(dataset_name)
    ids = ds.values("id")
    ds.select(ids[:6]).tag_samples("train")
    ds.select(ids[6:]).tag_samples("test")
    return ds


def _pick(state, container, **values):
    """What the App does when a picker inside ``container`` changes."""
    state = dict(state)
    state[container] = {**(state.get(container) or {}), **values}
    return state


def test_split_picker_defaults_to_test_and_offers_all_and_the_view(panel, dataset_name):
    ds = _tagged(dataset_name)
    state, data, rendered, _ = run_panel_method(panel, ds, "on_load")
    test = ds.match_tags("test")
    sdk = compare.compare_models(test)
    assert state["scope"] == "test" and state["n_samples"] == 6
    assert state["summary"] == compare_plots.table_rows(sdk["summary"])
    assert data["confusion_plot"][0]["text"] == sdk["confusion"]["model_a"]["matrix"]
    scopes = [s[0] for s in state["scopes"]]
    assert scopes == ["train", "test", "all", "view"]
    state, *_ = run_panel_method(panel, ds, "on_pick", state=_pick(state, "choices", scope="all"))
    assert state["n_samples"] == 12
    # "current view": the grid's view when picked; clicks stay inside it
    grid = ds.match({"ground_truth.label": "cat"})
    state, *_ = run_panel_method(
        panel, ds, "on_pick_scope", state=_pick(state, "choices", scope="view"), view=grid
    )
    assert state["scope"] == "view" and state["n_samples"] == 4
    assert state["summary"] == compare_plots.table_rows(compare.compare_models(grid)["summary"])
    _, _, _, trig = run_panel_method(
        panel, ds, "on_agreement_click", state=state, params={"category": "both_right"}
    )
    (view,) = _views(ds, trig)
    assert set(view.values("ground_truth.label")) == {"cat"} and len(view) == 2


def test_clicks_stay_in_the_split(panel, dataset_name):
    ds = _tagged(dataset_name)
    state, *_ = run_panel_method(panel, ds, "on_load")
    _, _, _, trig = run_panel_method(
        panel, ds, "on_agreement_click", state=state, params={"category": "both_right"}
    )
    (view,) = _views(ds, trig)
    assert len(view) == 2 and all("test" in t for t in view.values("tags"))


def test_class_row_and_f1_bar_filter_to_that_models_errors(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    state, data, *_ = run_panel_method(panel, ds, "on_load")
    owl = [r["class"] for r in state["per_class"]].index("owl")
    # the App sends the column's index: class, model_a P/R/F1, model_b P/R/F1, ΔF1
    for column, model in (
        ("model_b_f1", "model_b"),
        ("model_a_recall", "model_a"),
        (6, "model_b"),
        (2, "model_a"),
        (0, "model_a"),
    ):
        _, _, _, trig = run_panel_method(
            panel, ds, "on_class_click", state=state, params={"row": owl, "column": column}
        )
        (view,) = _views(ds, trig)
        expected = compare.confusion_view(ds, model, "ground_truth", "owl")
        assert sorted(view.values("id")) == sorted(expected.values("id"))
        assert all(p != "owl" for p in view.values(f"{model}.label"))
    # model_a misses 2 owls, model_b 1: a bar of model_b's F1 trace names model_b
    bar = data["f1_plot"][1]
    assert bar["ids"][owl] == "model_b|owl"
    _, _, _, trig = run_panel_method(
        panel, ds, "on_bar_click", state=state, params={"x": "owl", "trace_idx": 1, "id": None}
    )
    assert len(_views(ds, trig)[0]) == 1
    _, _, _, trig = run_panel_method(
        panel, ds, "on_bar_click", state=state, params={"x": "owl", "id": "model_a|owl"}
    )
    assert len(_views(ds, trig)[0]) == 2
    # the delta-F1 plot has only model_b's trace: its id still names model_b
    assert [t["ids"][owl] for t in data["delta_plot"]] == ["model_b|owl"]


def test_plots_confusion_modes_deltas_legends_and_epoch_ticks(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    state, data, rendered, _ = run_panel_method(panel, ds, "on_load")
    sdk = compare.compare_models(ds)
    layouts = state["layouts"]
    # errors only: diagonal blank, counts written in every cell
    heat = data["confusion_plot"][0]
    assert heat["texttemplate"] == "%{text}" and heat["text"] == [[3, 1, 0], [0, 3, 1], [2, 0, 2]]
    assert all(heat["z"][i][i] is None for i in range(3))
    state, data, *_ = run_panel_method(
        panel, ds, "on_pick", state=_pick(state, "confusion_row", cm_mode="log")
    )
    heat = data["confusion_plot"][0]
    assert heat["z"][0][0] == pytest.approx(0.60206) and heat["z"][0][2] == 0.0
    # delta F1 against the baseline, on a zoomed axis that holds every bar and 0
    pc = sdk["per_class"]
    (delta,) = data["delta_plot"]
    assert delta["y"] == pytest.approx(list(pc["model_b_f1"] - pc["model_a_f1"]), abs=1e-5)
    low, high = layouts["delta_plot"]["yaxis"]["range"]
    assert low <= min(delta["y"] + [0]) and high >= max(delta["y"] + [0]) and high - low < 2
    f1_low, f1_high = layouts["f1_plot"]["yaxis"]["range"]
    assert 0 <= f1_low <= min(min(t["y"]) for t in data["f1_plot"]) and f1_high <= 1.001
    for name in ("f1_plot", "delta_plot", "loss_plot", "acc_plot"):
        assert layouts[name]["showlegend"] is True and layouts[name]["autosize"] is True
        assert "width" not in layouts[name]
    assert layouts["loss_plot"]["xaxis"]["dtick"] == 1  # integer epoch ticks
    props = rendered.to_json()["type"]["properties"]
    assert props["f1_plot"]["view"]["config"]["responsive"] is True


def test_field_arrays_are_read_once_per_dataset_version(panel, dataset_name):
    from classlab.compare.store import STORE

    ds = make_models_dataset(dataset_name)
    before = STORE.reads
    state, *_ = run_panel_method(panel, ds, "on_load")
    assert STORE.reads == before + 1  # ids, tags, ground truth and both models: one pass
    for container, values in (
        ("pickers", {"baseline": "model_b"}),
        ("pickers", {"cm_model": "model_b"}),
        ("pickers", {"agree_a": "model_b", "agree_b": "model_a"}),
        ("choices", {"fields": ["model_b"]}),
        ("sort", {"sort_by": "accuracy", "sort_desc": False}),
    ):
        state, *_ = run_panel_method(panel, ds, "on_pick", state=_pick(state, container, **values))
        assert state["ready"], state["message"]
    run_panel_method(panel, ds, "on_confusion_click", state=state, params={"x": "cat", "y": "owl"})
    assert STORE.reads == before + 1
    # a new version of the samples (relabelled): read again, new numbers
    ds.set_values("model_b.label", ["cat"] * len(ds))
    state, *_ = run_panel_method(panel, ds, "on_load", state=state)
    assert STORE.reads == before + 2
    assert state["summary"][0]["accuracy"] == "0.3333"  # model_b: 4 cats of 12


def test_summary_model_columns_and_sorting(panel, dataset_name):
    from classlab import records

    ds = make_models_dataset(dataset_name)
    latency = {"torch": {"1": 0.41, "256": 0.0123}, "onnx": {"1": 0.2}}
    records.set_record(
        ds,
        "models",
        "run_a",
        {
            "applied_to": ["model_a"],
            "num_params": 61706,
            "train_seconds": 12.25,
            "latency_ms": latency,
        },
    )
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    a, b = state["summary"]
    assert (a["num_params"], a["train_seconds"]) == ("61,706", "12.2")
    assert (a["latency_torch_1"], a["latency_torch_256"]) == ("0.410", "0.012")
    assert (a["latency_onnx_1"], a["latency_onnx_256"]) == ("0.200", "—")
    assert b["num_params"] == b["latency_torch_1"] == "—"
    cols = rendered.to_json()["type"]["properties"]["summary"]["view"]["columns"]
    assert {"latency_torch_1", "latency_onnx_256", "num_params"} <= {c["key"] for c in cols}
    state, *_ = run_panel_method(
        panel, ds, "on_pick", state=_pick(state, "sort", sort_by="accuracy", sort_desc=False)
    )
    assert [r["field"] for r in state["summary"]] == ["model_b", "model_a"]
    state, *_ = run_panel_method(
        panel, ds, "on_pick", state=_pick(state, "sort", sort_by="num_params", sort_desc=False)
    )
    assert [r["field"] for r in state["summary"]] == ["model_a", "model_b"]  # missing last


def test_repeats_are_grouped_with_mean_sd_and_pooled_test(panel, dataset_name):
    import numpy as np
    from classlab.compare.paired import right_from_view
    from classlab.compare.stats import pooled_comparison

    ds = make_models_dataset(dataset_name)
    for i, src in ((1, "model_a"), (2, "model_b")):
        ds.clone_sample_field(src, f"model_b_s{i}")
        ds.evaluate_classifications(f"model_b_s{i}", gt_field="ground_truth", eval_key=f"ev{i}")
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    (row,) = state["repeats"]
    runs = ["model_b", "model_b_s1", "model_b_s2"]
    right = right_from_view(ds, ["model_a", *runs])
    acc = [right[f].mean() for f in runs]
    assert row["group"] == "model_b" and row["runs"] == "3"
    assert row["accuracy"] == f"{np.mean(acc):.4f} ± {np.std(acc, ddof=1):.4f}"
    pooled = pooled_comparison([(right["model_a"], right[f]) for f in runs])
    assert f"McNemar p = {pooled['p_value']:.2g}" in row["paired"]
    assert f"fixed {pooled['fixed']}, broken {pooled['broken']}" in row["paired"]
    assert "repeats" in rendered.to_json()["type"]["properties"]


def test_score_buttons_sort_the_grid(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    assert state["scores"] == {} and "score_mistakenness" not in str(rendered.to_json())
    scores = [float(i) for i in range(12)]
    ds.set_values("model_a_mistakenness", scores[::-1])
    ds.set_values("model_a_hardness", scores)
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load", state=state)
    assert state["scores"] == {
        "mistakenness": "model_a_mistakenness",
        "hardness": "model_a_hardness",
    }
    props = rendered.to_json()["type"]["properties"]["confusion_row"]["type"]["properties"]
    assert {"score_mistakenness", "score_hardness"} <= set(props)
    for score, first in (("mistakenness", 11.0), ("hardness", 11.0)):
        _, _, _, trig = run_panel_method(
            panel, ds, "on_score_click", state=state, params={"score": score}
        )
        (view,) = _views(ds, trig)
        values = view.values(f"model_a_{score}")
        assert values[0] == first and values == sorted(values, reverse=True)


def test_label_issue_counts_per_class(panel, dataset_name):
    from classlab import records

    ds = make_models_dataset(dataset_name)
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    assert state["label_issues"] is None and "label_issues" not in state["per_class"][0]
    records.set_record(
        ds,
        "label_issues",
        "li_1",
        {
            "field": "model_a",
            "label_field": "ground_truth",
            "counts_per_class": {"owl": 3},
            "created_at": "2026-11-30T01:00:00+00:00",
        },
    )
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load", state=state)
    assert [r["label_issues"] for r in state["per_class"]] == ["0", "0", "3"]
    cols = rendered.to_json()["type"]["properties"]["per_class"]["view"]["columns"]
    assert "label_issues" in [c["key"] for c in cols]


def test_a_model_evaluated_from_the_panel_joins_at_once(panel, dataset_name):
    ds = make_models_dataset(dataset_name)
    ds.clone_sample_field("model_b", "model_c")
    state, *_ = run_panel_method(panel, ds, "on_load")
    assert state["fields"] == ["model_a", "model_b"] and state["unevaluated"] == ["model_c"]
    state, *_ = run_panel_method(
        panel, ds, "on_pick", state=_pick(state, "choices", fields=["model_a"])
    )
    assert state["fields"] == ["model_a"]
    state, *_ = run_panel_method(panel, ds, "on_evaluate", state=state, params={"field": "model_c"})
    assert state["fields"] == ["model_a", "model_c"] and state["unevaluated"] == []


def test_an_empty_split_says_so_and_another_can_be_picked(panel, dataset_name):
    ds = _tagged(dataset_name)
    test = ds.match_tags("test")
    test.set_values("model_a", [None] * len(test))  # model_a labelled only train samples
    state, _, rendered, _ = run_panel_method(panel, ds, "on_load")
    assert not state["ready"] and "No sample of the scope has a label" in state["message"]
    assert "choices" in rendered.to_json()["type"]["properties"]  # the split picker stays
    state, *_ = run_panel_method(panel, ds, "on_pick", state=_pick(state, "choices", scope="train"))
    assert state["ready"] and state["n_samples"] == 6
