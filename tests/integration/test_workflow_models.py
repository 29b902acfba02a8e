"""The main job's ``--models`` through the command line: a tiny torchvision ResNet-18 and
the linear probe next to LeNet-5, in the JSON steps, the comparison and the summary."""

import json

import fiftyone as fo
from classlab.job.cli import main
from classlab.lenet.registry import list_models

STEPS = ["load_mnist", "split", "train_lenet", "apply_lenet", "extra_models", "linear_probe"]
STEPS += ["compare"]


def _main(mnist_dir, name, out, *extra):
    return main(
        [
            "--headless",
            "--dataset",
            name,
            "--mnist-dir",
            str(mnist_dir),
            "--subset",
            "40",
            "--no-clip",
            "--device",
            "cpu",
            "--epochs",
            "1",
            "--json",
            str(out),
            "--only",
            *STEPS,
            *extra,
        ]
    )


def test_cli_models_resnet18_and_probe(mnist_dir, dataset_name, tmp_path, capsys):
    out = tmp_path / "steps.json"
    assert _main(mnist_dir, dataset_name, out, "--models", "resnet18,probe") == 0
    text = capsys.readouterr().out
    got = json.loads(out.read_text())
    steps = {s["name"]: s for s in got["steps"]}
    assert list(steps) == STEPS and all(s["status"] == "done" for s in steps.values())
    resnet, probe = steps["extra_models"]["data"], steps["linear_probe"]["data"]
    assert (resnet["name"], resnet["run_key"], resnet["field"]) == (
        "resnet18",
        "resnet18_v1",
        "resnet18",
    )
    assert resnet["num_params"] > 10**7 and resnet["train_seconds"] > 0  # ResNet-18: 11 M
    assert probe["field"] == "lenet_probe" and probe["embeddings_field"] == "lenet_embeddings"
    for m in (resnet, probe):
        assert m["num_evaluated"] == 80 and 0 <= m["accuracy"] <= 1
    cmp = got["comparison"]
    assert set(cmp["accuracy"]) == {"lenet", "resnet18", "lenet_probe"}
    assert cmp["models"]["resnet18"]["num_params"] == resnet["num_params"]
    assert cmp["lines"][-1].startswith("extra models (test accuracy): resnet18 ")
    assert cmp["lines"][-1] in text and "resnet18_v1" not in cmp["lines"][-1]
    ds = fo.load_dataset(dataset_name)
    rec = list_models(ds)["resnet18_v1"]
    assert rec["architecture"] == "resnet18" and rec["applied_to"] == ["resnet18"]
    assert ds.has_evaluation("eval_resnet18") and ds.has_evaluation("eval_lenet_probe")

    # again: nothing to do but compare
    assert _main(mnist_dir, dataset_name, out, "--models", "resnet18,probe") == 0
    steps = {s["name"]: s["status"] for s in json.loads(out.read_text())["steps"]}
    assert steps == {**dict.fromkeys(STEPS, "skipped"), "compare": "done"}
