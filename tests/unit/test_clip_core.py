"""CLIP core: templates, prompt names, model loading, loader options, open_clip equality."""

import ast
import inspect
import time
from pathlib import Path

import numpy as np
import pytest
from classlab import defaults
from classlab.clip import (
    ClipSpec,
    LoaderOptions,
    ModelCache,
    build_text_classifier,
    check_run,
    check_spec,
    clip_weights_problem,
    compute_clip_embeddings,
    derive_prompt_name,
    is_checkpoint_path,
    load_clip,
    parse_prompt_names,
    resolve_templates,
    zero_shot_classify,
    zero_shot_logits,
)
from classlab.clip.images import encode_images, to_rgb
from classlab.clip.prompts import resolve_prompt_names
from classlab.errors import DataSourceError, DeviceError, InputError
from support.tiny_clip import register_tiny_clip

ROOT = Path(__file__).resolve().parents[2]
CLIP_SOURCES = [*sorted((ROOT / "plugins/classlab/clip").glob("*.py")), ROOT / "operators/clip.py"]


@pytest.fixture(scope="module")
def tiny():
    return register_tiny_clip()


@pytest.fixture(scope="module")
def tiny_loaded(tiny):
    return load_clip(check_spec(tiny, None, random_weights=True), "cpu")


def test_template_sets_and_checks():
    assert resolve_templates("tutorial") == ["A photo of {}"]
    assert resolve_templates("mnist") == ['a photo of the number: "{}".']
    assert len(resolve_templates("generic")) >= 3
    assert resolve_templates("mnist", ["x {} y"]) == ["x {} y"]
    for bad in (["no slot"], ["{} and {}"], ["{0} named"], ["{c} named"], ["{} {oops}"]):
        with pytest.raises(InputError, match="slot|braces"):
            resolve_templates(templates=bad)
    with pytest.raises(InputError, match="Unknown template set"):
        resolve_templates("nope")


def test_prompt_names():
    assert derive_prompt_name("0 - zero") == "0"
    assert derive_prompt_name("0 - zero", "last") == "zero"
    assert derive_prompt_name("0 - zero", "both") == "0 (zero)"
    assert derive_prompt_name("golden_retriever") == "golden retriever"
    assert derive_prompt_name("golden_retriever", "label") == "golden_retriever"
    names = resolve_prompt_names(["0 - zero", "1 - one"], {"1 - one": "one"})
    assert names == ["0", "one"]
    with pytest.raises(InputError, match="unknown classes"):
        resolve_prompt_names(["0 - zero", "1 - one"], {"7 - seven": "7"})
    with pytest.raises(InputError, match="indistinguishable"):
        resolve_prompt_names(["0 - zero", "1 - one"], {"1 - one": "0"})
    # text forms (the operators pass the form's text through)
    assert parse_prompt_names('{"1 - one": "one"}') == {"1 - one": "one"}
    assert parse_prompt_names("0 - zero: nought; 1 - one: one") == {
        "0 - zero": "nought",
        "1 - one": "one",
    }
    assert resolve_prompt_names(["0 - zero", "1 - one"], "1 - one: uno") == ["0", "uno"]
    with pytest.raises(InputError, match="prompt_names is not a JSON object"):
        parse_prompt_names('{"1 - one": ')
    with pytest.raises(InputError, match="is not 'class: name'"):
        parse_prompt_names("1 - one = one")


def test_check_spec_rejects_bad_models(tiny):
    with pytest.raises(InputError, match="model_name 'ViT-B-33' is not a known.*ViT-B-32"):
        check_spec("ViT-B-33", "laion2b_s34b_b79k")
    with pytest.raises(InputError, match="Unknown pretrained tag 'laion9b'.*laion2b_s34b_b79k"):
        check_spec("ViT-B-32", "laion9b")
    with pytest.raises(InputError, match="does not exist"):
        check_spec("ViT-B-32", "/nowhere/model.pt")
    with pytest.raises(InputError, match="random_weights=True"):
        check_spec("ViT-B-32", "")
    with pytest.raises(InputError, match="precision"):
        check_spec("ViT-B-32", "openai", precision="fp8")
    spec = check_spec(tiny, "ignored", random_weights=True)
    assert spec.random_weights and spec.pretrained is None
    assert check_spec("hf-hub:org/repo", "x").pretrained is None


def test_named_tag_offline_gives_clear_error_quickly():
    spec = check_spec("ViT-B-32", "laion2b_s34b_b79k")
    start = time.monotonic()
    with pytest.raises(DataSourceError) as err:
        load_clip(spec, "cpu")
    assert time.monotonic() - start < 60
    msg = str(err.value)
    assert "ViT-B-32 / laion2b_s34b_b79k" in msg and "could not download" in msg.lower()
    assert "pretrained='/path/to/" in msg and "HF_HOME" in msg


