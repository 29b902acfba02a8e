"""A worker fixing (or reverting) 30 labels in chunks of 10 is SIGKILLed before its n-th
write to the samples collection (the test's own hook: pymongo's write calls patched in
the worker; classlab.labels has no fault point of its own). Every sample must be
either untouched or fully changed: the label, its original, its history entry and its
tags together. A re-run then finishes the job and a revert restores every label exactly
(id and attributes) and its tags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import fiftyone as fo
import pytest
from classlab.labels import fix_labels, revert_label_fixes
from classlab.labels.fixes import history_field, original_field

WORKER = textwrap.dedent(
    """
    import os
    import signal
    import sys
    import fiftyone as fo
    from pymongo.collection import Collection
    from classlab.labels import fixes

    fixes.CHUNK = 10
    kill_at, calls = int(sys.argv[3]), [0]

    def counted(real):
        def write(self, *args, **kwargs):
            if self.name.startswith("samples."):
                calls[0] += 1
                if calls[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(self, *args, **kwargs)

        return write

    for name in ("bulk_write", "update_one", "update_many", "replace_one", "insert_many"):
        setattr(Collection, name, counted(getattr(Collection, name)))
    ds = fo.load_dataset(sys.argv[1])
    view = ds.match_tags("label_issue" if sys.argv[2] == "fix" else "label_fixed")
    (fixes.fix_labels if sys.argv[2] == "fix" else fixes.revert_label_fixes)(view)
    """
)
# (operation, killed before its n-th write to the samples collection): 30 samples in 3
# chunks of 10; a writer that changes each sample in one update per sample (one bulk
# write per chunk) is killed after its first or second chunk
CASES = [("fix", 2), ("fix", 3), ("revert", 2), ("revert", 3)]
GT, HIST, ORIG = "ground_truth", history_field("ground_truth"), original_field("ground_truth")


def _suggest(ds, n=30):
    """Suggestions (the next class) and the label_issue tag on the first ``n`` samples;
    returns ``{id: (label dict, tags, suggested class)}``."""
    view = ds.limit(n)
    ids, gt = view.values(["id", f"{GT}.label"])
    classes = sorted(ds.distinct(f"{GT}.label"))
    other = {i: classes[(classes.index(g) + 1) % len(classes)] for i, g in zip(ids, gt)}
    suggested = {i: fo.Classification(label=c, confidence=0.9) for i, c in other.items()}
    ds.set_values("suggested_label", suggested, key_field="id")
    view.tag_samples("label_issue")
    return {i: (ds[i][GT].to_dict(), sorted(ds[i].tags), other[i]) for i in ids}


def _get(sample, field: str):
    return sample[field] if sample.has_field(field) else None


def _state(sample, before) -> str:
    """``untouched``, ``fixed`` (one fix entry), ``reverted`` (fix then revert entries,
    the label and tags exactly as before), else ``broken: <what>``."""
    label, tags, target = before
    history = [e["action"] for e in (_get(sample, HIST) or [])]
    orig = _get(sample, ORIG).to_dict() if _get(sample, ORIG) is not None else None
    now = (sample[GT].to_dict(), sorted(sample.tags))
    if now == (label, tags) and orig is None and history in ([], ["fix", "revert"]):
        return "reverted" if history else "untouched"
    fixed_tags = sorted({*tags, "label_fixed"} - {"label_issue"})
    if now[0]["label"] == target and now[1] == fixed_tags and orig == label and history == ["fix"]:
        return "fixed"
    return f"broken: label {now[0]['label']}, tags {now[1]}, original {orig}, {history}"


@pytest.fixture(scope="module")
def killed(mnist_base):
    """One clone per case with 30 flagged samples (fixed already, for a revert) and a
    worker killed before its n-th write (the workers run at the same time)."""
    runs = {}
    for op, kill_at in CASES:
        ds = mnist_base.clone()
        ds.persistent = True  # the worker process loads it by name
        before = _suggest(ds)
        if op == "revert":
            fix_labels(ds.select(list(before)))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", WORKER, ds.name, op, str(kill_at)]
        proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
        runs[(op, kill_at)] = (ds, before, proc)
    for _, _, proc in runs.values():
        proc.wait(timeout=300)
    yield runs
    for ds, _, _ in runs.values():
        ds.delete()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_killed_fix_or_revert_changes_each_sample_wholly_and_reverts_exactly(killed, case):
    ds, before, proc = killed[case]
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]
    ds.reload()
    ids = list(before)
    states = {i: _state(ds[i], before[i]) for i in ids}
    allowed = {"untouched", "fixed"} if case[0] == "fix" else {"fixed", "reverted"}
    broken = {i: s for i, s in states.items() if s not in allowed}
    assert not broken, f"{len(broken)} half-written samples, e.g. {next(iter(broken.values()))}"
    assert len(set(states.values())) == 2, "the kill fell before the first or after the last write"

    if case[0] == "fix":  # the re-run fixes the rest; a revert restores every sample
        fix_labels(ds.select(ids))
        assert {_state(ds[i], before[i]) for i in ids} == {"fixed"}
    revert_label_fixes(ds.select(ids))
    assert {_state(ds[i], before[i]) for i in ids} == {"reverted"}


def test_fix_and_revert_of_30_samples_in_chunks_restore_exactly(mnist_base, monkeypatch):
    """The same data, not killed: every sample goes untouched -> fixed -> reverted."""
    from classlab.labels import fixes

    monkeypatch.setattr(fixes, "CHUNK", 10)
    ds = mnist_base.clone()
    try:
        before = _suggest(ds)
        ids = list(before)
        assert {_state(ds[i], before[i]) for i in ids} == {"untouched"}
        fix_labels(ds.match_tags("label_issue"))
        assert {_state(ds[i], before[i]) for i in ids} == {"fixed"}
        revert_label_fixes(ds.match_tags("label_fixed"))
        assert {_state(ds[i], before[i]) for i in ids} == {"reverted"}
    finally:
        ds.delete()
