"""ClassLab plugin entry point: registers the operators and panels, nothing else."""

from .operators.clip import ComputeClipEmbeddings, ZeroShotClassify
from .operators.data import LoadMnist, SplitDataset


def register(p):
    p.register(LoadMnist)
    p.register(SplitDataset)
    p.register(ComputeClipEmbeddings)
    p.register(ZeroShotClassify)
