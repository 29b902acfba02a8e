"""The main job's control run, repeats and paired tests, on a tiny MNIST subset."""

import re
import uuid

import fiftyone as fo
import numpy as np
import pytest
from classlab import defaults
from classlab.compare.stats import paired_comparison
from classlab.job.workflow import STEP_NAMES, WorkflowConfig, run_workflow
from classlab.lenet.registry import delete_model, list_models

NUM = r"[+-]\d+\.\d\d"
LINE = re.compile(
    rf"^(?P<b>\S+(?: \(\d seeds\))?) vs (?P<a>\S+(?: \(\d seeds\))?): (?P<diff>{NUM}) pt, "
    rf"95% CI \[(?P<low>{NUM}), (?P<high>{NUM})\] pt, McNemar p = (?P<p>[0-9.e+-]+) "
    r"\((not )?significant at 0\.05; fixed (?P<fixed>\d+), broken (?P<broken>\d+)\)$"
)


def _statuses(report):
    return {r.name: r.status for r in report.results}


def _cfg(mnist_dir, dataset_name, **kw):
    return WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=120,
        clip=False,
        device="cpu",
        epochs=1,
        finetune_epochs=1,
        **kw,
    )


def _right(ds, field):
    test = ds.match_tags(defaults.TEST_TAG)
    gt, pred = test.values(f"{defaults.GROUND_TRUTH}.label"), test.values(f"{field}.label")
    return np.array([g == p for g, p in zip(gt, pred)])


@pytest.fixture(scope="module")
def tiny_run(mnist_dir, tmp_root):
    """One tiny run with 2 repeats (v2, control), kept for the tests of this module."""
    name = f"classlab-job-compare-{uuid.uuid4().hex[:8]}"
    report = run_workflow(_cfg(mnist_dir, name, repeats=2))
    yield name, report
    if fo.dataset_exists(name):
        fo.delete_dataset(name)


def test_new_steps_are_in_order():
    i = STEP_NAMES.index
    assert i("augment") < i("finetune") < i("apply_lenet_v2") < i("finetune_control")
    assert i("finetune_control") < i("apply_control") < i("compare") == len(STEP_NAMES) - 1


def test_control_and_repeats_are_trained_like_v2(tiny_run):
    name, report = tiny_run
    statuses = _statuses(report)
    assert all(
        statuses[s] == "done" for s in STEP_NAMES if s not in ("clip_embeddings", "zero_shot")
    )
    ds = fo.load_dataset(name)
    models = list_models(ds)
    for key in ("lenet_v2", "lenet_v2_s1", "lenet_v2_control", "lenet_v2_control_s1"):
        assert models[key]["parent"] == defaults.MODEL_V1, key
    v2, ctl = models["lenet_v2"], models["lenet_v2_control"]
    # same epochs, learning rate and seed; only the augmented samples differ
    for k in ("epochs", "lr", "seed", "batch_size"):
        assert v2["config"][k] == ctl["config"][k], k
    assert v2["config"]["lr"] == defaults.FINETUNE_LR
    assert models["lenet_v2_s1"]["config"]["seed"] == v2["config"]["seed"] + 1
    assert models["lenet_v2_control_s1"]["config"]["seed"] == v2["config"]["seed"] + 1
    n_aug = ds.match_tags(defaults.AUGMENTED_TAG).count()
    assert n_aug > 0 and v2["num_train"] == ctl["num_train"] + n_aug
    evals = set(ds.list_evaluations())
    for f in ("lenet_v2", "lenet_v2_s1", "lenet_v2_control", "lenet_v2_control_s1"):
        assert ds.has_sample_field(f) and f"eval_{f}" in evals, f


def test_report_paired_repeats_and_summary(tiny_run):
    name, report = tiny_run
    ds, cmp = fo.load_dataset(name), report.comparison
    assert set(cmp["paired"]) == {"v2_vs_v1", "v2_vs_control", "control_vs_v1"}
    keys = {"n", "accuracy_a", "accuracy_b", "diff", "ci_low", "ci_high", "confidence"}
    keys |= {"fixed", "broken", "p_value", "repeats", "a", "b", "text"}
    for p in cmp["paired"].values():
        assert set(p) == keys and p["repeats"] == 2 and p["n"] == 120
        assert p["ci_low"] <= p["diff"] <= p["ci_high"] and 0 < p["p_value"] <= 1
    # pooled: fixed/broken summed over the two repeat pairs
    v1 = _right(ds, "lenet")
    v2 = [_right(ds, "lenet_v2"), _right(ds, "lenet_v2_s1")]
    whole = cmp["paired"]["v2_vs_v1"]
    assert whole["fixed"] == sum(int((r & ~v1).sum()) for r in v2)
    assert whole["broken"] == sum(int((v1 & ~r).sum()) for r in v2)
    assert whole["diff"] == pytest.approx(np.mean(v2) - v1.mean())
    # the attribution adds up: augmented samples + extra epochs = the whole change
    aug, epochs = cmp["paired"]["v2_vs_control"], cmp["paired"]["control_vs_v1"]
    assert aug["diff"] + epochs["diff"] == pytest.approx(whole["diff"])
    # mean and standard deviation of each group's test accuracy over the seeds
    rep = cmp["repeats"]["v2"]
    assert rep["fields"] == ["lenet_v2", "lenet_v2_s1"]
    assert rep["accuracy"] == pytest.approx([r.mean() for r in v2])
    assert rep["std"] == pytest.approx(np.std([r.mean() for r in v2], ddof=1))
    text = report.summary()
    assert "lenet_v2 (2 seeds) vs lenet: " in text and "attribution: of lenet_v2" in text
    assert "standard deviation" in text and "over 2 seeds" in text
    for line in cmp["lines"][:3]:
        assert LINE.match(line), line


