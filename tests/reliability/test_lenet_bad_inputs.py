"""Bad inputs to the LeNet and data entry points, each through the core function AND the
operator: a ClassLab error whose message names the parameter, the dataset unchanged
(samples, schema, tags, info and records, runs, label values), no file written anywhere
(outside ClassLab's root nor inside it) and no dataset created."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from classlab.errors import ClassLabError
from fiftyone.operators.executor import ExecutionError

NAN, INF = math.nan, math.inf
APPLY = {"run_key": "base", "label_field": "pred_new", "embeddings_field": "", "eval_key": "e_new"}
EVAL = {"pred_field": "lenet", "gt_field": "ground_truth", "eval_key": "e_new"}

# (id, operator, params, message that names the parameter)
CASES = [
    # train_lenet: path escapes and other bad run keys
    ("train-key-dotdot", "train_lenet", {"run_key": "_.."}, r"run_key='_\.\.' is not a valid key"),
    (
        "train-key-abs-path",
        "train_lenet",
        {"run_key": "/anywhere/else/evil"},
        r"run_key='/anywhere/else/evil' is not a valid key",
    ),
    ("train-key-slash", "train_lenet", {"run_key": "a/b"}, r"run_key='a/b' is not a valid key"),
    ("train-key-hidden", "train_lenet", {"run_key": ".v1"}, r"run_key='\.v1' is not a valid key"),
    ("train-key-exists", "train_lenet", {"run_key": "base"}, r"Pick another run_key"),
    # train_lenet: numbers and enums
    ("train-epochs-abc", "train_lenet", {"epochs": "abc"}, r"epochs must be a positive integer"),
    ("train-epochs-1e9", "train_lenet", {"epochs": 10**9}, r"epochs must be at most max_epochs"),
    ("train-epochs-2.5", "train_lenet", {"epochs": 2.5}, r"epochs must be a positive integer"),
    ("train-lr-nan", "train_lenet", {"lr": NAN}, r"lr must be a positive number"),
    ("train-lr-1e9", "train_lenet", {"lr": 1e9}, r"lr must be a positive number up to"),
    ("train-wd-nan", "train_lenet", {"weight_decay": NAN}, r"weight_decay must be a number"),
    ("train-seed-inf", "train_lenet", {"seed": INF}, r"seed must be an integer"),
    ("train-batch-0", "train_lenet", {"batch_size": 0}, r"batch_size must be a positive integer"),
    ("train-smoothing", "train_lenet", {"label_smoothing": 1.0}, r"label_smoothing must be"),
    ("train-optimizer", "train_lenet", {"optimizer": "lbfgs"}, r"optimizer must be one of adamw"),
    (
        "train-arch",
        "train_lenet",
        {"architecture": "resnet"},
        r"architecture must be one of lenet5",
    ),
    ("train-schedule", "train_lenet", {"schedule": "x"}, r"schedule must be one of onecycle"),
    # train_lenet: fields, splits, parent
    ("train-label-filepath", "train_lenet", {"label_field": "filepath"}, r"label_field 'filepath'"),
    ("train-train-tag", "train_lenet", {"train_tag": "nope"}, r"another train_tag"),
    ("train-val-tag", "train_lenet", {"val_tag": "nope"}, r"another val_tag"),
    ("train-init-ghost", "train_lenet", {"init_from": "ghost"}, r"pick another init_from"),
    # apply_lenet: outputs checked against their kind before the first write
    (
        "apply-label-gt",
        "apply_lenet",
        {**APPLY, "label_field": "ground_truth", "overwrite": True},
        r"label_field 'ground_truth' is the ground truth",
    ),
    (
        "apply-label-tags",
        "apply_lenet",
        {**APPLY, "label_field": "tags", "overwrite": True},
        r"label_field 'tags' is a built-in field",
    ),
    (
        "apply-label-filepath",
        "apply_lenet",
        {**APPLY, "label_field": "filepath", "overwrite": True},
        r"label_field 'filepath' is a built-in field",
    ),
    (
        "apply-label-metadata",
        "apply_lenet",
        {**APPLY, "label_field": "metadata", "overwrite": True},
        r"label_field 'metadata' is a built-in field",
    ),
    (
        "apply-label-exists",
        "apply_lenet",
        {**APPLY, "label_field": "lenet"},
        r"label_field 'lenet' already exists",
    ),
    (
        "apply-emb-gt",
        "apply_lenet",
        {**APPLY, "embeddings_field": "ground_truth", "overwrite": True},
        r"embeddings_field 'ground_truth' is the ground truth",
    ),
    (
        "apply-emb-tags",
        "apply_lenet",
        {**APPLY, "embeddings_field": "tags", "overwrite": True},
        r"embeddings_field 'tags' is a built-in field",
    ),
    (
        "apply-emb-filepath",
        "apply_lenet",
        {**APPLY, "embeddings_field": "filepath"},
        r"embeddings_field 'filepath' is a built-in field",
    ),
    (
        "apply-emb-not-vector",
        "apply_lenet",
        {**APPLY, "embeddings_field": "lenet", "label_field": "pred_new", "overwrite": True},
        r"embeddings_field 'lenet' exists and is not a vector",
    ),
    (
        "apply-eval-key-dash",
        "apply_lenet",
        {**APPLY, "eval_key": "e-1"},
        r"eval_key 'e-1' is not valid",
    ),
    (
        "apply-eval-key-gt",
        "apply_lenet",
        {**APPLY, "eval_key": "ground_truth", "overwrite": True},
        r"eval_key 'ground_truth' names a field",
    ),
    ("apply-run-ghost", "apply_lenet", {**APPLY, "run_key": "ghost"}, r"pick another run_key"),
    ("apply-batch-0", "apply_lenet", {**APPLY, "batch_size": 0}, r"batch_size must be"),
    (
        "apply-device",
        "apply_lenet",
        {**APPLY, "device": "tpu"},
        r"device must be one of auto, cpu, cuda",
    ),
    ("train-device", "train_lenet", {"device": "tpu"}, r"device must be one of auto, cpu, cuda"),
    # evaluate_predictions
    (
        "eval-same-fields",
        "evaluate_predictions",
        {**EVAL, "pred_field": "ground_truth"},
        r"gt_field and pred_field are both",
    ),
    ("eval-k-0", "evaluate_predictions", {**EVAL, "k": 0}, r"k must be an integer >= 1"),
    ("eval-k-nan", "evaluate_predictions", {**EVAL, "k": NAN}, r"k must be an integer >= 1"),
    ("eval-pred-ghost", "evaluate_predictions", {**EVAL, "pred_field": "nope"}, r"pred_field"),
    ("eval-key-space", "evaluate_predictions", {**EVAL, "eval_key": "a b"}, r"eval_key 'a b'"),
    (
        "eval-key-gt",
        "evaluate_predictions",
        {**EVAL, "eval_key": "ground_truth"},
        r"eval_key 'ground_truth' names a field",
    ),
    # rename_model / delete_model
    ("rename-slash", "rename_model", {"run_key": "base", "new_key": "a/b"}, r"new_key='a/b'"),
    ("rename-dotdot", "rename_model", {"run_key": "base", "new_key": "_.."}, r"new_key='_\.\.'"),
    ("rename-exists", "rename_model", {"run_key": "base", "new_key": "base"}, r"another new_key"),
    ("rename-ghost", "rename_model", {"run_key": "ghost", "new_key": "x"}, r"another run_key"),
    ("delete-ghost", "delete_model", {"run_key": "ghost"}, r"pick another run_key"),
    (
        "delete-escape",
        "delete_model",
        {"run_key": "/anywhere/else/evil", "delete_checkpoint": True},
        r"pick another run_key",
    ),
    (
        "delete-outside-root",
        "delete_model",
        {"run_key": "outside", "delete_checkpoint": True},
        r"delete_checkpoint: the checkpoint .* is outside ClassLab's root",
    ),
    # load_mnist: validated before the first PNG is written
    ("load-name-kanji", "load_mnist", {"dataset_name": "日本語"}, r"dataset_name '日本語'"),
    ("load-name-empty", "load_mnist", {"dataset_name": " "}, r"dataset_name must be"),
    ("load-name-exists", "load_mnist", {"dataset_name": "@ds"}, r"another dataset_name"),
    ("load-name-slug", "load_mnist", {"dataset_name": "@DS"}, r"another dataset_name"),
    ("load-label-dot", "load_mnist", {"label_field": "a.b"}, r"label_field name 'a\.b'"),
    ("load-label-tags", "load_mnist", {"label_field": "tags"}, r"label_field 'tags' is a built-in"),
    ("load-limit-0", "load_mnist", {"limit_per_split": 0}, r"limit_per_split must be"),
    ("load-limit-inf", "load_mnist", {"limit_per_split": INF}, r"limit_per_split must be"),
    ("load-source", "load_mnist", {"source_dir": "/nonexistent/mnist"}, r"source_dir"),
    # split_dataset
    ("split-train-nan", "split_dataset", {"train": NAN}, r"train fraction must be in \(0, 1\]"),
    ("split-val-inf", "split_dataset", {"val": INF}, r"val fraction must be in \(0, 1\]"),
    ("split-sum", "split_dataset", {"train": 0.8, "val": 0.5}, r"fractions must sum to at most 1"),
    ("split-label", "split_dataset", {"label_field": "nope"}, r"label_field 'nope'"),
    ("split-seed", "split_dataset", {"seed": "abc"}, r"seed must be an integer"),
    ("split-seed-neg", "split_dataset", {"seed": -1}, r"seed must be an integer"),
    ("split-tagged", "split_dataset", {"overwrite": False}, r"Pass overwrite=True to re-split"),
]


def _target(ds, op):
    if op in ("apply_lenet", "evaluate_predictions"):
        return ds.match_tags("test").limit(20)
    return ds


def _params(op, params, ds, mnist_dir, fast):
    """The operator's params of a case (with the defaults that isolate its one fault)."""
    params = {
        k: (ds.name if v == "@ds" else ds.name.upper() if v == "@DS" else v)
        for k, v in params.items()
    }
    if op == "train_lenet":
        return {"run_key": "fresh", **fast, **params}
    if op == "load_mnist":
        return {"source_dir": str(mnist_dir), "dataset_name": "rel-new", **params}
    if op == "split_dataset":
        return {"train": 0.8, "val": 0.2, "overwrite": True, **params}
    return params


