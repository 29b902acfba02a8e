"""Data: MNIST from its IDX files into a FiftyOne dataset, and seeded, stratified
split tags for any classification dataset.

Public API::

    from classlab.data import load_mnist, split_dataset

The checks they make before writing (``mnist.check_load_args``,
``splits.check_fractions``, ``splits.check_split_tags``) are public: forms call them.
"""

from classlab.data.mnist import load_mnist, read_mnist
from classlab.data.splits import split_assignment, split_dataset

__all__ = ["load_mnist", "read_mnist", "split_assignment", "split_dataset"]
