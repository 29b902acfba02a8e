"""Bad inputs to the curation entry points (compute_sample_scores, tag_samples_to_fix,
augment_samples, delete_augmentations), each through the core function AND the
operator: a ClassLab error whose message names the parameter, the dataset unchanged
(samples, schema, tags, info and records, runs, label values), no file written anywhere
(no image, no staging folder) and no dataset created."""

from __future__ import annotations

import json
import math

import pytest
from classlab.errors import ClassLabError
from fiftyone.operators.executor import ExecutionError

NAN, INF = math.nan, math.inf
S, T = "compute_sample_scores", "tag_samples_to_fix"
A, D = "augment_samples", "delete_augmentations"
SCORE = {"pred_field": "lenet", "embeddings_field": "emb"}
HARD = {"scores": ["hardness"], "pred_field": "lenet", "embeddings_field": ""}
MIST = {"scores": ["mistakenness"], "pred_field": "lenet", "embeddings_field": ""}
UNIQ = {"scores": ["uniqueness"], "pred_field": "", "embeddings_field": "emb"}
MISCLS = {"misclassified": True, "pred_field": "lenet"}


def _recipe(cls: str, **kwargs) -> str:
    """A serialised pipeline (as A.to_dict writes it) of one transform ``cls``."""
    inner = {"__class_fullname__": cls, "p": 1.0, **kwargs}
    compose = {"__class_fullname__": "Compose", "p": 1.0, "transforms": [inner]}
    return json.dumps({"__version__": "2.0.0", "transform": compose})


