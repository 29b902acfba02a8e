"""Linear probes: scikit-learn logistic regression on any embeddings field.

Trained on the train tag, C chosen on val, recorded on the dataset (records kind
``"linear_probe"``, weights as ``.npz`` under ``classlab.config.models_dir``), applied
as ``fo.Classification`` with confidence and logits, and evaluated so that the
comparison panel shows it next to the other models. With CLIP embeddings this is
the standard "CLIP linear probe" baseline next to zero-shot.

Public API::

    from classlab.probe import train_linear_probe, apply_linear_probe
    from classlab.probe import list_probes, delete_linear_probe, fit_probe, load_probe
"""

from classlab.probe.checks import KIND, list_probes  # noqa: F401
from classlab.probe.model import Probe, fit_probe, load_probe  # noqa: F401
from classlab.probe.runs import (  # noqa: F401
    apply_linear_probe,
    delete_linear_probe,
    train_linear_probe,
)
