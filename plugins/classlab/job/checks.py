"""What the workflow's dataset already holds: one check per step, so a step whose
result exists is skipped (the main job is resumable)."""

from __future__ import annotations

from classlab import defaults
from classlab.job.settings import WorkflowConfig


class DoneChecks:
    """The dataset of a workflow run and a ``has_*`` check per step result.

    Args:
        config: the workflow's settings (dataset name, model keys, fields)
    """

    def __init__(self, config: WorkflowConfig):
        self.cfg = config
        self._dataset = None

    @property
    def ds(self):
        """The workflow's dataset (loaded once)."""
        import fiftyone as fo

        if self._dataset is None or self._dataset.deleted:
            self._dataset = fo.load_dataset(self.cfg.dataset_name)
        return self._dataset

    def originals(self):
        """Every sample except augmented copies."""
        return self.ds.match_tags(defaults.AUGMENTED_TAG, bool=False)

    def score_fields(self) -> list[str]:
        """The four fields the scores step writes."""
        from classlab.curation.score_checks import PRED_SCORES, score_field

        return [
            score_field(s, defaults.LENET_FIELD if s in PRED_SCORES else defaults.LENET_EMBEDDINGS)
            for s in defaults.SCORES
        ]

    def _has_fields(self, *names: str) -> bool:
        return all(self.ds.has_sample_field(n) for n in names)

    def _has_model(self, run_key: str) -> bool:
        from classlab.lenet.registry import list_models

        return run_key in list_models(self.ds)

    def has_dataset(self) -> bool:
        import fiftyone as fo

        return fo.dataset_exists(self.cfg.dataset_name)

    def has_split(self) -> bool:
        return defaults.VAL_TAG in self.ds.distinct("tags")

    def has_clip_embeddings(self) -> bool:
        keys = {defaults.CLIP_VIZ_KEY, defaults.CLIP_SIM_KEY}
        return self._has_fields(defaults.CLIP_EMBEDDINGS) and keys <= set(self.ds.list_brain_runs())

    def has_zero_shot(self) -> bool:
        return self._has_fields(defaults.CLIP_ZERO_SHOT) and self.ds.has_evaluation(
            defaults.EVAL_CLIP
        )

    def has_model_v1(self) -> bool:
        return self._has_model(self.cfg.model_v1)

    def has_lenet(self) -> bool:
        fields = (defaults.LENET_FIELD, defaults.LENET_EMBEDDINGS)
        return self._has_fields(*fields) and self.ds.has_evaluation(defaults.EVAL_LENET)

    def has_oos(self) -> bool:
        from classlab.labels.oos import list_oos_runs

        rec = list_oos_runs(self.ds).get(self.cfg.oos_key) or {}
        return rec.get("pred_field") == self.cfg.oos_field and self._has_fields(self.cfg.oos_field)

    def has_label_issues(self) -> bool:
        from classlab.labels.issues import list_label_issue_runs

        rec = list_label_issue_runs(self.ds).get(defaults.LABEL_ISSUES_KEY) or {}
        return rec.get("fields") == [self.cfg.oos_field] and self._has_fields(
            defaults.LABEL_QUALITY_FIELD
        )

    def has_scores(self) -> bool:
        return self._has_fields(*self.score_fields())

    def has_to_fix(self) -> bool:
        return defaults.TO_FIX_TAG in self.ds.distinct("tags")

    def has_augmentations(self) -> bool:
        from classlab.curation.augment import list_augmentations

        return self.cfg.augment_key in list_augmentations(self.ds)

    def has_model_v2(self) -> bool:
        return all(self._has_model(key) for key, _, _, _ in self.cfg.runs("v2"))

    def has_lenet_v2(self) -> bool:
        return self._has_predictions("v2")

    def has_model_control(self) -> bool:
        return all(self._has_model(key) for key, _, _, _ in self.cfg.runs("control"))

    def has_lenet_control(self) -> bool:
        return self._has_predictions("control")

    def _has_predictions(self, which: str) -> bool:
        evals = set(self.ds.list_evaluations())
        return all(self._has_fields(fld) and ev in evals for _, fld, ev, _ in self.cfg.runs(which))

    # ------------------------------------------------ --models (opt-in extra models)
    def has_extra_models(self) -> bool:
        """Every extra architecture is registered, applied and evaluated."""
        evals = set(self.ds.list_evaluations())
        return all(
            self._has_model(key) and self._has_fields(fld) and ev in evals
            for _, key, fld, ev in self.cfg.model_runs()
        )

    def probe_run(self) -> tuple[str, str, str, str]:
        """``(embeddings_field, run_key, field, eval_key)`` of the job's linear probe: on
        the CLIP embeddings when the dataset has them (the clip_embeddings step ran),
        else on LeNet-5's (the apply_lenet step's ``lenet_embeddings``)."""
        if self._has_fields(defaults.CLIP_EMBEDDINGS):
            emb, key, fld, ev = (
                defaults.CLIP_EMBEDDINGS,
                defaults.PROBE_RUN_KEY,
                defaults.PROBE_FIELD,
                defaults.EVAL_PROBE,
            )
        else:
            emb, key = defaults.LENET_EMBEDDINGS, defaults.LENET_PROBE
            fld, ev = defaults.LENET_PROBE, f"eval_{defaults.LENET_PROBE}"
        return emb, key, fld, ev

    def has_linear_probe(self) -> bool:
        from classlab.probe import list_probes

        emb, key, fld, ev = self.probe_run()
        rec = list_probes(self.ds).get(key) or {}
        return (
            rec.get("embeddings_field") == emb
            and self._has_fields(fld)
            and self.ds.has_evaluation(ev)
        )
