"""Grad-CAM heatmaps in the real App: the field is drawn as a coloured overlay on the
digits (grid and sample modal); with ``CLASSLAB_SCREENSHOT_DIR`` set the modal's
screenshot is saved there as ``gradcam-app.png`` (docs/explain.md shows it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import fiftyone as fo
import numpy as np
from support.app import open_app


def _colour_fraction(png_path) -> float:
    """Share of strongly coloured pixels in a screenshot (a grayscale digit has none)."""
    from PIL import Image

    img = np.asarray(Image.open(png_path).convert("RGB")).astype(int)
    spread = img.max(axis=2) - img.min(axis=2)
    return float((spread > 60).mean())


def test_gradcam_overlay_is_visible(app_server, page, mnist_small, tmp_path):
    from classlab.data.splits import split_dataset
    from classlab.explain import compute_gradcam
    from classlab.lenet.runs import train_lenet

    split_dataset(mnist_small.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    cfg = {"epochs": 2, "batch_size": 64, "architecture": "lenet5_modern", "device": "cpu"}
    train_lenet(mnist_small, run_key="m", config=cfg)
    # the App shows a dataset of the explained digits only (the model's record with it)
    ds = mnist_small.match_tags("test").limit(18).clone(mnist_small.name + "-cam")
    try:
        from classlab import records

        records.set_record(ds, "models", "m", records.get_record(mnist_small, "models", "m"))
        compute_gradcam(ds, "m", samples="all", heatmap_field="m_gradcam", device="cpu")
        # a colour map for the heatmap (the App's default draws it in the field's colour)
        ds.app_config.color_scheme = fo.ColorScheme(
            color_by="value", colorscales=[{"path": "m_gradcam", "name": "jet"}]
        )
        ds.save()
        server = app_server(ds.name)
        open_app(page, server.url)
        page.wait_for_timeout(3000)
        grid_off = tmp_path / "grid-off.png"
        page.screenshot(path=str(grid_off))
        page.locator('[data-cy="checkbox-m_gradcam"]').first.click()
        page.wait_for_timeout(3000)
        grid = tmp_path / "grid.png"
        page.screenshot(path=str(grid))
        page.locator('[data-cy="fo-grid"] canvas, [data-cy="fo-grid"] img').first.click()
        page.wait_for_timeout(4000)
        on = tmp_path / "modal-on.png"
        page.screenshot(path=str(on))
        page.locator('[data-cy="checkbox-m_gradcam"]').last.click()
        page.wait_for_timeout(3000)
        off = tmp_path / "modal-off.png"
        page.screenshot(path=str(off))
        # the overlay colours the digit's image; without it the modal is grayscale
        colour_on, colour_off = _colour_fraction(on), _colour_fraction(off)
        assert colour_on > 0.01 and colour_on > 5 * colour_off, (colour_on, colour_off)
        grid_on, grid_off = _colour_fraction(grid), _colour_fraction(grid_off)
        assert grid_on > 0.05 and grid_on > 3 * grid_off, (grid_on, grid_off)  # the tiles too
        docs = os.environ.get("CLASSLAB_SCREENSHOT_DIR")
        if docs:
            shutil.copy(on, Path(docs) / "gradcam-app.png")
    finally:
        ds.delete()