def test_devices_and_precision(tiny):
    import torch

    spec = check_spec(tiny, None, random_weights=True)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            load_clip(spec, "cuda")
        with pytest.raises(InputError, match="fp16"):
            load_clip(check_spec(tiny, None, True, "fp16"), "cpu")
    bf16 = load_clip(check_spec(tiny, None, True, "bf16"), "cpu")
    ref = load_clip(spec, "cpu")
    tokens = ref.tokenizer(["a photo of 3"])
    with torch.no_grad(), bf16.autocast():
        low = bf16.model.encode_text(tokens, normalize=True).float()
    high = ref.model.encode_text(tokens, normalize=True)
    assert torch.allclose(low, high, atol=0.05) and not torch.equal(low, high)


def test_model_cache_loads_once(tiny):
    cache = ModelCache()
    spec = check_spec(tiny, None, random_weights=True)
    a = cache.get(spec, "auto")
    assert cache.get(spec, "cpu") is a and len(cache) == 1
    # random weights are seeded: a second load is the same model
    b = load_clip(spec, "cpu")
    assert all(
        np.array_equal(p.detach().numpy(), q.detach().numpy())
        for p, q in zip(a.model.parameters(), b.model.parameters())
    )


def test_local_checkpoint_file(tiny, tiny_loaded, tmp_path):
    import torch

    state = {k: v + 0.01 for k, v in tiny_loaded.model.state_dict().items()}
    path = tmp_path / "tiny.pt"
    torch.save(state, path)
    spec = check_spec(tiny, str(path))
    assert spec.pretrained == str(path) and not spec.random_weights
    loaded = load_clip(spec, "cpu")
    assert torch.allclose(loaded.model.state_dict()["logit_scale"], state["logit_scale"])
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataSourceError, match="could not be loaded into"):
        load_clip(check_spec(tiny, str(bad)), "cpu")


def test_to_rgb_modes():
    from PIL import Image

    gray16 = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    assert np.asarray(to_rgb(gray16)).min() == 255
    gray = Image.fromarray(np.full((4, 4), 77, np.uint8), mode="L")
    out = np.asarray(to_rgb(gray))
    assert out.shape == (4, 4, 3) and (out == 77).all()
    rgba = Image.new("RGBA", (2, 2), (255, 0, 0, 0))
    assert np.asarray(to_rgb(rgba)).max() == 0  # transparent -> black background


