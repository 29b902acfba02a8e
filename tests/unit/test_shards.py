"""classlab.shards without workers: id-range planning and the group's done-marking."""

from __future__ import annotations

import pytest


def test_plan_shards_disjoint_covering_stable(mnist_small):
    from classlab import shards

    view = mnist_small.match_tags("test").limit(30)
    ranges = shards.plan_shards(view, 4)
    assert [r.count for r in ranges] == [7, 8, 7, 8]
    parts = [shards.shard_view(view, r.lo, r.hi).values("id") for r in ranges]
    assert [len(p) for p in parts] == [7, 8, 7, 8]
    flat = [i for p in parts for i in p]
    assert sorted(flat) == sorted(view.values("id")) and len(set(flat)) == 30
    assert shards.plan_shards(view, 4) == ranges  # stable for the same samples
    assert len(shards.plan_shards(view.limit(3), 8)) == 3  # never an empty shard
    with pytest.raises(Exception, match="shards must be a whole number"):
        shards.plan_shards(view, 0)


def test_exactly_one_shard_runs_the_final_step(mnist_small):
    from classlab import shards

    ranges = shards.plan_shards(mnist_small, 3)
    group = shards.start_group(mnist_small, "op", len(ranges), ranges)
    firsts = [shards.mark_done(mnist_small, group, i, {"n": i}) for i in (2, 0)]
    assert firsts == [False, False]
    assert shards.mark_done(mnist_small, group, 1) is True
    assert shards.mark_done(mnist_small, group, 1) is False  # a rerun shard: not again
    status = shards.group_status(mnist_small, group)
    assert status["done"] == [0, 1, 2] and status["final"] is not None
    shards.record_final(mnist_small, group, {"accuracy": 0.5})
    final = shards.group_status(mnist_small, group)["final"]
    assert final["result"] == {"accuracy": 0.5}
