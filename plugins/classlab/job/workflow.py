"""The whole ClassLab workflow, step by step, through ClassLab's own operators.

Load MNIST, split train/val, CLIP embeddings (+ 2-D map + similarity index) and
zero-shot labels, train LeNet-5, apply and evaluate it (with embeddings), the
four brain scores, tag the training samples to fix, augment them, fine-tune a
second LeNet-5 from the first on the augmented set, apply and evaluate it, and
compare the models. Every step calls an operator through
``foo.execute_operator`` (the SDK path) and is skipped when its result exists.

Example::

    from classlab.config import configure_logging
    from classlab.job.workflow import WorkflowConfig, run_workflow

    configure_logging()
    report = run_workflow(WorkflowConfig(mnist_dir="/data/mnist", subset=1000))
    print(report.summary())

Set ``FIFTYONE_OPERATOR_TIMEOUT`` (seconds) before importing fiftyone for runs
whose steps last longer than FiftyOne's default 600 s (``python -m classlab``
does).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from typing import Any, Optional

from classlab import defaults
from classlab.clip.weights import clip_weights_problem
from classlab.job.runner import Step, StepResult, format_summary, run_operator, run_steps

logger = logging.getLogger("classlab")

STEP_NAMES = (
    "load_mnist",
    "split",
    "clip_embeddings",
    "zero_shot",
    "train_lenet",
    "apply_lenet",
    "scores",
    "tag_to_fix",
    "augment",
    "finetune",
    "apply_lenet_v2",
    "compare",
)
CLIP_STEPS = ("clip_embeddings", "zero_shot")
SCORES = ("hardness", "mistakenness", "uniqueness", "representativeness")
# the FiftyOne MNIST tutorial's selection of training samples to fix, in one run:
# misclassified + top 0.1% unique + top 0.1% representative + bottom 1% confidence
# among the correct ones (scores from the LeNet-5 embeddings)
TUTORIAL_SELECTION = dict(
    misclassified=True, unique_top=0.001, representative_top=0.001, low_confidence_bottom=0.01
)


@dataclass
class WorkflowConfig:
    """Everything the workflow needs; each name is the operator's default.

    ``subset`` keeps the first N samples of each MNIST split. CLIP runs with
    ``clip_model``/``clip_pretrained`` (a tag, a local checkpoint path, or an
    ``hf-hub:`` model name) when those weights can be loaded, else its steps
    are skipped with the reason; ``clip_random_weights`` runs them with random
    weights instead (labelled so everywhere); ``clip=False`` skips them.
    """

    dataset_name: str = defaults.MNIST_DATASET_NAME
    mnist_dir: Optional[str] = None
    subset: Optional[int] = None
    fresh: bool = False
    device: str = "auto"
    seed: int = defaults.SPLIT_SEED
    val_fraction: float = defaults.SPLIT_FRACTIONS[defaults.VAL_TAG]
    clip: bool = True
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "laion2b_s34b_b79k"
    clip_random_weights: bool = False
    clip_batch_size: int = 64
    viz_method: str = "umap"
    epochs: int = 5
    finetune_epochs: int = 2
    batch_size: int = 256
    model_v1: str = "lenet_v1"
    model_v2: str = "lenet_v2"
    field_v2: str = "lenet_v2"
    eval_v2: str = "eval_lenet_v2"
    tag_params: dict[str, Any] = field(default_factory=lambda: dict(TUTORIAL_SELECTION))
    augment_key: str = "augment_v1"
    augment_params: dict[str, Any] = field(
        default_factory=lambda: dict(preset="tutorial", num_copies=2)
    )
    only: Optional[list[str]] = None


@dataclass
class WorkflowReport:
    """The outcome: one :class:`StepResult` per step, and the comparison."""

    dataset_name: str
    results: list[StepResult]
    comparison: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no step failed."""
        return all(r.status != "failed" for r in self.results)

    def summary(self) -> str:
        """The per-step table (time, peak memory, result)."""
        return format_summary(self.results)


