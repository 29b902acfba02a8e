"""The main job: ``./run.sh main`` (``python -m classlab``).

Loads MNIST (offline from a local IDX directory when given), then opens the
FiftyOne App with the ClassLab plugin; ``--headless`` prints a summary instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from classlab import defaults

logger = logging.getLogger("classlab")


def default_mnist_dir() -> str | None:
    """``$CLASSLAB_MNIST_DIR``, else ``../shared/datasets/mnist`` beside the checkout."""
    env = os.environ.get("CLASSLAB_MNIST_DIR")
    if env:
        return env
    guess = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "mnist"
    return str(guess) if guess.is_dir() else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="classlab", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--mnist-dir",
        default=default_mnist_dir(),
        help="directory with the four MNIST IDX files (default: $CLASSLAB_MNIST_DIR, "
        "else ../shared/datasets/mnist beside the checkout, else download)",
    )
    p.add_argument("--dataset", default=defaults.MNIST_DATASET_NAME, help="dataset name")
    p.add_argument(
        "--subset",
        type=int,
        default=None,
        help="use only the first N samples of each MNIST split (a quick look)",
    )
    p.add_argument("--fresh", action="store_true", help="delete the dataset and start over")
    p.add_argument(
        "--headless", action="store_true", help="do not open the App; print a summary and exit"
    )
    p.add_argument("--port", type=int, default=5151, help="App port")
    p.add_argument("--address", default="127.0.0.1", help="App address")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # long operators run through execute_operator: lift its 10-minute default
    os.environ.setdefault("FIFTYONE_OPERATOR_TIMEOUT", "86400")
    from classlab.config import configure_logging

    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    from classlab.errors import ClassLabError

    try:
        return _run(args)
    except ClassLabError as e:
        logger.error("%s", e)
        return 1


def _run(args) -> int:
    import fiftyone as fo
    import fiftyone.operators as foo

    from classlab.plugin import install_plugin
    from classlab.progress import log_progress

    install_plugin()
    if args.fresh and fo.dataset_exists(args.dataset):
        fo.delete_dataset(args.dataset)
    if fo.dataset_exists(args.dataset):
        logger.info("Dataset %r exists: skipping load_mnist (use --fresh to reload)", args.dataset)
        dataset = fo.load_dataset(args.dataset)
    else:
        params = dict(
            dataset_name=args.dataset, source_dir=args.mnist_dir, limit_per_split=args.subset
        )
        # load_mnist runs through the operator, as an SDK user would call it
        foo.execute_operator(
            "@classlab/classlab/load_mnist",
            ctx=dict(params=params, set_progress=lambda p: log_progress(p.progress, p.label)),
        )
        dataset = fo.load_dataset(args.dataset)
    print(f"Dataset {dataset.name!r}: {len(dataset)} samples, tags {dataset.count_sample_tags()}")
    if args.headless:
        return 0
    session = fo.launch_app(dataset, port=args.port, address=args.address, remote=True)
    print(f"The App is at http://{args.address}:{args.port}/ - press Ctrl+C to stop")
    session.wait(-1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
