"""The main job end to end on a small MNIST subset, through the core API.

``test_workflow_end_to_end`` needs every core family (CLIP, LeNet, curation,
compare); the other tests need only the data functions.
"""

import logging

import fiftyone as fo
import pytest
from classlab import defaults
from classlab.job.cli import main
from classlab.job.workflow import STEP_NAMES, WorkflowConfig, run_workflow
from classlab.records import get_record


def _statuses(report):
    return {r.name: r.status for r in report.results}


def test_first_steps_skip_clip_offline_and_rerun_skips(mnist_dir, dataset_name, caplog):
    caplog.set_level(logging.INFO, logger="classlab")
    cfg = WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=40,
        only=["load_mnist", "split", "clip_embeddings", "zero_shot"],
    )
    report = run_workflow(cfg)
    assert _statuses(report) == {
        "load_mnist": "done",
        "split": "done",
        "clip_embeddings": "unavailable",
        "zero_shot": "unavailable",
    }
    clip = next(r for r in report.results if r.name == "clip_embeddings")
    assert "HF_HUB_OFFLINE" in clip.message and "--clip-random-weights" in clip.message
    ds = fo.load_dataset(dataset_name)
    assert ds.count_sample_tags() == {"train": 36, "val": 4, "test": 40}
    # load_mnist's progress reached the log through the step's progress callback
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("  [")]
    assert any(m.startswith("  [load_mnist]") and "100.0%" in m for m in progress), progress
    # typed outcomes, from what the core returned
    assert report.results[0].data.num_samples == 80
    assert report.results[1].data.counts == {"train": 36, "val": 4}
    assert report.results[0].seconds > 0 and report.results[0].peak_rss_mb > 100

    again = run_workflow(cfg)
    assert _statuses(again)["load_mnist"] == "skipped" and _statuses(again)["split"] == "skipped"
    assert fo.load_dataset(dataset_name).count_sample_tags() == {"train": 36, "val": 4, "test": 40}


def test_fresh_starts_over(mnist_dir, dataset_name, tmp_root):
    cfg = WorkflowConfig(
        dataset_name=dataset_name, mnist_dir=str(mnist_dir), subset=10, only=["load_mnist"]
    )
    run_workflow(cfg)
    first = fo.load_dataset(dataset_name).first().id
    cfg.fresh = True
    assert _statuses(run_workflow(cfg))["load_mnist"] == "done"
    assert fo.load_dataset(dataset_name).first().id != first


