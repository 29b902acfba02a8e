"""The whole ClassLab workflow, step by step, through the core API.

Load MNIST, split train/val, CLIP embeddings (+ 2-D map + similarity index) and
zero-shot labels, train LeNet-5, apply and evaluate it (with embeddings), the
four brain scores, tag the training samples to fix, augment them, fine-tune a
second LeNet-5 from the first on the augmented set, apply and evaluate it, the
same fine-tuning WITHOUT the augmented samples (the control), and compare the
models with paired tests (is v2's gain real, and how much of it do the augmented
samples bring?). Each step calls one core function with a progress callback,
returns a typed outcome (:mod:`classlab.job.outcomes`) built from what that call
returned, and is skipped when its result exists. Both CLIP steps share one
:class:`~classlab.clip.ModelCache`: the model is loaded once per run.

Example::

    from classlab.config import configure_logging
    from classlab.job.workflow import WorkflowConfig, run_workflow

    configure_logging()
    report = run_workflow(WorkflowConfig(mnist_dir="/data/mnist", subset=1000))
    print(report.summary())
"""

from __future__ import annotations

import logging
from typing import Optional

from classlab import defaults
from classlab.job import outcomes as out
from classlab.job.checks import DoneChecks
from classlab.job.clip_run import ClipRun
from classlab.job.label_steps import LabelSteps
from classlab.job.model_steps import MODEL_STEP_TABLE, MODEL_STEPS, ModelSteps, requested
from classlab.job.report import WorkflowReport
from classlab.job.reset import start_over
from classlab.job.runner import Step, repeat_progress, run_steps
from classlab.job.settings import TUTORIAL_SELECTION, WorkflowConfig
from classlab.progress import ProgressFn

__all__ = [
    "ALL_STEP_NAMES",
    "STEP_NAMES",
    "TUTORIAL_SELECTION",
    "Workflow",
    "WorkflowConfig",
    "WorkflowReport",
    "run_workflow",
    "start_over",
]

logger = logging.getLogger("classlab")

# Every step: (name = the Workflow method that runs it, title for the log ({c} is the
# config), the Workflow method that says whether its result exists, or None: it
# always runs). The order is the order of the workflow. The fine-tune/apply steps
# of lenet_v2 and of its control (no augmented samples) handle every repeat and
# run only the missing ones; ``compare`` adds the paired tests (job.comparing). The
# opt-in steps of ``--models`` (job.model_steps) come before ``compare``, only when asked.
STEP_TABLE: tuple[tuple[str, str, Optional[str]], ...] = (
    ("load_mnist", "load MNIST", "has_dataset"),
    ("split", "split train into train/val", "has_split"),
    ("clip_embeddings", "CLIP embeddings, map and similarity index", "has_clip_embeddings"),
    ("zero_shot", "CLIP zero-shot classification", "has_zero_shot"),
    ("train_lenet", "train LeNet-5 ({c.model_v1})", "has_model_v1"),
    ("apply_lenet", "apply + evaluate LeNet-5, with embeddings", "has_lenet"),
    ("oos", "out-of-sample predictions: {c.oos_folds}-fold LeNet-5 ({c.oos_field})", "has_oos"),
    ("label_issues", "label issues: cleanlab on {c.oos_field}", "has_label_issues"),
    ("scores", "hardness, mistakenness, uniqueness, representativeness", "has_scores"),
    ("tag_to_fix", "tag the training samples to fix", "has_to_fix"),
    ("augment", "augment the tagged samples", "has_augmentations"),
    (
        "finetune",
        "fine-tune {c.model_v2} from {c.model_v1} with the augmented samples",
        "has_model_v2",
    ),
    ("apply_lenet_v2", "apply + evaluate {c.model_v2}", "has_lenet_v2"),
    (
        "finetune_control",
        "fine-tune the control {c.model_control} from {c.model_v1} WITHOUT the augmented samples",
        "has_model_control",
    ),
    ("apply_control", "apply + evaluate {c.model_control}", "has_lenet_control"),
    *MODEL_STEP_TABLE,
    ("compare", "compare the models on the test split, paired tests", None),
)
ALL_STEP_NAMES = tuple(name for name, _, _ in STEP_TABLE)  # what --only accepts
STEP_NAMES = tuple(n for n in ALL_STEP_NAMES if n not in MODEL_STEPS)  # the default job's
CLIP_STEPS = ("clip_embeddings", "zero_shot")  # skipped (with the reason) when CLIP cannot run