def test_summary_line_numbers_with_one_repeat(tiny_run, mnist_dir):
    """repeats=1 on the same dataset: compare reads lenet_v2 (seed 0) only."""
    name, _ = tiny_run
    report = run_workflow(_cfg(mnist_dir, name, only=["compare"]))
    ds, cmp = fo.load_dataset(name), report.comparison
    expected = paired_comparison(_right(ds, "lenet"), _right(ds, "lenet_v2"))
    got = cmp["paired"]["v2_vs_v1"]
    assert {k: got[k] for k in expected} == pytest.approx(expected)
    m = LINE.match(cmp["lines"][0])
    assert m and (m["a"], m["b"]) == ("lenet", "lenet_v2")
    assert float(m["diff"]) == round(100 * expected["diff"], 2)
    assert float(m["low"]) == round(100 * expected["ci_low"], 2)
    assert (int(m["fixed"]), int(m["broken"])) == (expected["fixed"], expected["broken"])
    assert float(m["p"]) == pytest.approx(expected["p_value"], rel=0.05)
    assert cmp["repeats"]["v2"]["std"] is None
    assert report.summary().endswith("\n".join(cmp["lines"]))


def test_new_steps_resume_only_the_missing_repeat(tiny_run, mnist_dir):
    name, _ = tiny_run
    ds = fo.load_dataset(name)
    before = list_models(ds)["lenet_v2_control"]["created_at"]
    delete_model(ds, "lenet_v2_control_s1", delete_checkpoint=True)
    ds.delete_evaluation("eval_lenet_v2_control_s1")
    cfg = _cfg(mnist_dir, name, repeats=2)
    again = run_workflow(cfg)
    statuses = _statuses(again)
    assert statuses["finetune"] == statuses["apply_lenet_v2"] == "skipped"
    assert statuses["finetune_control"] == statuses["apply_control"] == "done"
    res = {r.name: r.data for r in again.results}
    assert res["finetune_control"].run_key == "lenet_v2_control_s1"  # only the missing one
    assert res["apply_control"].label_field == "lenet_v2_control_s1"
    models = list_models(fo.load_dataset(name))
    assert models["lenet_v2_control"]["created_at"] == before
    assert "lenet_v2_control_s1" in models
    # everything done: the new steps are skipped
    assert {s: st for s, st in _statuses(run_workflow(cfg)).items() if "control" in s} == {
        "finetune_control": "skipped",
        "apply_control": "skipped",
    }


def test_repeats_is_checked():
    from classlab.errors import InputError

    with pytest.raises(InputError, match="repeats"):
        WorkflowConfig(repeats=0)
    with pytest.raises(InputError, match="finetune_lr"):
        WorkflowConfig(finetune_lr=0)


def test_write_report_shows_the_paired_test(tiny_run, tmp_path):
    from classlab.compare.paired import paired_from_view
    from classlab.compare.report import write_report
    from classlab.compare.stats import describe

    name, _ = tiny_run
    test = fo.load_dataset(name).match_tags(defaults.TEST_TAG)
    path = write_report(
        tmp_path / "report.html",
        test,
        fields=["lenet", "lenet_v2"],
        agreement_pair=("lenet", "lenet_v2"),
    )
    res = paired_from_view(test, "lenet", "lenet_v2")
    assert res == paired_comparison(_right(test, "lenet"), _right(test, "lenet_v2"))
    html = path.read_text()
    assert f"Paired test on {res['n']} samples: " in html
    assert describe("lenet", "lenet_v2", res) in html


def test_cli_passes_repeats_and_the_finetune_settings():
    from classlab.job.cli import build_parser, config_from_args

    cfg = config_from_args(build_parser().parse_args(["--repeats", "3", "--finetune-lr", "1e-3"]))
    assert (cfg.repeats, cfg.finetune_lr) == (3, 1e-3)
    assert [r[0] for r in cfg.runs("control")] == [
        "lenet_v2_control",
        "lenet_v2_control_s1",
        "lenet_v2_control_s2",
    ]
    assert [r[3] for r in cfg.runs("v2")] == [cfg.seed, cfg.seed + 1, cfg.seed + 2]
    defaults_cfg = config_from_args(build_parser().parse_args([]))
    assert defaults_cfg.repeats == 1 and defaults_cfg.finetune_lr == defaults.FINETUNE_LR
