"""CLIP image-embedding throughput: raw open_clip vs ClassLab vs FiftyOne's zoo model.

On the same N MNIST images, model and batch size, prints images/s for
  (a) a raw open_clip loop over preloaded, preprocessed tensors (the ceiling),
  (b) ClassLab's compute_clip_embeddings end to end: reading the PNG files,
      decoding in loader workers, encoding, writing vectors to the database,
  (c) FiftyOne's own ``compute_embeddings`` with its ``open-clip-torch`` zoo model,
and the ratios b/a and b/c. Models are loaded before timing in all three.
Random weights (``pretrained=None`` / ``""``): throughput only, never accuracy.

    python benchmarks/clip_embeddings.py --mnist-dir ../shared/datasets/mnist --n 256
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import uuid

from classlab import defaults


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--mnist-dir", default=os.environ.get("CLASSLAB_MNIST_DIR", "../shared/datasets/mnist")
    )
    p.add_argument("--n", type=int, default=256, help="number of MNIST test images")
    p.add_argument(
        "--model",
        default=defaults.CLIP_MODEL,
        help="an open_clip architecture, or 'tiny' for the tests' 3.4 M-parameter config",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", help="fp32, or fp16/bf16 (autocast)")
    p.add_argument("--skip-zoo", action="store_true", help="do not run (c)")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds of (a, b, c); the best round of each is reported (a busy "
        "machine slows some rounds down)",
    )
    return p.parse_args()


def raw_open_clip(loaded, paths, batch_size) -> float:
    """(a): images/s of encode_image over tensors decoded and preprocessed beforehand."""
    import torch
    from PIL import Image

    tensors = torch.stack([loaded.preprocess(Image.open(p).convert("RGB")) for p in paths])
    batches = [tensors[i : i + batch_size] for i in range(0, len(tensors), batch_size)]
    with torch.no_grad(), loaded.autocast():
        loaded.model.encode_image(batches[0][:2].to(loaded.device))  # warm-up
        if loaded.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for b in batches:
            feats = loaded.model.encode_image(b.to(loaded.device))
            torch.nn.functional.normalize(feats.float(), dim=-1).cpu()
        if loaded.device.startswith("cuda"):
            torch.cuda.synchronize()
    return len(paths) / (time.perf_counter() - start)


def classlab_end_to_end(view, cache, args) -> float:
    """(b): images/s of compute_clip_embeddings, files to database, model already loaded."""
    from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings

    kw = {
        "spec": ClipSpec(args.model, None, random_weights=True, precision=args.precision),
        "options": LoaderOptions(args.batch_size, args.num_workers, args.device),
        "cache": cache,
    }
    compute_clip_embeddings(view.limit(2), embeddings_field="warmup", **kw)
    start = time.perf_counter()
    res = compute_clip_embeddings(
        view, embeddings_field="bench_classlab", skip_existing=False, **kw
    )
    seconds = time.perf_counter() - start
    assert res["num_embedded"] == len(view) and view.count("bench_classlab") == len(view)
    return len(view) / seconds


def fiftyone_zoo(view, args) -> float | str:
    """(c): images/s of view.compute_embeddings with the open-clip-torch zoo model."""
    import fiftyone.zoo as foz
    from classlab.config import resolve_device

    try:
        model = foz.load_zoo_model(
            "open-clip-torch",
            clip_model=args.model,
            pretrained="",
            device=resolve_device(args.device),
        )
    except Exception as e:  # noqa: BLE001 - reported, the benchmark goes on
        return f"could not load offline: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    view.limit(2).compute_embeddings(model, embeddings_field="warmup_zoo", progress=False)
    start = time.perf_counter()
    view.compute_embeddings(
        model,
        embeddings_field="bench_zoo",
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        progress=False,
    )
    seconds = time.perf_counter() - start
    assert view.count("bench_zoo") == len(view)
    return len(view) / seconds


def main():
    args = parse_args()
    import fiftyone as fo
    import torch
    from classlab.clip import ModelCache, check_spec
    from classlab.data.mnist import load_mnist

    if args.model == "tiny":
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from support.tiny_clip import register_tiny_clip

        args.model = register_tiny_clip()
    name = f"classlab-bench-clip-{uuid.uuid4().hex[:6]}"
    ds = load_mnist(args.mnist_dir, dataset_name=name, limit_per_split=args.n)
    try:
        view = ds.match_tags("test")
        paths = view.values("filepath")
        cache = ModelCache()
        spec = check_spec(args.model, None, random_weights=True, precision=args.precision)
        loaded = cache.get(spec, args.device)
        rounds = []
        for _ in range(max(1, args.repeats)):
            a = raw_open_clip(loaded, paths, args.batch_size)
            b = classlab_end_to_end(view, cache, args)
            c = "skipped" if args.skip_zoo else fiftyone_zoo(view, args)
            rounds.append((a, b, c))
            print(f"round: a {a:.1f}  b {b:.1f}  c {c if isinstance(c, str) else round(c, 1)}")
        a = max(r[0] for r in rounds)
        b = max(r[1] for r in rounds)
        c = max(r[2] for r in rounds) if isinstance(rounds[0][2], float) else rounds[0][2]
    finally:
        fo.delete_dataset(name)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"device {loaded.device}, threads {torch.get_num_threads()}"
    )
    print(
        f"model {args.model} (random weights), {args.precision}, N={len(paths)} MNIST "
        f"test images, batch {args.batch_size}, loader workers {args.num_workers}, "
        f"best of {max(1, args.repeats)} round(s)"
    )
    print(f"(a) raw open_clip, preloaded tensors : {a:8.1f} images/s")
    print(f"(b) ClassLab end to end              : {b:8.1f} images/s")
    if isinstance(c, float):
        print(f"(c) FiftyOne compute_embeddings (zoo): {c:8.1f} images/s")
        print(f"b/a = {b / a:.2f} (target >= 0.9)   b/c = {b / c:.2f} (target >= 1.5)")
    else:
        print(f"(c) FiftyOne compute_embeddings (zoo): {c}")
        print(f"b/a = {b / a:.2f} (target >= 0.9)   b/c = n/a")


if __name__ == "__main__":
    main()
