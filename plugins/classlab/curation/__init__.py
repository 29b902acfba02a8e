"""Curation: brain scores, tagging the samples to fix, albumentations augmentation.

from classlab.curation.scores import compute_sample_scores
from classlab.curation.tagging import Criteria, count_selection, tag_samples
from classlab.curation.augment import augment_samples, delete_augmentations

Each parameter's rule is a ``check_*`` function (``score_checks``, ``tagging``,
``augment_checks``, ``presets``): the core runs them before its first write and
the operators' forms show their messages on the fields.
"""
