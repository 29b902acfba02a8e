import hashlib
import json
from pathlib import Path

import fiftyone.operators as foo
import pytest
from classlab.curation import augment
from fiftyone import ViewField as F
from fiftyone.operators.executor import ExecutionError
from support.curation import add_embeddings, add_predictions

NAMES = ("compute_sample_scores", "tag_samples_to_fix", "augment_samples", "delete_augmentations")


def _hashes(ds):
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in ds.values("filepath")}


def test_operators_listed():
    ops = {op.uri: op for op in foo.list_operators()}
    for name in NAMES:
        assert f"@classlab/classlab/{name}" in ops
    assert ops["@classlab/classlab/compute_sample_scores"].config.allow_delegated_execution
    assert ops["@classlab/classlab/augment_samples"].config.allow_delegated_execution


def test_tutorial_loop_through_operators(execute, mnist_small):
    """scores -> the tutorial's selection in ONE run -> augment -> undo."""
    add_predictions(mnist_small, "lenet", seed=2)
    add_embeddings(mnist_small, "clip_embeddings", seed=2)
    before = _hashes(mnist_small)
    res = execute(
        "compute_sample_scores",
        dataset=mnist_small,
        params=dict(pred_field="lenet", embeddings_field="clip_embeddings"),  # all four scores
    )
    assert res.result["fields"]["representativeness"] == "clip_embeddings_representativeness"
    assert mnist_small.exists("clip_embeddings_uniqueness").count() == 600

    params = dict(
        misclassified=True,
        unique_top=0.001,
        representative_top=0.001,
        low_confidence_bottom=0.01,
        split="train",
        pred_field="lenet",
    )
    train = mnist_small.match_tags("train")
    wrong = {
        i for i, a, b in zip(*train.values(["id", "lenet.label", "ground_truth.label"])) if a != b
    }
    res = execute("tag_samples_to_fix", dataset=mnist_small, params=params)
    counts = res.result["counts"]
    assert counts["misclassified"] == len(wrong) > 0
    assert counts["unique_top"] == 1 and counts["representative_top"] == 1  # ceil(0.1% of 300)
    assert counts["low_confidence_bottom"] == 3  # ceil(1% of the ~255 correct)
    tagged = mnist_small.match_tags("to_augment")
    n_tagged = len(tagged)
    assert res.result["tagged"] == n_tagged and wrong <= set(tagged.values("id"))
    assert len(tagged) <= len(wrong) + 5 and "test" not in tagged.distinct("tags")

    res = execute(
        "augment_samples",
        dataset=mnist_small,
        params=dict(run_key="aug1", num_copies=2, seed=1, preset="tutorial"),
    )
    assert res.result["num_samples"] == 2 * len(tagged)
    aug = augment.run_samples(mnist_small, "aug1")
    assert set(aug.values("source_id")) == set(tagged.values("id"))
    assert aug.count_sample_tags() == {"augmented": len(aug), "train": len(aug)}

    with pytest.raises(ExecutionError, match="exists"):
        execute("augment_samples", dataset=mnist_small, params=dict(run_key="aug1"))
    res = execute("delete_augmentations", dataset=mnist_small, params=dict(run_key="aug1"))
    assert res.result["deleted_samples"] == 2 * len(tagged)
    assert len(mnist_small) == 600 and _hashes(mnist_small) == before

    res = execute("tag_samples_to_fix", dataset=mnist_small, params=dict(untag=True))
    assert res.result["untagged"] == n_tagged
    assert "to_augment" not in mnist_small.count_sample_tags()


def test_augment_preview_commits_nothing(execute, mnist_small):
    res = execute(
        "augment_samples",
        view=mnist_small.limit(3),
        params=dict(source_tag="", preview=True, preview_samples=2, num_copies=2, preset="mild"),
    )
    assert len(res.result["preview"]) == 4 and all(Path(p).exists() for p in res.result["preview"])
    assert res.result["images"][0].startswith("data:image/png;base64,")
    assert len(mnist_small) == 600
    res = execute(
        "augment_samples",
        view=mnist_small.limit(3),
        params=dict(source_tag="", run_key="v", preset="mild"),
    )
    assert res.result["num_samples"] == 3 and len(mnist_small) == 603


