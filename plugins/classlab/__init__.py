"""ClassLab: image classification curation for FiftyOne.

The App-free core. Import the submodules you need, e.g.::

    from classlab.data.mnist import load_mnist
    from classlab.data.splits import split_dataset

Heavy packages (torch, open_clip, albumentations) are imported inside the
functions that need them.
"""

from classlab.errors import ClassLabError  # noqa: F401

__version__ = "0.1.0"
