"""The main job's ending: ``python -m classlab`` (not headless) opens the App with
the workflow's dataset and the model comparison panel showing its models.

With ``CLASSLAB_SCREENSHOT_DIR`` set, the test makes the README's screenshots
instead of a quick check: it trains on more data (1,000 samples per split, 15
epochs), runs the CLIP steps with explicitly requested random weights (ViT-B-32;
no real weights here, so the panel labels that model "random weights"), and saves
``workflow-app.png`` (the App) and ``panel.png`` (the whole comparison panel) in
that directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from classlab.job.workflow import STEP_NAMES, WorkflowConfig, run_workflow
from support.app import open_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_url(url: str, proc, log: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the main job exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
            )
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"the App did not answer on {url}:\n{log.read_text()[-4000:]}")


def test_main_job_opens_app_with_comparison_panel(mnist_dir, dataset_name, page, tmp_path):
    from classlab.compare import compare_models

    # the workflow on a small sample (no CLIP), then the main command: every step is
    # already done, so it goes straight to the App
    docs = os.environ.get("CLASSLAB_SCREENSHOT_DIR")
    cfg = WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=1000 if docs else 100,
        clip=bool(docs),
        clip_random_weights=bool(docs),
        device="cpu",
        epochs=15 if docs else 1,
        finetune_epochs=3 if docs else 1,
    )
    assert run_workflow(cfg).ok
    port, log = _free_port(), tmp_path / "main.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "classlab",
                "--dataset",
                dataset_name,
                "--mnist-dir",
                str(mnist_dir),
                *(["--clip-random-weights"] if docs else ["--no-clip"]),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            # as in a terminal, Ctrl+C reaches the job: a test run started in the
            # background (`cmd &` without job control) ignores SIGINT, and a child
            # inherits that, so Python would install no KeyboardInterrupt handler
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_url(url, proc, log)
        open_app(page, url)
        page.get_by_text("ClassLab model comparison").first.wait_for(timeout=90_000)
        expected = compare_models(page_dataset(dataset_name).match_tags("test"))
        for acc in expected["summary"]["accuracy"]:
            page.get_by_text(f"{acc:.4f}").first.wait_for(timeout=60_000)
        models = {"lenet", "lenet_v2", "lenet_v2_control"} | ({"clip_zero_shot"} if docs else set())
        assert set(expected["fields"]) == models
        shot = tmp_path / "workflow-app.png"
        page.screenshot(path=str(shot))
        if docs:
            page.wait_for_timeout(3000)  # the plots finish drawing
            page.screenshot(path=str(shot))
            shutil.copy(shot, Path(docs) / shot.name)
            # the panel alone, in a wide window (it gets half the width)
            page.set_viewport_size({"width": 2400, "height": 2900})
            page.wait_for_timeout(4000)
            title = page.get_by_text("ClassLab model comparison").first.bounding_box()
            x = max(0, title["x"] - 12)
            page.screenshot(
                path=str(Path(docs) / "panel.png"),
                clip={"x": x, "y": 0, "width": 2400 - x, "height": 2900},
            )
        text = log.read_text()
        skipped = [n for n in STEP_NAMES if f"] {n}: already done" in text]
        # without CLIP, its two steps are "turned off"
        n = len(STEP_NAMES) - 1  # every step but compare
        assert len(skipped) == (n if docs else n - 2), text
        assert ("CLIP turned off" in text) != bool(docs) and "The App is at" in text
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl+C: the main job stops the App and exits
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def page_dataset(name: str):
    import fiftyone as fo

    return fo.load_dataset(name)
