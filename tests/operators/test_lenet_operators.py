"""LeNet operators through foo.execute_operator on a real database (tiny MNIST, 1-2 epochs)."""

from pathlib import Path

import fiftyone as fo
import fiftyone.operators as foo
import pytest
from classlab.data.splits import split_dataset
from classlab.lenet.registry import list_models, load_model
from classlab.lenet.runs import train_lenet
from fiftyone import ViewField as F
from fiftyone.operators.executor import ExecutionError
from support.forms import core_message, errors, form

FAST = {"epochs": 1, "batch_size": 64, "architecture": "lenet5"}


@pytest.fixture(scope="module")
def trained(mnist_base):
    """A clone of mnist_base split 240 train / 60 val, with model ``base`` trained once."""
    ds = mnist_base.clone("classlab-test-lenet-trained")
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    train_lenet(ds, run_key="base", config=FAST)
    yield ds
    ds.delete()


def test_operators_are_listed():
    names = {op.uri for op in foo.list_operators()}
    for name in (
        "train_lenet",
        "apply_lenet",
        "evaluate_predictions",
        "list_models",
        "rename_model",
        "delete_model",
    ):
        assert f"@classlab/classlab/{name}" in names


def test_train_records_the_model(trained):
    rec = list_models(trained)["base"]
    assert rec["architecture"] == "lenet5" and rec["num_params"] == 61706
    assert rec["classes"] == sorted(trained.distinct("ground_truth.label"))
    assert [h["epoch"] for h in rec["history"]] == [1] and rec["best_epoch"] == 1
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"} <= set(rec["history"][0])
    assert Path(rec["checkpoint"]).is_file() and rec["parent"] is None
    assert rec["num_train"] == 240 and rec["num_val"] == 60
    model, _ = load_model(trained, "base")
    assert sum(p.numel() for p in model.parameters()) == 61706


def test_train_reports_progress_per_epoch(execute, trained):
    seen = []
    train_lenet(
        trained,
        run_key="progress_run",
        config=dict(epochs=2, **{k: v for k, v in FAST.items() if k != "epochs"}),
        progress=lambda f, label: seen.append(label),
    )
    epochs = [s for s in seen if s and s.startswith("epoch ")]
    assert any("epoch 1/2" in s for s in epochs) and any("epoch 2/2" in s for s in epochs)
    assert all("val loss" in s and "acc" in s for s in epochs)
    execute(
        "delete_model",
        dataset=trained,
        params={"run_key": "progress_run", "delete_checkpoint": True},
    )


def test_apply_writes_logits_embeddings_and_evaluates(execute, trained):
    view = trained.match_tags("test")
    res = execute(
        "apply_lenet",
        view=view,
        params={
            "run_key": "base",
            "label_field": "pred_a",
            "embeddings_field": "emb_a",
            "eval_key": "eval_a",
        },
    ).result
    assert res["num_samples"] == 300 and 0 <= res["accuracy"] <= 1
    pred = view.first()["pred_a"]
    assert pred.label in list_models(trained)["base"]["classes"]
    assert len(pred.logits) == 10 and 0 < pred.confidence <= 1
    assert len(view.first()["emb_a"]) == 84
    assert trained.match_tags("train").count("pred_a") == 0  # only the view
    assert "eval_a" in trained.list_evaluations()
    rec = list_models(trained)["base"]
    assert "pred_a" in rec["applied_to"] and rec["images_per_second"] > 0
    # evaluate the same field again, top-2 from the logits
    ev = execute(
        "evaluate_predictions",
        view=view,
        params={"pred_field": "pred_a", "eval_key": "eval_a2", "k": 2},
    ).result
    assert ev["accuracy"] == pytest.approx(res["accuracy"])
    assert ev["top_2_accuracy"] >= ev["accuracy"]


def test_fine_tune_from_checkpoint(execute, trained):
    res = execute(
        "train_lenet",
        dataset=trained,
        params={
            "run_key": "tuned",
            "init_from": "base",
            "epochs": 1,
            "batch_size": 64,
            "architecture": "lenet5_modern",
        },
    ).result
    rec = list_models(trained)["tuned"]
    assert rec["parent"] == "base" and rec["architecture"] == "lenet5"  # the parent's
    base = list_models(trained)["base"]
    # starting from trained weights: better than the parent's first epoch from scratch
    assert rec["history"][0]["val_loss"] < base["history"][0]["val_loss"]
    assert res["run_key"] == "tuned"


