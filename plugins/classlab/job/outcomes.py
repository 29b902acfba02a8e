"""What each step of the main job produced: one small dataclass per kind of step.

Every outcome is built from what the core call returned (nothing is read back
from the database) and has ``summary()``, the step's one-line result in the
summary table. ``StepResult.data`` holds it; ``--json`` writes it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Loaded:
    """``load_mnist``: the new dataset."""

    dataset_name: str
    num_samples: int
    tags: dict[str, int]

    def summary(self) -> str:
        return f"{self.num_samples} samples, tags {self.tags}"


@dataclass
class Split:
    """``split``: how many samples each split tag got."""

    counts: dict[str, int]

    def summary(self) -> str:
        return f"train/val split of the training samples: {self.counts}"


@dataclass
class Embedded:
    """``clip_embeddings``: the embeddings field, its map and similarity index."""

    field: str
    model: str
    num_embedded: int
    num_failed: int
    images_per_second: float
    viz_key: Optional[str] = None
    sim_key: Optional[str] = None

    def summary(self) -> str:
        extra = "".join(
            f" + {what} {key}"
            for what, key in (("map", self.viz_key), ("similarity", self.sim_key))
            if key
        )
        failed = f", {self.num_failed} unreadable" if self.num_failed else ""
        return (
            f"{self.field}{extra}: {self.num_embedded} images "
            f"({self.images_per_second:.1f}/s){failed}, {self.model}"
        )


@dataclass
class Classified:
    """``zero_shot``: CLIP's labels and their accuracy (on every sample it labelled)."""

    field: str
    model: str
    num_predicted: int
    num_reused_embeddings: int
    num_failed: int
    accuracy: Optional[float] = None

    def summary(self) -> str:
        acc = f"accuracy {self.accuracy:.3f}" if self.accuracy is not None else "not evaluated"
        return f"{self.field}: {acc} on {self.num_predicted} samples, {self.model}"


@dataclass
class Trained:
    """``train_lenet``/``finetune``: the registered model."""

    run_key: str
    epochs_run: int
    best_epoch: int
    val_acc: float
    train_seconds: float
    checkpoint: str
    parent: Optional[str] = None

    @classmethod
    def from_record(cls, run_key: str, rec: dict[str, Any]) -> "Trained":
        """From the model record ``train_lenet`` returns."""
        best = rec["history"][rec["best_epoch"] - 1]
        return cls(
            run_key,
            len(rec["history"]),
            rec["best_epoch"],
            float(best["val_acc"]),
            float(rec["train_seconds"]),
            rec["checkpoint"],
            rec.get("parent"),
        )

    def summary(self) -> str:
        return (
            f"{self.run_key}: {self.epochs_run} epochs, best val acc {self.val_acc:.4f} "
            f"in {self.train_seconds:.0f} s"
        )


@dataclass
class Applied:
    """``apply_lenet``/``apply_lenet_v2``: predictions and their evaluation."""

    run_key: str
    label_field: str
    num_samples: int
    images_per_second: float
    eval_key: Optional[str] = None
    accuracy: Optional[float] = None
    num_evaluated: Optional[int] = None

    def summary(self) -> str:
        if self.accuracy is None:
            return f"{self.label_field}: {self.num_samples} predictions"
        return (
            f"{self.label_field}: accuracy {self.accuracy:.4f} on {self.num_evaluated} samples "
            f"({self.images_per_second:.0f} images/s)"
        )


@dataclass
class ExtraModel:
    """``extra_models``/``linear_probe`` (``--models``): one extra model, trained (or
    found registered), applied and evaluated; ``accuracy`` is on every original sample
    (the ``compare`` step gives the test accuracy)."""

    name: str
    run_key: str
    field: str
    num_params: int
    train_seconds: float
    val_acc: Optional[float] = None
    accuracy: Optional[float] = None
    num_evaluated: Optional[int] = None
    trained: bool = True
    embeddings_field: Optional[str] = None

    def summary(self) -> str:
        acc = (
            f"accuracy {self.accuracy:.4f} on {self.num_evaluated} samples"
            if self.accuracy is not None
            else "not evaluated"
        )
        how = "trained in" if self.trained else "registered earlier, trained in"
        on = f" on {self.embeddings_field}" if self.embeddings_field else ""
        what = f" ({self.name}{on})" if self.name != self.field else ""
        return (
            f"{self.field}{what}: {acc}, {self.num_params:,} params, "
            f"{how} {self.train_seconds:.1f} s"
        )


