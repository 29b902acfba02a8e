"""Batched image encoding: a multi-worker DataLoader that decodes files in workers.

Grayscale (8- and 16-bit), palette and RGBA images are converted to 3-channel
RGB before open_clip's own transform; a file that cannot be read becomes a
reported failure, never a silent zero vector.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classlab.progress import Progress, as_progress

logger = logging.getLogger("classlab")


def to_rgb(img):
    """Converts a PIL image of any mode to 8-bit RGB.

    16-bit and 32-bit grayscale are rescaled to 0-255 first (PIL's own
    ``convert("RGB")`` would clip them); transparency is composited on black.
    """
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        img = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA"):
        background = Image.new("RGB", img.size)
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").split()[-1])
        return background
    return img.convert("RGB") if img.mode != "RGB" else img


class ImageFiles:
    """A map-style dataset of ``(index, tensor | None, error | None)`` per file."""

    def __init__(self, filepaths: Sequence[str], transform):
        self.filepaths = list(filepaths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.filepaths)

    def __getitem__(self, i: int):
        from PIL import Image, UnidentifiedImageError

        path = self.filepaths[i]
        try:
            with Image.open(path) as img:
                img.load()
                rgb = to_rgb(img)
            return i, self.transform(rgb), None
        except (OSError, ValueError, SyntaxError, UnidentifiedImageError) as e:
            return i, None, f"{type(e).__name__}: {e}"


def _collate(items):
    import torch

    ok = [(i, t) for i, t, err in items if err is None]
    failed = [(i, err) for i, t, err in items if err is not None]
    idx = [i for i, _ in ok]
    batch = torch.stack([t for _, t in ok]) if ok else None
    return idx, batch, failed


def _worker_init(_):
    import torch

    torch.set_num_threads(1)  # decoding workers must not compete with the model's threads


@dataclass
class EncodeResult:
    """Normalised image features for the files that could be read."""

    indices: list[int]
    features: np.ndarray  # (len(indices), D) float32, L2-normalised rows
    failures: dict[int, str] = field(default_factory=dict)


def make_loader(filepaths, transform, batch_size: int, num_workers: int, pin_memory: bool):
    """The DataLoader ClassLab encodes with (also used by the benchmark)."""
    import torch

    return torch.utils.data.DataLoader(
        ImageFiles(filepaths, transform),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=pin_memory,
        worker_init_fn=_worker_init if num_workers > 0 else None,
        prefetch_factor=4 if num_workers > 0 else None,
    )


def encode_images(
    loaded,
    filepaths: Sequence[str],
    batch_size: int = 64,
    num_workers: int = 2,
    progress: Progress | None = None,
) -> EncodeResult:
    """Encodes image files with ``loaded`` (a :class:`~classlab.clip.models.LoadedClip`).

    Returns:
        the indices (into ``filepaths``) that were encoded, their L2-normalised
        features, and ``{index: error}`` for files that could not be read
    """
    import torch

    report = as_progress(progress)
    n = len(filepaths)
    num_workers = max(0, min(int(num_workers), os.cpu_count() or 1, n))
    loader = make_loader(
        filepaths, loaded.preprocess, batch_size, num_workers, loaded.device.startswith("cuda")
    )
    chunks, indices, failures, done = [], [], {}, 0
    with torch.no_grad():
        for idx, batch, failed in loader:
            failures.update(failed)
            if batch is not None:
                with loaded.autocast():
                    feats = loaded.model.encode_image(batch.to(loaded.device, non_blocking=True))
                feats = torch.nn.functional.normalize(feats.float(), dim=-1)
                chunks.append(feats.cpu().numpy())
                indices.extend(idx)
            done += len(idx) + len(failed)
            report(done / n, f"embedded {done}/{n} images")
    dim = chunks[0].shape[1] if chunks else 0
    features = np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)
    for i, err in failures.items():
        logger.warning("Could not read image %s: %s", filepaths[i], err)
    return EncodeResult(indices, features.astype(np.float32, copy=False), failures)
