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


def wait_execute_enabled(page, timeout: float = 60_000) -> bool:
    """Waits until the open operator form's Execute button exists and is enabled (the
    dynamic form has resolved and is valid). Returns whether it did."""
    button = page.get_by_role("button", name="Execute").first
    button.wait_for(timeout=timeout)
    for _ in range(int(timeout / 250)):
        if button.is_enabled():
            return True
        page.wait_for_timeout(250)
    return button.is_enabled()


def open_operator(page, query: str, title: str, tries: int = 4) -> None:
    """Opens operator ``title`` from the operator browser (searching ``query``) and waits
    for its form's Execute button. Retries when the browser did not open or did not list
    it yet (a key press right after the App loads can be lost; operators load late)."""
    item = page.get_by_text(title).first  # a prefix of the label is enough
    for attempt in range(tries):
        open_operator_browser(page, query)
        try:
            item.wait_for(timeout=15_000)
        except Exception:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            continue
        item.click()
        page.get_by_role("button", name="Execute").first.wait_for(timeout=60_000)
        return


def execute_operator(page, query: str, title: str, timeout: float = 60_000) -> None:
    """Opens operator ``title`` from the browser (searching ``query``), waits until its
    form is valid, clicks Execute and waits until the form has closed (it ran)."""
    open_operator(page, query, title)
    if not wait_execute_enabled(page, timeout):
        raise AssertionError(f"{title}: Execute stays disabled")
    page.get_by_role("button", name="Execute").first.click()
    page.get_by_role("button", name="Execute").wait_for(state="detached", timeout=timeout)
    close_result_dialog(page)


def close_result_dialog(page, timeout: float = 5_000) -> bool:
    """Closes the operator's result dialog (its ``resolve_output``) when one shows, so
    that the grid takes clicks again. Returns whether there was one."""
    dialog = page.locator(".MuiDialog-root")
    close = dialog.get_by_role("button", name="Close")
    try:
        close.first.wait_for(timeout=timeout)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: no result dialog
        return False
    close.first.click()
    try:
        dialog.first.wait_for(state="detached", timeout=timeout)
    except Exception as e:  # noqa: BLE001
        texts = [b.inner_text() for b in dialog.first.get_by_role("button").all()]
        raise AssertionError(f"result dialog did not close; buttons {texts}") from e
    return True


def shows_text(page, pattern: str) -> bool:
    """Whether the page's visible text matches the regex ``pattern`` now."""
    import re

    return re.search(pattern, page.locator("body").inner_text()) is not None


def grid_count(page) -> int:
    """The sample count the App shows above the grid ("N samples")."""
    import re

    text = page.get_by_text(re.compile(r"^\s*[\d,]+\s+samples?\s*$")).first.inner_text()
    return int(re.sub(r"[^\d]", "", text))


def wait_count(page, expected: int, timeout_s: int = 60) -> int | None:
    """Polls the grid's sample count (every 0.2 s) until it is ``expected``; returns the
    last count read (None when the header was re-rendering)."""
    n = None
    for _ in range(timeout_s * 5):
        try:
            n = grid_count(page)
        except Exception:  # noqa: BLE001  (the header re-renders while the view changes)
            n = None
        if n == expected:
            return n
        page.wait_for_timeout(200)
    return n
