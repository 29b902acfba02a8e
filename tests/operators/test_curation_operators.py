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
        params=dict(
            hardness=True,
            mistakenness=True,
            uniqueness=True,
            representativeness=True,
            pred_field="lenet",
            embeddings_field="clip_embeddings",
        ),
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
        with pytest.raises(ExecutionError, match="Not valid JSON"):
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