def test_include_augmented(execute, trained, tmp_path):
    ds = trained.clone()
    try:
        src = ds.match_tags("train").limit(10)
        copies = [
            fo.Sample(
                filepath=s.filepath,
                tags=["augmented"],
                ground_truth=fo.Classification(label=s.ground_truth.label),
            )
            for s in src
        ]
        ds.add_samples(copies)
        execute(
            "train_lenet", dataset=ds, params=dict(run_key="aug", include_augmented=True, **FAST)
        )
        execute("train_lenet", dataset=ds, params=dict(run_key="noaug", **FAST))
        models = list_models(ds)
        assert models["aug"]["num_train"] == 250 and models["noaug"]["num_train"] == 240
    finally:
        ds.delete()


def test_rename_list_delete(execute, trained):
    execute("train_lenet", dataset=trained, params=dict(run_key="tmp", **FAST))
    execute("rename_model", dataset=trained, params={"run_key": "tmp", "new_key": "tmp2"})
    listed = execute("list_models", dataset=trained).result["models"]
    assert "tmp2" in listed and "tmp" not in listed
    ckpt = Path(listed["tmp2"]["checkpoint"])
    execute("delete_model", dataset=trained, params={"run_key": "tmp2"})
    assert "tmp2" not in list_models(trained) and ckpt.exists()  # file kept unless asked
    execute("train_lenet", dataset=trained, params=dict(run_key="tmp3", **FAST))
    ckpt = Path(list_models(trained)["tmp3"]["checkpoint"])
    execute("delete_model", dataset=trained, params={"run_key": "tmp3", "delete_checkpoint": True})
    assert not ckpt.exists()


# ---- bad inputs: a clear error and nothing changed -------------------------------------


@pytest.mark.parametrize(
    "params, view_fn, message",
    [
        ({"train_tag": "nope"}, None, "train split"),
        ({"val_tag": "nope"}, None, "validation split"),
        ({"label_field": "filepath"}, None, "label_field|does not hold Classification"),
        ({"init_from": "ghost"}, None, "No model .*'ghost'"),
        ({"run_key": "base"}, None, "exists"),
        ({"device": "cuda"}, None, "no CUDA GPU"),
        (
            {},
            lambda ds: (
                ds.match(F("ground_truth.label") != "3 - three")
                .match_tags("train")
                .concat(ds.match_tags("val"))
            ),
            "classes the train split lacks",
        ),
    ],
)
def test_train_bad_inputs(execute, trained, unchanged, params, view_fn, message):
    import torch

    if params.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    view = view_fn(trained) if view_fn else trained
    with unchanged(trained), pytest.raises(ExecutionError, match=message):
        execute("train_lenet", view=view, params={"run_key": "bad", **FAST, **params})


def test_train_unreadable_image(execute, trained, unchanged, tmp_path):
    ds = trained.clone()
    try:
        bad = tmp_path / "broken.png"
        bad.write_bytes(b"\x89PNG garbage")
        ds.add_sample(
            fo.Sample(
                filepath=str(bad), tags=["train"], ground_truth=fo.Classification(label="1 - one")
            )
        )
        with unchanged(ds):
            with pytest.raises(ExecutionError, match="Cannot read image"):
                execute("train_lenet", dataset=ds, params=dict(run_key="x", **FAST))
            with pytest.raises(ExecutionError, match="Cannot read image"):
                execute("apply_lenet", dataset=ds, params={"run_key": "base"})
    finally:
        ds.delete()


def test_checkpoint_problems(execute, trained, unchanged):
    ds = trained.clone()
    try:
        # a model that knows only 5 classes
        few = ds.match(F("ground_truth.label").is_in(sorted(ds.distinct("ground_truth.label"))[:5]))
        execute("train_lenet", view=few, params=dict(run_key="five", **FAST))
        execute("train_lenet", dataset=ds, params=dict(run_key="gone", **FAST))
        Path(list_models(ds)["gone"]["checkpoint"]).unlink()
        with unchanged(ds):
            with pytest.raises(ExecutionError, match="same classes"):
                execute(
                    "train_lenet", dataset=ds, params=dict(run_key="ft", init_from="five", **FAST)
                )
            with pytest.raises(ExecutionError, match="does not know"):
                execute("apply_lenet", dataset=ds, params={"run_key": "five"})
            with pytest.raises(ExecutionError, match="checkpoint .* is missing"):
                execute("apply_lenet", dataset=ds, params={"run_key": "gone"})
            with pytest.raises(ExecutionError, match="checkpoint .* is missing"):
                execute(
                    "train_lenet", dataset=ds, params=dict(run_key="ft", init_from="gone", **FAST)
                )
            with pytest.raises(ExecutionError, match="No model .*'ghost'"):
                execute("apply_lenet", dataset=ds, params={"run_key": "ghost"})
    finally:
        ds.delete()


