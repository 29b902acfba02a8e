"""CLIP preprocessing on the device: the same vectors as open_clip's own PIL transform."""

import numpy as np
import pytest
import torch
from classlab.clip import check_spec, load_clip
from classlab.clip.images import encode_images, encode_images_pil, to_rgb
from classlab.clip.preprocess import DevicePreprocess, decode
from PIL import Image, ImageDraw
from support.tiny_clip import register_tiny_clip

REAL_MODEL = "ViT-B-32"  # a real open_clip architecture; random (seeded) weights
MIN_COSINE = 0.999
RGB_SIZES = [
    (240, 320),
    (333, 217),
    (64, 64),
    (500, 90),
    (31, 47),
    (224, 224),
    (225, 301),
    (17, 400),
]


@pytest.fixture(scope="module")
def real_loaded():
    return load_clip(check_spec(REAL_MODEL, None, random_weights=True), "cpu")


@pytest.fixture(scope="module")
def tiny_loaded():
    return load_clip(check_spec(register_tiny_clip(), None, random_weights=True), "cpu")


@pytest.fixture(scope="module")
def mnist_paths(mnist_base):
    return mnist_base.match_tags("test").limit(16).values("filepath")


def _smooth_image(rng, height: int, width: int) -> np.ndarray:
    """Gradients, a few filled shapes and mild noise: content a photo-like resize sees."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [xx * 255 / width, yy * 255 / height, 128 + 100 * np.sin((xx + yy) / 9.0)], axis=-1
    )
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        box = [x0, y0, x0 + rng.integers(2, width // 2 + 3), y0 + rng.integers(2, height // 2 + 3)]
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=color)
    arr = np.asarray(img, np.float32) + rng.normal(0, 4, (height, width, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def rgb_paths(tmp_path_factory):
    """Eight RGB files of assorted sizes and aspect ratios, PNG and JPEG."""
    folder = tmp_path_factory.mktemp("rgb")
    rng = np.random.default_rng(17)
    paths = []
    for k, (h, w) in enumerate(RGB_SIZES):
        path = folder / f"img{k}.{'png' if k % 2 else 'jpg'}"
        Image.fromarray(_smooth_image(rng, h, w)).save(path, quality=90)
        paths.append(str(path))
    return paths


def _open_clip_features(loaded, paths) -> np.ndarray:
    """open_clip's own pipeline: its PIL transform per image, then the model."""
    batch = torch.stack([loaded.preprocess(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        return loaded.model.encode_image(batch, normalize=True).numpy()


def _device_input(loaded, path) -> torch.Tensor:
    prep = DevicePreprocess.from_transform(loaded.preprocess)
    return prep.apply([([0], torch.from_numpy(decode(path))[None])], "cpu")[1][0]


def _assert_close_to_open_clip(loaded, paths, num_workers: int, batch_size: int = 8):
    ours = encode_images(loaded, paths, batch_size, num_workers)
    assert ours.indices == list(range(len(paths))) and not ours.failures
    cos = (ours.features * _open_clip_features(loaded, paths)).sum(1)
    assert cos.min() >= MIN_COSINE, cos
    return cos


def test_reads_open_clip_transforms(real_loaded):
    import open_clip

    prep = DevicePreprocess.from_transform(real_loaded.preprocess)
    assert prep.resize == 224 and prep.crop == (224, 224) and prep.interpolation == "bicubic"
    assert prep.mean == pytest.approx(open_clip.OPENAI_DATASET_MEAN)
    assert prep.std == pytest.approx(open_clip.OPENAI_DATASET_STD)
    squash = open_clip.image_transform(64, False, resize_mode="squash", interpolation="bilinear")
    prep = DevicePreprocess.from_transform(squash)
    assert (prep.resize, prep.crop, prep.interpolation) == ((64, 64), None, "bilinear")
    # steps that cannot run on the device: the caller keeps open_clip's PIL transform
    assert (
        DevicePreprocess.from_transform(open_clip.image_transform(64, False, resize_mode="longest"))
        is None
    )
    assert DevicePreprocess.from_transform(open_clip.image_transform((64, 48), False)) is None
    assert DevicePreprocess.from_transform(lambda img: img) is None


def test_real_model_matches_open_clip_on_mnist(real_loaded, mnist_paths):
    _assert_close_to_open_clip(real_loaded, mnist_paths, num_workers=2)
    # the model input itself: PIL's 8-bit two-pass resize, reproduced
    ref = real_loaded.preprocess(Image.open(mnist_paths[0]).convert("RGB"))
    diff = (_device_input(real_loaded, mnist_paths[0]) - ref).abs()
    assert diff.max() < 1e-4, diff.max()


def test_real_model_matches_open_clip_on_rgb_images(real_loaded, rgb_paths):
    # one batch holds all eight sizes: each size is resized as its own group
    _assert_close_to_open_clip(real_loaded, rgb_paths, num_workers=0)
    for path in rgb_paths:
        ref = real_loaded.preprocess(Image.open(path).convert("RGB"))
        diff = (_device_input(real_loaded, path) - ref).abs()
        # off by at most a few 8-bit levels where PIL's fixed point meets an exact .5
        assert diff.max() < 4 / 255 / 0.26, (path, diff.max())
        assert (diff > 1e-4).float().mean() < 0.01, path


def test_tiny_model_matches_open_clip_and_the_pil_path(tiny_loaded, mnist_paths, rgb_paths):
    paths = [*mnist_paths, *rgb_paths]
    cos = _assert_close_to_open_clip(tiny_loaded, paths, num_workers=2, batch_size=5)
    assert cos[: len(mnist_paths)].min() > 0.99999  # MNIST 28 -> 32: the same input pixels
    pil = encode_images_pil(tiny_loaded, paths, 5, 0)
    device = encode_images(tiny_loaded, paths, 5, 0)
    assert pil.indices == device.indices == list(range(len(paths)))
    assert np.abs(pil.features - device.features).max() < 1e-3


def test_image_modes_and_failures(tiny_loaded, tmp_path):
    """Grayscale stays one channel until the end; odd modes as open_clip sees them in RGB."""
    rng = np.random.default_rng(3)
    gray = _smooth_image(rng, 40, 30)[..., 0]
    images = {
        "gray.png": Image.fromarray(gray, "L"),
        "gray16.png": Image.fromarray(gray.astype(np.uint16) * 257),
        "bilevel.png": Image.fromarray(gray > 128),
        "rgba.png": Image.fromarray(_smooth_image(rng, 36, 50)).convert("RGBA"),
        "palette.png": Image.fromarray(_smooth_image(rng, 33, 33)).convert("P"),
    }
    paths = []
    for name, img in images.items():
        img.save(tmp_path / name)
        paths.append(str(tmp_path / name))
    assert decode(paths[0]).shape == (40, 30) and decode(paths[1]).shape == (40, 30)
    for path in paths:  # OpenCV (plain PNGs) or PIL: the pixels of the PIL path
        expected = np.asarray(to_rgb(Image.open(path)))
        got = decode(path)
        got = np.repeat(got[..., None], 3, axis=2) if got.ndim == 2 else got
        assert np.array_equal(got, expected), path
    assert decode(paths[3]).shape == (36, 50, 3)
    x = _device_input(tiny_loaded, paths[0])
    prep = DevicePreprocess.from_transform(tiny_loaded.preprocess)
    pixels = x * torch.tensor(prep.std)[:, None, None] + torch.tensor(prep.mean)[:, None, None]
    assert torch.allclose(pixels[0], pixels[1], atol=1e-5) and torch.allclose(pixels[0], pixels[2])
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG not really")
    paths.insert(2, str(bad))
    pil = encode_images_pil(tiny_loaded, paths, 4, 0)
    device = encode_images(tiny_loaded, paths, 4, 2)
    assert device.failures[2].startswith("UnidentifiedImageError"), device.failures
    assert device.indices == pil.indices == [0, 1, 3, 4, 5]
    assert set(device.failures) == set(pil.failures) == {2}
    assert (device.features * pil.features).sum(1).min() >= MIN_COSINE
