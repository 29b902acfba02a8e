"""Tuning the curation step: which setting makes ``lenet_v2``'s gain real?

Reuses the dataset that ``benchmarks/workflow.py --keep`` left in
``.classlab-data/workflow`` (full MNIST, ``lenet_v1``, its scores), and for one
setting re-runs only the steps the setting changes, through the main job
(``run_workflow(only=[...])``, ``fresh`` off):

- ``tag_to_fix`` (after removing the tag) when the selection differs from the
  last try's;
- ``augment`` (after deleting the previous augmentation run) when the selection
  or the augmentation differ;
- ``finetune`` into a model named after the try (``v2_<label>``) and
  ``finetune_control`` into ``ctrl_e<epochs>_lr<lr x 1e5>`` (skipped when that
  control exists: it depends only on the epochs, learning rate and seed), then
  the ``apply_lenet`` call of ``apply_lenet_v2``/``apply_control`` on the TEST
  split only (all the comparison reads), and ``compare``.

Each try appends one JSON line (setting, test accuracies, the three paired
tests) to ``.classlab-data/workflow/tries.jsonl`` and prints the summary lines.

Usage::

    .venv/bin/python benchmarks/workflow.py --keep          # once: lenet_v1, scores
    .venv/bin/python benchmarks/curation_gain.py --label t1 \\
        --tag '{"misclassified": true, "hardness_top": 0.05}' \\
        --augment '{"preset": "tutorial", "num_copies": 4}' --epochs 2 --lr 3e-3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow import DATA_DIR, isolate_kept  # noqa: E402

STATE = DATA_DIR / "curation_state.json"  # the selection and augmentation in the dataset now
TRIES = DATA_DIR / "tries.jsonl"


def _prepare(cfg, tag_params: dict, augment_params: dict) -> None:
    """Re-tags and re-augments when the setting differs from the dataset's current one."""
    import fiftyone as fo
    from classlab import defaults
    from classlab.curation.augment import delete_augmentations, list_augmentations
    from classlab.job.workflow import run_workflow

    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    ds = fo.load_dataset(cfg.dataset_name)
    retag = state.get("tag") != tag_params
    if retag and defaults.TO_FIX_TAG in ds.distinct("tags"):
        ds.untag_samples(defaults.TO_FIX_TAG)
    if retag or state.get("augment") != augment_params:
        for key in list(list_augmentations(ds)):
            delete_augmentations(ds, key)
    report = run_workflow(_with(cfg, only=["tag_to_fix", "augment"], tag_params=tag_params))
    if not report.ok:
        raise SystemExit(report.summary())
    STATE.write_text(json.dumps({"tag": tag_params, "augment": augment_params}))
    print(report.summary())


def _apply_on_test(cfg) -> None:
    """Like the job's ``apply_lenet_v2``/``apply_control`` steps (same core call), on
    the test split only: the comparison reads nothing else, and the 60,000 other
    samples would double a try's time."""
    import fiftyone as fo
    from classlab import defaults
    from classlab.lenet.apply import apply_lenet

    ds = fo.load_dataset(cfg.dataset_name)
    test = ds.match_tags(defaults.TEST_TAG)
    for which in ("v2", "control"):
        for key, field, eval_key, _ in cfg.runs(which):
            if ds.has_sample_field(field) and eval_key in ds.list_evaluations():
                continue
            res = apply_lenet(
                test,
                run_key=key,
                label_field=field,
                embeddings_field="",
                device=cfg.device,
                evaluate=True,
                eval_key=eval_key,
                gt_field=defaults.GROUND_TRUTH,
                overwrite=True,
            )
            print(f"{field}: test accuracy {res.get('accuracy')}")


def _with(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, **changes)


def main(argv=None) -> int:
    # over 60 lines on purpose: the argument list and one linear try, read top to bottom
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", required=True, help="names the try's v2 field: v2_<label>")
    p.add_argument("--tag", default=None, help="tag_params as JSON (default: the job's)")
    p.add_argument("--augment", default=None, help="augment_params as JSON (default: the job's)")
    p.add_argument("--epochs", type=int, default=None, help="fine-tune epochs (default: job's)")
    p.add_argument("--lr", type=float, default=None, help="fine-tune peak lr (default: job's)")
    p.add_argument("--repeats", type=int, default=1, help="seeded copies of v2 and control")
    args = p.parse_args(argv)
    isolate_kept()

    from classlab.config import configure_logging
    from classlab.job.workflow import WorkflowConfig, run_workflow

    configure_logging()
    d = WorkflowConfig()
    tag_params = json.loads(args.tag) if args.tag else d.tag_params
    augment_params = json.loads(args.augment) if args.augment else d.augment_params
    epochs = args.epochs or d.finetune_epochs
    lr = args.lr or d.finetune_lr
    ctrl = f"ctrl_e{epochs}_lr{round(lr * 1e5)}"
    cfg = WorkflowConfig(
        dataset_name="bench-workflow",
        clip=False,
        device="cpu",
        tag_params=tag_params,
        augment_params=augment_params,
        finetune_epochs=epochs,
        finetune_lr=lr,
        repeats=args.repeats,
        model_v2=f"v2_{args.label}",
        field_v2=f"v2_{args.label}",
        eval_v2=f"eval_v2_{args.label}",
        model_control=ctrl,
        field_control=ctrl,
        eval_control=f"eval_{ctrl}",
    )
    t0 = time.perf_counter()
    _prepare(cfg, tag_params, augment_params)
    trained = run_workflow(_with(cfg, only=["finetune", "finetune_control"]))
    print(trained.summary())
    _apply_on_test(cfg)
    report = run_workflow(_with(cfg, only=["compare"]))
    print(report.summary())
    import fiftyone as fo
    from classlab import defaults

    ds = fo.load_dataset(cfg.dataset_name)
    row = {
        "label": args.label,
        "tag_params": tag_params,
        "augment_params": augment_params,
        "finetune_epochs": epochs,
        "finetune_lr": lr,
        "repeats": args.repeats,
        "repeat_accuracy": report.comparison.get("repeats"),
        "num_to_fix": len(ds.match_tags(defaults.TO_FIX_TAG)),
        "num_augmented": len(ds.match_tags(defaults.AUGMENTED_TAG)),
        "accuracy": report.comparison.get("accuracy"),
        "paired": {
            k: {x: v[x] for x in v if x != "text"}
            for k, v in report.comparison.get("paired", {}).items()
        },
        "lines": report.comparison.get("lines"),
        "seconds": round(time.perf_counter() - t0),
        "at": time.strftime("%H:%M:%S", time.gmtime()),
    }
    with TRIES.open("a") as f:
        f.write(json.dumps(row) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