# (id, operator, params, message that names the parameter)
CASES = [
    # compute_sample_scores: every score's inputs checked before the first one is written
    (
        "scores-emb-filepath",
        S,
        {**SCORE, "embeddings_field": "filepath"},
        r"The embeddings_field 'filepath' holds StringField values, not embeddings",
    ),
    (
        "scores-emb-tags",
        S,
        {**UNIQ, "embeddings_field": "tags"},
        r"The embeddings_field 'tags' holds ListField values, not embeddings",
    ),
    (
        "scores-emb-gt",
        S,
        {**UNIQ, "embeddings_field": "ground_truth"},
        r"The embeddings_field 'ground_truth' holds EmbeddedDocumentField values",
    ),
    (
        "scores-emb-missing",
        S,
        {**UNIQ, "embeddings_field": "nope"},
        r"No embeddings field 'nope' \(embeddings_field\)",
    ),
    (
        "scores-emb-partial",
        S,
        {**UNIQ, "embeddings_field": "emb_part"},
        r"sample\(s\) in the view have no embedding in 'emb_part'",
    ),
    ("scores-emb-none", S, {**UNIQ, "embeddings_field": ""}, r"needs an embeddings field"),
    (
        "scores-pred-is-gt",
        S,
        {**MIST, "pred_field": "ground_truth"},
        # the core says so first; the form shows pred_field's own check on its property
        r"gt_field and pred_field are both 'ground_truth'|'ground_truth' \(pred_field\) have",
    ),
    (
        "scores-pred-missing",
        S,
        {**HARD, "pred_field": "nope"},
        r"prediction field \(pred_field\) 'nope' does not exist",
    ),
    (
        "scores-pred-no-logits",
        S,
        {**HARD, "pred_field": "zs"},
        r"Hardness needs logits, and 40 prediction\(s\) in 'zs' \(pred_field\) have none",
    ),
    (
        "scores-pred-not-classification",
        S,
        {**HARD, "pred_field": "emb"},
        r"prediction field \(pred_field\) 'emb' does not hold Classification labels",
    ),
    ("scores-no-pred", S, {**HARD, "pred_field": ""}, r"need a Classification prediction field"),
    (
        "scores-gt-missing",
        S,
        {**MIST, "gt_field": "nope"},
        r"ground-truth field \(gt_field\) 'nope' does not exist",
    ),
    (
        "scores-unknown",
        S,
        {**HARD, "scores": ["hardness", "sharpness"]},
        r"Unknown score 'sharpness' in scores: choose from hardness",
    ),
    ("scores-none", S, {**HARD, "scores": []}, r"Choose at least one score in scores"),
    (
        "scores-output-not-float",
        S,
        {**MIST, "pred_field": "zs"},
        r"The field 'zs_mistakenness' exists and is not a float field",
    ),
    (
        "scores-repr-few",
        S,
        {**UNIQ, "scores": ["representativeness"], "@view": 10},
        r"needs at least that many samples; the view has 10",
    ),
    ("scores-empty-view", S, {**HARD, "@view": 0}, r"The view has no samples"),
    # tag_samples_to_fix: numbers, tags, splits and the fields a criterion reads
    ("tag-hardness-nan", T, {"hardness_above": NAN}, r"hardness_above must be a number \(finite"),
    ("tag-hardness-inf", T, {"hardness_above": INF}, r"hardness_above must be a number \(finite"),
    ("tag-hardness-abc", T, {"hardness_above": "abc"}, r"hardness_above must be a number"),
    ("tag-mist-top-1.5", T, {"mistakenness_top": 1.5}, r"mistakenness_top must be in \(0, 1\)"),
    ("tag-mist-top-nan", T, {"mistakenness_top": NAN}, r"mistakenness_top must be in \(0, 1\)"),
    ("tag-unique-top-0", T, {"unique_top": 0}, r"unique_top must be in \(0, 1\)"),
    (
        "tag-low-conf-neg",
        T,
        {**MISCLS, "low_confidence_bottom": -0.1},
        r"low_confidence_bottom must be in \(0, 1\)",
    ),
    ("tag-none", T, {}, r"Choose at least one criterion"),
    ("tag-empty", T, {**MISCLS, "tag": ""}, r"The tag must be a non-empty string"),
    ("tag-blank", T, {**MISCLS, "tag": "   "}, r"The tag must be a non-empty string"),
    (
        "tag-split-ghost",
        T,
        {**MISCLS, "split": "nope"},
        r"No sample of the view has the split tag 'nope' \(split\)",
    ),
    (
        "tag-pred-missing",
        T,
        {**MISCLS, "pred_field": "nope"},
        r"prediction field \(pred_field\) 'nope' does not exist",
    ),
    (
        "tag-score-missing",
        T,
        {"unique_top": 0.1, "embeddings_field": "nope"},
        r"unique_top reads the uniqueness field 'nope_uniqueness', which does not exist",
    ),
    (
        "tag-untag-nothing",
        T,
        {"untag": True, "tag": "never_used"},
        r"No sample carries the tag 'never_used'",
    ),
    # augment_samples: keys that would name a folder outside the run's, numbers, recipes
    ("aug-key-dotdot", A, {"run_key": "_.."}, r"run_key='_\.\.' is not a valid key"),
    ("aug-key-space-dotdot", A, {"run_key": " .."}, r"run_key='\.\.' is not a valid key"),
    ("aug-key-root-dotdot", A, {"run_key": "/.."}, r"run_key='/\.\.' is not a valid key"),
    ("aug-key-slash", A, {"run_key": "a/b"}, r"run_key='a/b' is not a valid key"),
    ("aug-key-hidden", A, {"run_key": ".x"}, r"run_key='\.x' is not a valid key"),
    ("aug-key-empty", A, {"run_key": " "}, r"run_key must be a non-empty name"),
    ("aug-key-exists", A, {"run_key": "aug1"}, r"The augmentation run 'aug1' exists: tick"),
    (
        "aug-source-is-run",
        A,
        {"run_key": "aug1", "overwrite": True, "source_tag": "augmented"},
        r"The source view contains samples of the run 'aug1'",
    ),
    ("aug-copies-0", A, {"num_copies": 0}, r"num_copies must be a positive integer"),
    ("aug-copies-neg", A, {"num_copies": -1}, r"num_copies must be a positive integer"),
    ("aug-copies-nan", A, {"num_copies": NAN}, r"num_copies must be a positive integer"),
    ("aug-copies-2.5", A, {"num_copies": 2.5}, r"num_copies must be a positive integer"),
    (
        "aug-copies-1e6",
        A,
        {"num_copies": 10**6},
        r"num_copies=1000000 is above the limit of 100 copies per sample \(num_copies\)",
    ),
    ("aug-preset", A, {"preset": "nope"}, r"Unknown preset 'nope': choose from"),
    ("aug-json-bad", A, {"pipeline_json": "{not json"}, r"pipeline_json is not valid JSON"),
    ("aug-json-list", A, {"pipeline_json": "[1, 2]"}, r"pipeline_json must be a JSON object"),
    (
        "aug-json-unknown",
        A,
        {"pipeline_json": _recipe("NoSuchTransform")},
        r"albumentations cannot build the pipeline in pipeline_json",
    ),
    (
        "aug-json-lambda",
        A,
        {"pipeline_json": _recipe("Lambda", name="x")},
        r"albumentations cannot build the pipeline in pipeline_json",
    ),
    (
        "aug-json-os-system",
        A,
        {"pipeline_json": _recipe("os.system", command="touch pwned")},
        r"albumentations cannot build the pipeline in pipeline_json",
    ),
    ("aug-seed-abc", A, {"seed": "abc"}, r"seed must be an integer"),
    ("aug-seed-nan", A, {"seed": NAN}, r"seed must be an integer"),
    ("aug-seed-inf", A, {"seed": INF}, r"seed must be an integer >= 0, got inf"),
    ("aug-seed-neg", A, {"seed": -1}, r"seed must be an integer >= 0, got -1"),
    ("aug-source-empty", A, {"source_tag": "nobody"}, r"The source view has no samples"),
    ("aug-label-missing", A, {"label_field": "nope"}, r"label field \(label_field\) 'nope'"),
    # delete_augmentations: only a run that exists, never a path
    ("del-unknown", D, {"run_key": "ghost"}, r"No augmentation run 'ghost' on this dataset"),
    ("del-dotdot", D, {"run_key": "_.."}, r"No augmentation run '_\.\.' on this dataset"),
    ("del-abs", D, {"run_key": "/anywhere/else"}, r"No augmentation run '/anywhere/else'"),
    ("del-empty", D, {"run_key": ""}, r"No augmentation run '' on this dataset"),
]


