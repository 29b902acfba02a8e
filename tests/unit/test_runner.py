"""The step runner: skip-when-done, failures, memory and progress lines, the summary."""

import json
import logging
import time
from dataclasses import dataclass

import numpy as np
import pytest
from classlab.clip.weights import clip_weights_problem
from classlab.errors import InputError
from classlab.job.memory import MemorySampler
from classlab.job.runner import Step, StepProgress, format_summary, run_steps


def test_steps_run_in_order_and_skip_when_done():
    calls = []
    steps = [
        Step("a", "first", lambda p: calls.append("a") or "made a", done=lambda: False),
        Step("b", "second", lambda p: calls.append("b") or "made b", done=lambda: True),
        Step("c", "third", lambda p: calls.append("c") or "", skip=lambda: "no weights"),
        Step("d", "fourth", lambda p: calls.append("d") or "made d"),
    ]
    results = run_steps(steps)
    assert calls == ["a", "d"]
    assert [r.status for r in results] == ["done", "skipped", "unavailable", "done"]
    assert results[0].message == "made a" and results[2].message == "no weights"
    assert results[0].seconds > 0 and results[0].peak_rss_mb > 0


def test_a_failed_step_stops_the_rest_unless_optional(caplog):
    def refused(progress):
        raise InputError("the core said no")

    def bug(progress):
        raise KeyError("oops")

    results = run_steps(
        [
            Step("opt", "optional", refused, optional=True),
            Step("req", "required", bug),
            Step("after", "never", lambda p: "ran"),
        ]
    )
    assert [r.status for r in results] == ["failed", "failed", "not run"]
    # ClassLab's own message as it is; a bug with its type (and its traceback in the log)
    assert results[0].message == "the core said no"
    assert results[1].message == "KeyError: 'oops'"
    assert any(r.exc_info for r in caplog.records if "req failed" in r.getMessage())
    table = format_summary(results)
    assert "the core said no" in table and "not run" in table


def test_a_check_that_raises_fails_its_step():
    def broken_check():
        raise RuntimeError("database gone")

    results = run_steps(
        [Step("a", "a", lambda p: "ran", done=broken_check), Step("b", "b", lambda p: "ran")]
    )
    assert [r.status for r in results] == ["failed", "not run"]
    assert results[0].message == "RuntimeError: database gone"


@dataclass
class _Outcome:
    count: int

    def summary(self) -> str:
        return f"{self.count} things"


def test_a_typed_outcome_is_kept_and_summarised():
    results = run_steps([Step("typed", "typed", lambda p: _Outcome(3))])
    assert results[0].data == _Outcome(3) and results[0].message == "3 things"
    row = results[0].as_dict()
    assert row["data"] == {"count": 3} and row["message"] == "3 things"
    json.dumps(row)  # what --json writes


def test_each_step_gets_a_progress_callback_that_logs(caplog):
    caplog.set_level(logging.INFO, logger="classlab")

    def work(progress):
        for i in range(5):
            progress(i / 10, f"batch {i}")
        progress(1.0, "done")
        return "worked"

    run_steps([Step("train_lenet", "train", work)], progress_interval=60)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("  [")]
    # throttled: the first line, then nothing for 60 s except the 100% line
    assert lines == ["  [train_lenet]   0.0% batch 0", "  [train_lenet] 100.0% done"]


def test_memory_sampler_sees_a_large_allocation():
    import mmap

    with MemorySampler(interval=0.01) as mem:
        # fresh anonymous pages, touched: in a long test session malloc may hand back
        # memory that is already resident (no RSS growth), an mmap cannot
        region = mmap.mmap(-1, 300 * 2**20)
        pages = np.frombuffer(region, dtype=np.uint8)
        pages[:] = 1
        # the sampler thread must take one sample while the pages live: in a long
        # session (many child processes to walk) one sample can take longer than a
        # fixed sleep, so wait for it, up to 10 s
        deadline = time.monotonic() + 10
        while mem.peak_mb - mem.start_mb <= 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        del pages
        region.close()
    assert mem.peak_mb - mem.start_mb > 200


def test_step_progress_logs_again_after_its_interval(caplog):
    caplog.set_level(logging.INFO, logger="classlab")
    now = [100.0]
    progress = StepProgress("scores", interval=2.0, clock=lambda: now[0])
    for t, f in ((0.0, 0.1), (1.0, 0.2), (2.5, 0.3), (3.0, 0.4)):
        now[0] = 100.0 + t
        progress(f, "x")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["  [scores]  10.0% x", "  [scores]  30.0% x"]


def test_summary_table_lists_every_step():
    results = run_steps(
        [Step("x", "x", lambda p: "ok"), Step("y", "y", lambda p: "", lambda: True)]
    )
    table = format_summary(results).splitlines()
    assert table[0].split()[:6] == ["step", "status", "time", "CPU", "peak", "RSS"]
    assert table[1].startswith("x") and "done" in table[1] and "MiB" in table[1]
    assert table[2].startswith("y") and "skipped" in table[2]
    assert table[-1].startswith("total")


@pytest.mark.parametrize(
    "model,pretrained,expect",
    [
        ("ViT-B-32", "laion2b_s34b_b79k", "HF_HUB_OFFLINE"),
        ("ViT-B-32", "no-such-tag", "knows no pretrained weights"),
        ("ViT-B-32", "/no/such/clip.pt", "does not exist"),
        ("ViT-B-32", "", "No CLIP weights"),
    ],
)
def test_clip_weights_problem_offline(model, pretrained, expect):
    # tests run with HF_HUB_OFFLINE=1 and an empty Hugging Face cache for these repos
    assert expect in clip_weights_problem(model, pretrained)


def test_clip_weights_local_checkpoint_is_available(tmp_path):
    ckpt = tmp_path / "clip.pt"
    ckpt.write_bytes(b"weights")
    assert clip_weights_problem("ViT-B-32", str(ckpt)) is None