@dataclass
class OutOfSample:
    """``oos``: K-fold out-of-sample predictions (train+val; the rest by the ensemble)."""

    field: str
    num_folds: int
    num_samples: int
    num_others: int
    accuracy: float
    seconds: float

    def summary(self) -> str:
        return (
            f"{self.field}: {self.num_folds}-fold out-of-sample accuracy {self.accuracy:.4f} on "
            f"{self.num_samples} samples (+{self.num_others} by the fold ensemble) "
            f"in {self.seconds:.0f} s"
        )


@dataclass
class LabelIssues:
    """``label_issues``: samples flagged by cleanlab, per split and per given class."""

    field: str
    num_flagged: int
    num_scored: int
    counts_per_split: dict[str, int] = field(default_factory=dict)
    counts_per_class: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "LabelIssues":
        """From the ``label_issues`` record :func:`find_label_issues` returns."""
        return cls(
            rec["field"],
            rec["num_flagged"],
            rec["num_scored"],
            dict(rec.get("counts_per_split") or {}),
            dict(rec.get("counts_per_class") or {}),
        )

    def line(self) -> str:
        """The summary's line: how many label issues in train and in test."""
        split = self.counts_per_split
        return (
            f"label issues ({self.field}, cleanlab): {split.get('train', 0)} in train, "
            f"{split.get('val', 0)} in val, {split.get('test', 0)} in test "
            f"({self.num_flagged} of {self.num_scored} samples, tagged for review)"
        )

    def summary(self) -> str:
        return self.line()


@dataclass
class Scored:
    """``scores``: ``{score: field}``."""

    fields: dict[str, str]

    def summary(self) -> str:
        return ", ".join(self.fields.values())


@dataclass
class Tagged:
    """``tag_to_fix``: the tag, how many samples got it, and per criterion."""

    tag: str
    num_tagged: int
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        why = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{self.num_tagged} training samples tagged {self.tag!r}" + (
            f" ({why})" if why else ""
        )


@dataclass
class Augmented:
    """``augment``: the augmentation run."""

    run_key: str
    tag: str
    num_sources: int
    num_samples: int
    dir: str

    def summary(self) -> str:
        return (
            f"{self.num_samples} augmented samples of {self.num_sources} "
            f"(tag {self.tag!r}, run {self.run_key!r})"
        )


@dataclass
class Runs:
    """``finetune``/``apply_*`` with ``repeats`` > 1: one outcome per repeat that ran."""

    runs: list

    def summary(self) -> str:
        return "; ".join(r.summary() for r in self.runs)


def one_or_many(outcomes: list):
    """The step's outcome: the single run's, a :class:`Runs` of several, or a note
    when every repeat already existed."""
    if len(outcomes) == 1:
        return outcomes[0]
    return Runs(outcomes) if outcomes else "every repeat already done"


@dataclass
class Compared:
    """``compare``: test accuracy per model, what the second LeNet fixed and broke,
    the paired tests (v2 vs v1, v2 vs control, control vs v1; pooled over the
    repeats), the repeats' accuracy spread, and the summary lines."""

    accuracy: dict[str, float]
    random_weights: list[str]
    fixed_vs_broken: dict[str, int]
    clip_random_weights: bool
    paired: dict[str, dict[str, Any]] = field(default_factory=dict)
    repeats: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """The ``WorkflowReport.comparison`` dict (what README, tests and benchmarks read):
        ``accuracy``, ``fixed_vs_broken``, ``clip_random_weights``, ``paired`` (
        ``{"v2_vs_v1"|"v2_vs_control"|"control_vs_v1": paired_comparison's dict +
        "a", "b", "text"}``), ``repeats`` (``{model: {"fields", "accuracy", "mean",
        "std"}}``), ``lines`` (the summary's paired lines, then the extra models' line)
        and ``models`` (``--models``: ``{field: {"name", "run_key", "accuracy",
        "num_params", "train_seconds"}}``; empty by default)."""
        return {
            "accuracy": dict(self.accuracy),
            "fixed_vs_broken": dict(self.fixed_vs_broken),
            "clip_random_weights": self.clip_random_weights,
            "paired": {k: dict(v) for k, v in self.paired.items()},
            "repeats": {k: dict(v) for k, v in self.repeats.items()},
            "lines": list(self.lines),
            "models": {k: dict(v) for k, v in self.models.items()},
        }

    def summary(self) -> str:
        acc = ", ".join(f"{k} {v:.4f}" for k, v in self.accuracy.items())
        fvb = self.fixed_vs_broken
        if not fvb:  # no second LeNet-5 (yet)
            return f"test accuracy {acc}"
        return f"test accuracy {acc}; fixed {fvb['fixed']}, broken {fvb['broken']}"
