"""The result dialogs of the label and explain operators: the App passes execute()'s
result to resolve_output as ``ctx.results``; the dialog shows a headline with the
numbers and every showable value."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def _dialog(op, results):
    prop = op.resolve_output(SimpleNamespace(results=results))
    obj = prop.type
    return {name: p for name, p in obj.properties.items()}, prop.view.label


@pytest.mark.parametrize(
    "module, cls, results, expected",
    [
        (
            "labels",
            "FindLabelIssues",
            {
                "num_flagged": 7,
                "num_scored": 300,
                "tag": "label_issue",
                "suggestion_field": "suggested_label",
                "quality_field": "label_quality",
            },
            "**7** of 300",
        ),
        ("labels", "FixLabels", {"fixed": 2, "unchanged": 1, "skipped": 0}, "Fixed **2** label"),
        ("labels", "RevertLabelFixes", {"reverted": 3}, "Reverted **3**"),
        (
            "labels",
            "ComputeOosPredictions",
            {
                "num_samples": 240,
                "num_folds": 5,
                "accuracy": 0.9,
                "pred_field": "lenet_oos",
                "num_others": 60,
                "seconds": 3.0,
            },
            "**240** samples",
        ),
        (
            "explain",
            "TrainLinearProbe",
            {"num_train": 10, "val_acc": 0.5, "num_val": 4, "num_params": 90, "train_seconds": 0.2},
            "accuracy **0.5000**",
        ),
        (
            "explain",
            "ComputeGradcam",
            {"run_key": "m", "num_samples": 4, "target": "predicted", "fields": ["m_gradcam"]},
            "for **4** samples",
        ),
    ],
)
def test_result_dialog_shows_what_changed(module, cls, results, expected):
    import importlib

    mod = importlib.import_module(f"operators.{module}")
    fields, title = _dialog(getattr(mod, cls)(), results)
    assert expected in str(fields["summary"].to_json())
    assert set(results) - {"fields"} <= set(fields) | {"fields"}
    assert title


def test_result_dialog_without_results_or_with_none_shows_no_headline():
    from operators.labels import ComputeOosPredictions

    assert "summary" not in _dialog(ComputeOosPredictions(), {})[0]
    fields, _ = _dialog(ComputeOosPredictions(), {"num_samples": 1, "accuracy": None})
    assert "summary" not in fields and "num_samples" in fields
