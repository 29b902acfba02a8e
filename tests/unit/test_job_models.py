"""The main job's opt-in extra models (``--models``): refused names, the default job
unchanged, and a tiny run with ``lenet5_modern`` and the linear probe (no CLIP)."""

from __future__ import annotations

import logging

import fiftyone as fo
import numpy as np
import pytest
from classlab import defaults
from classlab.errors import InputError
from classlab.job import outcomes
from classlab.job.cli import build_parser, config_from_args, main
from classlab.job.workflow import (
    ALL_STEP_NAMES,
    STEP_NAMES,
    Workflow,
    WorkflowConfig,
    run_workflow,
)
from classlab.lenet.registry import list_models
from classlab.probe import delete_linear_probe, list_probes, train_linear_probe

EXTRA = ["extra_models", "linear_probe"]
# the steps the extra models need, and compare
STEPS = ["load_mnist", "split", "train_lenet", "apply_lenet", *EXTRA, "compare"]


def _statuses(report):
    return {r.name: r.status for r in report.results}


def _args(mnist_dir, name, *extra):
    return [
        "--headless",
        "--dataset",
        name,
        "--mnist-dir",
        str(mnist_dir),
        "--subset",
        "100",
        "--no-clip",
        "--device",
        "cpu",
        "--epochs",
        "1",
        *extra,
    ]


def test_unknown_model_is_refused_before_anything_runs(mnist_dir, dataset_name, caplog):
    caplog.set_level(logging.ERROR, logger="classlab")
    rc = main(_args(mnist_dir, dataset_name, "--models", "resnet18,vgg16"))
    assert rc == 1 and not fo.dataset_exists(dataset_name)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "'vgg16'" in text and "--models" in text
    for choice in ("resnet18", "resnet50", "mobilenet_v3_small", "efficientnet_b0", "probe"):
        assert choice in text, text
    with pytest.raises(InputError, match=r"models \(--models\).*lenet5_modern"):
        WorkflowConfig(models=["lenet5"])  # the job's own LeNet-5 is not an extra model
    with pytest.raises(InputError, match="models_epochs"):
        WorkflowConfig(models="resnet18", models_epochs=0)
    assert WorkflowConfig(models=" Resnet18, probe,resnet18,").models == ("resnet18", "probe")


def test_default_job_has_no_extra_model_steps():
    default = Workflow(WorkflowConfig())
    assert [s.name for s in default.steps()] == list(STEP_NAMES)
    assert not set(EXTRA) & set(STEP_NAMES) and STEP_NAMES[-1] == "compare"
    # --only may name them; without --models they still do not run
    only = Workflow(WorkflowConfig(only=["extra_models", "linear_probe", "compare"]))
    assert [s.name for s in only.steps()] == ["compare"]
    names = [s.name for s in Workflow(WorkflowConfig(models="probe,resnet18")).steps()]
    assert names == list(ALL_STEP_NAMES) and names[-3:] == [*EXTRA, "compare"]
    assert [s.name for s in Workflow(WorkflowConfig(models="probe")).steps()][-2:] == [
        "linear_probe",
        "compare",
    ]


def _extras(report) -> dict:
    return {r.name: r.data for r in report.results if r.name in EXTRA}