def test_bad_inputs_through_operators(execute, mnist_small, unchanged):
    add_predictions(mnist_small, "lenet", logits=False)
    mnist_small.limit(5).tag_samples("to_augment")
    gone = mnist_small.skip(10).first()
    gone.filepath = "/nonexistent/classlab/gone.png"
    gone.save()
    missing = mnist_small.skip(8).limit(4)
    with unchanged(mnist_small):
        with pytest.raises(ExecutionError, match="needs logits"):
            execute(
                "compute_sample_scores",
                dataset=mnist_small,
                params=dict(scores=["hardness"], pred_field="lenet"),
            )
        with pytest.raises(ExecutionError, match="No embeddings field"):
            execute(
                "compute_sample_scores", dataset=mnist_small, params=dict(scores=["uniqueness"])
            )
        with pytest.raises(ExecutionError, match=r"in \(0, 1\)"):
            execute(
                "tag_samples_to_fix", dataset=mnist_small, params=dict(low_confidence_bottom=2.0)
            )
        with pytest.raises(ExecutionError, match="split tag 'nosuch'"):
            execute(
                "tag_samples_to_fix",
                dataset=mnist_small,
                params=dict(misclassified=True, split="nosuch"),
            )
        right = mnist_small.match(F("lenet.label") == F("ground_truth.label"))
        with pytest.raises(ExecutionError, match="No sample matches"):
            execute("tag_samples_to_fix", view=right, params=dict(misclassified=True))
        with pytest.raises(ExecutionError, match="missing on disk"):
            execute("augment_samples", view=missing, params=dict(source_tag=""))
        with pytest.raises(ExecutionError, match="Unknown preset 'wild'"):
            execute("augment_samples", dataset=mnist_small, params=dict(preset="wild"))
        with pytest.raises(ExecutionError, match="pipeline_json is not valid JSON"):
            execute("augment_samples", dataset=mnist_small, params=dict(pipeline_json="{x"))
        with pytest.raises(ExecutionError, match="albumentations cannot build"):
            execute(
                "augment_samples",
                dataset=mnist_small,
                params=dict(
                    pipeline_json=json.dumps({"transform": {"__class_fullname__": "Nope"}})
                ),
            )
        with pytest.raises(ExecutionError, match="positive integer"):
            execute("augment_samples", dataset=mnist_small, params=dict(num_copies=0))
        with pytest.raises(ExecutionError, match="no augmentation runs"):
            execute("delete_augmentations", dataset=mnist_small, params=dict(run_key="zzz"))


def test_tagging_sets_the_app_view(mnist_small):
    """Run in the App (an executor present, not delegated): the view becomes the tagged samples."""
    from fiftyone.operators.executor import ExecutionContext, Executor

    add_predictions(mnist_small, "lenet", seed=4)
    executor = Executor()
    ctx = ExecutionContext(
        request_params={"dataset_name": mnist_small.name, "params": {"misclassified": True}},
        executor=executor,
    )
    op = foo.get_operator("@classlab/classlab/tag_samples_to_fix")
    result = op.execute(ctx)
    assert result["tagged"] == mnist_small.count_sample_tags()["to_augment"]
    names = [r.operator_uri for r in executor._requests]
    assert "set_view" in " ".join(names)
    params = executor._requests[names.index(next(n for n in names if "set_view" in n))].params
    assert "to_augment" in json.dumps(params)


# ---------------------------------------------------------------- forms show the core's checks


def _form(name, dataset, params, view=None):
    """``resolve_input`` of an operator on a real ExecutionContext: the form's Object."""
    from fiftyone.operators.executor import ExecutionContext

    request = {"dataset_name": dataset.name, "params": params}
    if view is not None:
        request["view"] = view._serialize()
    ctx = ExecutionContext(request_params=request)
    return foo.get_operator(f"@classlab/classlab/{name}").resolve_input(ctx).type


def _invalid(form) -> dict:
    """``{property: error message}`` of the form's invalid properties."""
    return {k: p.error_message for k, p in form.properties.items() if p.invalid}


