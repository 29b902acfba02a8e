import math

import numpy as np
import pytest
from classlab.curation.tagging import Criteria, count_selection, select_samples, tag_samples
from classlab.errors import EmptyViewError, FieldError, InputError
from support.curation import add_predictions


@pytest.fixture
def scored(mnist_small):
    """Predictions plus hand-made score fields (values known, so selections are exact)."""
    add_predictions(mnist_small, "lenet", seed=1)
    n = len(mnist_small)
    rng = np.random.default_rng(5)
    for field in (
        "clip_embeddings_uniqueness",
        "clip_embeddings_representativeness",
        "lenet_hardness",
        "lenet_mistakenness",
    ):
        mnist_small.set_values(field, rng.random(n).tolist())
    return mnist_small


def _ids_by(view, field, k, highest=True):
    ids, vals = view.values(["id", field])
    order = np.argsort(-np.asarray(vals) if highest else np.asarray(vals), kind="stable")
    return {ids[j] for j in order[:k]}


def test_each_criterion(scored):
    train = scored.match_tags("train")
    wrong = {
        i for i, a, b in zip(*train.values(["id", "lenet.label", "ground_truth.label"])) if a != b
    }
    assert 0 < len(wrong) < 300
    sel = select_samples(scored, Criteria(misclassified=True, split="train"))
    assert set(sel["ids"]) == wrong and sel["counts"] == {"misclassified": len(wrong)}
    top = select_samples(scored, Criteria(unique_top=0.1, split="train"))
    assert set(top["ids"]) == _ids_by(train, "clip_embeddings_uniqueness", 30)
    above = select_samples(scored, Criteria(hardness_above=0.9))
    assert 0 < above["total"] == sum(v > 0.9 for v in scored.values("lenet_hardness"))
    low = select_samples(scored, Criteria(low_confidence_bottom=0.05, split="train"))
    ids, conf, a, b = train.values(["id", "lenet.confidence", "lenet.label", "ground_truth.label"])
    correct = [(c, i) for i, c, x, y in zip(ids, conf, a, b) if x == y]
    k = math.ceil(0.05 * len(correct))
    assert set(low["ids"]) == {i for _, i in sorted(correct)[:k]}
    assert not set(low["ids"]) & wrong


def test_tutorial_selection_is_a_union(scored):
    c = dict(
        misclassified=True,
        unique_top=0.01,
        representative_top=0.01,
        low_confidence_bottom=0.01,
        split="train",
    )
    sel = select_samples(scored, Criteria(**c))
    parts = [
        set(select_samples(scored, Criteria(split="train", **{k: v}))["ids"])
        for k, v in c.items()
        if k != "split"
    ]
    assert set(sel["ids"]) == set().union(*parts)
    assert count_selection(scored, Criteria(**c)) == sel["total"]
    assert set(scored.select(sel["ids"]).distinct("tags")) >= {"train"}
    assert "test" not in scored.select(sel["ids"]).distinct("tags")


def test_tag_and_untag(scored):
    res = tag_samples(scored, Criteria(mistakenness_top=0.1), tag="fixme")
    assert res["tagged"] == 60 and scored.count_sample_tags()["fixme"] == 60
    assert set(scored.match_tags("fixme").values("id")) == _ids_by(scored, "lenet_mistakenness", 60)
    part = tag_samples(scored, Criteria(mistakenness_top=0.05), tag="fixme", untag=True)
    assert part["untagged"] == 30 and scored.count_sample_tags()["fixme"] == 30
    tag_samples(scored, None, tag="fixme", untag=True)
    assert "fixme" not in scored.count_sample_tags()


