"""CLIP operators through foo.execute_operator, with a tiny random-weight model."""

import numpy as np
import pytest
from classlab import records
from classlab.errors import ClassLabError
from fiftyone.operators.executor import ExecutionError
from support.tiny_clip import register_tiny_clip


@pytest.fixture(scope="module")
def tiny():
    return register_tiny_clip()


@pytest.fixture
def model(tiny):
    return {
        "model_name": tiny,
        "random_weights": True,
        "device": "cpu",
        "batch_size": 64,
        "num_workers": 2,
    }


def test_operators_are_listed():
    import fiftyone.operators as foo

    names = {op.uri for op in foo.list_operators()}
    assert {
        "@classlab/classlab/compute_clip_embeddings",
        "@classlab/classlab/zero_shot_classify",
    } <= names


def test_embeddings_map_and_index(execute, mnist_small, model, tiny):
    res = execute(
        "compute_clip_embeddings",
        dataset=mnist_small,
        params=dict(model, compute_viz=True, viz_method="pca", compute_similarity=True),
    ).result
    assert res["num_embedded"] == len(mnist_small) == 600 and res["num_failed"] == 0
    vecs = np.stack(mnist_small.values("clip_embeddings"))
    assert vecs.shape == (600, 64)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    assert {"clip_viz", "clip_sim"} <= set(mnist_small.list_brain_runs())
    assert mnist_small.get_brain_info("clip_viz").config.type == "visualization"
    rec = records.get_record(mnist_small, "clip", "clip_embeddings")
    assert rec["model_name"] == tiny and rec["random_weights"] is True
    assert rec["pretrained"] is None and rec["precision"] == "fp32"
    # skip_existing: a second run over part of the dataset embeds nothing
    again = execute("compute_clip_embeddings", view=mnist_small.limit(50), params=model).result
    assert again["num_embedded"] == 0 and again["num_skipped_existing"] == 50
    # identical images give identical embeddings with the seeded random model
    redo = execute(
        "compute_clip_embeddings",
        view=mnist_small.limit(5),
        params=dict(model, skip_existing=False),
    ).result
    assert redo["num_embedded"] == 5
    np.testing.assert_allclose(
        np.stack(mnist_small.limit(5).values("clip_embeddings")), vecs[:5], rtol=1e-5, atol=1e-6
    )


def test_zero_shot_reuses_embeddings_and_evaluates(execute, mnist_small, model):
    view = mnist_small.match_tags("test")
    execute("compute_clip_embeddings", view=view.limit(100), params=model)
    res = execute("zero_shot_classify", view=view, params=dict(model, template_set="mnist")).result
    assert res["num_predicted"] == 300 and res["num_reused_embeddings"] == 100
    assert res["prompt_names"]["3 - three"] == "3"
    assert res["classes"] == sorted(mnist_small.distinct("ground_truth.label"))
    preds = view.values("clip_zero_shot")
    assert all(p is not None and len(p.logits) == 10 and 0 < p.confidence <= 1 for p in preds)
    assert "eval_clip" in mnist_small.list_evaluations()
    correct = sum(p.label == g.label for p, g in zip(preds, view.values("ground_truth")))
    assert res["accuracy"] == pytest.approx(correct / 300, abs=1e-4)
    rec = records.get_record(mnist_small, "clip", "clip_zero_shot")
    assert rec["type"] == "zero_shot" and rec["templates"] == ['a photo of the number: "{}".']
    assert rec["embeddings_field"] == "clip_embeddings" and rec["random_weights"] is True