@pytest.fixture
def curation_ds(mnist_small):
    """Predictions without logits, embeddings, and 5 samples tagged ``to_augment``."""
    add_predictions(mnist_small, "lenet", logits=False)
    add_embeddings(mnist_small, "clip_embeddings")
    mnist_small.limit(5).tag_samples("to_augment")
    return mnist_small


def _scores(**kw):
    from classlab.curation.scores import compute_sample_scores

    return lambda ds: compute_sample_scores(ds, **kw)


def _tag(tag="to_augment", **kw):
    from classlab.curation.tagging import Criteria, tag_samples

    return lambda ds: tag_samples(ds, Criteria(**kw), tag=tag)


def _augment(source_tag="to_augment", **kw):
    return lambda ds: augment.augment_samples(ds.match_tags(source_tag), **kw)


# (operator, form params, the property that shows the error, the same call to the core)
BAD_VALUES = [
    ("compute_sample_scores", dict(scores=[]), "scores", _scores(scores=[])),
    (
        "compute_sample_scores",
        dict(scores=["hardness", "beauty"]),
        "scores",
        _scores(scores=["hardness", "beauty"]),
    ),
    (
        "compute_sample_scores",
        dict(scores=["hardness"], pred_field="lenet"),
        "pred_field",
        _scores(scores=["hardness"], pred_field="lenet"),
    ),
    (
        "compute_sample_scores",
        dict(scores=["mistakenness"], pred_field="lenet", gt_field="lenet"),
        "gt_field",
        _scores(scores=["mistakenness"], pred_field="lenet", gt_field="lenet"),
    ),
    (
        "compute_sample_scores",
        dict(scores=["uniqueness"], embeddings_field="nope"),
        "embeddings_field",
        _scores(scores=["uniqueness"], embeddings_field="nope"),
    ),
    (
        "compute_sample_scores",
        dict(scores=["uniqueness"], embeddings_field="clip_embeddings", embedding_method="fast"),
        "embedding_method",
        _scores(scores=["uniqueness"], embeddings_field="clip_embeddings", embedding_method="fast"),
    ),
    (
        "tag_samples_to_fix",
        dict(low_confidence_bottom=2.0),
        "low_confidence_bottom",
        _tag(low_confidence_bottom=2.0),
    ),
    ("tag_samples_to_fix", dict(hardness_above="x"), "hardness_above", _tag(hardness_above="x")),
    (
        "tag_samples_to_fix",
        dict(misclassified=True, split="nosuch"),
        "split",
        _tag(misclassified=True, split="nosuch"),
    ),
    (
        "tag_samples_to_fix",
        dict(misclassified=True, pred_field="nope"),
        "pred_field",
        _tag(misclassified=True, pred_field="nope"),
    ),
    ("tag_samples_to_fix", dict(unique_top=0.1), "unique_top", _tag(unique_top=0.1)),
    (
        "tag_samples_to_fix",
        dict(misclassified=True, tag=" "),
        "tag",
        _tag(tag=" ", misclassified=True),
    ),
    ("tag_samples_to_fix", dict(), "criteria", _tag()),
    ("augment_samples", dict(preset="wild"), "preset", _augment(preset="wild")),
    ("augment_samples", dict(pipeline_json="{x"), "pipeline_json", _augment(pipeline_json="{x")),
    (
        "augment_samples",
        dict(pipeline_json=json.dumps({"transform": {"__class_fullname__": "Nope"}})),
        "pipeline_json",
        _augment(pipeline_json=json.dumps({"transform": {"__class_fullname__": "Nope"}})),
    ),
    ("augment_samples", dict(num_copies=0), "num_copies", _augment(num_copies=0)),
    ("augment_samples", dict(seed=1.5), "seed", _augment(seed=1.5)),
    ("augment_samples", dict(run_key=" "), "run_key", _augment(run_key=" ")),
    (
        "augment_samples",
        dict(label_field="lenet_x"),
        "label_field",
        _augment(label_field="lenet_x"),
    ),
    ("augment_samples", dict(source_tag="nosuch"), "source_tag", _augment(source_tag="nosuch")),
    (
        "augment_samples",
        dict(source_tag="test"),
        "allow_eval_splits",
        _augment(source_tag="test"),
    ),
    (
        "delete_augmentations",
        dict(run_key="zzz"),
        "run_key",
        lambda ds: augment.delete_augmentations(ds, "zzz"),
    ),
]


