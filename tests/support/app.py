"""Helpers for driving the App in Chromium (import as ``support.app``)."""


def open_app(page, url: str, timeout: float = 90_000):
    """Opens the App and waits for the sample grid; dismisses the Enterprise popup."""
    page.goto(url, timeout=timeout)
    page.wait_for_selector('[data-cy="fo-grid"]', timeout=timeout)
    dismiss = page.get_by_text("Dismiss")
    if dismiss.count():
        dismiss.first.click()
    return page


def open_operator_browser(page, query: str = ""):
    """Opens the operator browser with the Backquote key and types ``query``."""
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Backquote")
    if query:
        page.keyboard.type(query)
    return page
