"""Explaining models on the samples: Grad-CAM heatmaps as ``fo.Heatmap`` fields.

Public API::

    from classlab.explain import compute_gradcam, TARGET_LAYERS
    from classlab.explain import check_gradcam_args, target_layer   # the checks, the layer

captum's ``LayerGradCam`` does the attribution; :data:`TARGET_LAYERS` names the
layer per architecture.
"""

from classlab.explain.compute import check_gradcam_args, compute_gradcam  # noqa: F401
from classlab.explain.gradcam import TARGET_LAYERS, target_layer  # noqa: F401
