import numpy as np
import pytest
from classlab import records
from classlab.curation import scores
from classlab.errors import EmptyViewError, FieldError, InputError
from support.curation import add_embeddings, add_predictions


def test_all_four_scores_in_one_call(mnist_small):
    add_predictions(mnist_small, "lenet")
    add_embeddings(mnist_small, "lenet_embeddings")
    seen = []
    out = scores.compute_sample_scores(
        mnist_small,
        scores=["hardness", "mistakenness", "uniqueness", "representativeness"],
        pred_field="lenet",
        embeddings_field="lenet_embeddings",
        progress=lambda f, label: seen.append(f),
    )
    assert out == {
        "hardness": "lenet_hardness",
        "mistakenness": "lenet_mistakenness",
        "uniqueness": "lenet_embeddings_uniqueness",
        "representativeness": "lenet_embeddings_representativeness",
    }
    assert set(out.values()) <= set(mnist_small.list_brain_runs())
    for field in out.values():
        values = mnist_small.values(field)
        assert None not in values and len(values) == 600
    # hardness is the entropy of softmax(logits): check one sample by hand
    s = mnist_small.first()
    z = np.asarray(s.lenet.logits)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    assert s.lenet_hardness == pytest.approx(float(-(p * np.log(p)).sum()), rel=1e-5)
    # wrong predictions are more "mistaken" on average than right ones
    right_m = [
        m
        for m, a, b in zip(
            *mnist_small.values(["lenet_mistakenness", "lenet.label", "ground_truth.label"])
        )
        if a == b
    ]
    wrong_m = [
        m
        for m, a, b in zip(
            *mnist_small.values(["lenet_mistakenness", "lenet.label", "ground_truth.label"])
        )
        if a != b
    ]
    assert np.mean(wrong_m) > np.mean(right_m)
    assert seen and seen[-1] == 1.0
    rec = records.get_record(mnist_small, "scores", "lenet_hardness")
    assert rec["source_field"] == "lenet" and rec["num_samples"] == 600


def test_scores_rerun_and_subset(mnist_small):
    add_predictions(mnist_small, "clip_zero_shot", seed=3)
    train = mnist_small.match_tags("train")
    assert scores.compute_sample_scores(
        train, ["hardness"], pred_field="clip_zero_shot", embeddings_field=None
    ) == {"hardness": "clip_zero_shot_hardness"}
    assert scores.compute_hardness(train, "clip_zero_shot") == "clip_zero_shot_hardness"
    assert mnist_small.match_tags("test").exists("clip_zero_shot_hardness").count() == 0
    assert train.exists("clip_zero_shot_hardness").count() == 300


def test_mistakenness_without_logits_uses_confidence(mnist_small):
    add_predictions(mnist_small, "lenet", logits=False)
    assert scores.compute_mistakenness(mnist_small, "lenet") == "lenet_mistakenness"
    assert records.get_record(mnist_small, "scores", "lenet_mistakenness")["use_logits"] is False


def test_hardness_without_logits(mnist_small, unchanged):
    add_predictions(mnist_small, "lenet", logits=False)
    with unchanged(mnist_small):
        with pytest.raises(FieldError, match="needs logits"):
            scores.compute_hardness(mnist_small, "lenet")
        with pytest.raises(FieldError, match="needs logits"):
            scores.compute_sample_scores(mnist_small, ["mistakenness", "hardness"], "lenet")


def test_uniqueness_without_embeddings_never_downloads(mnist_small, unchanged):
    with unchanged(mnist_small):
        with pytest.raises(FieldError, match="compute_clip_embeddings.*apply_lenet"):
            scores.compute_uniqueness(mnist_small, "clip_embeddings")
        with pytest.raises(FieldError, match="needs an embeddings field"):
            scores.compute_sample_scores(mnist_small, ["uniqueness"], embeddings_field=None)
    # some samples without an embedding: brain would embed them with a zoo model
    add_embeddings(mnist_small, "clip_embeddings", view=mnist_small.match_tags("train"))
    with unchanged(mnist_small):
        with pytest.raises(FieldError, match="300 sample"):
            scores.compute_representativeness(mnist_small, "clip_embeddings")


def test_other_bad_inputs(mnist_small, unchanged):
    add_predictions(mnist_small, "lenet")
    add_embeddings(mnist_small, "clip_embeddings")
    with unchanged(mnist_small):
        with pytest.raises(InputError, match="Unknown score"):
            scores.compute_sample_scores(mnist_small, ["hardness", "beauty"])
        with pytest.raises(InputError, match="at least one score"):
            scores.compute_sample_scores(mnist_small, [])
        with pytest.raises(EmptyViewError):
            scores.compute_sample_scores(mnist_small.limit(0), ["hardness"])
        with pytest.raises(FieldError, match="does not exist"):
            scores.compute_hardness(mnist_small, "nope")
        with pytest.raises(InputError, match="needs at least that many"):
            scores.compute_representativeness(mnist_small.limit(10))


@pytest.mark.parametrize("logits", [True, False])
def test_hardness_and_mistakenness_equal_brains_own(mnist_small, logits):
    """ClassLab's vectorised hardness/mistakenness give brain's per-sample values,
    including samples without a prediction, and register the same brain runs."""
    import fiftyone.brain as fob

    add_predictions(mnist_small, "lenet", logits=logits, accuracy=0.7)
    gone = mnist_small.take(20, seed=3)
    gone.set_field("lenet", None).save()  # samples without a prediction
    no_gt = mnist_small.exists("lenet").take(10, seed=4)
    no_gt.set_field("ground_truth", None).save()  # predictions without ground truth
    pred_scores = ["mistakenness"] + (["hardness"] if logits else [])
    ours = scores.compute_sample_scores(mnist_small, pred_scores, pred_field="lenet")
    fob.compute_mistakenness(
        mnist_small,
        "lenet",
        label_field="ground_truth",
        mistakenness_field="b_mist",
        use_logits=logits,
    )
    pairs = [(ours["mistakenness"], "b_mist")]
    if logits:
        fob.compute_hardness(mnist_small, "lenet", hardness_field="b_hard")
        pairs.append((ours["hardness"], "b_hard"))
    for mine, brains in pairs:
        a, b = mnist_small.values([mine, brains])
        assert [x is None for x in a] == [x is None for x in b]
        assert sum(x is None for x in a) == (20 if mine.endswith("hardness") else 0)
        np.testing.assert_allclose(
            [x for x in a if x is not None], [x for x in b if x is not None], rtol=1e-12
        )
        info, binfo = mnist_small.get_brain_info(mine), mnist_small.get_brain_info(brains)
        assert type(info.config) is type(binfo.config)
    # a prediction-less sample is certainly "mistaken" for brain and for ClassLab
    assert set(gone.values(ours["mistakenness"])) == {1.0}
    # the run can be deleted like brain's own (field and all)
    mnist_small.delete_brain_run(ours["mistakenness"])
    assert not mnist_small.has_field(ours["mistakenness"])
