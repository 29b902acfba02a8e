"""CPU latency of a model per image, at batch 1 and batch 256 (torch or onnxruntime).

Cheap by design (it runs at the end of every training and export): one warm-up run
at the first batch size, then timed runs per batch size while they take under
:data:`BUDGET_S` in total (at least :data:`MIN_RUNS`, at most :data:`MAX_RUNS`); the
fastest run divided by the batch size is the figure, in milliseconds per image. The
fastest, not the median: on a shared CPU, torch's worker threads wait for each other
whenever another job holds a core, which turns a 0.6 ms LeNet call into 150 ms at the
median (measured with 2 threads on a loaded 2-core machine); the best run is the
model's own cost. Inputs are
random, since the networks' cost does not depend on the pixels.

The result is what the model record keeps under ``latency_ms``::

    {"torch": {"1": 0.41, "256": 0.05}, "onnx": {"1": 0.12, "256": 0.03}}

(keys are strings: the record is stored in MongoDB). Figures depend on the machine
and its load; ``latency_threads`` in the record says how many CPU threads ran them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from classlab import defaults

MIN_RUNS = 3
MAX_RUNS = 20
BUDGET_S = 0.2


def _best_seconds(fn: Callable[[], object], warm_up: bool) -> float:
    """The shortest duration of ``fn()`` (after one untimed call if ``warm_up``)."""
    if warm_up:
        fn()
    times: list[float] = []
    while len(times) < MAX_RUNS and (len(times) < MIN_RUNS or sum(times) < BUDGET_S):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _inputs(batch: int, in_channels: int, input_size: int):
    import torch

    gen = torch.Generator().manual_seed(batch)
    return torch.rand((batch, in_channels, input_size, input_size), generator=gen) * 2 - 1


def torch_latency(
    model, in_channels: int, input_size: int, batches=defaults.LATENCY_BATCHES
) -> dict[str, float]:
    """Milliseconds per image of ``model`` (moved to the CPU, eval mode) per batch size:
    ``{"1": ms, "256": ms}``."""
    import torch

    model = model.cpu().eval()
    out = {}
    with torch.inference_mode():
        for b in batches:
            x = _inputs(b, in_channels, input_size)
            seconds = _best_seconds(lambda x=x: model(x), warm_up=not out)
            out[str(b)] = 1000.0 * seconds / b
    return out


def onnx_latency(
    session, in_channels: int, input_size: int, batches=defaults.LATENCY_BATCHES
) -> dict[str, float]:
    """Milliseconds per image of an onnxruntime ``InferenceSession`` per batch size."""
    name = session.get_inputs()[0].name
    out = {}
    for b in batches:
        x = _inputs(b, in_channels, input_size).numpy()
        seconds = _best_seconds(lambda x=x: session.run(None, {name: x}), warm_up=not out)
        out[str(b)] = 1000.0 * seconds / b
    return out


def cpu_threads() -> int:
    """The number of CPU threads torch uses (and the latency figures were taken with)."""
    import torch

    return int(torch.get_num_threads())
