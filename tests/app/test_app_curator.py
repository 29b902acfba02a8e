"""The curator's path in the App (issue 13), in one App server: score, sort the grid by a
score, tag within the train split, augment (a val source refused; the preview; the copies).

Each step checks what the curator sees: the form opens valid (or with its error at
the top and Execute disabled), the result view says what changed, and the dataset
agrees. With ``CLASSLAB_SCREENSHOT_DIR`` set, the result views that docs/curation.md
shows are saved there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fiftyone import ViewField as F
from playwright.sync_api import expect
from support.app import open_app, open_operator_browser
from support.curation import add_embeddings, add_predictions

WAIT = 120_000  # ms: executions on a busy 2-core machine


@pytest.fixture(scope="module")
def curator_ds(mnist_base):
    """240 train / 60 val / 300 test, predictions with logits, embeddings, a float field
    without an index (the grid must not offer it), 3 train samples tagged to_augment."""
    from classlab.data.splits import split_dataset

    ds = mnist_base.clone("classlab-curator-app")
    split_dataset(ds.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    add_predictions(ds, "lenet", seed=11)
    add_embeddings(ds, "clip_embeddings", dim=8, seed=11)
    ds.set_values("unindexed_score", [0.5] * len(ds))
    right = ds.match_tags("train").match(F("lenet.label") == F("ground_truth.label"))
    right.limit(3).tag_samples("to_augment")  # tagged earlier: the result tells new from total
    yield ds
    ds.delete()


def _open(page, label):
    open_operator_browser(page, label.split(": ", 1)[1])
    page.get_by_text(label, exact=True).first.click()


def _execute(page):
    button = page.get_by_role("button", name="Execute").first
    button.click(timeout=30_000)


def _shot(page, name):
    """The open dialog, saved into CLASSLAB_SCREENSHOT_DIR (docs) when it is set."""
    folder = os.environ.get("CLASSLAB_SCREENSHOT_DIR")
    if folder:
        page.wait_for_timeout(1000)
        box = page.locator(".MuiDialog-paper").first.bounding_box()
        page.screenshot(path=str(Path(folder) / name), clip=box)


def _sortable(page) -> list[str]:
    """The fields the grid's "Sort by" offers (opened, read, closed)."""
    page.locator('[data-cy="selector-Sort by"]').click()
    results = page.locator('[data-cy^="selector-results-container"]').first
    results.get_by_text("created_at", exact=True).wait_for(timeout=30_000)
    offered = results.inner_text().split()
    page.keyboard.press("Escape")
    return offered


def _score_then_sort(page, ds):
    # the App is in query performance mode on the whole dataset (as on full MNIST): the
    # grid sorts by indexed fields only; an unindexed float field is not offered
    assert "unindexed_score" not in _sortable(page)
    _open(page, "ClassLab: compute sample scores")
    page.get_by_text("ClassLab: score 600 samples").first.wait_for(timeout=30_000)
    assert page.get_by_text("Cannot execute yet").count() == 0
    _execute(page)
    page.get_by_text("Wrote 4 score field(s) on 600 samples in").first.wait_for(timeout=WAIT)
    page.get_by_text("lenet_mistakenness (600 of 600 samples scored").first.wait_for()
    page.get_by_role("button", name="Close").first.click()
    # the grid shows the samples sorted by the first score; back to the whole dataset,
    # "Sort by" now offers every score field (indexed), still not the unindexed one
    stage = page.locator('[data-cy="view-bar"]').get_by_text("SortBy", exact=True).first
    stage.wait_for(state="attached", timeout=30_000)
    page.locator('[data-cy="btn-clear-view-bar"]').last.click()
    stage.wait_for(state="detached", timeout=30_000)
    for _ in range(15):  # the App switches query performance back on a moment later
        offered = _sortable(page)
        if "unindexed_score" not in offered:
            break
        page.wait_for_timeout(2000)
    scores = {"lenet_hardness", "lenet_mistakenness", "clip_embeddings_uniqueness"}
    assert scores | {"clip_embeddings_representativeness"} <= set(offered)
    assert "unindexed_score" not in offered
    ds.reload()
    assert ds.count("lenet_mistakenness") == 600


