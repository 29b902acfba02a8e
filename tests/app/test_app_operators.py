"""The App, served for real, lists ClassLab's operators and runs one from its form."""

from support.app import open_app, open_operator_browser


def test_operators_in_operator_browser(app_server, page, mnist_small, tmp_path):
    server = app_server(mnist_small.name)
    open_app(page, server.url)
    open_operator_browser(page, "ClassLab")
    page.get_by_text("ClassLab: load MNIST").first.wait_for(timeout=30_000)
    page.get_by_text("ClassLab: split into train/val/test").first.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "operator-browser.png"))
    assert page.get_by_text("ClassLab: load MNIST").count() >= 1


def test_split_from_the_app_form(app_server, page, mnist_small):
    mnist_small.untag_samples(["train", "test"])
    server = app_server(mnist_small.name)
    open_app(page, server.url)
    open_operator_browser(page, "split into")
    page.get_by_text("ClassLab: split into train/val/test").first.click()
    page.get_by_role("button", name="Execute").first.click(timeout=30_000)
    deadline_ms = 60_000
    page.wait_for_timeout(1000)
    for _ in range(deadline_ms // 1000):
        counts = mnist_small.count_sample_tags()
        if counts.get("train"):
            break
        page.wait_for_timeout(1000)
    counts = mnist_small.count_sample_tags()
    assert counts == {"train": 540, "val": 60}