def test_apply_refuses_existing_field_without_overwrite(execute, trained, unchanged):
    view = trained.match_tags("test").limit(50)
    execute(
        "apply_lenet",
        view=view,
        params={
            "run_key": "base",
            "label_field": "pred_o",
            "embeddings_field": "",
            "eval_key": "eval_o",
        },
    )
    assert not trained.has_field("lenet_embeddings")
    with unchanged(trained), pytest.raises(ExecutionError, match="already exist"):
        execute(
            "apply_lenet",
            view=view,
            params={
                "run_key": "base",
                "label_field": "pred_o",
                "embeddings_field": "",
                "eval_key": "eval_o",
            },
        )
    execute(
        "apply_lenet",
        view=view,
        params={
            "run_key": "base",
            "label_field": "pred_o",
            "embeddings_field": "",
            "eval_key": "eval_o",
            "overwrite": True,
        },
    )
    assert trained.count("pred_o") == 50


# ---- forms show the core's own message (one rule, one place) ----------------------------


def test_valid_forms_have_no_error(trained):
    assert errors(form("train_lenet", trained, {"run_key": "fresh", **FAST})) == {}
    assert errors(form("train_lenet", trained, {"run_key": "base", "overwrite": True})) == {}
    assert errors(form("train_lenet", trained, {"run_key": "ft", "init_from": "base"})) == {}
    apply_params = {"run_key": "base", "label_field": "pred_new", "eval_key": "eval_new"}
    assert errors(form("apply_lenet", trained, apply_params)) == {}
    assert errors(form("rename_model", trained, {"run_key": "base", "new_key": "x"})) == {}
    assert errors(form("delete_model", trained, {"run_key": "base"})) == {}


@pytest.mark.parametrize(
    "params, prop, core_kwargs",
    [
        ({"epochs": 0}, "epochs", {"config": {**FAST, "epochs": 0}}),
        ({"batch_size": -1}, "batch_size", {"config": {**FAST, "batch_size": -1}}),
        ({"lr": 0.0}, "lr", {"config": {**FAST, "lr": 0.0}}),
        ({"label_smoothing": 1.0}, "label_smoothing", {"config": {**FAST, "label_smoothing": 1.0}}),
        ({"run_key": "base"}, "run_key", {"run_key": "base"}),
        ({"run_key": "a/b"}, "run_key", {"run_key": "a/b"}),
        ({"run_key": "_.."}, "run_key", {"run_key": "_.."}),
        ({"init_from": "ghost"}, "init_from", {"init_from": "ghost"}),
        ({"train_tag": "nope"}, "train_tag", {"train_tag": "nope"}),
        ({"val_tag": "nope"}, "val_tag", {"val_tag": "nope"}),
    ],
)
def test_train_form_message_is_the_cores(trained, unchanged, params, prop, core_kwargs):
    shown = errors(form("train_lenet", trained, {"run_key": "fresh", **FAST, **params}))
    assert list(shown) == [prop], shown
    core = {"run_key": "fresh", "config": FAST, **core_kwargs}
    with unchanged(trained):
        assert shown[prop] == core_message(train_lenet, trained, **core)


def test_train_form_checks_the_parents_classes(trained, unchanged):
    ds = trained.clone()
    try:
        few = ds.match(F("ground_truth.label").is_in(sorted(ds.distinct("ground_truth.label"))[:5]))
        train_lenet(few, run_key="five", config=FAST)
        shown = errors(form("train_lenet", ds, {"run_key": "ft", "init_from": "five", **FAST}))
        assert list(shown) == ["init_from"] and "same classes" in shown["init_from"]
        with unchanged(ds):
            message = core_message(train_lenet, ds, run_key="ft", init_from="five", config=FAST)
        assert shown["init_from"] == message
    finally:
        ds.delete()


