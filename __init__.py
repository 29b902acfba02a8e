"""ClassLab plugin entry point: registers the operators and panels, nothing else."""

from .operators.clip import ComputeClipEmbeddings, ZeroShotClassify
from .operators.curation import (
    AugmentSamples,
    ComputeSampleScores,
    DeleteAugmentations,
    TagSamplesToFix,
)
from .operators.data import LoadMnist, SplitDataset
from .operators.lenet import (
    ApplyLenet,
    DeleteModel,
    EvaluatePredictions,
    ListModels,
    RenameModel,
    TrainLenet,
)
from .panels.comparison import ModelComparisonPanel


def register(p):
    p.register(LoadMnist)
    p.register(SplitDataset)
    for op in (TrainLenet, ApplyLenet, EvaluatePredictions, ListModels, RenameModel, DeleteModel):
        p.register(op)
    p.register(ComputeClipEmbeddings)
    p.register(ZeroShotClassify)
    p.register(ComputeSampleScores)
    p.register(TagSamplesToFix)
    p.register(AugmentSamples)
    p.register(DeleteAugmentations)
    p.register(ModelComparisonPanel)