@pytest.mark.parametrize(
    "name,params,prop,core", BAD_VALUES, ids=[f"{c[0]}-{c[2]}" for c in BAD_VALUES]
)
def test_form_shows_the_cores_message(curation_ds, unchanged, name, params, prop, core):
    from classlab.errors import ClassLabError

    errors = _invalid(_form(name, curation_ds, params))
    assert set(errors) == {prop}, errors
    with unchanged(curation_ds):
        with pytest.raises(ClassLabError) as e:
            core(curation_ds)
    assert str(e.value) == errors[prop]
    assert prop in errors[prop] or prop == "criteria"  # names the parameter


def test_run_exists_on_the_run_key(curation_ds, unchanged):
    src = curation_ds.match_tags("to_augment")
    augment.augment_samples(src, "aug1")
    errors = _invalid(_form("augment_samples", curation_ds, dict(run_key="aug1")))
    assert set(errors) == {"run_key"} and "overwrite" in errors["run_key"]
    with unchanged(curation_ds):
        with pytest.raises(Exception) as e:
            augment.augment_samples(src, "aug1")
    assert str(e.value) == errors["run_key"]
    assert not _invalid(_form("augment_samples", curation_ds, dict(run_key="aug1", overwrite=True)))
    assert not _invalid(_form("augment_samples", curation_ds, dict(run_key="aug1", preview=True)))
    assert not _invalid(_form("delete_augmentations", curation_ds, dict(run_key="aug1")))


def test_forms_never_read_every_sample(curation_ds, monkeypatch):
    """With Preview off, no form calls ``values()`` (only schema reads and counts)."""
    from fiftyone.core.collections import SampleCollection

    curation_ds.set_values("lenet_mistakenness", [0.5] * len(curation_ds))
    calls = []
    real = SampleCollection.values
    monkeypatch.setattr(
        SampleCollection, "values", lambda self, *a, **k: calls.append(a) or real(self, *a, **k)
    )
    cases = [
        ("compute_sample_scores", dict(scores=["mistakenness", "uniqueness"])),
        ("tag_samples_to_fix", dict(misclassified=True, mistakenness_top=0.1, split="train")),
        ("augment_samples", dict()),
        ("delete_augmentations", dict()),
    ]
    for name, params in cases:
        _form(name, curation_ds, params)
    assert calls == []


def test_tag_form_runs_the_selection_only_with_preview(curation_ds, monkeypatch, execute):
    from classlab.curation import tagging

    calls = []
    real = tagging.select_samples
    monkeypatch.setattr(tagging, "select_samples", lambda *a, **k: calls.append(1) or real(*a, **k))
    params = dict(misclassified=True, split="train")
    form = _form("tag_samples_to_fix", curation_ds, params)
    assert calls == [] and "count" not in form.properties and not _invalid(form)

    form = _form("tag_samples_to_fix", curation_ds, dict(params, preview=True))
    n = real(curation_ds, tagging.Criteria(**params))["total"]
    assert len(calls) == 1 and n > 0
    assert form.properties["count"].view.label == f"{n} sample(s) match"

    calls.clear()
    res = execute("tag_samples_to_fix", dataset=curation_ds, params=params)
    assert calls == [1] and res.result["tagged"] == n  # resolve_input + execute: one selection

    calls.clear()
    right = curation_ds.match(F("lenet.label") == F("ground_truth.label"))
    form = _form("tag_samples_to_fix", curation_ds, dict(misclassified=True, preview=True), right)
    assert len(calls) == 1 and "No sample matches" in _invalid(form)["count"]


# ---------------------------------------------------------------- issue 13: leakage, feedback


def _output(name, dataset, results):
    """``resolve_output`` as the App calls it after execution (the result in ``results``)."""
    from fiftyone.operators.executor import ExecutionContext

    request = {"dataset_name": dataset.name, "params": {}, "results": results}
    ctx = ExecutionContext(request_params=request)
    return foo.get_operator(f"@classlab/classlab/{name}").resolve_output(ctx).type


