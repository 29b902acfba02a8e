"""Score fields are indexed (the App's grid can sort by them), idempotently, and the
index goes with the field."""

from classlab.curation.indexes import delete_score_fields, drop_score_indexes, ensure_score_indexes
from support.curation import add_embeddings, add_predictions


def _indexed(ds) -> set:
    return {i["key"][0][0] for i in ds.get_index_information().values() if len(i["key"]) == 1}


def test_every_score_field_is_indexed_once_and_dropped_with_the_field(mnist_small):
    from classlab.curation.scores import compute_hardness, compute_sample_scores

    add_predictions(mnist_small, "lenet", seed=3)
    add_embeddings(mnist_small, "clip_embeddings", dim=8, seed=3)
    fields = compute_sample_scores(mnist_small, pred_field="lenet")
    assert set(fields.values()) <= _indexed(mnist_small)  # all four, sortable
    n_indexes = len(mnist_small.list_indexes())
    assert ensure_score_indexes(mnist_small, fields.values()) == []  # idempotent
    compute_hardness(mnist_small.limit(50), "lenet")  # a rewrite adds no second index
    assert len(mnist_small.list_indexes()) == n_indexes
    # a sorted view uses the index: MongoDB plans an index scan, not an in-memory sort
    plan = mnist_small._dataset._sample_collection.find().sort("lenet_hardness", -1).explain()
    assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"])

    gone = delete_score_fields(mnist_small, ["lenet_hardness", "nosuch"])
    assert gone == ["lenet_hardness"] and not mnist_small.has_field("lenet_hardness")
    assert "lenet_hardness" not in _indexed(mnist_small)
    assert "lenet_hardness" not in mnist_small.list_brain_runs()
    assert drop_score_indexes(mnist_small, ["lenet_mistakenness"]) == ["lenet_mistakenness"]
    assert ensure_score_indexes(mnist_small.limit(3), ["lenet_mistakenness", None]) == [
        "lenet_mistakenness"
    ]