def _tag_within_train(page, ds):
    _open(page, "ClassLab: tag samples to fix")
    notice = page.get_by_text("Choose at least one criterion").first
    notice.wait_for(timeout=30_000)
    assert notice.bounding_box()["y"] < 300  # at the top of the form, not below the fold
    page.get_by_text("Target view per split tag: train: 240, val: 60, test: 300").first.wait_for()
    page.get_by_text("train (240 in the view)").first.wait_for()  # the default split
    page.get_by_text("Misclassified", exact=True).first.click()
    train = ds.match_tags("train")
    wrong = sum(a != b for a, b in zip(*train.values(["lenet.label", "ground_truth.label"])))
    page.get_by_text("Preview", exact=True).first.click()  # the count is opt-in
    page.get_by_text(f"{wrong} sample(s) match").first.wait_for(timeout=30_000)
    _execute(page)
    headline = (
        f"{wrong} newly tagged, {wrong + 3} with the tag 'to_augment' within the 'train' split"
    )
    page.get_by_text(headline).first.wait_for(timeout=WAIT)
    page.get_by_text(f"misclassified: {wrong} sample(s)").first.wait_for()
    _shot(page, "curation-tag-result.png")
    page.get_by_role("button", name="Close").first.click()
    tagged = ds.match_tags("to_augment")
    assert tagged.count() == tagged.count_sample_tags()["train"] == wrong + 3  # no val/test
    page.get_by_text(f"{wrong + 3} samples", exact=True).first.wait_for(timeout=30_000)  # grid


def _augment_refuses_val(page, ds):
    ds.match_tags("val").limit(3).tag_samples("to_augment")
    _open(page, "ClassLab: augment samples")
    error = "Cannot execute yet: 3 source sample(s) carry an evaluation split tag (val: 3, test: 0)"
    page.get_by_text(error).first.wait_for(timeout=30_000)
    assert page.get_by_text("allow_eval_splits=True").count() >= 1
    expect(page.get_by_role("button", name="Execute").first).to_be_disabled()
    page.get_by_role("button", name="Cancel").first.click()
    ds.match_tags("val").untag_samples("to_augment")


def _augment_preview_then_run(page, ds):
    n = ds.match_tags("to_augment").count()
    _open(page, "ClassLab: augment samples")
    page.get_by_text(
        f"{n} source sample(s) (split tags: train: {n}): {n} new samples"
    ).first.wait_for(timeout=30_000)
    assert page.get_by_text("Cannot execute yet").count() == 0
    expect(page.get_by_role("button", name="Execute").first).to_be_enabled(timeout=30_000)
    assert page.locator('input[value="augment_v1"]').count() == 1  # the next free key
    page.get_by_text("Preview", exact=True).first.click()
    copies = page.get_by_text("Copies per sample", exact=True).first
    copies.locator("xpath=following::input[1]").fill("3")
    page.wait_for_timeout(1500)
    _execute(page)
    page.get_by_text("Preview: nothing was added (original, then copies)").first.wait_for(
        timeout=WAIT
    )
    page.get_by_text("copy 2", exact=True).first.wait_for()
    first = ds.match_tags("to_augment").first().ground_truth.label
    page.get_by_text(first, exact=True).first.wait_for()  # each row is labelled
    originals = page.locator('img[alt="original"]')
    assert originals.count() >= 1 and originals.first.bounding_box()["width"] >= 100
    _shot(page, "curation-augment-preview.png")
    page.get_by_role("button", name="Close").first.click()
    assert ds.match_tags("augmented").count() == 0  # a preview adds nothing

    _open(page, "ClassLab: augment samples")
    page.get_by_text(
        f"{n} source sample(s) (split tags: train: {n}): {n} new samples"
    ).first.wait_for(timeout=30_000)
    _execute(page)
    headline = f"{n} augmented copies of {n} source sample(s) in run 'augment_v1'"
    page.get_by_text(headline).first.wait_for(timeout=WAIT)
    page.get_by_text(f"copies per split tag: train: {n}").first.wait_for()
    copies = ds.match_tags("augmented")
    assert copies.count_sample_tags() == {"augmented": n, "train": n}  # no val/test copy


def test_curator_path_in_the_app(app_server, page, curator_ds):
    server = app_server(curator_ds.name)
    open_app(page, server.url)
    _score_then_sort(page, curator_ds)
    _tag_within_train(page, curator_ds)
    _augment_refuses_val(page, curator_ds)
    _augment_preview_then_run(page, curator_ds)