def test_bad_criteria(scored, unchanged):
    with unchanged(scored):
        for bad in (0, 1, 1.5, -0.1):
            with pytest.raises(InputError, match=r"unique_top must be in \(0, 1\)"):
                tag_samples(scored, Criteria(unique_top=bad))
        with pytest.raises(InputError, match="at least one criterion"):
            tag_samples(scored, Criteria())
        with pytest.raises(EmptyViewError, match="No sample matches"):
            tag_samples(scored, Criteria(hardness_above=5.0))
        with pytest.raises(EmptyViewError, match="split tag 'nosuch'"):
            tag_samples(scored, Criteria(misclassified=True, split="nosuch"))
        with pytest.raises(FieldError, match="compute_sample_scores"):
            tag_samples(scored, Criteria(unique_top=0.1, embeddings_field="lenet_embeddings"))
        with pytest.raises(EmptyViewError, match="nothing to untag"):
            tag_samples(scored, None, untag=True)
        with pytest.raises(InputError, match="non-empty"):
            tag_samples(scored, Criteria(misclassified=True), tag=" ")


def test_one_check_per_parameter(scored, unchanged):
    """The checks the form shows on each field, called directly: they write nothing."""
    from classlab.curation import tagging as tg

    with unchanged(scored):
        assert tg.check_criterion("unique_top", "0.5") == 0.5
        with pytest.raises(InputError, match="hardness_above must be a number"):
            tg.check_criterion("hardness_above", "x")
        assert tg.check_split(scored, "train").count() == 300
        not_read = Criteria(unique_top=0.1, pred_field="nope")
        assert tg.check_label_field(scored, not_read, "pred_field") is None
        with pytest.raises(FieldError, match=r"prediction field \(pred_field\) 'nope'"):
            bad = Criteria(misclassified=True, pred_field="nope")
            tg.check_label_field(scored, bad, "pred_field")
        field = tg.check_score_field(scored, Criteria(unique_top=0.1), "unique_top")
        assert field == "clip_embeddings_uniqueness"
        with pytest.raises(InputError, match="needs embeddings_field"):
            no_source = Criteria(unique_top=0.1, embeddings_field=None)
            tg.check_score_field(scored, no_source, "unique_top")
        with pytest.raises(EmptyViewError, match="No sample matches"):
            tg.check_selection(scored, Criteria(hardness_above=5.0))
    scored.limit(3).tag_samples("fixme")
    assert tg.count_selection(scored, Criteria(), tag="fixme", untag=True) == 3
    assert tg.check_selection(scored, Criteria(misclassified=True)) == len(
        select_samples(scored, Criteria(misclassified=True))["ids"]
    )


def test_split_defaults_to_train_and_counts_per_split(scored, unchanged):
    from classlab.curation import tagging as tg

    with unchanged(scored):
        assert tg.default_split(scored) == "train"
        assert tg.default_split(scored.match_tags("test")) == "train"  # the dataset has one
        assert tg.split_counts(scored) == {"train": 300, "val": 0, "test": 300}
        assert tg.split_counts(scored.limit(5)) == {"train": 5, "val": 0, "test": 0}
    scored.untag_samples("train")
    assert tg.default_split(scored) is None  # no train tag: the whole view


def test_tagging_reports_new_and_total(scored):
    first = tag_samples(scored, Criteria(mistakenness_top=0.05, split="train"), tag="fixme")
    assert first["tagged"] == first["newly_tagged"] == first["with_tag"] == 15
    assert first["split"] == "train" and first["counts"] == {"mistakenness": 15}
    second = tag_samples(scored, Criteria(mistakenness_top=0.1, split="train"), tag="fixme")
    # the top 10% contains the top 5%: 15 of its 30 had the tag already
    assert (second["tagged"], second["newly_tagged"], second["with_tag"]) == (30, 15, 30)
    other = tag_samples(scored, Criteria(hardness_top=0.01, split="test"), tag="fixme")
    assert other["with_tag"] == 30 + other["newly_tagged"]
    out = tag_samples(scored, Criteria(mistakenness_top=0.05, split="train"), "fixme", True)
    assert (out["untagged"], out["newly_untagged"]) == (15, 15)
    assert out["with_tag"] == other["with_tag"] - 15
    assert tag_samples(scored, None, tag="fixme", untag=True)["split"] is None
