"""The main job's label-issue steps: out-of-sample predictions by K-fold LeNet-5
(``oos``) and confident learning on them (``label_issues``), through
:mod:`classlab.labels`. The curation step then selects the samples to augment from
the out-of-sample predictions, minus the suspected label errors (they are for review,
not for multiplying)."""

from __future__ import annotations

from classlab import defaults, records
from classlab.job import outcomes as out
from classlab.progress import ProgressFn


class LabelSteps:
    """The ``oos`` and ``label_issues`` steps (mixed into the Workflow: ``self.cfg``,
    ``self.ds``, ``self.originals()``, ``self._has_fields``)."""

    def oos(self, progress: ProgressFn) -> out.OutOfSample:
        from classlab.labels.oos import compute_oos_predictions

        c = self.cfg
        res = compute_oos_predictions(
            self.originals(),
            run_key=c.oos_key,
            label_field=defaults.GROUND_TRUTH,
            pred_field=c.oos_field,
            tags=(defaults.TRAIN_TAG, defaults.VAL_TAG),
            num_folds=c.oos_folds,
            seed=c.seed,
            config=dict(epochs=c.oos_epochs, batch_size=c.batch_size, device=c.device),
            predict_others=True,
            overwrite=True,
            repeats=c.oos_repeats,
            progress=progress,
        )
        return out.OutOfSample(
            res["pred_field"],
            res["num_folds"],
            res["num_samples"],
            res["num_others"],
            res["accuracy"],
            res["seconds"],
        )

    def label_issues(self, progress: ProgressFn) -> out.LabelIssues:
        from classlab.labels.issues import find_label_issues

        res = find_label_issues(
            self.originals(),
            pred_fields=self.cfg.oos_field,
            label_field=defaults.GROUND_TRUTH,
            key=defaults.LABEL_ISSUES_KEY,
            progress=progress,
        )
        return out.LabelIssues.from_record(res)

    def selection_view(self):
        """The samples the curation step may pick: originals without a suspected label
        error (when the label_issues step ran)."""
        view = self.originals()
        if defaults.LABEL_ISSUE_TAG in self.ds.distinct("tags"):
            view = view.match_tags(defaults.LABEL_ISSUE_TAG, bool=False)
        return view

    def selection_fields(self) -> dict:
        """Criteria fields: misclassified / low confidence from the out-of-sample
        predictions when they exist, the score fields still from ``lenet``'s."""
        from classlab.curation.score_checks import score_field

        if not self._has_fields(self.cfg.oos_field):
            return {"pred_field": defaults.LENET_FIELD}
        return {
            "pred_field": self.cfg.oos_field,
            "hardness_field": score_field("hardness", defaults.LENET_FIELD),
            "mistakenness_field": score_field("mistakenness", defaults.LENET_FIELD),
        }

    def label_issue_record(self) -> dict:
        """The label_issues record of the run (empty when none)."""
        return (
            records.get_record(self.ds, defaults.LABEL_ISSUES_KIND, defaults.LABEL_ISSUES_KEY) or {}
        )