def _headline(out) -> str:
    return out.properties["headline"].view.label


def _details(out) -> str:
    return out.properties["details"].default


def _run_in_app(name, dataset, params):
    """``execute`` with an executor (as in the App, not delegated): (result, requests)."""
    from fiftyone.operators.executor import ExecutionContext, Executor

    executor = Executor()
    ctx = ExecutionContext(
        request_params={"dataset_name": dataset.name, "params": params}, executor=executor
    )
    result = foo.get_operator(f"@classlab/classlab/{name}").execute(ctx)
    return result, {r.operator_uri.split("/")[-1]: r.params for r in executor._requests}


def test_tag_form_defaults_to_train_and_shows_the_splits(curation_ds, execute):
    curation_ds.match_tags("train").limit(20).set_values("tags", [["val"]] * 20)
    form = _form("tag_samples_to_fix", curation_ds, dict(misclassified=True))
    assert form.properties["split"].default == "train"
    choices = {c.value: c.label for c in form.properties["split"].view.choices}
    assert choices["train"] == "train (280 in the view)" and "val" in choices
    assert list(form.properties)[0] == "splits"  # the counts open the form
    assert "train: 280, val: 20, test: 300" in form.properties["splits"].view.label

    res = execute("tag_samples_to_fix", dataset=curation_ds, params=dict(misclassified=True))
    tagged = curation_ds.match_tags("to_augment")
    assert res.result["split"] == "train" and not tagged.match_tags(["val", "test"]).count()
    everything = execute(
        "tag_samples_to_fix", dataset=curation_ds, params=dict(misclassified=True, split="")
    )
    assert everything.result["split"] is None and tagged.match_tags("test").count() > 0


def test_tag_form_puts_the_criterion_notice_and_errors_on_top(curation_ds):
    form = _form("tag_samples_to_fix", curation_ds, {})
    assert list(form.properties)[:2] == ["criteria", "splits"]
    form = _form("tag_samples_to_fix", curation_ds, dict(low_confidence_bottom=2.0))
    top = form.properties[list(form.properties)[0]]
    assert list(form.properties)[0] == "errors" and not top.invalid
    assert _invalid(form)["low_confidence_bottom"] in top.view.label


def test_tag_result_view_says_new_and_total(curation_ds):
    result, requests = _run_in_app("tag_samples_to_fix", curation_ds, dict(misclassified=True))
    out = _output("tag_samples_to_fix", curation_ds, result)
    with_tag = curation_ds.count_sample_tags()["to_augment"]
    new = result["newly_tagged"]
    assert 0 < new < with_tag == result["with_tag"]  # 5 of the fixture's were tagged before
    assert _headline(out) == (
        f"{new} newly tagged, {with_tag} with the tag 'to_augment' within the 'train' split"
    )
    assert f"misclassified: {result['tagged']} sample(s)" in _details(out)
    assert "to_augment" in json.dumps(requests["set_view"])


def test_augment_refuses_eval_sources_unless_allowed(curation_ds, execute, unchanged):
    curation_ds.match_tags("test").limit(3).tag_samples("to_augment")
    errors = _invalid(_form("augment_samples", curation_ds, {}))
    assert set(errors) == {"allow_eval_splits"}
    assert (
        "3 source sample(s)" in errors["allow_eval_splits"]
        and "test: 3" in errors["allow_eval_splits"]
    )
    with unchanged(curation_ds):
        with pytest.raises(ExecutionError, match="allow_eval_splits=True"):
            execute("augment_samples", dataset=curation_ds, params={})
    assert not _invalid(_form("augment_samples", curation_ds, dict(allow_eval_splits=True)))
    res = execute("augment_samples", dataset=curation_ds, params=dict(allow_eval_splits=True))
    assert res.result["per_split"] == {"train": 5, "test": 3}