def _core(op, view, params):
    """Calls the core function of ``op`` with the operator's ``params``."""
    from classlab.data.mnist import load_mnist
    from classlab.data.splits import split_dataset
    from classlab.lenet import registry
    from classlab.lenet.apply import apply_lenet
    from classlab.lenet.config import TrainConfig
    from classlab.lenet.evaluate import evaluate_predictions
    from classlab.lenet.runs import train_lenet

    p = dict(params)
    if op == "train_lenet":
        options = {k: p.pop(k) for k in list(p) if k in TrainConfig.__dataclass_fields__}
        return train_lenet(view, config=options, **p)
    if op == "split_dataset":
        fractions = {t: p.pop(t) for t in ("train", "val", "test") if t in p}
        return split_dataset(view, fractions, **p)
    fn = {
        "apply_lenet": apply_lenet,
        "evaluate_predictions": evaluate_predictions,
        "rename_model": lambda v, **kw: registry.rename_model(v, kw["run_key"], kw["new_key"]),
        "delete_model": registry.delete_model,
        "load_mnist": lambda v, **kw: load_mnist(**kw),
    }[op]
    return fn(view, **p)


@pytest.mark.parametrize("way", ["core", "operator"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    case, way, lenet_ds, mnist_dir, fast, execute, unchanged, no_writes
):
    _, op, params, message = case
    params = _params(op, params, lenet_ds, mnist_dir, fast)
    view = _target(lenet_ds, op)
    with unchanged(lenet_ds), no_writes():
        if way == "core":
            with pytest.raises(ClassLabError, match=message):
                _core(op, view, params)
        else:
            with pytest.raises(ExecutionError, match=message):
                execute(op, view=view, params=params)
    assert not Path("/anywhere/else/evil.pt").exists()
