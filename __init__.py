"""ClassLab plugin entry point: registers the operators and panels, nothing else."""

from .operators.curation import (
    AugmentSamples,
    ComputeSampleScores,
    DeleteAugmentations,
    TagSamplesToFix,
)
from .operators.data import LoadMnist, SplitDataset


def register(p):
    p.register(LoadMnist)
    p.register(SplitDataset)
    p.register(ComputeSampleScores)
    p.register(TagSamplesToFix)
    p.register(AugmentSamples)
    p.register(DeleteAugmentations)