def test_augment_form_opens_valid_with_the_next_free_key(curation_ds):
    form = _form("augment_samples", curation_ds, {})
    assert not _invalid(form) and form.properties["run_key"].default == "augment_v1"
    assert list(form.properties)[0] == "size"  # the run's size and splits open the form
    assert form.properties["size"].view.label == (
        "5 source sample(s) (split tags: train: 5): 5 new samples"
    )
    assert form.properties["max_copies"].default == 100
    helps = {c.value: c.description for c in form.properties["preset"].view.choices}
    assert "tutorial" in helps["tutorial"] and "Affine" in helps["strong"]
    augment.augment_samples(curation_ds.match_tags("to_augment"), "augment_v1")
    form = _form("augment_samples", curation_ds, {})
    assert not _invalid(form) and form.properties["run_key"].default == "augment_v2"
    augment.augment_samples(curation_ds.match_tags("to_augment").limit(1), "mine")
    undo = _form("delete_augmentations", curation_ds, {})
    assert not _invalid(undo) and undo.properties["run_key"].default == "mine"  # the newest
    bound = _invalid(_form("augment_samples", curation_ds, dict(num_copies=5, max_copies=4)))
    assert set(bound) == {"num_copies"} and "max_copies" in bound["num_copies"]


def test_augment_result_view_and_the_app_shows_the_copies(curation_ds):
    result, requests = _run_in_app("augment_samples", curation_ds, dict(num_copies=2))
    assert result["run_key"] == "augment_v1" and result["num_samples"] == 10
    out = _output("augment_samples", curation_ds, result)
    assert _headline(out).startswith("10 augmented copies of 5 source sample(s) in run")
    assert "augmentation.run_key == 'augment_v1'" in _details(out)
    assert "train: 10" in _details(out)
    assert "augment_v1" in json.dumps(requests["set_view"])


def test_augment_preview_rows_show_original_copies_and_label(curation_ds, execute):
    res = execute(
        "augment_samples",
        dataset=curation_ds,
        params=dict(preview=True, preview_samples=2, num_copies=3, preset="mild"),
    ).result
    assert res["rows"] == 2 and list(res["row_0"]) == ["original", "copy_0", "copy_1", "copy_2"]
    out = _output("augment_samples", curation_ds, res)
    row = out.properties["row_0"]
    assert row.view.label == res["labels"][0] == curation_ds.first().ground_truth.label
    assert row.type.properties["original"].default == res["row_0"]["original"]


def test_scores_result_view_and_sorted_grid(curation_ds):
    add_predictions(curation_ds, "lenet", seed=8)
    params = dict(scores=["mistakenness", "hardness"], pred_field="lenet")
    result, requests = _run_in_app("compute_sample_scores", curation_ds, params)
    assert result["fields"] == {"mistakenness": "lenet_mistakenness", "hardness": "lenet_hardness"}
    assert result["counts"] == {"lenet_mistakenness": 600, "lenet_hardness": 600}
    out = _output("compute_sample_scores", curation_ds, result)
    assert _headline(out).startswith("Wrote 2 score field(s) on 600 samples in ")
    assert "lenet_mistakenness (600 of 600 samples scored" in _details(out)
    stages = json.dumps(requests["set_view"])
    assert "SortBy" in stages and "lenet_mistakenness" in stages


def test_delete_result_view(curation_ds):
    out = _output(
        "delete_augmentations",
        curation_ds,
        {"run_key": "a", "deleted_samples": 4, "deleted_files": 4},
    )
    assert _headline(out) == "Deleted the run 'a': 4 sample(s) and 4 image file(s)"


def test_bounded_scores_through_the_operator(execute, curation_ds):
    """``embedding_method="bounded"`` from the SDK: both scores, brain runs, records."""
    from classlab import records

    res = execute(
        "compute_sample_scores",
        dataset=curation_ds,
        params=dict(
            scores=["uniqueness", "representativeness"],
            embeddings_field="clip_embeddings",
            embedding_method="bounded",
        ),
    )
    assert set(res.result["fields"].values()) == {
        "clip_embeddings_uniqueness",
        "clip_embeddings_representativeness",
    }
    for field in res.result["fields"].values():
        assert curation_ds.exists(field).count() == 600
        assert field in curation_ds.list_brain_runs()
        assert records.get_record(curation_ds, "scores", field)["method"] == "bounded"
