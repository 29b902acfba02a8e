"""A worker replacing model A's embeddings with model B's (``overwrite=True``, 100-sample
chunks) is SIGKILLed at each critical point of the embeddings writer (CLASSLAB_FAULT, see
classlab.clip.embeddings.FAULT_POINTS): the field never holds vectors of a model other
than the one its record names (A's record over an emptied field, or B's record over B's
first chunk), and a re-run finishes the job with nothing orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from classlab import records
from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings, load_clip
from classlab.clip import embeddings as clip_embeddings
from classlab.writers import FAULT_ENV
from support.tiny_clip import register_tiny_clip

TESTS = Path(__file__).resolve().parents[1]
WORKER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    import fiftyone as fo
    from classlab import defaults
    from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings
    from support.tiny_clip import register_tiny_clip

    defaults.CHUNK_SIZE = 100
    spec = ClipSpec(register_tiny_clip(), sys.argv[2])
    compute_clip_embeddings(
        fo.load_dataset(sys.argv[1]), spec, LoaderOptions(device="cpu", num_workers=0),
        overwrite=True,
    )
    """
)
OPTIONS = LoaderOptions(device="cpu", num_workers=0)


@pytest.fixture(scope="module")
def model_b(tmp_path_factory) -> str:
    """A checkpoint of the tiny model whose image projection is negated: its embeddings
    are model A's (the seeded random weights) times -1."""
    import torch

    model = load_clip(ClipSpec(register_tiny_clip(), None, True), "cpu").model
    state = model.state_dict()
    state["visual.proj"] = -state["visual.proj"]
    path = tmp_path_factory.mktemp("clip-b") / "tiny_b.pt"
    torch.save(state, path)
    return str(path)


@pytest.fixture(scope="module")
def killed(mnist_base, model_b):
    """One clone per fault point with model A's embeddings, and a worker replacing them
    with model B's, killed at that point (the workers run at the same time)."""
    spec_a = ClipSpec(register_tiny_clip(), None, True)
    runs = {}
    for point in clip_embeddings.FAULT_POINTS:
        ds = mnist_base.clone()
        ds.persistent = True  # the worker process loads it by name
        compute_clip_embeddings(ds, spec_a, OPTIONS)
        env = {**os.environ, FAULT_ENV: point, "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", WORKER, ds.name, model_b, str(TESTS)]
        proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
        runs[point] = (ds, np.stack(ds.values("clip_embeddings")), proc)
    for _, _, proc in runs.values():
        proc.wait(timeout=300)
    yield runs
    for ds, _, _ in runs.values():
        ds.delete()


@pytest.mark.parametrize("point", clip_embeddings.FAULT_POINTS)
def test_killed_embedder_never_mislabels_vectors_and_rerun_finishes(killed, model_b, point):
    ds, vectors_a, proc = killed[point]
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]
    ds.reload()
    record = records.get_record(ds, "clip", "clip_embeddings")
    ids = ds.values("id")
    left = {i: v for i, v in zip(ids, ds.values("clip_embeddings")) if v is not None}
    if point == "clip_after_clear":  # A's record over an emptied field: nothing mislabelled
        assert record["random_weights"] is True and not left
    else:  # B's record over B's first chunk only
        assert record["pretrained"] == model_b and len(left) == 100
        rows = np.stack([vectors_a[ids.index(i)] for i in left])
        np.testing.assert_allclose(np.stack(list(left.values())), -rows, atol=1e-5)

    spec_b = ClipSpec(register_tiny_clip(), model_b)
    resumed = point == "clip_after_chunk"  # B's record: a plain re-run resumes
    res = compute_clip_embeddings(ds, spec_b, OPTIONS, overwrite=not resumed)
    assert res["num_embedded"] == (500 if resumed else 600)
    np.testing.assert_allclose(np.stack(ds.values("clip_embeddings")), -vectors_a, atol=1e-5)
    assert list(records.list_records(ds, "clip")) == ["clip_embeddings"]
    assert records.get_record(ds, "clip", "clip_embeddings")["num_samples"] == len(ds)
    assert ds.list_brain_runs() == []
