"""ClassLab plugin entry point: registers the operators and panels, nothing else."""

from .operators.data import LoadMnist, SplitDataset


def register(p):
    p.register(LoadMnist)
    p.register(SplitDataset)
