"""Benchmark: the whole ClassLab workflow without CLIP on all 70,000 MNIST samples.

Runs ``classlab.job.workflow.run_workflow`` (every step a call of the core API)
on a fresh dataset in a private database (``--keep``: kept in
``.classlab-data/workflow`` for ``benchmarks/curation_gain.py``), then runs it
again (every step already done: the baseline a re-run costs), and prints each
step's wall time and peak memory side by side with the targets (15 minutes and
4 GiB in all on 2 CPU cores) and with the re-run.

Usage::

    .venv/bin/python benchmarks/workflow.py [--mnist-dir DIR] [--subset N] [--epochs 5]
        [--repeats N] [--keep] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 15 * 60
TARGET_MIB = 4 * 1024


# --keep: the database and files stay here ($CLASSLAB_BENCH_DIR overrides it)
DATA_DIR = Path(os.environ.get("CLASSLAB_BENCH_DIR", ROOT / ".classlab-data" / "workflow"))


def _isolate(tmp: Path) -> None:
    """A private database, plugins dir and ClassLab root (set before fiftyone is imported)."""
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "tests")]
    from support.mongo import isolate

    isolate(tmp, ROOT)


def isolate_kept(data_dir: Path = DATA_DIR) -> None:
    """Like :func:`_isolate` (``tests/support/mongo.py``'s environment), in a directory
    that is kept and reused by later runs (``--keep``, ``benchmarks/curation_gain.py``):
    its database, models and media stay there."""
    _isolate(data_dir)


def _table(first, again) -> str:
    rows = [
        (
            "step",
            "status",
            "seconds",
            "CPU s",
            "share",
            "peak RSS MiB",
            "db RSS MiB",
            "re-run s",
            "first/re-run",
        )
    ]  # the re-run: every step already done (its check only)
    total = sum(r.seconds for r in first) or 1.0
    for a, b in zip(first, again):
        ratio = f"{a.seconds / b.seconds:.0f}x" if b.seconds > 0 and a.status == "done" else "-"
        rows.append(
            (
                a.name,
                a.status,
                f"{a.seconds:.1f}",
                f"{a.cpu_seconds:.1f}",
                f"{a.seconds / total:.0%}",
                f"{a.peak_rss_mb:.0f}",
                f"{a.peak_db_rss_mb:.0f}",
                f"{b.seconds:.2f} ({b.status})",
                ratio,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
        for r in rows
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--mnist-dir",
        default=os.environ.get(
            "CLASSLAB_MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist")
        ),
    )
    p.add_argument("--subset", type=int, default=None, help="first N of each split (default all)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--finetune-epochs", type=int, default=None, help="default: the job's")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument(
        "--keep",
        action="store_true",
        help=f"use and keep the database and files in {DATA_DIR} (a later "
        "run, or benchmarks/curation_gain.py, reuses them; the dataset is started over)",
    )
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)

    if args.keep:
        isolate_kept()
        return _run(args)
    tmp = Path(tempfile.mkdtemp(prefix="classlab-bench-workflow-"))
    try:
        _isolate(tmp)
        return _run(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args) -> int:
    import resource

    import torch
    from classlab.config import configure_logging
    from classlab.job.workflow import WorkflowConfig, run_workflow

    configure_logging()
    cfg = WorkflowConfig(
        dataset_name="bench-workflow",
        mnist_dir=args.mnist_dir,
        subset=args.subset,
        clip=False,
        device="cpu",
        epochs=args.epochs,
        repeats=args.repeats,
    )
    if args.finetune_epochs is not None:
        cfg.finetune_epochs = args.finetune_epochs
    first = run_workflow(dataclasses.replace(cfg, fresh=True))
    again = run_workflow(cfg)
    seconds = sum(r.seconds for r in first.results)
    cpu = sum(r.cpu_seconds for r in first.results)
    peak = max(r.peak_rss_mb for r in first.results)
    peak_db = max(r.peak_db_rss_mb for r in first.results)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import fiftyone as fo

    n = len(fo.load_dataset(cfg.dataset_name))
    print(
        f"\nClassLab workflow without CLIP: {n} samples (incl. augmented copies), "
        f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, no GPU, "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )
    print(_table(first.results, again.results))
    print(
        f"\ntotal {seconds:.0f} s = {seconds / 60:.1f} min "
        f"({seconds / TARGET_SECONDS:.2f}x the 15-minute target), CPU {cpu:.0f} s; "
        f"re-run {sum(r.seconds for r in again.results):.1f} s"
    )
    print(
        f"peak RSS {peak:.0f} MiB python+workers, {peak_db:.0f} MiB database, "
        f"{peak + peak_db:.0f} MiB together ({(peak + peak_db) / TARGET_MIB:.2f}x the 4 GiB "
        f"target); ru_maxrss of this process {maxrss:.0f} MiB"
    )
    print("\n".join(first.comparison.get("lines", [])))
    print(f"comparison: {json.dumps(first.comparison)}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "samples": n,
                    "first": [r.as_dict() for r in first.results],
                    "rerun": [r.as_dict() for r in again.results],
                    "comparison": first.comparison,
                },
                indent=2,
            )
        )
    return 0 if first.ok and again.ok else 1


if __name__ == "__main__":
    sys.exit(main())
