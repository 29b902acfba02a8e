"""The trainer's models: LeNet-5 (classic and modern) and torchvision backbones.

Every model takes ``N x C x S x S`` float images (``S`` = ``input_size``, 28 for
MNIST), returns logits, and exposes ``features(x)`` (the penultimate layer, used as
embeddings) and ``head`` (the last linear layer). The torchvision backbones and how
they are adapted to the data are in :mod:`classlab.lenet.backbones`.
"""

from __future__ import annotations

LENETS = ("lenet5", "lenet5_modern")
# every architecture the trainer builds (forms read this list)
ARCHITECTURES = LENETS + ("resnet18", "resnet50", "mobilenet_v3_small", "efficientnet_b0")


def _torch():
    import torch
    from torch import nn

    return torch, nn


def _pooled(size: int) -> int:
    """Spatial size after conv1 (padded: 28 behaves as LeNet's 32) / pool / conv2 / pool."""
    out = ((size // 2) - 4) // 2
    if out < 1:
        from classlab.errors import InputError

        raise InputError(f"input_size {size} is too small for LeNet-5: use 16 or more")
    return out


def _classic_layers(nn, in_channels: int, pooled: int):
    """LeCun et al. 1998: tanh, average pooling, 6/16 maps, 120/84 units."""
    c1, c2 = 6, 16
    conv = nn.Sequential(
        nn.Conv2d(in_channels, c1, 5, padding=2),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(c1, c2, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
    )
    fc = nn.Sequential(
        nn.Flatten(),
        nn.Linear(c2 * pooled * pooled, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
    )
    return conv, fc


def _modern_layers(nn, in_channels: int, pooled: int, dropout: float):
    """The same shape widened to 16/32 maps, with batch norm, ReLU, max pooling, dropout."""
    c1, c2 = 16, 32
    conv = nn.Sequential(
        nn.Conv2d(in_channels, c1, 5, padding=2, bias=False),
        nn.BatchNorm2d(c1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5, bias=False),
        nn.BatchNorm2d(c2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )
    fc = nn.Sequential(
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(c2 * pooled * pooled, 120, bias=False),
        nn.BatchNorm1d(120),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(120, 84),
        nn.ReLU(inplace=True),
    )
    return conv, fc


def build_model(
    architecture: str = "lenet5_modern",
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: int = 28,
    dropout: float = 0.25,
):
    """Creates a network: a LeNet-5, or a torchvision backbone adapted to
    ``in_channels``, ``input_size`` and ``num_classes`` (random weights).

    Args:
        architecture: ``"lenet5"`` (LeCun et al. 1998: tanh, average pooling,
            6/16 feature maps, 120/84 units; 61,706 parameters for 10 classes on
            1 x 28 x 28, conv1 padded by 2 so 28 x 28 acts as the paper's 32 x 32)
            or ``"lenet5_modern"`` (the same two-conv/three-fc shape, widened to
            16/32 maps, with batch norm, ReLU, max pooling and dropout), or one of
            ``resnet18``, ``resnet50``, ``mobilenet_v3_small``, ``efficientnet_b0``
        num_classes: number of output classes
        in_channels: 1 (grayscale) or 3 (RGB)
        input_size: side of the square input images
        dropout: dropout before the last two fully connected layers (modern only)

    Returns:
        a ``torch.nn.Module`` with ``forward(x) -> logits`` and ``features(x)``
    """
    from classlab.errors import InputError

    if architecture not in ARCHITECTURES:
        raise InputError(
            f"Unknown architecture {architecture!r}: use one of {', '.join(ARCHITECTURES)}"
        )
    if num_classes < 2:
        raise InputError(f"A classifier needs at least 2 classes, got {num_classes}")
    if architecture not in LENETS:
        from classlab.lenet.backbones import build_backbone

        return build_backbone(architecture, num_classes, in_channels, input_size)
    _, nn = _torch()
    pooled = _pooled(input_size)

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            if architecture == "lenet5":
                self.conv, self.fc = _classic_layers(nn, in_channels, pooled)
            else:
                self.conv, self.fc = _modern_layers(nn, in_channels, pooled, dropout)
            self.head = nn.Linear(84, num_classes)

        def features(self, x):
            """The 84-d penultimate activations (the embeddings)."""
            return self.fc(self.conv(x))

        def forward(self, x):
            return self.head(self.features(x))

    model = LeNet5()
    model.architecture = architecture
    return model


def num_params(model) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total_params(model) -> int:
    """Number of parameters, trainable or frozen."""
    return sum(p.numel() for p in model.parameters())
