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


def test_train_form_refuses_split_leakage(app_server, page, mnist_small, tmp_path):
    """Two val samples also tagged train: the train form says so (at the top and on the
    train tag) and Execute stays disabled; untagging them makes the form valid."""
    from classlab.data.splits import split_dataset

    split_dataset(mnist_small.match_tags("train"), {"train": 0.8, "val": 0.2}, overwrite=True)
    leaked = mnist_small.select(mnist_small.match_tags("val").limit(2).values("id"))
    leaked.tag_samples("train")
    server = app_server(mnist_small.name)
    open_app(page, server.url)
    open_operator_browser(page, "train LeNet")
    page.get_by_text("ClassLab: train LeNet-5").first.click()
    page.get_by_text("Fix before executing").first.wait_for(timeout=60_000)
    shown = page.get_by_text("shares 2 sample(s) with the 'val' or 'test' split(s)")
    assert shown.count() >= 2  # at the top and next to the train tag
    execute = page.get_by_role("button", name="Execute").first
    assert not execute.is_enabled()
    page.screenshot(path=str(tmp_path / "train-leakage.png"))
    leaked.untag_samples("train")
    page.get_by_text("Validation tag").first.click()  # any change re-resolves the form
    page.locator('xpath=//*[normalize-space(text())="Epochs"]/following::input[1]').fill("1")
    for _ in range(60):
        if execute.is_enabled():
            break
        page.wait_for_timeout(500)
    assert execute.is_enabled()
