"""The step runner: skip-when-done, failures, memory and progress lines, the summary."""

import logging

import numpy as np
import pytest
from classlab.clip.weights import clip_weights_problem
from classlab.job.runner import MemorySampler, Step, format_summary, progress_to_log, run_steps


def test_steps_run_in_order_and_skip_when_done():
    calls = []
    steps = [
        Step("a", "first", lambda: calls.append("a") or "made a", done=lambda: False),
        Step("b", "second", lambda: calls.append("b") or "made b", done=lambda: True),
        Step("c", "third", lambda: calls.append("c") or "", skip=lambda: "no weights"),
        Step("d", "fourth", lambda: calls.append("d") or "made d"),
    ]
    results = run_steps(steps)
    assert calls == ["a", "d"]
    assert [r.status for r in results] == ["done", "skipped", "unavailable", "done"]
    assert results[0].message == "made a" and results[2].message == "no weights"
    assert results[0].seconds > 0 and results[0].peak_rss_mb > 0


def test_a_failed_step_stops_the_rest_unless_optional():
    def boom():
        raise ValueError("the operator said no")

    results = run_steps(
        [
            Step("opt", "optional", boom, optional=True),
            Step("req", "required", boom),
            Step("after", "never", lambda: "ran"),
        ]
    )
    assert [r.status for r in results] == ["failed", "failed", "not run"]
    assert results[0].message == "the operator said no"
    table = format_summary(results)
    assert "the operator said no" in table and "not run" in table


def test_memory_sampler_sees_a_large_allocation():
    with MemorySampler(interval=0.01) as mem:
        block = np.ones((300, 2**20 // 8 * 1), dtype=np.float64)  # 300 MiB, touched
        block += 1
        del block
    assert mem.peak_mb - mem.start_mb > 200


def test_progress_lines_are_prefixed_and_throttled(caplog):
    caplog.set_level(logging.INFO, logger="classlab")
    log = logging.getLogger("classlab.progress")
    with progress_to_log("train_lenet", interval=60):
        for i in range(5):
            log.info("x", extra={"classlab_progress": (i / 10, f"batch {i}")})
        log.info("x", extra={"classlab_progress": (1.0, "done")})
    lines = [r.getMessage() for r in caplog.records if r.name == "classlab.progress"]
    assert lines == ["  [train_lenet]   0.0% batch 0", "  [train_lenet] 100.0% done"]
    assert log.level == logging.NOTSET  # restored on exit


def test_summary_table_lists_every_step():
    results = run_steps([Step("x", "x", lambda: "ok"), Step("y", "y", lambda: "", lambda: True)])
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
