"""LeNet-5 on FiftyOne views: models, fast tensor data, training, a model registry
kept on the dataset, inference with logits and embeddings, and evaluation.

Public API::

    from classlab.lenet.config import TrainConfig
    from classlab.lenet.train import fit_tensors          # torch only
    from classlab.lenet.runs import train_lenet           # a FiftyOne view -> a registered model
    from classlab.lenet.apply import apply_lenet
    from classlab.lenet.evaluate import evaluate_predictions
    from classlab.lenet.registry import list_models, load_model, rename_model, delete_model
"""