def test_zero_shot_own_templates_classes_and_names(execute, mnist_small, model):
    view = mnist_small.limit(40)
    res = execute(
        "zero_shot_classify",
        view=view,
        params=dict(
            model,
            classes=["0 - zero", "1 - one", "2 - two"],
            templates=["digit {}", "a {} digit"],
            prompt_names="0 - zero: nought\n1 - one: one",
            prompt_style="last",
            label_field="zs3",
            evaluate=False,
            embeddings_field="",
        ),
    ).result
    assert res["prompt_names"] == {"0 - zero": "nought", "1 - one": "one", "2 - two": "two"}
    assert res["templates"] == ["digit {}", "a {} digit"]
    assert set(view.distinct("zs3.label")) <= {"0 - zero", "1 - one", "2 - two"}
    assert "eval_clip" not in mnist_small.list_evaluations()
    res = execute(
        "zero_shot_classify",
        view=view,
        params=dict(
            model,
            prompt_names={"9 - nine": "niner"},
            label_field="zs10",
            evaluate=False,
        ),
    ).result
    assert res["prompt_names"]["9 - nine"] == "niner"


def test_zero_shot_with_local_checkpoint(execute, mnist_small, tiny, tmp_path):
    import torch
    from classlab.clip import check_spec, load_clip

    base = load_clip(check_spec(tiny, None, random_weights=True), "cpu")
    path = tmp_path / "tiny-finetuned.pt"
    torch.save({k: v * 1.01 for k, v in base.model.state_dict().items()}, path)
    res = execute(
        "zero_shot_classify",
        view=mnist_small.limit(30),
        params={
            "model_name": tiny,
            "pretrained": str(path),
            "device": "cpu",
            "evaluate": False,
            "embeddings_field": "",
        },
    ).result
    assert res["num_predicted"] == 30 and "tiny-finetuned.pt" in res["model"]
    assert records.get_record(mnist_small, "clip", "clip_zero_shot")["pretrained"] == str(path)


def test_unreadable_images_skip_or_raise(execute, mnist_small, model, tmp_path, unchanged):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    ids = mnist_small.limit(2).values("id")
    mnist_small.select(ids[:1]).set_values("filepath", [str(tmp_path / "missing.png")])
    mnist_small.select(ids[1:]).set_values("filepath", [str(corrupt)])
    view = mnist_small.limit(20)
    with unchanged(mnist_small):
        with pytest.raises(ExecutionError, match="could not be read.*missing.png"):
            execute("compute_clip_embeddings", view=view, params=dict(model, on_error="raise"))
        with pytest.raises(ExecutionError, match="could not be read.*corrupt.png"):
            execute(
                "zero_shot_classify",
                view=mnist_small.select(ids[1:]).concat(mnist_small.skip(2).limit(5)),
                params=dict(model, on_error="raise"),
            )
    res = execute("compute_clip_embeddings", view=view, params=model).result
    assert res["num_embedded"] == 18 and res["num_failed"] == 2
    assert {f["filepath"] for f in res["failed"]} == {str(tmp_path / "missing.png"), str(corrupt)}
    assert view.count("clip_embeddings") == 18
    res = execute("zero_shot_classify", view=view, params=dict(model, evaluate=False)).result
    assert res["num_predicted"] == 18 and res["num_failed"] == 2
    assert view.count("clip_zero_shot") == 18