def test_extra_models_are_trained_applied_compared_and_skipped(mnist_dir, dataset_name):
    # the default job on these steps: no extra model, nothing more in the comparison
    base = run_workflow(_config(mnist_dir, dataset_name, []))
    assert list(_statuses(base)) == ["load_mnist", "split", "train_lenet", "apply_lenet", "compare"]
    assert base.comparison["models"] == {} and "extra models" not in base.summary()

    cfg = _config(mnist_dir, dataset_name, ["--models", "lenet5_modern,probe"])
    assert cfg.models == ("lenet5_modern", "probe") and cfg.models_epochs is None
    report = run_workflow(cfg)
    statuses = _statuses(report)
    assert statuses == {
        **dict.fromkeys(STEPS, "skipped"),
        **dict.fromkeys(EXTRA, "done"),
        "compare": "done",
    }, report.summary()
    model, probe = _extras(report).values()
    assert isinstance(model, outcomes.ExtraModel) and isinstance(probe, outcomes.ExtraModel)
    assert (model.run_key, model.field, model.trained) == (
        "lenet5_modern_v1",
        "lenet5_modern",
        True,
    )
    assert (probe.run_key, probe.field) == (defaults.LENET_PROBE, defaults.LENET_PROBE)
    assert probe.embeddings_field == defaults.LENET_EMBEDDINGS
    for m in (model, probe):
        assert m.num_params > 0 and m.train_seconds > 0 and m.num_evaluated == 200
        assert 0.0 <= m.accuracy <= 1.0
    line = next(r.message for r in report.results if r.name == "extra_models")
    assert "lenet5_modern" in line and f"{model.num_params:,} params" in line

    ds = fo.load_dataset(dataset_name)
    rec = list_models(ds)["lenet5_modern_v1"]
    assert rec["architecture"] == "lenet5_modern" and rec["config"]["epochs"] == 1
    assert rec["num_params"] == model.num_params and rec["train_seconds"] > 0
    prec = list_probes(ds)[defaults.LENET_PROBE]
    assert prec["embeddings_field"] == defaults.LENET_EMBEDDINGS
    assert prec["num_params"] == probe.num_params and prec["train_seconds"] >= 0
    evals = set(ds.list_evaluations())
    assert {"eval_lenet5_modern", "eval_lenet_probe"} <= evals
    assert ds.count("lenet5_modern") == ds.count("lenet_probe") == 200

    # compare: the extra fields in the test-accuracy table and the summary's line
    cmp = report.comparison
    assert set(cmp["accuracy"]) == {"lenet", "lenet5_modern", "lenet_probe"}
    test = ds.match_tags("test")
    gt = np.array(test.values("ground_truth.label"))
    for fld in ("lenet5_modern", "lenet_probe"):
        right = np.array(test.values(f"{fld}.label")) == gt
        assert cmp["accuracy"][fld] == pytest.approx(right.mean())
        m = cmp["models"][fld]
        assert m["accuracy"] == cmp["accuracy"][fld] and m["num_params"] > 0
        assert m["train_seconds"] is not None
    assert cmp["lines"][-1].startswith("extra models (test accuracy): lenet5_modern ")
    assert report.summary().endswith(cmp["lines"][-1])
    assert "lenet_probe" in cmp["lines"][-1] and "params, trained in" in cmp["lines"][-1]

    # a second run skips them; a model missing only its evaluation is applied again
    again = run_workflow(cfg)
    assert {s: _statuses(again)[s] for s in EXTRA} == dict.fromkeys(EXTRA, "skipped")
    assert list_models(ds)["lenet5_modern_v1"]["created_at"] == rec["created_at"]
    ds.delete_evaluation("eval_lenet5_modern")
    resumed = run_workflow(cfg)
    assert _statuses(resumed)["extra_models"] == "done"
    assert _extras(resumed)["extra_models"].trained is False
    assert list_models(ds)["lenet5_modern_v1"]["created_at"] == rec["created_at"]
    ds.delete_evaluation("eval_lenet_probe")
    resumed = run_workflow(cfg)
    assert _statuses(resumed)["linear_probe"] == "done" and "eval_lenet_probe" in set(
        ds.list_evaluations()
    )
    assert _extras(resumed)["linear_probe"].trained is False
    assert list_probes(ds)[defaults.LENET_PROBE]["created_at"] == prec["created_at"]


def test_the_probe_uses_the_clip_embeddings_when_there_are_some(mnist_dir, dataset_name):
    cfg = _config(mnist_dir, dataset_name, ["--models", "probe"])
    cfg.only = ["load_mnist", "split", "train_lenet", "apply_lenet"]
    run_workflow(cfg)
    # stand-in CLIP embeddings (the probe reads only the field): LeNet-5's, doubled
    ds = fo.load_dataset(dataset_name)
    ids, emb = ds.values(["id", defaults.LENET_EMBEDDINGS])
    ds.set_values(
        defaults.CLIP_EMBEDDINGS, dict(zip(ids, [2 * np.asarray(e) for e in emb])), key_field="id"
    )
    cfg.only = ["linear_probe", "compare"]
    # a probe of another embeddings field under the job's key is refused, not replaced
    train_linear_probe(ds, defaults.LENET_EMBEDDINGS, defaults.PROBE_RUN_KEY, label_field="")
    report = run_workflow(cfg)
    assert _statuses(report) == {"linear_probe": "failed", "compare": "done"}
    message = report.results[0].message
    assert "'clip_probe'" in message and "'lenet_embeddings'" in message, message
    assert "delete_linear_probe" in message and not ds.has_sample_field(defaults.PROBE_FIELD)
    delete_linear_probe(ds, defaults.PROBE_RUN_KEY)
    report = run_workflow(cfg)
    assert _statuses(report) == {"linear_probe": "done", "compare": "done"}, report.summary()
    probe = report.results[0].data
    assert (probe.run_key, probe.field) == (defaults.PROBE_RUN_KEY, defaults.PROBE_FIELD)
    assert list_probes(ds)[defaults.PROBE_RUN_KEY]["embeddings_field"] == defaults.CLIP_EMBEDDINGS
    assert defaults.LENET_PROBE not in list_probes(ds)
    assert "clip_probe" in report.comparison["models"]


def _config(mnist_dir, name, extra):
    """The config the CLI makes of the common arguments plus ``extra``."""
    args = build_parser().parse_args([*_args(mnist_dir, name, *extra), "--only", *STEPS])
    cfg = config_from_args(args)
    if not extra:
        cfg.only = [s for s in STEPS if s not in EXTRA]
    return cfg
