"""CLIP core: templates, prompt names, model loading, open_clip equality."""

import time

import numpy as np
import pytest
from classlab.clip import (
    ModelCache,
    build_text_classifier,
    check_spec,
    derive_prompt_name,
    load_clip,
    resolve_templates,
    zero_shot_classify,
    zero_shot_logits,
)
from classlab.clip.images import encode_images, to_rgb
from classlab.clip.zero_shot import resolve_prompt_names
from classlab.errors import DataSourceError, DeviceError, InputError
from support.tiny_clip import register_tiny_clip


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


def test_check_spec_rejects_bad_models(tiny):
    with pytest.raises(InputError, match="Unknown CLIP model 'ViT-B-33'.*ViT-B-32"):
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
        model_name=tiny,
        random_weights=True,
        classes=classes,
        prompt_style="last",
        template_set="generic",
        embeddings_field="",
        num_workers=2,
        device="cpu",
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
