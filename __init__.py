"""ClassLab plugin entry point: registers the operators and panels, nothing else.

The imports live inside ``register`` so that importing this file outside a
package (pytest imports a rootdir's ``__init__.py`` when the checkout's folder
name is not a valid module name, e.g. ``classlab-main``) does nothing; FiftyOne
loads it as a package, where the relative imports work.
"""


def register(p):
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

    for op in (
        LoadMnist,
        SplitDataset,
        TrainLenet,
        ApplyLenet,
        EvaluatePredictions,
        ListModels,
        RenameModel,
        DeleteModel,
        ComputeClipEmbeddings,
        ZeroShotClassify,
        ComputeSampleScores,
        TagSamplesToFix,
        AugmentSamples,
        DeleteAugmentations,
        ModelComparisonPanel,
    ):
        p.register(op)