def test_apply_form_messages_are_the_cores(trained, unchanged):
    from classlab.lenet.apply import apply_lenet

    trained.add_sample_field("taken", fo.StringField)
    good = {"run_key": "base", "label_field": "pred_f", "eval_key": "eval_f"}
    cases = [
        ({"run_key": "ghost"}, "run_key"),
        ({"batch_size": 0}, "batch_size"),
        ({"label_field": "taken"}, "label_field"),
        ({"embeddings_field": "pred_f"}, "embeddings_field"),
        ({"eval_key": "a.b"}, "eval_key"),
        ({"label_field": "ground_truth", "overwrite": True}, "label_field"),
        ({"label_field": "tags", "overwrite": True}, "label_field"),
        ({"embeddings_field": "tags"}, "embeddings_field"),
        ({"embeddings_field": "ground_truth", "overwrite": True}, "embeddings_field"),
        ({"eval_key": "ground_truth", "overwrite": True}, "eval_key"),
    ]
    for change, prop in cases:
        params = {**good, **change}
        shown = errors(form("apply_lenet", trained, params))
        assert list(shown) == [prop], (change, shown)
        with unchanged(trained):
            assert shown[prop] == core_message(apply_lenet, trained, **params)


def test_evaluate_form_messages_are_the_cores(trained, unchanged):
    from classlab.lenet.evaluate import evaluate_predictions

    if not trained.has_field("other"):
        trained.add_sample_field("other", fo.EmbeddedDocumentField, fo.Classification)
    cases = [
        ({"pred_field": "ground_truth", "gt_field": "ground_truth"}, "gt_field"),
        ({"pred_field": "other", "gt_field": "ground_truth", "k": 0}, "k"),
    ]
    for params, prop in cases:
        shown = errors(form("evaluate_predictions", trained, params))
        assert list(shown) == [prop], (params, shown)
        with unchanged(trained):
            assert shown[prop] == core_message(evaluate_predictions, trained, **params)


def test_rename_and_delete_forms_messages_are_the_cores(trained, unchanged):
    from classlab.lenet.registry import delete_model, rename_model

    shown = errors(form("rename_model", trained, {"run_key": "base", "new_key": "base"}))
    assert list(shown) == ["new_key"]
    with unchanged(trained):
        assert shown["new_key"] == core_message(rename_model, trained, "base", "base")
    shown = errors(form("delete_model", trained, {"run_key": "ghost"}))
    assert list(shown) == ["run_key"]
    with unchanged(trained):
        assert shown["run_key"] == core_message(delete_model, trained, "ghost")


def test_forms_read_models_once_and_never_scan_the_view(trained, monkeypatch):
    from classlab.lenet import registry
    from fiftyone.core.collections import SampleCollection

    calls = {"list_models": 0, "values": 0}
    real_list, real_values = registry.list_models, SampleCollection.values

    def counting_list(*args, **kwargs):
        calls["list_models"] += 1
        return real_list(*args, **kwargs)

    def counting_values(*args, **kwargs):
        calls["values"] += 1
        return real_values(*args, **kwargs)

    monkeypatch.setattr(registry, "list_models", counting_list)
    monkeypatch.setattr(SampleCollection, "values", counting_values)
    for name, params in [
        ("train_lenet", {"run_key": "base", "init_from": "base"}),
        ("apply_lenet", {"run_key": "base"}),
        ("rename_model", {"run_key": "base", "new_key": "x"}),
        ("delete_model", {"run_key": "base"}),
        ("list_models", {}),
    ]:
        calls.update(list_models=0, values=0)
        form(name, trained, params)
        assert calls == {"list_models": 1, "values": 0}, name


def test_list_models_has_a_form(trained):
    inputs = form("list_models", trained, {})
    notice = inputs.get_property("models")
    assert notice is not None and "base" in notice.view.label


def test_train_form_epochs_bound_can_be_raised_deliberately(trained):
    params = {"run_key": "fresh", **FAST}
    shown = errors(form("train_lenet", trained, {**params, "epochs": 2000}))
    assert list(shown) == ["epochs"] and "max_epochs=1000" in shown["epochs"]
    assert (
        errors(form("train_lenet", trained, {**params, "epochs": 2000, "max_epochs": 3000})) == {}
    )


