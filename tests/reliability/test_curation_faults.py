"""A worker computing sample scores is SIGKILLed at each critical point of the score
writer (CLASSLAB_FAULT, see classlab.curation.scores.FAULT_POINTS): it leaves a brain run
without its ClassLab record, never a record without its values; a re-run succeeds and
adopts it, and afterwards every score has its field (a value per sample), its brain run
and its record, with nothing orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from classlab import records
from classlab.curation import scores
from classlab.writers import FAULT_ENV
from support.curation import add_embeddings, add_predictions

WORKER = textwrap.dedent(
    """
    import sys
    import fiftyone as fo
    from classlab.curation.scores import compute_sample_scores

    ds = fo.load_dataset(sys.argv[1])
    compute_sample_scores(ds, ["hardness", "uniqueness"], "lenet", embeddings_field="emb")
    """
)
SCORES = {"hardness": "lenet_hardness", "uniqueness": "emb_uniqueness"}


@pytest.fixture(scope="module")
def killed(mnist_base):
    """One clone per fault point, with predictions and embeddings, and a worker scoring
    it killed at that point (the workers run at the same time)."""
    runs = {}
    for point in scores.FAULT_POINTS:
        ds = mnist_base.clone()
        ds.persistent = True  # the worker process loads it by name
        add_predictions(ds, "lenet")
        add_embeddings(ds, "emb")
        env = {**os.environ, FAULT_ENV: point, "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", WORKER, ds.name]
        runs[point] = (ds, subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True))
    for _, proc in runs.values():
        proc.wait(timeout=300)
    yield runs
    for ds, _ in runs.values():
        ds.delete()


@pytest.mark.parametrize("point", scores.FAULT_POINTS)
def test_killed_scorer_leaves_no_record_without_values_and_rerun_adopts(killed, point):
    ds, proc = killed[point]
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]
    ds.reload()
    # the dead writer got as far as hardness's brain run and values, not its record
    assert "lenet_hardness" in ds.list_brain_runs()
    assert ds.count("lenet_hardness") == len(ds)
    assert records.list_records(ds, "scores") == {}, "a record was written before its run"
    assert "emb_uniqueness" not in ds.list_brain_runs() and not ds.has_field("emb_uniqueness")

    out = scores.compute_sample_scores(ds, list(SCORES), "lenet", embeddings_field="emb")
    assert out == SCORES
    fields = set(SCORES.values())
    assert set(ds.list_brain_runs()) == fields, "orphan brain runs"
    assert set(records.list_records(ds, "scores")) == fields, "orphan or missing records"
    for field in fields:
        assert ds.count(field) == len(ds)
    logits = ds.values("lenet.logits")
    expected = scores.hardness_from_logits(logits)
    np.testing.assert_allclose(ds.values("lenet_hardness"), expected, rtol=1e-6)


BOUNDED_WORKER = textwrap.dedent(
    """
    import sys
    import fiftyone as fo
    from classlab import defaults
    from classlab.curation.scores import compute_sample_scores

    defaults.CHUNK_SIZE = 100  # six chunks: the kill after the first leaves 100 of 600
    ds = fo.load_dataset(sys.argv[1])
    compute_sample_scores(ds, ["uniqueness"], embeddings_field="emb", embedding_method="bounded")
    """
)


@pytest.mark.parametrize("point", scores.FAULT_POINTS)
def test_killed_bounded_scorer_is_adopted_by_a_rerun(mnist_base, point):
    """The bounded uniqueness writer killed after its first chunk of values, or before its
    record: a re-run gives every sample its value, one brain run and one record."""
    ds = mnist_base.clone()
    ds.persistent = True
    try:
        add_embeddings(ds, "emb")
        env = {**os.environ, FAULT_ENV: point, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", BOUNDED_WORKER, ds.name],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        ds.reload()
        assert records.list_records(ds, "scores") == {}, "a record was written before its run"
        written = ds.count("emb_uniqueness")
        assert written == (100 if point == "scores_after_values" else len(ds))
        out = scores.compute_sample_scores(
            ds, ["uniqueness"], embeddings_field="emb", embedding_method="bounded"
        )
        assert out == {"uniqueness": "emb_uniqueness"}
        assert ds.list_brain_runs() == ["emb_uniqueness"]
        assert set(records.list_records(ds, "scores")) == {"emb_uniqueness"}
        values = np.asarray(ds.values("emb_uniqueness"), np.float64)
        assert len(values) == len(ds) and np.isfinite(values).all() and values.max() == 1.0
    finally:
        ds.delete()
