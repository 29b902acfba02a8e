"""Default names and values, defined once.

Every name here is only a default: each function and operator takes it as a
parameter. Forms and the CLI read their defaults from this module.
"""

from __future__ import annotations

GROUND_TRUTH = "ground_truth"
TRAIN_TAG = "train"
VAL_TAG = "val"
TEST_TAG = "test"
SPLIT_TAGS = (TRAIN_TAG, VAL_TAG, TEST_TAG)
# the evaluation splits: augmenting their samples would leak them into training
EVAL_TAGS = (VAL_TAG, TEST_TAG)

CLIP_EMBEDDINGS = "clip_embeddings"
CLIP_VIZ_KEY = "clip_viz"
CLIP_SIM_KEY = "clip_sim"
CLIP_ZERO_SHOT = "clip_zero_shot"
EVAL_CLIP = "eval_clip"

LENET_FIELD = "lenet"
EVAL_LENET = "eval_lenet"
LENET_EMBEDDINGS = "lenet_embeddings"

AUGMENTED_TAG = "augmented"
SOURCE_ID_FIELD = "source_id"
AUGMENTATION_FIELD = "augmentation"
TO_FIX_TAG = "to_augment"

MNIST_DATASET_NAME = "mnist"
MNIST_CLASSES = [
    "0 - zero",
    "1 - one",
    "2 - two",
    "3 - three",
    "4 - four",
    "5 - five",
    "6 - six",
    "7 - seven",
    "8 - eight",
    "9 - nine",
]

SPLIT_SEED = 51
SPLIT_FRACTIONS = {TRAIN_TAG: 0.9, VAL_TAG: 0.1}

# Curation (scores, tagging, augmentation)
SCORES = ("hardness", "mistakenness", "uniqueness", "representativeness")
AUGMENT_RUN_KEY = "augment_v1"
AUGMENT_PRESET = "tutorial"
AUGMENT_COPIES = 1
# copies per sample accepted unless the caller raises max_copies deliberately
AUGMENT_MAX_COPIES = 100
AUGMENT_SEED = 51

# CLIP (open_clip): the model and weights every CLIP entry point defaults to
CLIP_MODEL = "ViT-B-32"
CLIP_PRETRAINED = "laion2b_s34b_b79k"
# file suffixes that make a ``pretrained`` value a local checkpoint path (one list:
# the weights check and the loader must agree)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz", ".ckpt")
# bounds of the CLIP loader options (LoaderOptions); raise max_batch_size deliberately
CLIP_MAX_BATCH_SIZE = 4096
CLIP_MAX_WORKERS = 64

# LeNet-5 model runs the main job trains
MODEL_V1 = "lenet_v1"
MODEL_V2 = "lenet_v2"
# the control run: fine-tuned like MODEL_V2 (same parent, epochs, learning rate and
# seed) but WITHOUT the augmented samples, to separate their effect from more training
MODEL_V2_CONTROL = "lenet_v2_control"
# the main job's curation and fine-tuning of MODEL_V2 and MODEL_V2_CONTROL from
# MODEL_V1: the best setting measured on full MNIST (benchmarks/RESULTS.md,
# "Curation gain"; the +0.2 pt target over lenet was NOT reached): the training
# samples lenet gets wrong + the hardest 20%, 4 copies each (AUGMENT_PRESET),
# 3 epochs at peak learning rate 1e-3
CURATION_SELECTION = (("misclassified", True), ("hardness_top", 0.2))  # Criteria fields
CURATION_COPIES = 4
FINETUNE_EPOCHS = 3
FINETUNE_LR = 1e-3
# suffix of the run keys / fields of repeat i >= 1 of a fine-tuning (seed + i)
REPEAT_SUFFIX = "_s{i}"

# Label issues (classlab.labels): out-of-sample predictions by K-fold cross-validation,
# confident learning with cleanlab, review and fix. The OOS models train without label
# smoothing (it caps every probability below cleanlab's per-class thresholds) and each
# fold is temperature-scaled on its own held-out slice.
OOS_RUN_KEY = "lenet_oos"
OOS_FIELD = "lenet_oos"
OOS_FOLDS = 5
OOS_EPOCHS = 5
OOS_LABEL_SMOOTHING = 0.0
OOS_FOLD_SUFFIX = "-fold{k}"  # fold model k of run R is the model R-fold<k> ("/" is not a key)
LABEL_ISSUES_KIND = "label_issues"  # record kind: {key: {field, counts_per_class, ...}}
LABEL_ISSUES_KEY = "label_issues"
LABEL_QUALITY_FIELD = "label_quality"
SUGGESTED_LABEL_FIELD = "suggested_label"
LABEL_ISSUE_TAG = "label_issue"
LABEL_OK_TAG = "label_ok"
LABEL_FIXED_TAG = "label_fixed"
CLEANLAB_FILTER_BY = "prune_by_noise_rate"
CLEANLAB_METHOD = "self_confidence"

# Linear probe (logistic regression on an embeddings field) and Grad-CAM heatmaps
PROBE_RUN_KEY = "clip_probe"
PROBE_FIELD = "clip_probe"
EVAL_PROBE = "eval_clip_probe"
# C (inverse regularisation) values tried; the best on val is kept
PROBE_C_GRID = (0.01, 0.1, 1.0, 10.0)
PROBE_MAX_ITER = 1000
LENET_PROBE = "lenet_probe"  # the main job's probe on lenet_embeddings (when no CLIP)
GRADCAM_SUFFIX = "_gradcam"
# appended to the heatmap field for the ground-truth class (lenet_gradcam -> lenet_gradcam_gt)
GRADCAM_GT_SUFFIX = "_gt"
GRADCAM_TARGETS = ("predicted", "ground_truth", "both")
GRADCAM_SAMPLES = ("mistakes", "all")
GRADCAM_STORAGE = ("database", "png")

# Bounded memory: long operators read ids/values and write results this many samples
# at a time (classlab.chunks), so their peak memory does not grow with the view
CHUNK_SIZE = 10_000
# Uniqueness and representativeness: "brain" (FiftyOne Brain's exact computation, every
# vector in memory, k-NN time ~N^2), "bounded" (classlab.curation.bounded: chunked,
# approximate k-NN / mini-batch k-means), or "auto": brain up to this many samples
EMBEDDING_METHODS = ("auto", "brain", "bounded")
BRAIN_EMBEDDING_SCORES_MAX = 100_000

# Backbones (classlab.lenet.backbones), CPU latency and ONNX export (classlab.lenet.export)
MODEL_ARCHITECTURE = "resnet18"  # train_model's default architecture
MODEL_RUN_KEY = "resnet18_v1"  # train_model's default run key
# the main job's opt-in extra models (--models resnet18,probe): per architecture, the
# run key, prediction field and eval key (resnet18_v1, resnet18, eval_resnet18)
JOB_MODEL_RUN_KEY = "{model}_v1"
JOB_MODEL_FIELD = "{model}"
JOB_MODEL_EVAL = "eval_{model}"
JOB_PROBE = "probe"  # the --models name of the linear probe
LATENCY_BATCHES = (1, 256)  # record key latency_ms: {"torch": {"1": ms, "256": ms}, ...}
ONNX_OPSET = 21  # supported by onnxruntime since 1.20 (the tested release: 1.32)
ONNX_OPSETS = (18, 23)  # the accepted range: torch's exporter emits >= 18
ONNX_VERIFY_SAMPLES = 256  # samples run through torch and onnxruntime at export
ONNX_TOLERANCE = 1e-4  # max absolute logit difference accepted at export
RUNTIMES = ("torch", "onnxruntime")  # apply_lenet / apply_model runtime=
