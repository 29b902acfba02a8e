"""load_mnist writes its PNGs into a fresh folder per load: a failure removes exactly
what it wrote, names never share a folder, and an overwrite removes the replaced
dataset's images only when no dataset (a clone) still shows them."""

from __future__ import annotations

from pathlib import Path

import fiftyone as fo
import pytest
from classlab import config
from classlab.data import mnist
from classlab.data.mnist import load_mnist


def image_folder(dataset) -> Path:
    return Path(dataset.first().filepath).parents[1]


def test_failure_after_writing_images_removes_them(mnist_dir, dataset_name, monkeypatch):
    media = config.media_dir(dataset_name)

    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(mnist, "_save_dataset", crash)
    with pytest.raises(RuntimeError, match="went away"):
        load_mnist(mnist_dir, dataset_name=dataset_name, limit_per_split=5)
    assert not media.exists() or not any(media.rglob("*.png"))
    assert not fo.dataset_exists(dataset_name)


def test_names_never_share_a_folder(mnist_dir):
    names = ["classlab rel x", "classlab/rel/x"]
    try:
        a, b = (load_mnist(mnist_dir, dataset_name=n, limit_per_split=3) for n in names)
        fa, fb = image_folder(a), image_folder(b)
        assert fa != fb and config.inside_root(fa) and config.inside_root(fb)
        assert len(a) == len(b) == 6
    finally:
        for n in names:
            if fo.dataset_exists(n):
                fo.delete_dataset(n)


def test_overwrite_keeps_images_a_clone_shows(mnist_dir, dataset_name):
    first = load_mnist(mnist_dir, dataset_name=dataset_name, limit_per_split=3)
    old_folder = image_folder(first)
    twin = first.clone()
    try:
        second = load_mnist(mnist_dir, dataset_name=dataset_name, limit_per_split=4, overwrite=True)
        second_folder = image_folder(second)
        assert second_folder != old_folder and old_folder.is_dir()  # twin shows them
        assert all(Path(p).is_file() for p in twin.values("filepath"))
    finally:
        twin.delete()
    third = load_mnist(mnist_dir, dataset_name=dataset_name, limit_per_split=2, overwrite=True)
    assert not old_folder.exists()  # nobody shows them any more
    assert not second_folder.exists() and len(third) == 4
