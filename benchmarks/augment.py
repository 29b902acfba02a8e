"""Augmentation: ClassLab's bulk run vs a one-sample-at-a-time baseline.

The baseline does what the existing albumentations plugin does per sample: run
the pipeline, write the image, ``dataset.add_sample`` one at a time. ClassLab's
``augment_samples`` writes every image first, then one ``add_samples``. Both
use the same seeded tutorial pipeline on the same MNIST sources.

    python benchmarks/augment.py --mnist-dir ../shared/datasets/mnist --sources 1000 --copies 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def baseline(view, copies: int, seed: int, folder) -> int:
    import cv2
    import fiftyone as fo
    from classlab.curation.presets import build_pipeline

    pipe = build_pipeline("tutorial", seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    ds = view._dataset
    n = 0
    for sample in view.select_fields("ground_truth"):
        image = cv2.imread(sample.filepath, cv2.IMREAD_UNCHANGED)
        for k in range(copies):
            path = folder / f"{sample.id}_{k}.png"
            cv2.imwrite(str(path), pipe(image=image)["image"])
            ds.add_sample(
                fo.Sample(
                    filepath=str(path),
                    tags=["augmented", "train"],
                    ground_truth=fo.Classification(label=sample.ground_truth.label),
                    source_id=sample.id,
                )
            )
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist-dir", default="../shared/datasets/mnist")
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--copies", type=int, default=2)
    args = ap.parse_args()

    import fiftyone as fo
    from classlab import config
    from classlab.curation.augment import augment_samples
    from classlab.data.mnist import load_mnist

    name = "classlab-bench-augment"
    ds = load_mnist(args.mnist_dir, dataset_name=name, overwrite=True, limit_per_split=args.sources)
    shutil.rmtree(config.media_dir(name, "augmentations"), ignore_errors=True)
    # train sources (val/test ones are refused); the copies, tagged train too, stay out
    src = ds.match_tags("train").match_tags("augmented", bool=False)
    warm = augment_samples(src.limit(5), run_key="warm", seed=1)  # imports, caches
    baseline(src.limit(5), 1, 1, config.media_dir(name, "augmentations", "warm_baseline"))
    ds.delete_samples(ds.exists("source_id"))
    assert warm["num_samples"] == 5
    t0 = time.perf_counter()
    res = augment_samples(src, run_key="bench", num_copies=args.copies, seed=1)
    t_bulk = time.perf_counter() - t0

    folder = config.media_dir(name, "augmentations", "baseline")
    t0 = time.perf_counter()
    n = baseline(src, args.copies, 1, folder)
    t_base = time.perf_counter() - t0
    assert n == res["num_samples"]

    print(f"sources {len(src)}, copies {args.copies}, new samples {n}")
    print(f"{'method':<34}{'seconds':>9}{'samples/s':>11}")
    print(f"{'baseline (add_sample one by one)':<34}{t_base:>9.2f}{n / t_base:>11.0f}")
    print(f"{'ClassLab augment_samples (bulk)':<34}{t_bulk:>9.2f}{n / t_bulk:>11.0f}")
    print(f"speed-up: {t_base / t_bulk:.2f}x")
    shutil.rmtree(config.media_dir(name), ignore_errors=True)
    fo.delete_dataset(name)


if __name__ == "__main__":
    main()
