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
    from .operators.explain import ComputeGradcam, TrainLinearProbe
    from .operators.labels import (
        ComputeOosPredictions,
        FindLabelIssues,
        FixLabels,
        RevertLabelFixes,
    )
    from .operators.lenet import (
        ApplyLenet,
        DeleteModel,
        EvaluatePredictions,
        ListModels,
        RenameModel,
        TrainLenet,
    )
    from .operators.models import ExportModel, TrainModel
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
        TrainModel,
        ExportModel,
        ComputeClipEmbeddings,
        ZeroShotClassify,
        ComputeSampleScores,
        TagSamplesToFix,
        AugmentSamples,
        DeleteAugmentations,
        TrainLinearProbe,
        ComputeGradcam,
        ComputeOosPredictions,
        FindLabelIssues,
        FixLabels,
        RevertLabelFixes,
        ModelComparisonPanel,
    ):
        p.register(op)