class Workflow:
    """The steps of the workflow over one dataset (see the module docstring)."""

    def __init__(self, config: WorkflowConfig):
        self.cfg = config
        self.comparison: dict[str, Any] = {}
        self._clip_problem: Optional[str] = None
        self._clip_checked = False

    # ------------------------------------------------------------ helpers
    @property
    def ds(self):
        import fiftyone as fo

        ds = fo.load_dataset(self.cfg.dataset_name)
        ds.reload()
        return ds

    def _exists(self) -> bool:
        import fiftyone as fo

        return fo.dataset_exists(self.cfg.dataset_name)

    def _has_fields(self, *names: str) -> bool:
        schema = self.ds.get_field_schema()
        return all(n in schema for n in names)

    def _has_tag(self, tag: str) -> bool:
        return tag in self.ds.distinct("tags")

    def _record(self, kind: str, key: str) -> Optional[dict]:
        from classlab.records import get_record

        return get_record(self.ds, kind, key)

    def _originals(self):
        """Every sample except augmented copies."""
        return self.ds.match_tags(defaults.AUGMENTED_TAG, bool=False)

    def _clip_params(self) -> dict[str, Any]:
        c = self.cfg
        return dict(
            model_name=c.clip_model,
            device=c.device,
            pretrained="" if c.clip_random_weights else c.clip_pretrained,
            random_weights=c.clip_random_weights,
        )

    def clip_skip(self) -> Optional[str]:
        """Why the CLIP steps cannot run (None: they can)."""
        if not self.cfg.clip:
            return "CLIP turned off (--no-clip)"
        if self.cfg.clip_random_weights:
            return None
        if not self._clip_checked:
            self._clip_problem = clip_weights_problem(self.cfg.clip_model, self.cfg.clip_pretrained)
            self._clip_checked = True
        if self._clip_problem:
            return (
                f"{self._clip_problem} Pass --clip-pretrained PATH (a local checkpoint) or "
                "--clip-random-weights (random weights: no meaningful accuracy)."
            )
        return None

    def _clip_label(self) -> str:
        c = self.cfg
        return (
            f"{c.clip_model} with RANDOM WEIGHTS (not a real CLIP: accuracy is meaningless)"
            if c.clip_random_weights
            else f"{c.clip_model} ({c.clip_pretrained})"
        )

    # -------------------------------------------------------------- steps
    def load_mnist(self) -> str:
        c = self.cfg
        res = run_operator(
            "load_mnist",
            params=dict(
                source_dir=c.mnist_dir, dataset_name=c.dataset_name, limit_per_split=c.subset
            ),
        )
        return f"{res['num_samples']} samples, tags {res['tags']}"

    def split(self) -> str:
        v = self.cfg.val_fraction
        res = run_operator(
            "split_dataset",
            view=self.ds.match_tags(defaults.TRAIN_TAG),
            params=dict(train=1.0 - v, val=v, test=0.0, seed=self.cfg.seed, overwrite=True),
        )
        return f"train/val split of the training samples: {res['counts']}"

    def clip_embeddings(self) -> str:
        params = dict(
            self._clip_params(),
            embeddings_field=defaults.CLIP_EMBEDDINGS,
            batch_size=self.cfg.clip_batch_size,
            compute_viz=True,
            viz_method=self.cfg.viz_method,
            viz_key=defaults.CLIP_VIZ_KEY,
            compute_similarity=True,
            sim_key=defaults.CLIP_SIM_KEY,
        )
        run_operator("compute_clip_embeddings", dataset=self.ds, params=params)
        return (
            f"{defaults.CLIP_EMBEDDINGS} + map {defaults.CLIP_VIZ_KEY} + similarity "
            f"{defaults.CLIP_SIM_KEY}, {self._clip_label()}"
        )

    def zero_shot(self) -> str:
        params = dict(
            self._clip_params(),
            label_field=defaults.CLIP_ZERO_SHOT,
            gt_field=defaults.GROUND_TRUTH,
            embeddings_field=defaults.CLIP_EMBEDDINGS,
            evaluate=True,
            eval_key=defaults.EVAL_CLIP,
        )
        run_operator("zero_shot_classify", dataset=self.ds, params=params)
        acc = _accuracy(self.ds.match_tags(defaults.TEST_TAG), defaults.CLIP_ZERO_SHOT)
        return f"test accuracy {acc:.3f}, {self._clip_label()}"

    def train_lenet(self, run_key: Optional[str] = None, **extra) -> str:
        c = self.cfg
        run_key = run_key or c.model_v1
        params = dict(
            run_key=run_key,
            label_field=defaults.GROUND_TRUTH,
            train_tag=defaults.TRAIN_TAG,
            val_tag=defaults.VAL_TAG,
            epochs=extra.pop("epochs", c.epochs),
            batch_size=c.batch_size,
            seed=c.seed,
            device=c.device,
            **extra,
        )
        run_operator("train_lenet", dataset=self.ds, params=params)
        rec = self._record("models", run_key) or {}
        hist = rec.get("history") or [{}]
        best = hist[(rec.get("best_epoch") or len(hist)) - 1] if hist else {}
        val_acc = best.get("val_acc", float("nan"))
        return (
            f"{run_key}: {len(hist)} epochs, best val acc {val_acc:.4f} "
            f"in {rec.get('train_seconds', 0):.0f} s"
        )

    def apply_lenet(
        self,
        run_key: Optional[str] = None,
        label_field: str = defaults.LENET_FIELD,
        eval_key: str = defaults.EVAL_LENET,
        embeddings_field: str = defaults.LENET_EMBEDDINGS,
    ) -> str:
        params = dict(
            run_key=run_key or self.cfg.model_v1,
            label_field=label_field,
            embeddings_field=embeddings_field,
            batch_size=1024,
            device=self.cfg.device,
            evaluate=True,
            eval_key=eval_key,
            gt_field=defaults.GROUND_TRUTH,
            overwrite=True,
        )
        run_operator("apply_lenet", view=self._originals(), params=params)
        acc = _accuracy(self.ds.match_tags(defaults.TEST_TAG), label_field)
        return f"{label_field}: test accuracy {acc:.4f}"

    def scores(self) -> str:
        run_operator(
            "compute_sample_scores",
            view=self._originals(),
            params=dict(
                scores=list(SCORES),
                pred_field=defaults.LENET_FIELD,
                gt_field=defaults.GROUND_TRUTH,
                embeddings_field=defaults.LENET_EMBEDDINGS,
            ),
        )
        return ", ".join(self.score_fields())

    def score_fields(self) -> list[str]:
        """The four fields the scores step writes."""
        p, e = defaults.LENET_FIELD, defaults.LENET_EMBEDDINGS
        return [f"{p}_hardness", f"{p}_mistakenness", f"{e}_uniqueness", f"{e}_representativeness"]

    def tag_to_fix(self) -> str:
        params = dict(
            pred_field=defaults.LENET_FIELD,
            gt_field=defaults.GROUND_TRUTH,
            embeddings_field=defaults.LENET_EMBEDDINGS,
            tag=defaults.TO_FIX_TAG,
            **self.cfg.tag_params,
        )
        # only training samples: augmenting val/test samples would leak them into training
        params["split"] = defaults.TRAIN_TAG
        run_operator("tag_samples_to_fix", dataset=self.ds, params=params)
        n = self.ds.match_tags(defaults.TO_FIX_TAG).count()
        return f"{n} training samples tagged {defaults.TO_FIX_TAG!r}"

    def augment(self) -> str:
        params = dict(
            run_key=self.cfg.augment_key,
            seed=self.cfg.seed,
            source_tag=defaults.TO_FIX_TAG,
            label_field=defaults.GROUND_TRUTH,
            **self.cfg.augment_params,
        )
        run_operator("augment_samples", dataset=self.ds, params=params)
        n = self.ds.match_tags(defaults.AUGMENTED_TAG).count()
        return f"{n} augmented samples (tag {defaults.AUGMENTED_TAG!r})"

    def finetune(self) -> str:
        c = self.cfg
        return self.train_lenet(
            c.model_v2,
            init_from=c.model_v1,
            include_augmented=True,
            augmented_tag=defaults.AUGMENTED_TAG,
            epochs=c.finetune_epochs,
        )

    def apply_lenet_v2(self) -> str:
        c = self.cfg
        return self.apply_lenet(c.model_v2, c.field_v2, c.eval_v2, embeddings_field="")

    def compare(self) -> str:
        from classlab.compare import compare_models, fixed_vs_broken

        test = self.ds.match_tags(defaults.TEST_TAG)
        fields = [
            f
            for f in (defaults.CLIP_ZERO_SHOT, defaults.LENET_FIELD, self.cfg.field_v2)
            if self._has_fields(f)
        ]
        table = compare_models(test, fields=fields, gt_field=defaults.GROUND_TRUTH)
        accuracy = {}
        for row in table["summary"].to_dict("records"):
            weights = " (random weights)" if row.get("random_weights") else ""
            accuracy[row["field"]] = row["accuracy"]
            logger.info("  test accuracy of %-16s %.4f%s", row["field"], row["accuracy"], weights)
        fvb = fixed_vs_broken(
            test, defaults.LENET_FIELD, self.cfg.field_v2, gt_field=defaults.GROUND_TRUTH
        )
        counts = {k: fvb[k] for k in ("n", "fixed", "broken", "still_right", "still_wrong")}
        self.comparison = {
            "accuracy": accuracy,
            "fixed_vs_broken": counts,
            "clip_random_weights": self.cfg.clip_random_weights,
        }
        logger.info(
            "  %s -> %s on %d test samples: %d fixed, %d broken",
            defaults.LENET_FIELD,
            self.cfg.field_v2,
            counts["n"],
            counts["fixed"],
            counts["broken"],
        )
        acc = ", ".join(f"{k} {v:.4f}" for k, v in accuracy.items())
        return f"test accuracy {acc}; fixed {counts['fixed']}, broken {counts['broken']}"

    # --------------------------------------------------------- step table
    def steps(self) -> list[Step]:
        """The ordered steps, each with its done-check."""
        c, has = self.cfg, self._has_fields
        mine = self._exists

        def when(check):
            return lambda: mine() and check()

        def ds():
            return self.ds

        table = [
            Step("load_mnist", "load MNIST", self.load_mnist, mine),
            Step(
                "split",
                "split train into train/val",
                self.split,
                when(lambda: self._has_tag(defaults.VAL_TAG)),
            ),
            Step(
                "clip_embeddings",
                "CLIP embeddings, map and similarity index",
                self.clip_embeddings,
                when(
                    lambda: (
                        has(defaults.CLIP_EMBEDDINGS)
                        and ds().has_brain_run(defaults.CLIP_VIZ_KEY)
                        and ds().has_brain_run(defaults.CLIP_SIM_KEY)
                    )
                ),
                self.clip_skip,
                optional=True,
            ),
            Step(
                "zero_shot",
                "CLIP zero-shot classification",
                self.zero_shot,
                when(
                    lambda: has(defaults.CLIP_ZERO_SHOT) and ds().has_evaluation(defaults.EVAL_CLIP)
                ),
                self.clip_skip,
                optional=True,
            ),
            Step(
                "train_lenet",
                f"train LeNet-5 ({c.model_v1})",
                self.train_lenet,
                when(lambda: self._record("models", c.model_v1) is not None),
            ),
            Step(
                "apply_lenet",
                "apply + evaluate LeNet-5, with embeddings",
                self.apply_lenet,
                when(
                    lambda: (
                        has(defaults.LENET_FIELD, defaults.LENET_EMBEDDINGS)
                        and ds().has_evaluation(defaults.EVAL_LENET)
                    )
                ),
            ),
            Step(
                "scores",
                "hardness, mistakenness, uniqueness, representativeness",
                self.scores,
                when(lambda: has(*self.score_fields())),
            ),
            Step(
                "tag_to_fix",
                "tag the training samples to fix",
                self.tag_to_fix,
                when(lambda: self._has_tag(defaults.TO_FIX_TAG)),
            ),
            Step(
                "augment",
                "augment the tagged samples",
                self.augment,
                when(lambda: self._record("augmentations", c.augment_key) is not None),
            ),
            Step(
                "finetune",
                f"fine-tune {c.model_v2} from {c.model_v1} with the augmented samples",
                self.finetune,
                when(lambda: self._record("models", c.model_v2) is not None),
            ),
            Step(
                "apply_lenet_v2",
                f"apply + evaluate {c.model_v2}",
                self.apply_lenet_v2,
                when(lambda: has(c.field_v2) and ds().has_evaluation(c.eval_v2)),
            ),
            Step("compare", "compare the models on the test split", self.compare),
        ]
        if c.only:
            table = [s for s in table if s.name in c.only]
        return table