@pytest.fixture(scope="module")
def cur_ds(mnist_base):
    """A clone of mnist_base: on its first 40 train samples, predictions with logits
    (``lenet``) and without (``zs``), embeddings (``emb``; ``emb_part`` on 20), the four
    scores of ``lenet``/``emb``, a string field ``zs_mistakenness``; 4 of them tagged
    ``to_augment`` and augmented once as run ``aug1``. Tests must leave it as is."""
    import fiftyone as fo
    from classlab.curation.augment import augment_samples
    from classlab.curation.scores import compute_sample_scores
    from support.curation import add_embeddings, add_predictions

    ds = mnist_base.clone("classlab-test-rel-curation")
    view = ds.match_tags("train").limit(40)
    add_predictions(ds, "lenet", view=view)
    add_predictions(ds, "zs", seed=1, logits=False, view=view)
    add_embeddings(ds, "emb", view=view)
    add_embeddings(ds, "emb_part", view=view.limit(20))
    compute_sample_scores(view, pred_field="lenet", embeddings_field="emb")
    ds.add_sample_field("zs_mistakenness", fo.StringField)
    view.limit(4).tag_samples("to_augment")
    augment_samples(ds.match_tags("to_augment"), run_key="aug1", num_copies=1)
    yield ds
    ds.delete()


def _target(ds, op, params):
    if op == D:
        return ds
    if op == A:  # the operator takes the sources by source_tag
        return ds.match_tags("train")
    view = ds.match_tags("train").limit(40)
    return view.limit(params["@view"]) if "@view" in params else view


def _params(op, params):
    return {k: v for k, v in params.items() if k != "@view"}


def _core(op, view, params):
    """Calls the core function of ``op`` with the operator's ``params``."""
    from classlab import defaults
    from classlab.curation.augment import augment_samples, delete_augmentations
    from classlab.curation.scores import compute_sample_scores
    from classlab.curation.tagging import Criteria, tag_samples

    p = dict(params)
    if op == S:
        for k in ("pred_field", "embeddings_field"):
            p[k] = p.get(k) or None  # the operator's empty choice
        return compute_sample_scores(view, **p)
    if op == T:
        tag, untag = p.pop("tag", defaults.TO_FIX_TAG), p.pop("untag", False)
        return tag_samples(view, Criteria.from_params(p), tag, untag)
    if op == A:
        source_tag = p.pop("source_tag", defaults.TO_FIX_TAG)
        return augment_samples(view.match_tags(source_tag), **p)
    return delete_augmentations(view, **p)


@pytest.mark.parametrize("way", ["core", "operator"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_curation_input_is_refused_and_changes_nothing(
    case, way, cur_ds, execute, unchanged, no_writes
):
    _, op, params, message = case
    view = _target(cur_ds, op, params)
    params = _params(op, params)
    with unchanged(cur_ds), no_writes():
        if way == "core":
            with pytest.raises(ClassLabError, match=message):
                _core(op, view, params)
        else:
            with pytest.raises(ExecutionError, match=message):
                execute(op, view=view, params=params)


def test_tags_are_names_not_paths(cur_ds, no_writes):
    """Tags never name a file: ``a/b`` and ``..`` are ordinary tags (tagged and untagged
    as a user expects), and no file is written."""
    from classlab.curation.tagging import Criteria, tag_samples

    view = cur_ds.match_tags("train").limit(40)
    with no_writes():
        for tag in ("a/b", ".."):
            res = tag_samples(view, Criteria(pred_field="lenet", misclassified=True), tag)
            assert res["tagged"] == cur_ds.match_tags(tag).count() > 0
            tag_samples(view, None, tag, untag=True)
            assert cur_ds.match_tags(tag).count() == 0
