"""fix_labels / mark_labels_ok / revert_label_fixes: history, originals, tags, exact undo."""

from __future__ import annotations

import fiftyone as fo
import pytest
from classlab.errors import EmptyViewError, InputError
from classlab.labels import fix_labels, mark_labels_ok, revert_label_fixes
from classlab.labels.fixes import history_field, original_field


def _suggest(ds, n=5):
    """Suggested labels (another class) and the label_issue tag on the first ``n`` samples."""
    view = ds.limit(n)
    ids, gt = view.values(["id", "ground_truth.label"])
    classes = sorted(ds.distinct("ground_truth.label"))
    other = {i: classes[(classes.index(g) + 1) % len(classes)] for i, g in zip(ids, gt)}
    ds.set_values(
        "suggested_label",
        {i: fo.Classification(label=c, confidence=0.9) for i, c in other.items()},
        key_field="id",
    )
    view.tag_samples("label_issue")
    return ids, other


def _docs(ds, ids):
    return [ds[i].ground_truth.to_dict() for i in ids]


def test_fix_accepts_suggestions_keeps_history_and_reverts_exactly(mnist_small):
    ds = mnist_small
    ids, other = _suggest(ds)
    before, tags_before = _docs(ds, ids), {i: sorted(ds[i].tags) for i in ids}
    res = fix_labels(ds.select(ids[:3]))
    assert res["fixed"] == 3 and res["skipped"] == 0
    for i in ids[:3]:
        s = ds[i]
        assert s.ground_truth.label == other[i]
        assert s[original_field("ground_truth")].to_dict() == before[ids.index(i)]
        (entry,) = s[history_field("ground_truth")]
        assert entry["action"] == "fix" and entry["source"] == "suggested_label"
        assert entry["from"] != entry["to"] == other[i] and entry["time"]
        assert "label_fixed" in s.tags and "label_issue" not in s.tags
    assert ds[ids[3]].ground_truth.to_dict() == before[3]  # not selected: unchanged
    # a second fix to a chosen class keeps the first original
    fix_labels(ds.select(ids[:1]), label=before[4]["label"])
    assert ds[ids[0]][original_field("ground_truth")].to_dict() == before[0]
    assert len(ds[ids[0]][history_field("ground_truth")]) == 2
    out = revert_label_fixes(ds.match_tags("label_fixed"))
    assert out["reverted"] == 3
    assert _docs(ds, ids) == before  # label, id and attributes restored exactly
    assert {i: sorted(ds[i].tags) for i in ids} == tags_before
    assert ds[ids[0]][history_field("ground_truth")][-1]["action"] == "revert"
    assert ds.count(original_field("ground_truth")) == 0
    with pytest.raises(EmptyViewError, match="revert"):
        revert_label_fixes(ds.select(ids))


def test_keep_marks_label_ok_and_fix_checks_its_class(mnist_small, unchanged):
    ds = mnist_small
    ids, _ = _suggest(ds, 2)
    res = mark_labels_ok(ds.select(ids[:1]))
    assert res["kept"] == 1
    s = ds[ids[0]]
    assert "label_ok" in s.tags and "label_issue" not in s.tags
    assert s[history_field("ground_truth")][-1]["action"] == "keep"
    with unchanged(ds):
        with pytest.raises(InputError, match="not a class"):
            fix_labels(ds.select(ids), label="no such class")
        with pytest.raises(EmptyViewError, match="find_label_issues"):
            fix_labels(ds.exists("suggested_label", False).limit(3))