# ---- issue 13: no split leakage, forms that open valid, result dialogs --------------------


def _resolve(name, dataset, params, view=None, results=None, target="inputs"):
    """A form's (or result dialog's) whole Property, with an App view when given."""
    from fiftyone.operators.executor import ExecutionContext

    request = {"dataset_name": dataset.name, "params": params}
    if view is not None:
        request["view"] = view._serialize()
    if results is not None:
        request["results"] = results
    ctx = ExecutionContext(request_params=request)
    op = foo.get_operator(f"@classlab/classlab/{name}")
    return op.resolve_input(ctx) if target == "inputs" else op.resolve_output(ctx)


def test_training_refuses_val_and_test_samples_in_the_train_split(execute, trained, unchanged):
    ds = trained.clone()
    try:
        ds.select(ds.match_tags("val").limit(2).values("id")).tag_samples("train")
        ds.select(ds.match_tags("test").limit(1).values("id")).tag_samples("train")
        params = dict(run_key="leak", **FAST)
        with unchanged(ds):
            message = core_message(train_lenet, ds, run_key="leak", config=FAST)
            with pytest.raises(ExecutionError, match="shares 3 sample"):
                execute("train_lenet", dataset=ds, params=params)
            with pytest.raises(ExecutionError, match="shares 3 sample"):  # fine-tuning too
                execute("train_lenet", dataset=ds, params={**params, "init_from": "base"})
        assert "3 sample(s) tagged both 'train' and 'val' or 'test'" in message
        assert "remove the 'train' tag" in message and "Nothing was written" in message
        assert errors(form("train_lenet", ds, params)) == {"train_tag": message}
    finally:
        ds.delete()


def test_training_refuses_augmented_copies_of_val_and_test_samples(execute, trained, unchanged):
    ds = trained.clone()
    try:
        sources = list(ds.match_tags("test").limit(2)) + list(ds.match_tags("val").limit(1))
        copies = [
            fo.Sample(
                filepath=s.filepath,
                tags=["augmented", "train"],  # the copies the old augmentation made
                ground_truth=fo.Classification(label=s.ground_truth.label),
                source_id=s.id,
            )
            for s in sources
        ]
        ds.add_samples(copies)
        params = dict(run_key="leak", include_augmented=True, **FAST)
        with unchanged(ds):
            message = core_message(
                train_lenet, ds, run_key="leak", config=FAST, include_augmented=True
            )
            with pytest.raises(ExecutionError, match="3 augmented cop"):
                execute("train_lenet", dataset=ds, params=params)
        assert "whose 'source_id' is a 'val' or 'test' sample" in message
        assert "delete_augmentations" in message
        assert errors(form("train_lenet", ds, params)) == {"train_tag": message}
        # without the copies the split is clean: the form opens valid
        assert errors(form("train_lenet", ds, {**params, "include_augmented": False})) == {}
    finally:
        ds.delete()


def test_new_model_key_is_the_next_free_name():
    from operators.lenet_forms import new_model_key

    assert new_model_key({}) == "lenet_v1"
    assert new_model_key({"lenet": {}, "lenet_v2": {}}) == "lenet_v3"
    assert new_model_key({"lenet_v1": {}, "lenet_v2": {}, "lenet_v2_control": {}}) == "lenet_v3"


def test_train_form_opens_valid_on_the_whole_dataset(trained):
    prop = _resolve("train_lenet", trained, {})
    inputs = prop.type
    assert errors(inputs) == {}
    key = inputs.get_property("run_key").default
    assert key.startswith("lenet_v") and key not in list_models(trained)
    assert inputs.get_property("view_target").default == "DATASET"
    assert "(240 train, 60 val samples)" in prop.view.label
    scratch = inputs.get_property("init_from").view.choices[0]
    assert scratch.value == "" and scratch.label == "(train from scratch)"
    archs = {c.value: c.description for c in inputs.get_property("architecture").view.choices}
    assert "LeCun" in archs["lenet5"] and "batch norm" in archs["lenet5_modern"]
    assert "coverage" not in inputs.properties