def _accuracy(view, pred_field: str, gt_field: str = defaults.GROUND_TRUTH) -> float:
    """Fraction of ``view``'s samples whose prediction equals the ground truth."""
    from fiftyone import ViewField as F

    n = view.count()
    right = view.match(F(f"{pred_field}.label") == F(f"{gt_field}.label")).count()
    return right / n if n else float("nan")


def start_over(dataset_name: str) -> None:
    """Deletes the dataset and the files ClassLab wrote for it (media, models)."""
    import fiftyone as fo
    from classlab.config import media_dir, models_dir

    if fo.dataset_exists(dataset_name):
        fo.delete_dataset(dataset_name)
        logger.info("Deleted dataset %r", dataset_name)
    for path in (media_dir(dataset_name), models_dir(dataset_name)):
        if path.exists():
            shutil.rmtree(path)
            logger.info("Deleted %s", path)


def run_workflow(config: Optional[WorkflowConfig] = None) -> WorkflowReport:
    """Runs the workflow; see :class:`WorkflowConfig`.

    Returns:
        a :class:`WorkflowReport` (``report.ok``, ``report.summary()``)

    Raises:
        InputError: an unknown step name in ``config.only``
    """
    from classlab.errors import InputError
    from classlab.job.plugin import install_plugin

    config = config or WorkflowConfig()
    unknown = sorted(set(config.only or ()) - set(STEP_NAMES))
    if unknown:
        raise InputError(f"Unknown step(s) {unknown}: choose from {', '.join(STEP_NAMES)}")
    install_plugin()
    if config.fresh:
        start_over(config.dataset_name)
    wf = Workflow(config)
    results = run_steps(wf.steps())
    return WorkflowReport(config.dataset_name, results, wf.comparison)
