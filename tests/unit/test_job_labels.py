"""The main job's label-issue steps: oos and label_issues after training, the summary's
line, and the curation selection from the out-of-sample predictions minus the issues."""

from __future__ import annotations

import fiftyone as fo
from classlab import defaults
from classlab.job import outcomes
from classlab.job.workflow import STEP_NAMES, WorkflowConfig, run_workflow

STEPS = ["load_mnist", "split", "train_lenet", "apply_lenet", "oos", "label_issues"]
STEPS += ["scores", "tag_to_fix"]


def _statuses(report):
    return {r.name: r.status for r in report.results}


def test_label_steps_follow_training_in_order():
    names = list(STEP_NAMES)
    assert names.index("apply_lenet") < names.index("oos") < names.index("label_issues")
    assert names.index("label_issues") < names.index("tag_to_fix")


def test_oos_and_label_issues_steps_and_the_selection(mnist_dir, dataset_name):
    cfg = WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=80,
        device="cpu",
        epochs=1,
        oos_folds=2,
        oos_epochs=1,
        only=STEPS,
    )
    report = run_workflow(cfg)
    assert _statuses(report) == dict.fromkeys(STEPS, "done"), report.summary()
    data = {r.name: r.data for r in report.results}
    assert isinstance(data["oos"], outcomes.OutOfSample)
    assert data["oos"].num_folds == 2 and data["oos"].num_samples == 80
    issues = data["label_issues"]
    assert isinstance(issues, outcomes.LabelIssues) and issues.field == defaults.OOS_FIELD
    ds = fo.load_dataset(dataset_name)
    flagged = ds.match_tags(defaults.LABEL_ISSUE_TAG)
    tags = flagged.count_sample_tags()
    assert issues.counts_per_split == {t: tags[t] for t in ("train", "val", "test") if t in tags}
    line = report.summary().splitlines()[-1]
    assert line == issues.line() and line.startswith("label issues (lenet_oos, cleanlab): ")
    assert f"{tags.get('train', 0)} in train" in line and f"{tags.get('test', 0)} in test" in line
    # the samples to augment: OOS-misclassified training samples, never a suspected error
    to_fix = set(ds.match_tags(defaults.TO_FIX_TAG).values("id"))
    assert to_fix and not to_fix & set(flagged.values("id"))
    from fiftyone import ViewField as F

    wrong = ds.match_tags("train").match(F("lenet_oos.label") != F("ground_truth.label"))
    wrong = set(wrong.match_tags(defaults.LABEL_ISSUE_TAG, bool=False).values("id"))
    assert wrong and wrong <= to_fix
    again = run_workflow(cfg)
    assert _statuses(again)["oos"] == _statuses(again)["label_issues"] == "skipped"
    assert again.summary().splitlines()[-1] == line  # read back from the record


def test_cli_sets_the_oos_options():
    from classlab.job.cli import build_parser, config_from_args

    argv = ["--oos-folds", "3", "--oos-epochs", "1", "--oos-repeats", "2"]
    cfg = config_from_args(build_parser().parse_args(argv))
    assert (cfg.oos_folds, cfg.oos_epochs, cfg.oos_repeats) == (3, 1, 2)
    default = config_from_args(build_parser().parse_args([]))
    assert (default.oos_folds, default.oos_epochs) == (defaults.OOS_FOLDS, 2)
    assert default.oos_repeats == 1
