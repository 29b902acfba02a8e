"""ClassLab plugin entry point: registers the operators and panels, nothing else."""

from .operators.data import LoadMnist, SplitDataset
from .panels.comparison import ModelComparisonPanel


def register(p):
    p.register(LoadMnist)
    p.register(SplitDataset)
    p.register(ModelComparisonPanel)
