"""Bad inputs to the CLIP entry points (compute_clip_embeddings, zero_shot_classify), each
through the core function AND the operator: a ClassLab error whose message names the
parameter, the dataset unchanged (samples, schema, tags, info and records, runs, label
values), no file written anywhere and no dataset created. The model is the tiny
random-weight open_clip config of tests/support/tiny_clip.py."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from classlab.errors import ClassLabError
from fiftyone.operators.executor import ExecutionError
from support.tiny_clip import register_tiny_clip

NAN = math.nan
E, Z = "compute_clip_embeddings", "zero_shot_classify"
SPEC_KEYS = ("model_name", "pretrained", "random_weights", "precision")
LOADER_KEYS = ("batch_size", "num_workers", "device", "on_error")
PRETRAINED = {"random_weights": False}  # cases about the weights: no random-weight opt-in
# a GPU that is not there: "cuda" on a CPU-only machine, "cuda:99" where there is one
NO_GPU = (
    ("cuda:99", r"device='cuda:99' does not exist")
    if torch.cuda.is_available()
    else ("cuda", r"device='cuda' was requested but no CUDA GPU is available.*device='cpu'")
)

# (id, operator, params, message that names the parameter); "@..." values are filled in
CASES = [
    # embeddings_field: checked against its kind before anything is cleared or written
    (
        "emb-field-tags",
        E,
        {"embeddings_field": "tags", "overwrite": True},
        r"The embeddings_field 'tags' is a built-in field",
    ),
    (
        "emb-field-filepath",
        E,
        {"embeddings_field": "filepath"},
        r"The embeddings_field 'filepath' is a built-in",
    ),
    (
        "emb-field-metadata",
        E,
        {"embeddings_field": "metadata", "overwrite": True},
        r"The embeddings_field 'metadata' is a built-in",
    ),
    (
        "emb-field-gt",
        E,
        {"embeddings_field": "ground_truth", "overwrite": True},
        r"'ground_truth' \(embeddings_field\) exists and holds EmbeddedDocumentField values",
    ),
    (
        "emb-field-classification",
        E,
        {"embeddings_field": "pred", "overwrite": True},
        r"'pred' \(embeddings_field\) exists and holds EmbeddedDocumentField",
    ),
    (
        "emb-field-string-list",
        E,
        {"embeddings_field": "notes", "overwrite": True},
        r"'notes' \(embeddings_field\) exists and holds ListField values, not embeddings",
    ),
    ("emb-field-dot", E, {"embeddings_field": "a.b"}, r"embeddings_field name 'a\.b' is not valid"),
    (
        "emb-field-private",
        E,
        {"embeddings_field": "_x"},
        r"embeddings_field name '_x' is not valid",
    ),
    (
        "emb-other-model",
        E,
        {"model_name": "RN50"},
        r"'clip_embeddings' \(embeddings_field\) holds embeddings made by .*pass overwrite",
    ),
    # the model and its weights
    ("emb-model-unknown", E, {"model_name": "NoSuchNet"}, r"model_name 'NoSuchNet' is not a"),
    ("emb-model-empty", E, {"model_name": " "}, r"model_name is empty"),
    (
        "emb-pretrained-tag",
        E,
        {**PRETRAINED, "pretrained": "nosuchtag"},
        r"Unknown pretrained tag 'nosuchtag' for ClassLab-Tiny-ViT",
    ),
    (
        "emb-pretrained-none",
        E,
        {**PRETRAINED, "pretrained": ""},
        r"No weights given for ClassLab-Tiny-ViT: pass a pretrained tag",
    ),
    (
        "emb-ckpt-missing",
        E,
        {**PRETRAINED, "pretrained": "/nonexistent/clip.pt"},
        r"checkpoint '/nonexistent/clip\.pt' does not exist: check the path\. pretrained takes",
    ),
    (
        "emb-ckpt-folder",
        E,
        {**PRETRAINED, "pretrained": "/etc/"},
        r"checkpoint '/etc/' is not a file",
    ),
    (
        "emb-ckpt-corrupt",
        E,
        {**PRETRAINED, "pretrained": "@corrupt", "overwrite": True},
        r"Checkpoint '.*corrupt\.pt' could not be loaded into ClassLab-Tiny-ViT",
    ),
    (
        "emb-ckpt-not-weights",
        E,
        {**PRETRAINED, "pretrained": "/etc/passwd", "overwrite": True},
        r"Checkpoint '/etc/passwd' could not be loaded",
    ),
    (
        "zs-ckpt-malicious",
        Z,
        {**PRETRAINED, "pretrained": "@malicious", "embeddings_field": ""},
        r"Checkpoint '.*evil\.pt' could not be loaded",
    ),
    (
        "emb-precision",
        E,
        {"precision": "fp8"},
        r"precision 'fp8' is not supported: use one of fp32, fp16, bf16",
    ),
    (
        "emb-fp16-cpu",
        E,
        {"precision": "fp16"},
        r"precision='fp16' needs a CUDA GPU.*use precision 'fp32' or 'bf16'",
    ),
    # loader options: numbers and enums
    ("emb-batch-0", E, {"batch_size": 0}, r"batch_size must be a whole number of 1 or more"),
    ("emb-batch-nan", E, {"batch_size": NAN}, r"batch_size must be a whole number of 1 or more"),
    ("emb-batch-abc", E, {"batch_size": "abc"}, r"batch_size must be a whole number of 1 or more"),
    (
        "emb-batch-1e9",
        E,
        {"batch_size": 10**9},
        r"batch_size must be at most 4096, got 1000000000: .* raise max_batch_size",
    ),
    ("emb-workers-neg", E, {"num_workers": -1}, r"num_workers must be a whole number of 0 or more"),
    ("emb-workers-1e6", E, {"num_workers": 10**6}, r"num_workers must be at most 64"),
    ("emb-device-no-gpu", E, {"device": NO_GPU[0]}, NO_GPU[1]),
    ("emb-device-tpu", E, {"device": "tpu"}, r"device must be one of 'auto', 'cpu', 'cuda'"),
    ("emb-on-error", E, {"on_error": "ignore"}, r"on_error must be 'skip' or 'raise'"),
    ("emb-empty-view", E, {"@view": "empty"}, r"The view has no samples"),
    # the 2-D map and the similarity index: brain keys checked before the embeddings
    (
        "emb-viz-method",
        E,
        {"compute_viz": True, "viz_method": "mds"},
        r"viz_method must be one of umap, tsne, pca",
    ),
    (
        "emb-viz-key-slash",
        E,
        {"compute_viz": True, "viz_method": "pca", "viz_key": "a/b"},
        r"viz_key name 'a/b' is not valid",
    ),
    (
        "emb-viz-key-dotdot",
        E,
        {"compute_viz": True, "viz_method": "pca", "viz_key": ".."},
        r"viz_key name '\.\.' is not valid",
    ),
    (
        "emb-viz-key-taken",
        E,
        {"compute_viz": True, "viz_method": "pca", "viz_key": "clip_sim"},
        r"Brain key 'clip_sim' \(viz_key\) is taken by a similarity run",
    ),
    (
        "emb-sim-key-taken",
        E,
        {"compute_similarity": True, "sim_key": "clip_viz"},
        r"Brain key 'clip_viz' \(sim_key\) is taken by a visualization run",
    ),
    (
        "emb-sim-key-dash",
        E,
        {"compute_similarity": True, "sim_key": "sim-1"},
        r"sim_key name 'sim-1' is not valid",
    ),
    (
        "emb-sim-is-viz",
        E,
        {
            "compute_viz": True,
            "viz_method": "pca",
            "compute_similarity": True,
            "viz_key": "k",
            "sim_key": "k",
        },
        r"sim_key and viz_key must differ",
    ),
    (
        "emb-viz-too-few",
        E,
        {"compute_viz": True, "viz_method": "tsne"},
        r"A tsne map needs at least 31 samples; the view has 20",
    ),
    # zero-shot: classes, prompts, templates
    ("zs-classes-one", Z, {"classes": ["0 - zero"]}, r"needs at least two classes.*\(classes\)"),
    (
        "zs-classes-dup",
        Z,
        {"classes": ["0 - zero", "0 - zero", "1 - one"]},
        r"The class list has duplicates: 0 - zero: list each class once in classes",
    ),
    ("zs-classes-blank", Z, {"classes": ["0 - zero", ""]}, r"classes has an empty class name"),
    ("zs-gt-missing", Z, {"gt_field": "nope", "evaluate": False}, r"gt_field"),
    (
        "zs-template-no-slot",
        Z,
        {"templates": ["a photo"]},
        r"Prompt template 'a photo' must contain exactly one '\{\}' slot",
    ),
    (
        "zs-template-braces",
        Z,
        {"templates": ["a {x} of {}"]},
        r"Prompt template 'a \{x\} of \{\}' has braces other than",
    ),
    (
        "zs-template-set",
        Z,
        {"template_set": "nope"},
        r"Unknown template set 'nope': use one of tutorial, mnist",
    ),
    (
        "zs-prompt-style",
        Z,
        {"prompt_style": "nope"},
        r"prompt_style must be one of first, last, both, label",
    ),
    (
        "zs-prompt-names-json",
        Z,
        {"prompt_names": '{"0 - zero": '},
        r"prompt_names is not a JSON object",
    ),
    (
        "zs-prompt-names-class",
        Z,
        {"prompt_names": {"x": "y"}},
        r"prompt_names has entries for unknown classes: 'x'",
    ),
    (
        "zs-prompt-names-same",
        Z,
        {"prompt_names": {"0 - zero": "1"}},
        r"two classes would be indistinguishable",
    ),
    # zero-shot: the prediction field, the evaluation key, the reused embeddings
    (
        "zs-label-gt",
        Z,
        {"label_field": "ground_truth"},
        r"label_field 'ground_truth' would overwrite the ground truth",
    ),
    ("zs-label-tags", Z, {"label_field": "tags"}, r"The label_field 'tags' is a built-in field"),
    (
        "zs-label-filepath",
        Z,
        {"label_field": "filepath"},
        r"The label_field 'filepath' is a built-in",
    ),
    ("zs-label-dot", Z, {"label_field": "a.b"}, r"label_field name 'a\.b' is not valid"),
    (
        "zs-label-embeddings",
        Z,
        {"label_field": "clip_embeddings"},
        r"label_field 'clip_embeddings' would overwrite the ground truth or embeddings",
    ),
    (
        "zs-label-not-classification",
        Z,
        {"label_field": "notes"},
        r"The label_field 'notes' does not hold Classification labels",
    ),
    ("zs-eval-slash", Z, {"eval_key": "a/b"}, r"eval_key name 'a/b' is not valid"),
    ("zs-eval-dotdot", Z, {"eval_key": ".."}, r"eval_key name '\.\.' is not valid"),
    ("zs-eval-gt", Z, {"eval_key": "ground_truth"}, r"eval_key 'ground_truth' names a field"),
    (
        "zs-eval-label",
        Z,
        {"label_field": "zs_new", "eval_key": "zs_new"},
        r"eval_key 'zs_new' names a field",
    ),
    (
        "zs-eval-field",
        Z,
        {"eval_key": "pred"},
        r"eval_key 'pred' is the name of an existing field that is not an evaluation",
    ),
    (
        "zs-emb-tags",
        Z,
        {"embeddings_field": "tags"},
        r"The embeddings_field 'tags' is a built-in field",
    ),
    (
        "zs-emb-other-model",
        Z,
        {"model_name": "RN50"},
        r"'clip_embeddings' \(embeddings_field\) holds embeddings made by ClassLab-Tiny-ViT",
    ),
    ("zs-empty-view", Z, {"@view": "empty"}, r"The view has no samples"),
    ("zs-model-unknown", Z, {"model_name": "NoSuchNet"}, r"model_name 'NoSuchNet' is not a"),
    ("zs-device-no-gpu", Z, {"device": NO_GPU[0]}, NO_GPU[1]),
    ("zs-batch-nan", Z, {"batch_size": NAN}, r"batch_size must be a whole number of 1 or more"),
    ("zs-workers-neg", Z, {"num_workers": -2}, r"num_workers must be a whole number of 0 or more"),
]


class _Evil:
    """Unpickling this object would create the file ``path`` (weights-only loading refuses)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def clip_ds(mnist_base):
    """A clone of mnist_base whose first 40 test samples have tiny-CLIP embeddings (with a
    pca map ``clip_viz`` and an index ``clip_sim``), zero-shot predictions
    (``clip_zero_shot``, eval ``eval_clip``), a Classification field ``pred`` and a list of
    strings ``notes``. Tests must leave it as is."""
    import fiftyone as fo
    from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings, zero_shot_classify
    from support.curation import add_predictions

    tiny = register_tiny_clip()
    spec, options = ClipSpec(tiny, None, True), LoaderOptions(device="cpu", num_workers=0)
    ds = mnist_base.clone("classlab-test-rel-clip")
    view = ds.match_tags("test").limit(40)
    compute_clip_embeddings(
        view, spec, options, compute_viz=True, viz_method="pca", compute_similarity=True
    )
    zero_shot_classify(view, spec, options)
    add_predictions(ds, "pred", view=view)
    ds.add_sample_field("notes", fo.ListField, subfield=fo.StringField)
    view.set_values("notes", [["a note"]] * 40)
    yield ds
    ds.delete()


