"""torchvision backbones adapted to a dataset's channels, input size and classes.

Every network here takes ``N x C x S x S`` inputs (``C`` = ``in_channels``, ``S`` =
``input_size``), returns logits, and exposes ``features(x)`` (the penultimate layer:
the embeddings) and ``head`` (the last linear layer), like the LeNet-5 models.

What changes from torchvision's ImageNet definitions (and why):

- **Input channels**: the first convolution takes ``in_channels`` (1 for grayscale);
  a weights file's RGB kernel is summed over its 3 input channels for 1 channel,
  which gives the same response to a gray image as the RGB model to its RGB copy.
- **Small inputs** (``input_size`` below :data:`SMALL_INPUT`, e.g. MNIST's 28):
  the stem's stride becomes 1 and ResNet's max pooling is removed, so a 28 x 28
  digit still has 4 x 4 cells before ResNet's last stage instead of 1 x 1. Kernel
  shapes are unchanged, so a weights file's stem still loads.
- **Classes**: the last linear layer (``fc`` / ``classifier[-1]``) becomes ``head``
  with ``num_classes`` outputs, newly initialised (a weights file's ImageNet head is
  not used).

``weights=PATH`` is a local torchvision ``state_dict`` file (e.g. ``resnet18-*.pth``),
read with ``torch.load(weights_only=True)`` and checked key by key and shape by shape
against the architecture (:func:`read_weights`). Nothing is ever downloaded.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from classlab.errors import DataSourceError, InputError

TORCHVISION = ("resnet18", "resnet50", "mobilenet_v3_small", "efficientnet_b0")
SMALL_INPUT = 64  # below this input size the stem keeps full resolution (stride 1)
# torchvision's names of the first convolution's weight and of the last linear layer
STEMS = {"resnet18": "conv1", "resnet50": "conv1"}
HEADS = {"resnet18": "fc", "resnet50": "fc"}
HEADS |= {"mobilenet_v3_small": "classifier.3", "efficientnet_b0": "classifier.1"}


def _replace(net, name: str, module) -> None:
    """Sets the submodule ``name`` (dotted, e.g. ``classifier.3``) of ``net``."""
    parent, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, leaf, module)


def _swap_conv(conv, in_channels: int, stride: int):
    """A copy of ``conv`` with ``in_channels`` inputs and ``stride`` (same kernel)."""
    from torch import nn

    return nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )


def torchvision_model(architecture: str, num_classes: int = 1000):
    """torchvision's own network (random weights, never downloaded)."""
    import torchvision

    return getattr(torchvision.models, architecture)(weights=None, num_classes=num_classes)


def _adapt(architecture: str, net, num_classes: int, in_channels: int, input_size: int):
    """Changes the stem (channels, stride) and the head in place; returns the new head."""
    from torch import nn

    stem = STEMS.get(architecture, "features.0.0")
    small = input_size < SMALL_INPUT
    conv = net.get_submodule(stem)
    _replace(net, stem, _swap_conv(conv, in_channels, 1 if small else conv.stride[0]))
    if small and architecture.startswith("resnet"):
        net.maxpool = nn.Identity()
    old_head = net.get_submodule(HEADS[architecture])
    _replace(net, HEADS[architecture], nn.Identity())
    return nn.Linear(old_head.in_features, num_classes)


def build_backbone(architecture: str, num_classes: int, in_channels: int = 1, input_size: int = 28):
    """A torchvision backbone adapted to the data (see the module's docstring).

    Returns:
        a ``torch.nn.Module`` with ``forward(x) -> logits``, ``features(x)`` and ``head``
    """
    from torch import nn

    if architecture not in TORCHVISION:
        raise InputError(
            f"Unknown architecture {architecture!r}: use one of {', '.join(TORCHVISION)}"
        )
    net = torchvision_model(architecture)
    head = _adapt(architecture, net, num_classes, in_channels, input_size)

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = net  # torchvision's network, its last linear layer an Identity
            self.head = head

        def features(self, x):
            """The penultimate activations (pooled, and for MobileNet after its hidden
            classifier layer): the embeddings."""
            return self.body(x)

        def forward(self, x):
            return self.head(self.body(x))

    model = Backbone()
    model.architecture = architecture
    return model


def _unwrap(obj):
    """The ``state_dict`` in a weights file (plain, or under ``state_dict``/``model``)."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                return obj[key]
    return obj


def read_weights(path: str | Path, architecture: str) -> dict:
    """Reads a torchvision weights file (weights only) and checks it against the
    architecture's keys and shapes (the classifier's size may differ).

    Raises:
        InputError: not a torchvision architecture, or a file that does not match it
            (the message names ``weights`` and the first differences)
        DataSourceError: the file is missing or unreadable
    """
    import torch

    if architecture not in TORCHVISION:
        raise InputError(
            f"weights: a weights file is for the torchvision architectures "
            f"({', '.join(TORCHVISION)}), not {architecture!r}. Use init_from to start a "
            "LeNet from a recorded model."
        )
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise DataSourceError(
            f"weights: {str(path)!r} is not a file. Give the path of a local torchvision "
            f"{architecture} weights file (ClassLab never downloads weights)."
        )
    try:
        state = _unwrap(torch.load(path, map_location="cpu", weights_only=True))
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise DataSourceError(
            f"weights: {str(path)!r} cannot be read as a weights-only torch file ({e}). "
            "Save a torchvision model's state_dict with torch.save."
        ) from None
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise InputError(f"weights: {str(path)!r} does not hold a state_dict of tensors")
    check_weights(state, architecture, str(path))
    return state


def check_weights(state: dict, architecture: str, path: str = "the weights file") -> None:
    """Checks a ``state_dict`` against torchvision's ``architecture`` (keys and shapes;
    the last linear layer may have any number of classes).

    Raises:
        InputError: naming ``weights``, the architecture and the first differences
    """
    expected = torchvision_model(architecture).state_dict()
    head_keys = {f"{HEADS[architecture]}.weight", f"{HEADS[architecture]}.bias"}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and k not in head_keys and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    for what, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if items:
            problems.append(f"{len(items)} {what} ({', '.join(items[:3])})")
    if problems:
        raise InputError(
            f"weights: {path} does not match torchvision's {architecture}: "
            f"{'; '.join(problems)}. Give a weights file saved from "
            f"torchvision.models.{architecture}, or pick the architecture it was saved from."
        )


def transfer(model, state: dict, architecture: str) -> dict:
    """Copies a checked torchvision ``state`` into an adapted ``model`` (stem summed
    over RGB for 1 channel; the ImageNet head left out); returns the model's state."""
    import torch

    own = model.state_dict()
    stem_key = STEMS.get(architecture, "features.0.0") + ".weight"
    for key, value in state.items():
        target = f"body.{key}"
        if target not in own:  # the ImageNet head (an Identity here)
            continue
        if key == stem_key and own[target].shape[1] != value.shape[1]:
            value = value.sum(dim=1, keepdim=True).expand_as(own[target])
        if own[target].shape == value.shape:
            own[target] = value.to(own[target].dtype).clone()
    with torch.no_grad():
        model.load_state_dict(own)
    return model.state_dict()


def freeze_backbone(model) -> None:
    """Feature extraction: only ``model.head`` learns. The rest stops requiring
    gradients, and :func:`train_mode` keeps its batch-norm statistics fixed."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    model.frozen_backbone = True


def train_mode(model) -> None:
    """``model.train()``, except a frozen backbone, which stays in eval mode."""
    if getattr(model, "frozen_backbone", False):
        model.eval()
        model.head.train()
    else:
        model.train()
