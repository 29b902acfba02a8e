"""Curation operators: brain scores, tag the samples to fix, augment them, undo.

Each form runs the core's own checks (``classlab.curation.score_checks``,
``tagging``, ``augment_checks``, ``presets``) through ``operators.common.check``
and shows their messages on the fields. A form never reads every sample: the
only work that does (the tagging selection) runs when its "Preview" toggle is on.
"""

from .augment import AugmentSamples, DeleteAugmentations
from .scores import ComputeSampleScores
from .tagging import TagSamplesToFix

__all__ = ["AugmentSamples", "ComputeSampleScores", "DeleteAugmentations", "TagSamplesToFix"]