@pytest.fixture(scope="module")
def bad_files(tmp_root, tmp_path_factory):
    """``{"@corrupt": path, "@malicious": path}``: two files that are no checkpoint (the
    second, if unpickled, would create ``tmp_root / "pwned"``)."""
    files = tmp_path_factory.mktemp("not-checkpoints")
    (files / "corrupt.pt").write_bytes(b"\x80\x02 not a checkpoint" * 50)
    with open(files / "evil.pt", "wb") as f:
        pickle.dump({"state_dict": _Evil(tmp_root / "pwned")}, f)
    return {"@corrupt": str(files / "corrupt.pt"), "@malicious": str(files / "evil.pt")}


def _target(ds, params):
    view = ds.match_tags("test").limit(20)
    return view.limit(0) if params.get("@view") == "empty" else view


def _params(files, params):
    """The operator's params of a case: the tiny model on the CPU, then the case's values."""
    base = {"model_name": register_tiny_clip(), "random_weights": True, "device": "cpu"}
    params = {k: files.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    return {**base, "num_workers": 0, **{k: v for k, v in params.items() if k != "@view"}}


def _core(op, view, params):
    """Calls the core function of ``op`` with the operator's ``params``."""
    from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings, zero_shot_classify

    p = dict(params)
    spec = ClipSpec(**{k: p.pop(k) for k in SPEC_KEYS if k in p})
    options = LoaderOptions(**{k: p.pop(k) for k in LOADER_KEYS if k in p})
    fn = compute_clip_embeddings if op == E else zero_shot_classify
    return fn(view, spec, options, **p)


@pytest.mark.parametrize("way", ["core", "operator"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_clip_input_is_refused_and_changes_nothing(
    case, way, clip_ds, bad_files, tmp_root, execute, unchanged, no_writes
):
    name, op, params, message = case
    view = _target(clip_ds, params)
    params = _params(bad_files, params)
    with unchanged(clip_ds), no_writes():
        if way == "core":
            with pytest.raises(ClassLabError, match=message):
                _core(op, view, params)
        else:
            with pytest.raises(ExecutionError, match=message):
                execute(op, view=view, params=params)
    assert not (tmp_root / "pwned").exists(), "a checkpoint's pickle ran code"


def test_overwrite_replaces_another_models_embeddings_only_in_the_field(clip_ds, tmp_path):
    """What a user expects of overwrite=True: the field is cleared and refilled by the new
    weights (here a checkpoint file), and nothing else (tags, other fields, runs) changes."""
    from classlab import records
    from classlab.clip import ClipSpec, LoaderOptions, compute_clip_embeddings, load_clip

    tiny = register_tiny_clip()
    ckpt = tmp_path / "tiny.pt"
    torch.save(load_clip(ClipSpec(tiny, None, True), "cpu").model.state_dict(), ckpt)
    ds = clip_ds.clone()
    try:
        tags, notes, runs = ds.count_sample_tags(), ds.values("notes"), ds.list_brain_runs()
        view = ds.match_tags("test").limit(10)
        options = LoaderOptions(device="cpu", num_workers=0)
        with pytest.raises(ClassLabError, match="pass overwrite=True"):
            compute_clip_embeddings(view, ClipSpec(tiny, str(ckpt)), options)
        res = compute_clip_embeddings(view, ClipSpec(tiny, str(ckpt)), options, overwrite=True)
        assert res["num_embedded"] == 10
        assert ds.count("clip_embeddings") == 10  # the other 30 were the old model's: cleared
        assert ds.count_sample_tags() == tags and ds.values("notes") == notes
        assert ds.list_brain_runs() == runs
        assert records.get_record(ds, "clip", "clip_embeddings")["pretrained"] == str(ckpt)
    finally:
        ds.delete()