class Workflow(LabelSteps, ModelSteps, DoneChecks):
    """The steps of the workflow over one dataset (see the module docstring); the
    done checks come from :class:`~classlab.job.checks.DoneChecks`.

    Args:
        config: the run's settings
        clip_cache: the CLIP models of this run (default: a new, empty cache)
    """

    def __init__(self, config: WorkflowConfig, clip_cache=None):
        super().__init__(config)
        self.clip = ClipRun(config, clip_cache)

    # ------------------------------------------------------------ the table
    def steps(self) -> list[Step]:
        """The ordered steps of :data:`STEP_TABLE` (those of ``config.only``; the
        ``--models`` steps only when ``config.models`` asks for them)."""
        table = []
        for name, title, check in STEP_TABLE:
            if self.cfg.only and name not in self.cfg.only:
                continue
            if name in MODEL_STEPS and not requested(self.cfg, name):
                continue
            clip = name in CLIP_STEPS
            table.append(
                Step(
                    name,
                    title.format(c=self.cfg),
                    getattr(self, name),
                    self._done_check(check),
                    self.clip.skip if clip else (lambda: None),
                    optional=clip or name in MODEL_STEPS,  # compare runs without them
                )
            )
        return table

    def _done_check(self, check: Optional[str]):
        if check is None:
            return lambda: False
        return lambda: self.has_dataset() and getattr(self, check)()

    # -------------------------------------------------------------- steps
    def load_mnist(self, progress: ProgressFn) -> out.Loaded:
        from classlab.data import load_mnist

        c = self.cfg
        self._dataset = ds = load_mnist(
            source_dir=c.mnist_dir,
            dataset_name=c.dataset_name,
            limit_per_split=c.subset,
            progress=progress,
        )
        return out.Loaded(ds.name, len(ds), ds.count_sample_tags())

    def split(self, progress: ProgressFn) -> out.Split:
        from classlab.data import split_dataset

        v = self.cfg.val_fraction
        counts = split_dataset(
            self.ds.match_tags(defaults.TRAIN_TAG),
            fractions={defaults.TRAIN_TAG: 1.0 - v, defaults.VAL_TAG: v},
            seed=self.cfg.seed,
            overwrite=True,
        )
        return out.Split(counts)

    def clip_embeddings(self, progress: ProgressFn) -> out.Embedded:
        from classlab.clip import compute_clip_embeddings

        res = compute_clip_embeddings(
            self.ds,
            spec=self.clip.spec,
            options=self.clip.options,
            embeddings_field=defaults.CLIP_EMBEDDINGS,
            compute_viz=True,
            viz_method=self.cfg.viz_method,
            viz_key=defaults.CLIP_VIZ_KEY,
            compute_similarity=True,
            sim_key=defaults.CLIP_SIM_KEY,
            cache=self.clip.cache,
            progress=progress,
        )
        return out.Embedded(
            res["embeddings_field"],
            self.clip.label,
            res["num_embedded"],
            res["num_failed"],
            res["images_per_second"],
            res.get("viz_key"),
            res.get("sim_key"),
        )

    def zero_shot(self, progress: ProgressFn) -> out.Classified:
        from classlab.clip import zero_shot_classify

        res = zero_shot_classify(
            self.ds,
            spec=self.clip.spec,
            options=self.clip.options,
            label_field=defaults.CLIP_ZERO_SHOT,
            gt_field=defaults.GROUND_TRUTH,
            embeddings_field=defaults.CLIP_EMBEDDINGS,
            evaluate=True,
            eval_key=defaults.EVAL_CLIP,
            cache=self.clip.cache,
            progress=progress,
        )
        return out.Classified(
            res["label_field"],
            self.clip.label,
            res["num_predicted"],
            res["num_reused_embeddings"],
            res["num_failed"],
            res.get("accuracy"),
        )

    def _train(
        self, progress: ProgressFn, run_key: str, epochs: int, seed=None, lr=None, **kwargs
    ) -> out.Trained:
        from classlab.lenet.runs import train_lenet

        c = self.cfg
        config = dict(epochs=epochs, batch_size=c.batch_size, seed=c.seed, device=c.device)
        config.update({k: v for k, v in (("seed", seed), ("lr", lr)) if v is not None})
        rec = train_lenet(
            self.ds,
            run_key=run_key,
            label_field=defaults.GROUND_TRUTH,
            train_tag=defaults.TRAIN_TAG,
            val_tag=defaults.VAL_TAG,
            config=config,
            progress=progress,
            **kwargs,
        )
        return out.Trained.from_record(run_key, rec)

    def train_lenet(self, progress: ProgressFn) -> out.Trained:
        return self._train(progress, self.cfg.model_v1, self.cfg.epochs)

    def _finetune(self, progress: ProgressFn, which: str, augmented: bool):
        """Fine-tunes every repeat of ``which`` ("v2"/"control") that is not yet
        registered (a resumed run trains only the missing ones)."""
        c, done = self.cfg, []
        runs = c.runs(which)
        for i, (key, _, _, seed) in enumerate(runs):
            if self._has_model(key):
                continue
            done.append(
                self._train(
                    repeat_progress(progress, i, len(runs)),
                    key,
                    c.finetune_epochs,
                    seed=seed,
                    lr=c.finetune_lr,
                    init_from=c.model_v1,
                    include_augmented=augmented,
                    augmented_tag=defaults.AUGMENTED_TAG,
                )
            )
        return out.one_or_many(done)

    def finetune(self, progress: ProgressFn):
        return self._finetune(progress, "v2", augmented=True)

    def finetune_control(self, progress: ProgressFn):
        return self._finetune(progress, "control", augmented=False)

    def _apply(self, progress, run_key, label_field, eval_key, embeddings_field) -> out.Applied:
        from classlab.lenet.apply import apply_lenet

        res = apply_lenet(
            self.originals(),
            run_key=run_key,
            label_field=label_field,
            embeddings_field=embeddings_field,
            device=self.cfg.device,
            evaluate=True,
            eval_key=eval_key,
            gt_field=defaults.GROUND_TRUTH,
            overwrite=True,
            progress=progress,
        )
        return out.Applied(
            run_key,
            res["label_field"],
            res["num_samples"],
            res["images_per_second"],
            res.get("eval_key"),
            res.get("accuracy"),
            res.get("num_evaluated"),
        )

    def apply_lenet(self, progress: ProgressFn) -> out.Applied:
        return self._apply(
            progress,
            self.cfg.model_v1,
            defaults.LENET_FIELD,
            defaults.EVAL_LENET,
            defaults.LENET_EMBEDDINGS,
        )

    def _apply_runs(self, progress: ProgressFn, which: str):
        """Applies + evaluates every repeat of ``which`` whose field or evaluation is
        missing."""
        runs, done = self.cfg.runs(which), []
        evals = set(self.ds.list_evaluations())
        for i, (key, fld, ev, _) in enumerate(runs):
            if self._has_fields(fld) and ev in evals:
                continue
            done.append(self._apply(repeat_progress(progress, i, len(runs)), key, fld, ev, ""))
        return out.one_or_many(done)

    def apply_lenet_v2(self, progress: ProgressFn):
        return self._apply_runs(progress, "v2")

    def apply_control(self, progress: ProgressFn):
        return self._apply_runs(progress, "control")

    def scores(self, progress: ProgressFn) -> out.Scored:
        from classlab.curation.scores import compute_sample_scores

        fields = compute_sample_scores(
            self.originals(),
            scores=defaults.SCORES,
            pred_field=defaults.LENET_FIELD,
            gt_field=defaults.GROUND_TRUTH,
            embeddings_field=defaults.LENET_EMBEDDINGS,
            progress=progress,
        )
        return out.Scored(fields)

    def tag_to_fix(self, progress: ProgressFn) -> out.Tagged:
        from classlab.curation.tagging import Criteria, tag_samples

        criteria = Criteria(
            **{
                **self.selection_fields(),  # the out-of-sample predictions when they exist
                "gt_field": defaults.GROUND_TRUTH,
                "embeddings_field": defaults.LENET_EMBEDDINGS,
                **self.cfg.tag_params,
                # only training samples: augmenting val/test ones would leak them into training
                "split": defaults.TRAIN_TAG,
            }
        )
        # suspected label errors are for review, not for multiplying
        res = tag_samples(self.selection_view(), criteria, tag=defaults.TO_FIX_TAG)
        return out.Tagged(res["tag"], res["tagged"], res["counts"])

    def augment(self, progress: ProgressFn) -> out.Augmented:
        from classlab.curation.augment import augment_samples

        res = augment_samples(
            self.ds.match_tags(defaults.TO_FIX_TAG),
            run_key=self.cfg.augment_key,
            seed=self.cfg.seed,
            label_field=defaults.GROUND_TRUTH,
            progress=progress,
            **self.cfg.augment_params,
        )
        return out.Augmented(
            res["run_key"],
            defaults.AUGMENTED_TAG,
            res["num_sources"],
            res["num_samples"],
            res["dir"],
        )

    def compare(self, progress: ProgressFn) -> out.Compared:
        from classlab.job.comparing import compare_runs

        return compare_runs(self.ds, self.cfg, progress)


def run_workflow(config: Optional[WorkflowConfig] = None, clip_cache=None) -> WorkflowReport:
    """Runs the workflow; see :class:`WorkflowConfig`.

    Args:
        config: the settings (default: every default)
        clip_cache: a :class:`~classlab.clip.ModelCache` to share with the
            caller (default: one for this run)

    Returns:
        a :class:`WorkflowReport` (``report.ok``, ``report.summary()``)

    Raises:
        InputError: an unknown step name in ``config.only`` (an unknown ``models``
            name is refused when the config is made)
    """
    from classlab.errors import InputError

    config = config or WorkflowConfig()
    unknown = sorted(set(config.only or ()) - set(ALL_STEP_NAMES))
    if unknown:
        raise InputError(f"Unknown step(s) {unknown}: choose from {', '.join(ALL_STEP_NAMES)}")
    if config.fresh:
        start_over(config.dataset_name)
    flow = Workflow(config, clip_cache)
    results = run_steps(flow.steps())
    compared = next((r.data for r in results if isinstance(r.data, out.Compared)), None)
    issues = flow.label_issue_record() if flow.has_dataset() else {}
    return WorkflowReport(
        config.dataset_name, results, compared.report() if compared else {}, issues
    )
