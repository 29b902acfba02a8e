"""LeNet-5 on FiftyOne views: models, fast tensor data, training, a model registry
kept on the dataset, inference with logits and embeddings, and evaluation.

Public API::

    from classlab.lenet.config import TrainConfig
    from classlab.lenet.train import fit_tensors          # torch only
    from classlab.lenet.runs import train_lenet           # a FiftyOne view -> a registered model
    from classlab.lenet.apply import apply_lenet
    from classlab.lenet.evaluate import evaluate_predictions
    from classlab.lenet.registry import list_models, load_model, rename_model, delete_model
    from classlab.lenet.backbone_runs import train_model  # any architecture (resnet18, ...)
    from classlab.lenet.apply import apply_model          # = apply_lenet; runtime="onnxruntime"
    from classlab.lenet.export import export_model        # ONNX, verified with onnxruntime

Each core function checks its inputs before its first write with public check
functions (``config.check_option``, ``registry.require_model`` /
``check_new_run_key``, ``runs.check_split`` / ``training_classes`` /
``check_parent``, ``apply.check_apply_args``, ``evaluate.check_eval_fields`` /
``check_k``); the operators' forms call the same ones. Checkpoint files are named by
an immutable model id and committed crash-safely (``checkpoints``); a diverging
training raises ``train.TrainingDivergedError`` and writes nothing.
"""
