"""The label-issue operators' forms (the core's own messages) and their App effects."""

from __future__ import annotations

from classlab import defaults
from support.curation import add_predictions
from support.forms import core_message, errors, form
from support.labels import noisy_logits


def test_oos_form_shows_the_cores_messages(mnist_small):
    from classlab.config import check_key
    from classlab.labels.oos import check_num_folds, check_repeats

    inputs = form("compute_oos_predictions", mnist_small, {"run_key": "a/b"})
    assert errors(inputs)["run_key"] == core_message(check_key, "a/b", "run_key")
    inputs = form("compute_oos_predictions", mnist_small, {"num_folds": 1})
    assert errors(inputs)["num_folds"] == core_message(check_num_folds, 1)
    inputs = form("compute_oos_predictions", mnist_small, {"repeats": 0})
    assert errors(inputs)["repeats"] == core_message(check_repeats, 0)
    inputs = form("compute_oos_predictions", mnist_small, {"exclude_tags": ["train"]})
    assert "exclude_tags=['train'] leaves 0 class" in errors(inputs)["checks"]
    # no split yet: no sample is tagged val, but train is: the form is valid
    inputs = form("compute_oos_predictions", mnist_small, {"tags": ["nope"]})
    assert "No labelled sample tagged nope" in errors(inputs)["checks"]
    assert not errors(form("compute_oos_predictions", mnist_small, {}))


def test_issue_form_checks_fields_and_cleanlab_names(mnist_small):
    add_predictions(mnist_small, "p", seed=1)
    ok = form("find_label_issues", mnist_small, {"pred_fields": ["p"]})
    assert not errors(ok)
    assert "p" in [c.value for c in ok.properties["pred_fields"].view.choices]
    bad = form("find_label_issues", mnist_small, {"pred_fields": ["p"], "filter_by": "nope"})
    assert "filter_by must be one of prune_by_noise_rate" in errors(bad)["checks"]
    none = form("find_label_issues", mnist_small, {"pred_fields": ["ground_truth"]})
    assert "label field itself" in errors(none)["checks"]


def test_find_sets_the_review_view_and_fix_form_offers_classes(execute, mnist_small):
    noisy_logits(mnist_small, "p", seed=2)
    res = execute("find_label_issues", dataset=mnist_small, params={"pred_fields": ["p"]})
    assert res.result["num_flagged"] > 0
    inputs = form("fix_labels", mnist_small, {"action": "class"})
    choices = [c.value for c in inputs.properties["label"].view.choices]
    assert choices == defaults.MNIST_CLASSES
    inputs = form("fix_labels", mnist_small, {"action": "suggested", "tag": "none"})
    assert "no samples" in errors(inputs)["checks"].lower()
    # a selection wins over the tag
    one = mnist_small.match_tags("label_issue").first()
    out = execute(
        "fix_labels", dataset=mnist_small, params={"action": "suggested", "sample_ids": [one.id]}
    ).result
    assert out["fixed"] == 1 and mnist_small.count_sample_tags()["label_fixed"] == 1
    assert mnist_small[one.id].ground_truth.label == one.suggested_label.label
    out = execute("revert_label_fixes", dataset=mnist_small, params={}).result
    assert out == {"reverted": 1}
    assert mnist_small[one.id].ground_truth.label == one.ground_truth.label
