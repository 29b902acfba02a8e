"""App fixtures: a real FiftyOne App server in a subprocess and headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CLASSLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_SERVER = """
import sys, fiftyone as fo
ds = fo.load_dataset(sys.argv[1])
spaces = None
if len(sys.argv) > 3:
    spaces = fo.Space(children=[fo.Panel(type="Samples", pinned=True),
                                fo.Panel(type=sys.argv[3])], orientation="horizontal")
session = fo.launch_app(ds, remote=True, port=int(sys.argv[2]), address="127.0.0.1",
                        spaces=spaces)
session.wait(-1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """The FiftyOne App serving one dataset (optionally with a panel open)."""

    def __init__(self, dataset_name: str, panel: str | None = None, log_dir: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        args = [sys.executable, "-c", _SERVER, dataset_name, str(self.port)]
        if panel:
            args.append(panel)
        self.log = open((log_dir or Path("/tmp")) / f"app-{self.port}.log", "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"App server exited:\n{self.log.read()[-4000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return
            except OSError:
                time.sleep(1)
        raise RuntimeError("App server did not answer in time")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def app_server(tmp_path):
    """``app_server(dataset_name, panel=None)`` -> a running AppServer (stopped after)."""
    servers = []

    def start(dataset_name, panel=None):
        server = AppServer(dataset_name, panel, tmp_path)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run scripts/setup.sh (installs Debian's chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()