def test_train_form_warns_when_the_current_view_leaves_out_the_train_split(trained):
    view = trained.match_tags("train").limit(20).concat(trained.match_tags("val"))
    prop = _resolve("train_lenet", trained, {"view_target": "CURRENT_VIEW"}, view=view)
    warning = prop.type.get_property("coverage")
    assert warning is not None and "20 of the dataset's 240 train samples" in warning.view.label
    assert "(20 train, 60 val samples)" in prop.view.label
    # the whole dataset (the default target) needs no warning
    prop = _resolve("train_lenet", trained, {"view_target": "DATASET"}, view=view)
    assert "coverage" not in prop.type.properties and "(240 train" in prop.view.label


def test_form_errors_are_repeated_at_the_top(trained):
    inputs = form("train_lenet", trained, {"run_key": "base", **FAST})
    first = next(iter(inputs.properties))
    assert first in ("form_errors", "view_target")
    top = inputs.get_property("form_errors")
    assert top is not None and "already exists" in top.view.description


def test_apply_outputs_follow_the_chosen_model(execute, trained):
    ds = trained.clone()
    try:
        execute("train_lenet", dataset=ds, params=dict(run_key="second", **FAST))
        for key in ("base", "second"):
            inputs = form("apply_lenet", ds, {"run_key": key})
            defaults_ = {
                n: inputs.get_property(n).default
                for n in ("label_field", "embeddings_field", "eval_key", "overwrite")
            }
            assert defaults_ == {
                "label_field": key,
                "embeddings_field": f"{key}_embeddings",
                "eval_key": f"eval_{key}",
                "overwrite": False,
            }
            assert errors(inputs) == {}
            res = execute("apply_lenet", view=ds.match_tags("test"), params={"run_key": key})
            assert res.result["label_field"] == key and ds.has_field(f"{key}_embeddings")
        assert {"eval_base", "eval_second"} <= set(ds.list_evaluations())
        # re-applying a model to its own field opens valid: overwrite is on
        inputs = form("apply_lenet", ds, {"run_key": "base"})
        assert inputs.get_property("overwrite").default is True and errors(inputs) == {}
    finally:
        ds.delete()


def _assert_dialog(name, dataset, result, *numbers, params=None):
    """The result dialog shows every field from ``result`` and a summary with ``numbers``."""
    out = _resolve(name, dataset, params or {}, results=result, target="outputs")
    shown = [n for n in out.type.properties if n != "summary"]
    assert shown and all(n in result for n in shown), (name, shown, sorted(result))
    summary = out.type.get_property("summary").default
    for number in numbers:
        assert str(number) in summary, (name, number, summary)
    return out


def test_result_dialogs_say_what_changed(execute, trained):
    ds = trained.clone()
    try:
        res = execute("train_lenet", dataset=ds, params=dict(run_key="shown", **FAST)).result
        assert res["num_train"] == 240 and res["num_val"] == 60 and res["epochs_run"] == 1
        assert Path(res["checkpoint"]).is_file() and res["train_seconds"] > 0
        _assert_dialog("train_lenet", ds, res, "shown", f"{res['val_acc']:.4f}", 240, "epoch 1")
        res = execute("apply_lenet", view=ds.match_tags("test"), params={"run_key": "shown"})
        res = res.result
        wrong = ds.match_tags("test").match(F("shown.label") != F("ground_truth.label")).count()
        assert res["embeddings_field"] == "shown_embeddings"
        _assert_dialog("apply_lenet", ds, res, 300, f"{res['accuracy']:.4f}", f"{wrong} mistakes")
        res = execute("evaluate_predictions", dataset=ds, params={"pred_field": "shown"}).result
        _assert_dialog("evaluate_predictions", ds, res, res["num_evaluated"], "eval_lenet")
        res = execute("list_models", dataset=ds).result
        out = _resolve("list_models", ds, {}, results=res, target="outputs")
        columns = [c.key for c in out.type.get_property("table").view.columns]
        assert [r["run_key"] for r in res["table"]] == sorted(list_models(ds))
        assert all(set(columns) == set(row) for row in res["table"])
        assert f"{res['count']} model(s)" in out.type.get_property("summary").default
        res = execute("rename_model", dataset=ds, params={"run_key": "shown", "new_key": "s2"})
        _assert_dialog("rename_model", ds, res.result, "shown", "s2", params={"run_key": "shown"})
        res = execute("delete_model", dataset=ds, params={"run_key": "s2"}).result
        _assert_dialog("delete_model", ds, res, "s2", "kept")
    finally:
        ds.delete()
