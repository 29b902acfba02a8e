"""The main job: ``./run.sh main`` (``python -m classlab``).

Runs the whole ClassLab workflow through the ClassLab core (load MNIST,
split, CLIP embeddings and zero-shot, LeNet-5, out-of-sample predictions and
label issues, scores, tag, augment, fine-tune,
the control fine-tuning without the augmented samples, compare with paired tests),
skipping the steps that are already done, prints a summary with each
step's time and peak memory, then opens the FiftyOne App with the dataset and
the model comparison panel (``--headless``: no App).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger("classlab")


def default_mnist_dir() -> str | None:
    """``$CLASSLAB_MNIST_DIR``, else ``../shared/datasets/mnist`` beside the checkout."""
    env = os.environ.get("CLASSLAB_MNIST_DIR")
    if env:
        return env
    from classlab.job.plugin import checkout_root

    root = checkout_root()
    guess = root.parent / "shared" / "datasets" / "mnist" if root else None
    return str(guess) if guess and guess.is_dir() else None


def build_parser() -> argparse.ArgumentParser:
    from classlab.job.workflow import ALL_STEP_NAMES, STEP_NAMES, WorkflowConfig

    d = WorkflowConfig()
    p = argparse.ArgumentParser(prog="classlab", description=__doc__.split("\n\n")[1])
    add = p.add_argument
    add(
        "--mnist-dir",
        default=default_mnist_dir(),
        help="directory with the four MNIST IDX files (default: $CLASSLAB_MNIST_DIR, "
        "else ../shared/datasets/mnist beside the checkout, else download)",
    )
    add("--dataset", default=d.dataset_name, help="dataset name")
    add("--subset", type=int, help="use only the first N samples of each MNIST split")
    add("--fresh", action="store_true", help="delete the dataset and its files; start over")
    add("--headless", action="store_true", help="no App: print the summary and exit")
    add("--device", default=d.device, help="auto (CUDA when available), cpu, cuda")
    add("--epochs", type=int, default=d.epochs, help="LeNet-5 training epochs")
    add("--oos-folds", type=int, default=d.oos_folds, help="folds of the out-of-sample step")
    add(
        "--oos-epochs",
        type=int,
        default=d.oos_epochs,
        help="epochs of each fold model of the out-of-sample step (label issues)",
    )
    add(
        "--oos-repeats",
        type=int,
        default=d.oos_repeats,
        help="repeated K-fold in the out-of-sample step: R fold models per sample "
        "(R times its training)",
    )
    _add_finetune_args(p.add_argument_group("fine-tuning and the control").add_argument, d)
    _add_model_args(p.add_argument_group("extra models (opt-in)").add_argument)
    clip = p.add_argument_group("CLIP").add_argument
    clip("--no-clip", action="store_true", help="skip the CLIP steps")
    clip("--clip-model", default=d.clip_model, help="open_clip model name, or hf-hub:org/repo")
    clip(
        "--clip-pretrained",
        default=d.clip_pretrained,
        help="open_clip pretrained tag, or a local checkpoint file",
    )
    clip(
        "--clip-random-weights",
        action="store_true",
        help="run CLIP with RANDOM weights when no real weights are available "
        "(plumbing only: its accuracy means nothing, and is labelled so)",
    )
    clip("--clip-batch-size", type=int, default=d.clip_batch_size)
    clip("--viz-method", default=d.viz_method, help="umap, tsne or pca")
    add(
        "--only",
        nargs="+",
        choices=ALL_STEP_NAMES,
        metavar="STEP",
        help=f"run only these steps ({', '.join(STEP_NAMES)}; with --models also "
        "extra_models, linear_probe)",
    )
    add("--json", metavar="FILE", help="also write the step results as JSON")
    add("--port", type=int, default=5151, help="App port")
    add("--address", default="127.0.0.1", help="App address")
    add("-v", "--verbose", action="store_true", help="debug logging")
    return p


def _add_finetune_args(add, d) -> None:
    """The fine-tuning options (``d``: the WorkflowConfig defaults)."""
    add(
        "--finetune-epochs",
        type=int,
        default=d.finetune_epochs,
        help="epochs of the fine-tuning of lenet_v2 (with the augmented samples) and of its "
        "control lenet_v2_control (without them)",
    )
    add(
        "--finetune-lr",
        type=float,
        default=d.finetune_lr,
        help="peak learning rate of both fine-tunings",
    )
    add(
        "--repeats",
        type=int,
        default=d.repeats,
        help="fine-tune N seeded copies of lenet_v2 and of the control (seeds seed, seed+1, "
        "...; keys lenet_v2, lenet_v2_s1, ...) and report mean, standard deviation and the "
        "paired tests pooled over them",
    )


def _add_model_args(add) -> None:
    """``--models`` and ``--models-epochs``."""
    from classlab.job.settings import model_choices

    add(
        "--models",
        default="",
        metavar="NAME,...",
        help="add extra models before compare, comma-separated: "
        f"{', '.join(model_choices())} (probe: a linear probe on the CLIP embeddings, "
        "else on LeNet-5's); each is trained on train, applied and evaluated like lenet "
        "and compared (default: none)",
    )
    add(
        "--models-epochs",
        type=int,
        default=None,
        help="training epochs of the extra architectures (default: --epochs)",
    )


def config_from_args(args):
    """The :class:`~classlab.job.workflow.WorkflowConfig` for parsed CLI arguments."""
    from classlab.job.workflow import WorkflowConfig

    return WorkflowConfig(
        dataset_name=args.dataset,
        mnist_dir=args.mnist_dir,
        subset=args.subset,
        fresh=args.fresh,
        device=args.device,
        epochs=args.epochs,
        oos_folds=args.oos_folds,
        oos_epochs=args.oos_epochs,
        oos_repeats=args.oos_repeats,
        finetune_epochs=args.finetune_epochs,
        finetune_lr=args.finetune_lr,
        repeats=args.repeats,
        clip=not args.no_clip,
        clip_model=args.clip_model,
        clip_pretrained=args.clip_pretrained,
        clip_random_weights=args.clip_random_weights,
        clip_batch_size=args.clip_batch_size,
        viz_method=args.viz_method,
        only=args.only,
        models=args.models,
        models_epochs=args.models_epochs,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from classlab.config import configure_logging

    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    from classlab.errors import ClassLabError

    try:
        return _run(args)
    except ClassLabError as e:
        logger.error("%s", e)
        return 1


def _run(args) -> int:
    from classlab.job.workflow import run_workflow

    report = run_workflow(config_from_args(args))
    print("\nClassLab workflow on dataset %r\n%s" % (report.dataset_name, report.summary()))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "dataset": report.dataset_name,
                    "steps": [r.as_dict() for r in report.results],
                    "comparison": report.comparison,
                },
                indent=2,
                default=str,
            )
        )
    if not report.ok:
        logger.error(
            "Some steps failed (see above); fix the cause and run again: "
            "finished steps are skipped."
        )
        return 1
    if args.headless:
        return 0
    return _launch_app(args, report.dataset_name)


def _launch_app(args, dataset_name: str) -> int:
    import fiftyone as fo

    from classlab.job.plugin import install_plugin

    install_plugin()  # the App finds the comparison panel and the operators through it
    dataset = fo.load_dataset(dataset_name)
    spaces = fo.Space(
        children=[fo.Panel(type="Samples", pinned=True), fo.Panel(type="model_comparison")],
        orientation="horizontal",
    )
    session = fo.launch_app(
        dataset, port=args.port, address=args.address, remote=True, spaces=spaces
    )
    print(
        f"The App is at http://{args.address}:{args.port}/ with the model comparison panel "
        "- press Ctrl+C to stop"
    )
    try:
        session.wait(-1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