def test_bad_inputs_leave_dataset_unchanged(execute, mnist_small, model, tiny, tmp_path, unchanged):
    execute("compute_clip_embeddings", view=mnist_small.limit(10), params=model)
    other = tmp_path / "other.pt"
    import torch
    from classlab.clip import check_spec, load_clip

    torch.save(load_clip(check_spec(tiny, None, True), "cpu").model.state_dict(), other)
    emb, zs = "compute_clip_embeddings", "zero_shot_classify"
    cases = [
        (emb, mnist_small, dict(model, model_name="ViT-Q-99"), "not a known CLIP model"),
        (zs, mnist_small, dict(model, model_name="ViT-Q-99"), "not a known CLIP model"),
        (
            emb,
            mnist_small,
            {"model_name": "ViT-B-32", "pretrained": "laion9b"},
            "Unknown pretrained tag 'laion9b'",
        ),
        (
            emb,
            mnist_small,
            {
                "model_name": "ViT-B-32",
                "pretrained": "laion2b_s34b_b79k",
                "device": "cpu",
                "embeddings_field": "vitb32",
            },
            # the form's weights check: no download attempt
            "ViT-B-32/laion2b_s34b_b79k are not in the local cache and HF_HUB_OFFLINE",
        ),
        (zs, mnist_small, dict(model, classes=["0 - zero", "0 - zero", "1 - one"]), "duplicates"),
        (zs, mnist_small, dict(model, classes=["0 - zero"]), "at least two classes"),
        (zs, mnist_small.match({"ground_truth.label": "3 - three"}), model, "at least two"),
        (zs, mnist_small, dict(model, templates=["a photo of a digit"]), "slot"),
        (zs, mnist_small, dict(model, prompt_names={"0 - zero": "1"}), "indistinguishable"),
        (
            zs,
            mnist_small,
            {"model_name": tiny, "pretrained": str(other), "device": "cpu"},
            "holds embeddings made by ClassLab-Tiny-ViT \\(random weights",
        ),
        (
            emb,
            mnist_small,
            {"model_name": tiny, "pretrained": str(other), "device": "cpu"},
            "choose another embeddings_field, or pass overwrite=True",
        ),
        (emb, mnist_small.limit(0), model, "no samples"),
        (zs, mnist_small.limit(0), model, "no samples"),
        (emb, mnist_small, dict(model, embeddings_field="ground_truth"), "not embeddings"),
        (
            zs,
            mnist_small,
            dict(model, label_field="clip_embeddings"),
            "Classification|would overwrite the ground truth or embeddings",
        ),
        (emb, mnist_small.limit(10), dict(model, compute_viz=True), "needs at least 16"),
        (emb, mnist_small, dict(model, device="cuda"), "no CUDA GPU"),
        (emb, mnist_small, dict(model, batch_size=0), "batch_size must be a whole number"),
        (zs, mnist_small, dict(model, num_workers=-2), "num_workers must be a whole number"),
        (emb, mnist_small, dict(model, on_error="ignore"), "on_error must be 'skip' or 'raise'"),
        (zs, mnist_small, dict(model, device="tpu"), "device must be one of"),
        (zs, mnist_small, dict(model, prompt_names='{"0 - zero": '), "not a JSON object"),
        (emb, mnist_small, dict(model, pretrained="", random_weights=False), "No weights given"),
        (zs, mnist_small, dict(model, random_weights=False, pretrained="w.ckpt"), "does not exist"),
    ]
    import torch as _t

    for op, view, params, match in cases:
        if "CUDA" in match and _t.cuda.is_available():
            continue
        with unchanged(mnist_small), pytest.raises(ExecutionError, match=match):
            execute(op, view=view, params=params)


def test_overwrite_replaces_other_model(execute, mnist_small, model, tiny, tmp_path):
    import torch
    from classlab.clip import check_spec, load_clip

    execute("compute_clip_embeddings", view=mnist_small.limit(10), params=model)
    other = tmp_path / "other.pt"
    torch.save(
        {
            k: v * 1.5
            for k, v in load_clip(check_spec(tiny, None, True), "cpu").model.state_dict().items()
        },
        other,
    )
    res = execute(
        "compute_clip_embeddings",
        view=mnist_small.limit(4),
        params={"model_name": tiny, "pretrained": str(other), "device": "cpu", "overwrite": True},
    ).result
    assert res["num_embedded"] == 4 and mnist_small.count("clip_embeddings") == 4
    rec = records.get_record(mnist_small, "clip", "clip_embeddings")
    assert rec["pretrained"] == str(other) and rec["random_weights"] is False


