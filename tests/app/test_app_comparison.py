"""The model comparison panel in the real App: numbers, screenshot, click-to-filter."""

from __future__ import annotations

import re

from classlab import compare
from classlab.compare import plots as compare_plots
from support.app import open_app
from support.models import make_models_dataset


def grid_count(page) -> int:
    """The sample count the App shows above the grid ("N samples")."""
    text = page.get_by_text(re.compile(r"^\s*[\d,]+\s+samples?\s*$")).first.inner_text()
    return int(re.sub(r"[^\d]", "", text))


def wait_count(page, expected: int, timeout_s: int = 60) -> int:
    n = None
    for _ in range(timeout_s * 2):
        try:
            n = grid_count(page)
        except Exception:  # noqa: BLE001  (the header re-renders while the view changes)
            n = None
        if n == expected:
            return n
        page.wait_for_timeout(500)
    return n


def test_panel_numbers_screenshot_and_click_to_filter(
    app_server, page, dataset_name, tmp_path, mnist_base
):
    # real MNIST images (for the screenshot), synthetic labels with known answers
    ds = make_models_dataset(dataset_name, filepaths=mnist_base.limit(12).values("filepath"))
    expected = compare.compare_models(ds)
    server = app_server(dataset_name, panel="model_comparison")
    open_app(page, server.url)
    page.get_by_text("ClassLab model comparison").first.wait_for(timeout=60_000)
    page.get_by_text("only A right: 2").first.wait_for(timeout=60_000)
    page.set_viewport_size({"width": 1700, "height": 1250})
    page.wait_for_timeout(2500)
    page.screenshot(path=str(tmp_path / "panel.png"), full_page=True)

    # the summary table shows exactly the SDK's numbers
    rows = compare_plots.table_rows(expected["summary"])
    body = page.locator("body").inner_text()
    for row in rows:
        for key in ("accuracy", "f1", "precision", "ece"):
            assert row[key] in body, f"{row['field']} {key} {row[key]} not shown"
    assert "0.6667" in body and "0.5833" in body  # accuracy of A (8/12) and B (7/12)

    assert wait_count(page, 12) == 12
    page.get_by_text("only A right: 2").first.click()
    assert wait_count(page, 2) == 2
    page.get_by_text("both wrong, different labels: 1").first.click()
    assert wait_count(page, 1) == 1
