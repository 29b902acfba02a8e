"""Label issues from the App: find them on a tiny noisy dataset (the App then shows the
flagged samples, most likely wrong first), review one, fix it, revert it.

With ``CLASSLAB_SCREENSHOT_DIR`` set, the review screenshot is also saved there as
``label-issues.png`` (docs/labels.md shows it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from support.app import execute_operator, open_app, shows_text
from support.labels import noisy_logits


def _until(page, fn, seconds: int = 90):
    for _ in range(seconds):
        if fn():
            return True
        page.wait_for_timeout(1000)
    return fn()


def test_find_review_fix_and_revert_a_label_issue(app_server, page, mnist_small, tmp_path):
    ds = mnist_small
    flipped, _ = noisy_logits(ds, "lenet_oos", seed=4)
    server = app_server(ds.name)
    open_app(page, server.url)
    # 1. find: the form opens with lenet_oos chosen; the App then shows the flagged samples
    execute_operator(page, "label issues", "ClassLab: find label issues", timeout=120_000)
    assert _until(page, lambda: ds.count_sample_tags().get("label_issue"))
    ds.reload()  # the App's process added fields: read the new schema
    n = ds.count_sample_tags()["label_issue"]
    assert len(set(ds.match_tags("label_issue").values("id")) & flipped) >= 0.8 * len(flipped)
    # the App shows the review view: n samples (not a number that merely contains n,
    # such as the dataset's 600), the worst label first
    shown = rf"(?<![\d,]){n:,} samples?\b"
    if not _until(page, lambda: shows_text(page, shown), 60):
        page.screenshot(path=str(tmp_path / "no-review-view.png"))
        text = page.locator("body").inner_text()[:1500]
        raise AssertionError(f"the App does not show {n} samples; it shows:\n{text}")
    worst = ds.match_tags("label_issue").sort_by("label_quality").first()
    shot = tmp_path / "label-issues.png"
    page.screenshot(path=str(shot))
    docs = os.environ.get("CLASSLAB_SCREENSHOT_DIR")
    if docs:
        shutil.copy(shot, Path(docs) / "label-issues.png")
    # 2. review: select the first tile (the worst label) with its checkbox
    page.locator('[data-cy="fo-grid"]').hover(position={"x": 60, "y": 60})
    page.locator('[class*="lookerCheckbox"]').first.click(force=True, timeout=30_000)
    # 3. fix it: only the selected sample changes
    execute_operator(page, "fix labels", "ClassLab: fix labels")
    assert _until(page, lambda: ds.count_sample_tags().get("label_fixed") == 1)
    ds.reload()
    fixed = ds.match_tags("label_fixed").first()
    assert fixed.id == worst.id  # the first tile of the review view was the worst label
    assert fixed.ground_truth.label == fixed.suggested_label.label
    assert fixed.ground_truth_original.label != fixed.ground_truth.label
    assert ds.count_sample_tags()["label_issue"] == n - 1
    # 4. revert it: the label as it was, the label_issue tag back
    execute_operator(page, "revert label", "ClassLab: revert label fixes")
    assert _until(page, lambda: not ds.count_sample_tags().get("label_fixed"))
    ds.reload()
    back = ds[fixed.id]
    assert back.ground_truth.label == fixed.ground_truth_original.label
    assert "label_issue" in back.tags and ds.count_sample_tags()["label_issue"] == n
