import fiftyone as fo
import pytest
from classlab.data.splits import split_assignment, split_dataset
from classlab.errors import EmptyViewError, FieldError, InputError


def test_assignment_is_stratified_seeded_and_complete():
    labels = ["a"] * 100 + ["b"] * 50 + [None] * 10
    fr = {"train": 0.7, "val": 0.2, "test": 0.1}
    out = split_assignment(labels, fr, seed=3)
    assert out == split_assignment(labels, fr, seed=3)
    assert out != split_assignment(labels, fr, seed=4)
    assert (out.count("train"), out.count("val"), out.count("test")) == (112, 32, 16)
    for lab, n in (("a", 100), ("b", 50), (None, 10)):
        got = [t for t, x in zip(out, labels) if x == lab]
        for tag, f in fr.items():
            assert abs(got.count(tag) - f * n) <= 1, (lab, tag, got.count(tag))
    assert None not in out


def test_partial_fractions_leave_remainder_untagged():
    out = split_assignment(["x"] * 10, {"train": 0.5})
    assert out.count("train") == 5 and out.count(None) == 5


@pytest.mark.parametrize(
    "fractions, match",
    [
        ({"train": 0.8, "val": 0.3}, "sum to at most 1"),
        ({"train": 0.0}, r"\(0, 1\]"),
        ({"train": -0.2}, r"\(0, 1\]"),
        ({}, "at least one"),
    ],
)
def test_bad_fractions(mnist_small, unchanged, fractions, match):
    with unchanged(mnist_small):
        with pytest.raises(InputError, match=match):
            split_dataset(mnist_small.match_tags("train"), fractions, overwrite=True)


def test_split_refuses_existing_tags_then_overwrites(mnist_small, unchanged):
    train = mnist_small.match_tags("train")
    with unchanged(mnist_small):
        with pytest.raises(InputError, match="overwrite=True"):
            split_dataset(train, {"train": 0.8, "val": 0.2})
    counts = split_dataset(train, {"train": 0.8, "val": 0.2}, overwrite=True)
    assert counts == {"train": 240, "val": 60}
    assert mnist_small.count_sample_tags() == {"train": 240, "val": 60, "test": 300}


def test_overwrite_without_test_fraction_clears_old_test_tags(mnist_small, unchanged):
    """A re-split with test fraction 0 removes every split tag it manages (train/val/test)
    from the samples it moves: no sample ends with two split tags."""
    with unchanged(mnist_small), pytest.raises(InputError, match="test: 300"):
        split_dataset(mnist_small, {"train": 0.8, "val": 0.2})
    counts = split_dataset(mnist_small, {"train": 0.8, "val": 0.2}, overwrite=True)
    assert counts == {"train": 480, "val": 120}
    assert mnist_small.count_sample_tags() == {"train": 480, "val": 120}
    assert mnist_small.match_tags(["train", "val", "test"], all=True).count() == 0
    assert mnist_small.match_tags("train").match_tags(["val", "test"]).count() == 0


def test_split_any_dataset_and_bad_fields(tmp_path, dataset_name, unchanged):
    ds = fo.Dataset(dataset_name)
    ds.add_samples(
        [
            fo.Sample(filepath=str(tmp_path / f"{i}.jpg"), label=fo.Classification(label=c))
            for i, c in enumerate(["cat", "dog", "bird"] * 20)
        ]
        + [fo.Sample(filepath=str(tmp_path / "x.jpg"), other=fo.Detections())]
    )
    with unchanged(ds):
        with pytest.raises(FieldError, match="does not exist.*label"):
            split_dataset(ds, label_field="ground_truth")
        with pytest.raises(FieldError, match="not hold Classification"):
            split_dataset(ds, label_field="other")
        with pytest.raises(EmptyViewError):
            split_dataset(ds.limit(0), label_field="label")
    counts = split_dataset(ds, {"train": 0.5, "val": 0.25, "test": 0.25}, label_field="label")
    assert sum(counts.values()) == 61
    assert all(
        abs(counts[t] - f * 61) <= 1 for t, f in (("train", 0.5), ("val", 0.25), ("test", 0.25))
    )
    for cls in ("cat", "dog", "bird"):
        assert ds.match(fo.ViewField("label.label") == cls).count_sample_tags()["train"] == 10


@pytest.mark.parametrize("value", [0, 1.5, -0.1, float("nan"), "half", None])
def test_check_fraction_names_the_split(value):
    from classlab.data.splits import check_fraction

    with pytest.raises(InputError, match=r"The val fraction must be in \(0, 1\]"):
        check_fraction("val", value)
    assert check_fraction("val", "0.25") == 0.25


def test_split_form_opens_valid_on_a_partly_split_dataset(mnist_small, dataset_name):
    """Re-split is pre-checked where the view has split tags (the App fills in the
    default, so the form opens valid), and off where it has none."""
    from support.forms import errors, form

    shown = form("split_dataset", mnist_small, {})
    assert shown.properties["overwrite"].default is True
    assert errors(form("split_dataset", mnist_small, {"overwrite": True})) == {}
    fresh = mnist_small.clone(dataset_name)
    fresh.untag_samples(["train", "val", "test"])
    assert form("split_dataset", fresh, {}).properties["overwrite"].default is False
    assert errors(form("split_dataset", fresh, {})) == {}
