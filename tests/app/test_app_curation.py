"""The curation operators from the App: the tagging form previews its count, then tags."""

from support.app import open_app, open_operator_browser
from support.curation import add_predictions


def test_tag_samples_to_fix_from_the_app(app_server, page, mnist_small, tmp_path):
    add_predictions(mnist_small, "lenet", seed=6)
    wrong = sum(a != b for a, b in zip(*mnist_small.values(["lenet.label", "ground_truth.label"])))
    server = app_server(mnist_small.name)
    open_app(page, server.url)
    open_operator_browser(page, "tag samples")
    page.get_by_text("ClassLab: tag samples to fix").first.click()
    page.get_by_text("at least one criterion").first.wait_for(timeout=30_000)
    page.get_by_text("Misclassified", exact=True).first.click()
    page.get_by_text("Preview", exact=True).first.click()  # the count is opt-in
    page.get_by_text(f"{wrong} sample(s) match").first.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "tag-form.png"))
    page.get_by_role("button", name="Execute").first.click(timeout=30_000)
    for _ in range(60):
        if mnist_small.count_sample_tags().get("to_augment"):
            break
        page.wait_for_timeout(1000)
    assert mnist_small.count_sample_tags().get("to_augment") == wrong
