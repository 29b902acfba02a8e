"""Curation: brain scores, tagging the samples to fix, albumentations augmentation.

from classlab.curation.scores import compute_sample_scores
from classlab.curation.tagging import Criteria, count_selection, tag_samples
from classlab.curation.augment import augment_samples, delete_augmentations
"""
