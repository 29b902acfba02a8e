"""The main job over the core API: one CLIP model per run, typed outcomes, resumable."""

import fiftyone as fo
import pytest
from classlab import defaults
from classlab.job import outcomes
from classlab.job.workflow import Workflow, WorkflowConfig, run_workflow


def _statuses(report):
    return {r.name: r.status for r in report.results}


@pytest.fixture
def count_clip_loads(monkeypatch):
    """Wraps the real ``classlab.clip.models.load_clip``; returns the list of loads."""
    import classlab.clip.models as models

    loads, real = [], models.load_clip

    def counting(spec, *args, **kwargs):
        loads.append(spec)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(models, "load_clip", counting)
    return loads


def test_a_run_with_clip_loads_the_model_once(mnist_dir, dataset_name, count_clip_loads):
    from support.tiny_clip import register_tiny_clip

    steps = ["load_mnist", "split", "clip_embeddings", "zero_shot"]
    cfg = WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=30,
        device="cpu",
        clip_model=register_tiny_clip(),
        clip_random_weights=True,
        viz_method="pca",
        only=steps,
    )
    report = run_workflow(cfg)
    assert _statuses(report) == dict.fromkeys(steps, "done"), report.summary()
    # embeddings and zero-shot: one model, loaded once, for both steps
    assert len(count_clip_loads) == 1 and count_clip_loads[0].random_weights
    embedded, classified = report.results[2].data, report.results[3].data
    assert isinstance(embedded, outcomes.Embedded) and embedded.num_embedded == 60
    assert (embedded.viz_key, embedded.sim_key) == (defaults.CLIP_VIZ_KEY, defaults.CLIP_SIM_KEY)
    assert isinstance(classified, outcomes.Classified)
    # zero-shot reused the stored embeddings instead of encoding the images again
    assert classified.num_predicted == classified.num_reused_embeddings == 60
    assert 0.0 <= classified.accuracy <= 1.0
    assert "RANDOM WEIGHTS" in report.results[3].message

    # done: a second run loads nothing and skips every step
    again = run_workflow(cfg)
    assert _statuses(again) == dict.fromkeys(steps, "skipped")
    assert len(count_clip_loads) == 1


def test_the_cache_is_the_runs(mnist_dir, dataset_name, count_clip_loads):
    from classlab.clip import ModelCache
    from support.tiny_clip import register_tiny_clip

    cache = ModelCache()
    cfg = WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=20,
        device="cpu",
        clip_model=register_tiny_clip(),
        clip_random_weights=True,
        viz_method="pca",
        only=["load_mnist", "zero_shot"],
    )
    assert Workflow(cfg, cache).clip.cache is cache
    assert _statuses(run_workflow(cfg, clip_cache=cache)) == {
        "load_mnist": "done",
        "zero_shot": "done",
    }
    assert len(cache) == 1 and len(count_clip_loads) == 1
    # a later step of the same caller with the same cache: no second load
    fo.load_dataset(dataset_name).delete_sample_field(defaults.CLIP_ZERO_SHOT)
    assert _statuses(run_workflow(cfg, clip_cache=cache))["zero_shot"] == "done"
    assert len(count_clip_loads) == 1


def test_a_second_run_resumes_where_the_first_stopped(mnist_dir, dataset_name):
    base = dict(dataset_name=dataset_name, mnist_dir=str(mnist_dir), subset=60, device="cpu")
    first = run_workflow(WorkflowConfig(**base, only=["load_mnist", "split"]))
    assert _statuses(first) == {"load_mnist": "done", "split": "done"}
    assert first.results[1].data == outcomes.Split({"train": 54, "val": 6})

    steps = ["load_mnist", "split", "train_lenet"]
    second = run_workflow(WorkflowConfig(**base, epochs=1, only=steps))
    assert _statuses(second) == {"load_mnist": "skipped", "split": "skipped", "train_lenet": "done"}
    trained = second.results[2].data
    assert isinstance(trained, outcomes.Trained)
    assert trained.run_key == defaults.MODEL_V1 and trained.epochs_run == 1
    assert second.results[2].message.startswith(f"{defaults.MODEL_V1}: 1 epochs")

    third = run_workflow(WorkflowConfig(**base, epochs=1, only=steps))
    assert _statuses(third) == dict.fromkeys(steps, "skipped")
    assert all(r.data is None for r in third.results)
    ds = fo.load_dataset(dataset_name)
    assert ds.count_sample_tags() == {"train": 54, "val": 6, "test": 60}
