import numpy as np
import pytest
import torch
from classlab.errors import DataSourceError, DeviceError, InputError
from classlab.lenet.config import TrainConfig
from classlab.lenet.data import ImageFileDataset, decode_images, detect_channels
from classlab.lenet.models import build_model, num_params
from classlab.lenet.train import fit_tensors, predict

FAST = {"epochs": 2, "batch_size": 64, "num_workers": 2}


def test_classic_lenet_has_61706_params_and_features():
    m = build_model("lenet5", 10, 1, 28)
    assert num_params(m) == 61706
    x = torch.rand(3, 1, 28, 28)
    assert m(x).shape == (3, 10) and m.features(x).shape == (3, 84)
    rgb = build_model("lenet5_modern", 4, in_channels=3, input_size=32)
    assert rgb(torch.rand(2, 3, 32, 32)).shape == (2, 4)
    with pytest.raises(InputError, match="architecture"):
        build_model("resnet")


def test_config_validates():
    with pytest.raises(InputError, match="optimizer"):
        TrainConfig(optimizer="lbfgs").validate()
    with pytest.raises(InputError, match="Unknown training option"):
        TrainConfig.from_dict({"epoch": 3})
    assert TrainConfig.from_dict({"epochs": 3, "lr": None}).lr == TrainConfig().lr


def _tensors(mnist_dir, n=600):
    from classlab.data.mnist import read_mnist

    x, y = read_mnist(mnist_dir)["train"]
    return torch.from_numpy(x[:n].copy())[:, None], torch.from_numpy(y[:n].astype(np.int64))


def test_fit_tensors_learns(mnist_dir):
    x, y = _tensors(mnist_dir)
    res = fit_tensors(
        x[:500], y[:500], x[500:], y[500:], TrainConfig(architecture="lenet5", **FAST), "cpu"
    )
    assert res.history[-1]["val_acc"] > 0.5  # 10 classes: chance is 0.1
    logits, feats = predict(res.model, x[500:], 64, "cpu", features=True)
    assert logits.shape == (100, 10) and feats.shape == (100, 84)


def test_fit_tensors_is_reproducible_on_cpu(mnist_dir):
    x, y = _tensors(mnist_dir, 250)
    cfg = TrainConfig(epochs=1, batch_size=64)  # lenet5_modern with augmentation
    a = fit_tensors(x[:200], y[:200], x[200:], y[200:], cfg, "cpu")
    b = fit_tensors(x[:200], y[:200], x[200:], y[200:], cfg, "cpu")
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a.history]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b.history]
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_early_stopping_keeps_best_epoch(mnist_dir):
    x, y = _tensors(mnist_dir, 300)
    # validation labels that have nothing to do with the images: as the model learns the
    # train labels, its validation loss rises, and training stops early
    y_val = torch.roll(y[200:], 1)
    cfg = TrainConfig(epochs=8, patience=1, lr=0.01, schedule="constant", batch_size=32)
    res = fit_tensors(x[:200], y[:200], x[200:], y_val, cfg, "cpu")
    losses = [r["val_loss"] for r in res.history]
    assert res.stopped_early and len(res.history) < 8
    assert losses[res.best_epoch - 1] == min(losses)


def test_diverging_training_stops_with_a_clear_error(mnist_dir):
    from classlab.lenet.train import TrainingDivergedError

    x, y = _tensors(mnist_dir, 300)
    cfg = TrainConfig(epochs=8, lr=5.0, optimizer="sgd", schedule="constant", batch_size=32)
    with pytest.raises(TrainingDivergedError, match=r"diverged at epoch \d+: lower the learning"):
        fit_tensors(x[:200], y[:200], x[200:], y[200:], cfg, "cpu")
    assert issubclass(TrainingDivergedError, InputError)


def test_decode_paths(mnist_base, tmp_path):
    paths = mnist_base.limit(20).values("filepath")
    x = decode_images(paths, 1, 28, workers=2)
    assert x.dtype == torch.uint8 and x.shape == (20, 1, 28, 28)
    assert torch.equal(ImageFileDataset(paths, [0] * 20)[3][0], x[3])
    assert detect_channels(paths) == 1
    assert decode_images(paths[:2], 3, 32).shape == (2, 3, 32, 32)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataSourceError, match="Cannot read image"):
        decode_images(paths[:2] + [str(bad)], 1, 28)


def test_cuda_without_gpu_is_a_device_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from classlab.config import resolve_device

    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    from classlab.lenet import registry

    path = tmp_path / "m.pt"
    registry.save_checkpoint(path, {"classes": ["a"], "state_dict": {}})
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError):
        registry.save_checkpoint(path, {"classes": ["b"]})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("epochs", 0, "epochs must be a positive integer"),
        ("epochs", 2.5, "epochs must be a positive integer"),
        ("epochs", "abc", "epochs must be a positive integer"),
        ("epochs", 10**9, "epochs must be at most max_epochs=1000"),
        ("weight_decay", float("nan"), "weight_decay must be a number in"),
        ("lr", float("inf"), "lr must be a positive number"),
        ("seed", float("inf"), "seed must be an integer"),
        ("optimizer", "lbfgs", "optimizer must be one of adamw, adam, sgd"),
        ("amp", "yes", "amp must be true or false"),
        ("batch_size", True, "batch_size must be a positive integer"),
        ("lr", float("nan"), "lr must be a positive number"),
        ("patience", -1, "patience must be an integer >= 0"),
        ("dropout", 1.0, r"dropout must be a number in \[0, 1\)"),
        ("in_channels", 2, "in_channels must be 1, 3 or empty"),
        ("epoch", 3, "Unknown training option 'epoch'"),
    ],
)
def test_check_option_names_the_option(name, value, match):
    from classlab.lenet.config import check_option

    with pytest.raises(InputError, match=match):
        check_option(name, value)
    if name != "epoch":  # validate() applies the same rule, with the same message
        with pytest.raises(InputError, match=match):
            TrainConfig(**{name: value}).validate()


def test_registry_checks_are_pure_and_name_the_parameter():
    from classlab.errors import RunExistsError, RunNotFoundError
    from classlab.lenet.registry import check_new_run_key, require_model

    models = {"a": {}, "b": {}}
    assert require_model(models, "a") == "a"
    with pytest.raises(RunNotFoundError, match="pick another init_from .models: a, b"):
        require_model(models, "zz", "init_from")
    with pytest.raises(RunNotFoundError, match="No model on this dataset yet"):
        require_model({}, "a")
    assert check_new_run_key("a", models, overwrite=True) == "a"
    with pytest.raises(RunExistsError, match="Pick another new_key"):
        check_new_run_key("a", models, param="new_key")
    for bad in ("x/y", "_..", "/anywhere/else/evil", ".hidden", ""):
        with pytest.raises(InputError, match=f"run_key={bad!r} is not a valid key"):
            check_new_run_key(bad, models)