def test_delegated_execution(execute, mnist_small, model):
    from fiftyone.operators.delegated import DelegatedOperationService

    mnist_small.persistent = True
    queued = execute(
        "compute_clip_embeddings", view=mnist_small.limit(30), params=model, request_delegation=True
    )
    assert queued.delegated
    svc = DelegatedOperationService()
    ops = svc.get_queued_operations(dataset_name=mnist_small.name)
    assert len(ops) == 1
    svc.execute_operation(ops[0])
    done = svc.get(ops[0].id)
    assert done.run_state == "completed", done.result
    assert done.result.result["num_embedded"] == 30
    assert done.status is None or done.status.progress == 1.0
    assert mnist_small.count("clip_embeddings") == 30


def test_zero_shot_on_unlabelled_data(execute, mnist_small, model, dataset_name):
    import fiftyone as fo

    ds = fo.Dataset(dataset_name)
    ds.add_samples([fo.Sample(filepath=p) for p in mnist_small.limit(12).values("filepath")])
    res = execute(
        "zero_shot_classify", dataset=ds, params=dict(model, classes=["cat", "dog"], evaluate=False)
    ).result
    assert res["num_predicted"] == 12 and set(ds.distinct("clip_zero_shot.label")) <= {"cat", "dog"}


def resolve_form(name, dataset, params):
    """The form ``name`` builds for ``params``, through a real ExecutionContext."""
    import fiftyone.operators as foo

    ctx = foo.ExecutionContext(request_params={"dataset_name": dataset.name, "params": params})
    return foo.get_operator(f"@classlab/classlab/{name}").resolve_input(ctx).type


def core_message(fn, *args, **kwargs) -> str:
    with pytest.raises(ClassLabError) as err:
        fn(*args, **kwargs)
    return str(err.value)


def invalid_props(form) -> dict:
    return {k: p.error_message for k, p in form.properties.items() if p.invalid}


def test_forms_show_the_cores_messages(mnist_small, model, tiny, tmp_path):
    from classlab.clip import LoaderOptions, check_spec
    from classlab.clip.prompts import parse_prompt_names
    from classlab.clip.templates import resolve_templates
    from classlab.clip.weights import require_clip_weights

    for op in ("compute_clip_embeddings", "zero_shot_classify"):
        assert invalid_props(resolve_form(op, mnist_small, model)) == {}
        # default weights, offline: the weights check, not a download, marks pretrained
        form = resolve_form(op, mnist_small, {})
        assert invalid_props(form) == {
            "pretrained": core_message(require_clip_weights, "ViT-B-32", "laion2b_s34b_b79k")
        }
        assert "HF_HUB_OFFLINE" in form.get_property("pretrained").error_message
        form = resolve_form(op, mnist_small, dict(model, model_name="ViT-B-33"))
        assert invalid_props(form) == {"model_name": core_message(check_spec, "ViT-B-33")}
        form = resolve_form(op, mnist_small, dict(model, random_weights=False, pretrained="x.pt"))
        assert invalid_props(form) == {"pretrained": core_message(check_spec, tiny, "x.pt")}
        form = resolve_form(op, mnist_small, dict(model, batch_size=0, on_error="never"))
        assert invalid_props(form) == {
            "batch_size": core_message(LoaderOptions, batch_size=0),
            "on_error": core_message(LoaderOptions, on_error="never"),
        }
    # a real checkpoint file: usable weights, no random weights needed
    import torch
    from classlab.clip import load_clip

    ckpt = tmp_path / "w.ckpt"
    torch.save(load_clip(check_spec(tiny, None, True), "cpu").model.state_dict(), ckpt)
    form = resolve_form(
        "zero_shot_classify", mnist_small, {"model_name": tiny, "pretrained": str(ckpt)}
    )
    # zero-shot rules: templates, prompt-name text, classes, fields and keys
    bad = dict(
        model,
        templates=["a photo of a digit"],
        prompt_names='{"0 - zero": ',
        classes=["0 - zero", "0 - zero"],
        label_field="ground_truth",
        eval_key="bad.key",
    )
    form = resolve_form("zero_shot_classify", mnist_small, bad)
    errors = invalid_props(form)
    assert errors["templates"] == core_message(resolve_templates, "mnist", ["a photo of a digit"])
    assert errors["prompt_names"] == core_message(parse_prompt_names, '{"0 - zero": ')
    assert "The class list has duplicates: 0 - zero" in errors["classes"]
    assert "would overwrite the ground truth" in errors["label_field"]
    assert "eval_key name 'bad.key' is not valid" in errors["eval_key"]
    # embeddings: a key taken by another kind of run, too few samples for a map
    form = resolve_form(
        "compute_clip_embeddings",
        mnist_small,
        dict(
            model, compute_viz=True, viz_method="tsne", compute_similarity=True, sim_key="clip_viz"
        ),
    )
    assert invalid_props(form) == {"sim_key": "sim_key and viz_key must differ (both 'clip_viz')"}
    form = resolve_form("compute_clip_embeddings", mnist_small, dict(model, embeddings_field="a.b"))
    assert "embeddings_field name 'a.b' is not valid" in invalid_props(form)["embeddings_field"]