def test_cli_headless_writes_summary(mnist_dir, dataset_name, tmp_path, capsys):
    out = tmp_path / "steps.json"
    rc = main(
        [
            "--headless",
            "--dataset",
            dataset_name,
            "--mnist-dir",
            str(mnist_dir),
            "--subset",
            "10",
            "--only",
            "load_mnist",
            "split",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "load_mnist" in text and "peak RSS" in text and "total" in text
    import json

    steps = json.loads(out.read_text())["steps"]
    assert [s["name"] for s in steps] == ["load_mnist", "split"]
    assert all(s["status"] == "done" and s["seconds"] > 0 for s in steps)


def test_cli_reports_a_failed_step(tmp_path, dataset_name, capsys):
    rc = main(
        [
            "--headless",
            "--dataset",
            dataset_name,
            "--mnist-dir",
            str(tmp_path),
            "--only",
            "load_mnist",
            "split",
        ]
    )
    assert rc == 1
    text = capsys.readouterr().out
    assert "failed" in text and "lacks the MNIST IDX" in text and "not run" in text
    assert not fo.dataset_exists(dataset_name)


def test_unknown_step_is_refused():
    from classlab.errors import InputError

    with pytest.raises(InputError, match="Unknown step"):
        run_workflow(WorkflowConfig(only=["nope"]))


def test_workflow_end_to_end(mnist_dir, dataset_name, caplog):
    """Every step on 200 train + 200 test samples, 1 epoch, a tiny random-weight CLIP."""
    from support.tiny_clip import register_tiny_clip

    caplog.set_level(logging.INFO, logger="classlab")
    cfg = WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=200,
        device="cpu",
        clip_model=register_tiny_clip(),
        clip_random_weights=True,
        viz_method="pca",
        epochs=1,
        finetune_epochs=1,
    )
    report = run_workflow(cfg)
    assert _statuses(report) == {name: "done" for name in STEP_NAMES}, report.summary()

    ds = fo.load_dataset(dataset_name)
    schema = ds.get_field_schema()
    for f in (
        defaults.CLIP_EMBEDDINGS,
        defaults.CLIP_ZERO_SHOT,
        defaults.LENET_FIELD,
        defaults.LENET_EMBEDDINGS,
        "lenet_v2",
        "lenet_hardness",
        "lenet_mistakenness",
        "lenet_embeddings_uniqueness",
        "lenet_embeddings_representativeness",
        defaults.OOS_FIELD,
        defaults.LABEL_QUALITY_FIELD,
    ):
        assert f in schema, f
    assert set(ds.list_evaluations()) >= {"eval_clip", "eval_lenet", "eval_lenet_v2"}
    assert set(ds.list_brain_runs()) >= {defaults.CLIP_VIZ_KEY, defaults.CLIP_SIM_KEY}
    tags = ds.count_sample_tags()
    assert tags["test"] == 200 and tags["val"] == 20 and tags[defaults.TO_FIX_TAG] > 0
    assert tags[defaults.AUGMENTED_TAG] > 0
    assert get_record(ds, "clip", defaults.CLIP_EMBEDDINGS)["random_weights"] is True
    v1, v2 = get_record(ds, "models", "lenet_v1"), get_record(ds, "models", "lenet_v2")
    assert v1 and v2 and v2["parent"] == "lenet_v1" and len(v1["history"]) == 1
    # every original sample has predictions from both models; augmented copies none
    originals = ds.match_tags(defaults.AUGMENTED_TAG, bool=False)
    assert originals.count("lenet") == originals.count("lenet_v2") == originals.count()
    # the comparison: accuracies on the test split, fixed/broken counts that add up
    cmp = report.comparison
    assert set(cmp["accuracy"]) == {
        defaults.CLIP_ZERO_SHOT,
        defaults.LENET_FIELD,
        "lenet_v2",
        defaults.MODEL_V2_CONTROL,
    }
    assert all(0.0 <= a <= 1.0 for a in cmp["accuracy"].values())
    fvb = cmp["fixed_vs_broken"]
    assert fvb["n"] == 200 == fvb["fixed"] + fvb["broken"] + fvb["still_right"] + fvb["still_wrong"]
    assert cmp["clip_random_weights"] is True
    # the paired tests: v2 vs v1 (its fixed/broken are the ones above), and the control
    assert set(cmp["paired"]) == {"v2_vs_v1", "v2_vs_control", "control_vs_v1"}
    whole = cmp["paired"]["v2_vs_v1"]
    assert (whole["fixed"], whole["broken"], whole["n"]) == (fvb["fixed"], fvb["broken"], 200)
    assert report.summary().splitlines()[-4].startswith("lenet_v2 vs lenet: ")
    issues = get_record(ds, defaults.LABEL_ISSUES_KIND, defaults.LABEL_ISSUES_KEY)
    assert issues["field"] == defaults.OOS_FIELD and report.summary().splitlines()[-5] == (
        report.label_issues_line()
    )
    assert not set(ds.match_tags(defaults.TO_FIX_TAG).values("id")) & set(
        ds.match_tags(defaults.LABEL_ISSUE_TAG).values("id")
    )
    assert "attribution: of lenet_v2's" in report.summary()
    ctl = get_record(ds, "models", defaults.MODEL_V2_CONTROL)
    assert ctl["parent"] == "lenet_v1" and ctl["num_train"] < v2["num_train"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "RANDOM WEIGHTS" in text and "(random weights)" in text
    assert "[train_lenet]" in text  # training progress reached the terminal

    # a second run skips every finished step (compare always runs: it only reads)
    again = run_workflow(cfg)
    expected = {name: "skipped" for name in STEP_NAMES} | {"compare": "done"}
    assert _statuses(again) == expected
    assert again.comparison["fixed_vs_broken"] == cmp["fixed_vs_broken"]
    assert again.comparison["paired"] == cmp["paired"]