def _reference_logits(loaded, paths, classnames, templates):
    """open_clip's own pipeline: its classifier builder, its transform, 100-style logits."""
    import open_clip
    import torch
    from PIL import Image

    clf = open_clip.build_zero_shot_classifier(
        loaded.model, loaded.tokenizer, classnames, templates, num_classes_per_batch=3
    )
    imgs = torch.stack([loaded.preprocess(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        feats = loaded.model.encode_image(imgs, normalize=True)
        return (loaded.model.logit_scale.exp() * feats @ clf).numpy()


def test_zero_shot_equals_open_clip(tiny, tiny_loaded, mnist_small):
    import open_clip

    templates = resolve_templates("generic")
    view = mnist_small.limit(48)
    classes = sorted(view.distinct("ground_truth.label"))
    names = [derive_prompt_name(c, "last") for c in classes]
    clf = build_text_classifier(tiny_loaded, names, templates)
    ref_clf = open_clip.build_zero_shot_classifier(
        tiny_loaded.model, tiny_loaded.tokenizer, names, templates
    )
    np.testing.assert_allclose(clf.numpy(), ref_clf.numpy(), rtol=1e-5, atol=1e-6)

    progress = []
    result = zero_shot_classify(
        view,
        ClipSpec(tiny, None, random_weights=True),
        LoaderOptions(num_workers=2, device="cpu"),
        classes=classes,
        prompt_style="last",
        template_set="generic",
        embeddings_field="",
        evaluate=False,
        progress=lambda f, label: progress.append(f),
    )
    assert result["num_predicted"] == 48 and progress[-1] == 1.0
    ours = np.array([c.logits for c in view.values("clip_zero_shot")])
    ref = _reference_logits(tiny_loaded, view.values("filepath"), names, templates)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    labels = [c.label for c in view.values("clip_zero_shot")]
    assert labels == [classes[i] for i in ref.argmax(axis=1)]
    conf = np.array([c.confidence for c in view.values("clip_zero_shot")])
    e = np.exp(ref - ref.max(1, keepdims=True))
    np.testing.assert_allclose(conf, (e / e.sum(1, keepdims=True)).max(1), rtol=1e-4)
    # the same logits from stored features
    feats = encode_images(tiny_loaded, view.values("filepath"), 16, 0)
    again = zero_shot_logits(feats.features, clf, tiny_loaded.logit_scale())
    np.testing.assert_allclose(again, ref, rtol=1e-4, atol=1e-4)


def test_defaults_are_defined_once():
    """The model defaults come from classlab.defaults; no CLIP module spells them out."""
    assert ClipSpec() == ClipSpec(defaults.CLIP_MODEL, defaults.CLIP_PRETRAINED, False, "fp32")
    for fn in (compute_clip_embeddings, zero_shot_classify):
        params = inspect.signature(fn).parameters
        assert list(params)[:3] == ["view", "spec", "options"]
        assert params["spec"].default is None and params["options"].default is None
        assert not {"model_name", "pretrained", "batch_size", "device"} & set(params)
    for path in CLIP_SOURCES:
        text = path.read_text()
        assert defaults.CLIP_MODEL not in text and defaults.CLIP_PRETRAINED not in text, path
        assert '".pt", ".pth"' not in text, f"{path}: use defaults.CHECKPOINT_SUFFIXES"


def _code_lines(fn: ast.AST) -> int:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def test_clip_functions_are_short():
    for path in CLIP_SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert _code_lines(node) <= 60, f"{path.name}:{node.name} is over 60 lines"
        assert len(path.read_text().splitlines()) <= 400, path


def test_checkpoint_paths_are_one_rule(tiny, tiny_loaded, tmp_path, monkeypatch):
    """A .ckpt file passes the weights check and the loader alike; a missing one fails
    both with the same message."""
    import torch

    for suffix in defaults.CHECKPOINT_SUFFIXES:
        assert is_checkpoint_path(f"w{suffix}") and is_checkpoint_path(f"w{suffix.upper()}")
    assert is_checkpoint_path("models/w") and not is_checkpoint_path("laion2b_s34b_b79k")
    assert not is_checkpoint_path("") and not is_checkpoint_path(None)

    state = {k: v * 1.02 for k, v in tiny_loaded.model.state_dict().items()}
    path = tmp_path / "w.ckpt"
    torch.save(state, path)
    assert clip_weights_problem(tiny, str(path)) is None
    loaded = load_clip(check_spec(tiny, str(path)), "cpu")
    assert torch.allclose(loaded.model.state_dict()["logit_scale"], state["logit_scale"])
    monkeypatch.chdir(tmp_path)  # the case: a bare "w.ckpt"
    assert clip_weights_problem(tiny, "w.ckpt") is None
    spec = check_spec(tiny, "w.ckpt")
    assert spec.pretrained == str(path.resolve())
    assert load_clip(spec, "cpu").spec.pretrained == str(path.resolve())

    missing = str(tmp_path / "gone" / "w.ckpt")
    problem = clip_weights_problem(tiny, missing)
    assert problem and "does not exist" in problem and missing in problem
    with pytest.raises(InputError) as from_check:
        check_spec(tiny, missing)
    with pytest.raises(InputError) as from_loader:  # an unchecked spec, straight to the loader
        load_clip(ClipSpec(tiny, missing), "cpu")
    assert str(from_check.value) == str(from_loader.value) == problem
    with pytest.raises(InputError) as bare:
        check_spec(tiny, "other.ckpt")
    assert str(bare.value) == clip_weights_problem(tiny, "other.ckpt")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"batch_size": 0}, "batch_size must be a whole number of 1 or more, got 0"),
        ({"batch_size": 2.5}, "batch_size must be a whole number of 1 or more, got 2.5"),
        ({"batch_size": True}, "batch_size must be a whole number"),
        ({"batch_size": "64"}, "batch_size must be a whole number"),
        ({"num_workers": -1}, "num_workers must be a whole number of 0 or more, got -1"),
        ({"device": "tpu"}, "device must be one of 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
        ({"device": None}, "device must be one of"),
        ({"on_error": "ignore"}, "on_error must be 'skip' or 'raise', got 'ignore'"),
    ],
)
def test_loader_options_reject_bad_values(kwargs, match):
    with pytest.raises(InputError, match=match):
        LoaderOptions(**kwargs)


def test_loader_options_defaults_and_run_check(tiny):
    assert LoaderOptions() == LoaderOptions(64, 2, "auto", "skip")
    assert LoaderOptions(batch_size=1, num_workers=0, device="CUDA:1").num_workers == 0
    with pytest.raises(AttributeError):
        LoaderOptions().batch_size = 3  # frozen
    spec, options = check_run(ClipSpec(tiny, "ignored", random_weights=True), None)
    assert spec == ClipSpec(tiny, None, True) and options == LoaderOptions()
    with pytest.raises(InputError, match="spec must be a ClipSpec"):
        check_run(tiny)  # the old positional model_name
    with pytest.raises(InputError, match="options must be a LoaderOptions"):
        check_run(None, {"batch_size": 8})


def test_bad_run_arguments_write_nothing(tiny, mnist_small, unchanged):
    spec = ClipSpec(tiny, None, random_weights=True)
    cases = [
        (compute_clip_embeddings, {"spec": tiny}, "spec must be a ClipSpec"),
        (zero_shot_classify, {"options": {"device": "cpu"}}, "options must be a LoaderOptions"),
        (zero_shot_classify, {"spec": ClipSpec(tiny, None)}, "No weights given"),
        (compute_clip_embeddings, {"spec": ClipSpec(tiny, "x.ckpt")}, "does not exist"),
    ]
    import torch

    if not torch.cuda.is_available():
        cases.append(
            (compute_clip_embeddings, {"options": LoaderOptions(device="cuda")}, "no CUDA GPU")
        )
    for fn, kwargs, match in cases:
        kwargs = {"spec": spec, **kwargs}
        with (
            unchanged(mnist_small),
            pytest.raises(InputError if "CUDA" not in match else DeviceError, match=match),
        ):
            fn(mnist_small, **kwargs)
