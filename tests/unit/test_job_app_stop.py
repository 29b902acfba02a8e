"""Ctrl+C in the main job stops the App server with a bounded wait: a server whose
graceful shutdown hangs (e.g. held by a connected App tab) is killed, with its children,
instead of keeping the job alive forever (FiftyOne's own stop waits without a bound)."""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

import psutil
from classlab.job.cli import stop_app_server

# a "service" that ignores its stdin closing and has a child of its own
HANGS = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
    "time.sleep(120)"
)


def test_a_hanging_server_is_killed_after_the_timeout_with_its_children():
    from fiftyone.core.session import session as fo_session

    child = psutil.Popen([sys.executable, "-c", HANGS], stdin=subprocess.PIPE)
    port = 1  # never a real server's
    fo_session._server_services[port] = SimpleNamespace(child=child)
    try:
        deadline = time.monotonic() + 20
        while not child.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        grandchildren = child.children(recursive=True)
        assert grandchildren  # the test's own premise
        start = time.monotonic()
        stop_app_server(port, timeout=1.0)
        assert time.monotonic() - start < 10
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
        gone, alive = psutil.wait_procs(grandchildren, timeout=5)
        assert not alive
        assert port not in fo_session._server_services  # FiftyOne will not wait again
    finally:
        fo_session._server_services.pop(port, None)
        for p in [child, *child.children(recursive=True)] if child.is_running() else []:
            p.kill()


def test_a_server_that_stops_on_its_own_is_waited_for_and_an_unknown_port_is_ignored():
    from fiftyone.core.session import session as fo_session

    # exits as soon as its stdin closes, like FiftyOne's service wrapper
    child = psutil.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    fo_session._server_services[2] = SimpleNamespace(child=child)
    stop_app_server(2, timeout=10.0)
    assert child.wait(0) == 0  # exited normally: not killed
    stop_app_server(3)  # nothing started there: nothing to do