def test_forms_read_no_samples_and_load_no_model(mnist_small, model, monkeypatch):
    """resolve_input counts; it never pulls values over the view nor loads a model."""
    import classlab.clip.models as models
    import fiftyone.core.collections as foc

    def forbidden(*args, **kwargs):
        raise AssertionError("resolve_input scanned the view or loaded a model")

    monkeypatch.setattr(foc.SampleCollection, "values", forbidden)
    monkeypatch.setattr(models, "load_clip", forbidden)
    for op in ("compute_clip_embeddings", "zero_shot_classify"):
        params = dict(model, compute_viz=True, viz_method="pca", compute_similarity=True)
        assert invalid_props(resolve_form(op, mnist_small, params)) == {}
    params = dict(model, classes=["0 - zero", "1 - one"], prompt_names="1 - one: uno")
    assert invalid_props(resolve_form("zero_shot_classify", mnist_small, params)) == {}


def test_forms_check_the_weights_first_and_say_how_to_provide_them(mnist_small, model):
    """Offline default weights: invalid (Execute disabled), why on the field and at the top,
    how to provide them beside it; random weights: allowed, with a warning."""
    for op in ("compute_clip_embeddings", "zero_shot_classify"):
        form = resolve_form(op, mnist_small, {})
        assert list(invalid_props(form)) == ["pretrained"]
        why = form.get_property("pretrained").error_message
        assert "not in the local cache" in why and "path of a local checkpoint" in why
        assert why in form.get_property("form_errors").view.description
        how = form.get_property("weights_help").view.label
        assert "huggingface-cli download laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in how
        assert "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" in how
        assert "random_weights_warning" not in form.properties
        form = resolve_form(op, mnist_small, model)
        assert invalid_props(form) == {} and "weights_help" not in form.properties
        warning = form.get_property("random_weights_warning").view
        assert "meaningless" in warning.description


def test_result_dialogs_say_what_changed(execute, mnist_small, model):
    import fiftyone.operators as foo

    def dialog(name, result):
        ctx = foo.ExecutionContext(
            request_params={"dataset_name": mnist_small.name, "params": {}, "results": result}
        )
        out = foo.get_operator(f"@classlab/classlab/{name}").resolve_output(ctx).type
        shown = [n for n in out.properties if n != "summary"]
        assert all(n in result for n in shown), (name, shown, sorted(result))
        return out.get_property("summary").default

    view = mnist_small.match_tags("test").limit(40)
    res = execute("compute_clip_embeddings", view=view, params=model).result
    text = dialog("compute_clip_embeddings", res)
    assert "Embedded 40 images" in text and "`clip_embeddings`" in text
    res = execute("zero_shot_classify", view=view, params=model).result
    text = dialog("zero_shot_classify", res)
    assert "Labelled 40 images" in text and f"{res['accuracy']:.4f}" in text
    assert "Random weights: these labels and this accuracy mean nothing" in text
