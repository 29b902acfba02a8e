"""Result dialogs (``resolve_output``) of the LeNet operators: what changed, in numbers.

Each builder reads ``execute()``'s result from ``ctx.results`` (via
:func:`operators.common.results`); before there is one (the App asks for the
output schema before executing, the SDK never) it shows the fields without a
summary.
"""

from __future__ import annotations

from fiftyone.operators import types

from .common import result_view, results

# the model table's columns: (key, label)
MODEL_COLUMNS = (
    ("run_key", "Run key"),
    ("architecture", "Architecture"),
    ("val_acc", "Val accuracy"),
    ("best_epoch", "Best epoch"),
    ("num_train", "Train samples"),
    ("parent", "Fine-tuned from"),
    ("applied_to", "Predictions in"),
    ("created_at", "Created"),
)


def _pct(value) -> str:
    return "n/a" if value is None else f"{float(value):.4f}"


def with_mistakes(r: dict) -> dict:
    """``r`` (a result with ``accuracy`` and ``num_evaluated``) plus ``num_mistakes``, and
    the accuracy rounded for display."""
    if r.get("accuracy") is not None and r.get("num_evaluated") is not None:
        r["num_mistakes"] = round(r["num_evaluated"] * (1 - r["accuracy"]))
        r["accuracy"] = round(r["accuracy"], 4)
    return r


def train_output(ctx):
    r = results(ctx)
    summary = ""
    if r:
        parent = f", fine-tuned from **{r['parent']}**" if r.get("parent") else ""
        summary = (
            f"Trained **{r['run_key']}** ({r.get('architecture')}{parent}) on "
            f"{r.get('num_train')} train samples: validation accuracy **{_pct(r['val_acc'])}** "
            f"on {r.get('num_val')} val samples (best epoch {r['best_epoch']} of "
            f"{r['epochs_run']}) in {r['train_seconds']:.1f} s. Next: apply it "
            "(ClassLab: apply LeNet-5)."
        )
    fields = (
        ("run_key", "Run key", "str"),
        ("val_acc", "Validation accuracy", "float"),
        ("best_epoch", "Best epoch", "int"),
        ("epochs_run", "Epochs run", "int"),
        ("train_seconds", "Training time (s)", "float"),
        ("num_train", "Train samples", "int"),
        ("num_val", "Val samples", "int"),
        ("checkpoint", "Checkpoint", "str"),
    )
    return result_view("LeNet trained", summary, fields)


def apply_output(ctx):
    r = with_mistakes(results(ctx))
    summary = ""
    if r:
        emb = r.get("embeddings_field")
        summary = (
            f"Wrote {r['num_samples']} predictions of **{r['run_key']}** to "
            f"`{r['label_field']}`" + (f" and embeddings to `{emb}`" if emb else "") + "."
        )
        if r.get("accuracy") is not None:
            summary += (
                f" Accuracy **{_pct(r['accuracy'])}** on {r['num_evaluated']} labelled "
                f"samples (eval key `{r['eval_key']}`): {r['num_mistakes']} mistakes, "
                "now shown in the grid."
            )
    fields = (
        ("num_samples", "Predictions written", "int"),
        ("label_field", "Prediction field", "str"),
        ("embeddings_field", "Embeddings field", "str"),
        ("accuracy", "Accuracy", "float"),
        ("eval_key", "Eval key", "str"),
        ("images_per_second", "Images per second", "float"),
    )
    return result_view("LeNet predictions", summary, fields)


def evaluate_output(ctx):
    r = with_mistakes(results(ctx))
    summary = ""
    if r:
        summary = (
            f"Evaluated {r['num_evaluated']} samples as `{r['eval_key']}`: accuracy "
            f"**{_pct(r['accuracy'])}**, weighted F1 {_pct(r['f1'])}; {r['num_mistakes']} "
            "mistakes, now shown in the grid."
        )
    fields = (
        ("eval_key", "Eval key", "str"),
        ("num_evaluated", "Samples evaluated", "int"),
        ("accuracy", "Accuracy", "float"),
        ("precision", "Precision (weighted)", "float"),
        ("recall", "Recall (weighted)", "float"),
        ("f1", "F1 (weighted)", "float"),
    )
    return result_view("Evaluation", summary, fields)


def models_output(ctx):
    r = results(ctx)
    n = r.get("count", 0)
    summary = f"{n} model(s) on this dataset." if n else "No model yet: train one first."
    outputs = types.Object()
    outputs.md(summary, name="summary")
    table = types.TableView()
    for key, label in MODEL_COLUMNS:
        table.add_column(key, label=label)
    outputs.list("table", types.Object(), label="Models", view=table)
    return types.Property(outputs, view=types.View(label="LeNet models"))


def model_rows(models: dict) -> list[dict]:
    """One table row per model (``{run_key: summary}`` of ``registry.model_summary``)."""
    return [
        {
            "run_key": key,
            "architecture": m.get("architecture"),
            "val_acc": _pct(m.get("val_acc")),
            "best_epoch": m.get("best_epoch"),
            "num_train": m.get("num_train"),
            "parent": m.get("parent") or "",
            "applied_to": ", ".join(m.get("applied_to") or []),
            "created_at": m.get("created_at") or "",
        }
        for key, m in sorted(models.items())
    ]


def rename_output(ctx):
    r = results(ctx)
    old = ctx.params.get("run_key")
    summary = f"Renamed **{old}** to **{r['run_key']}**." if r else ""
    return result_view("Model renamed", summary, (("run_key", "Run key", "str"),))


def delete_output(ctx):
    r = results(ctx)
    summary = ""
    if r:
        kept = "deleted" if r.get("checkpoint_deleted") else "kept"
        summary = (
            f"Deleted model **{r['deleted']}**; its checkpoint file was {kept}. "
            "Its prediction fields stay on the samples."
        )
    fields = (("deleted", "Deleted", "str"), ("checkpoint", "Checkpoint", "str"))
    return result_view("Model deleted", summary, fields)


def embeddings_output(ctx):
    r = results(ctx)
    summary = ""
    if r:
        maps = []
        if r.get("viz_key"):
            maps.append(f"2-D map `{r['viz_key']}`")
        if r.get("sim_key"):
            maps.append(f"similarity index `{r['sim_key']}`")
        summary = (
            f"Embedded {r['num_embedded']} images with {r.get('model')} into "
            f"`{r.get('embeddings_field')}` in {r.get('seconds', 0):.1f} s"
            + (
                f" ({r['num_skipped_existing']} already had embeddings)"
                if r.get("num_skipped_existing")
                else ""
            )
            + (f"; {r['num_failed']} unreadable" if r.get("num_failed") else "")
            + (f"; built {' and '.join(maps)}" if maps else "")
            + "."
        )
    fields = (
        ("embeddings_field", "Embeddings field", "str"),
        ("num_embedded", "Embedded", "int"),
        ("num_skipped_existing", "Skipped (had embeddings)", "int"),
        ("num_failed", "Unreadable images", "int"),
        ("seconds", "Time (s)", "float"),
        ("images_per_second", "Images per second", "float"),
    )
    return result_view("CLIP embeddings", summary, fields)


def zero_shot_output(ctx):
    r = results(ctx)
    summary = ""
    if r:
        summary = (
            f"Labelled {r['num_predicted']} images with {r.get('model')} into "
            f"`{r['label_field']}` in {r.get('seconds', 0):.1f} s"
            + (f"; {r['num_failed']} unreadable" if r.get("num_failed") else "")
            + "."
        )
        if r.get("accuracy") is not None:
            summary += (
                f" Accuracy **{_pct(r['accuracy'])}** (eval key `{r['eval_key']}`); "
                "the grid now shows its mistakes."
            )
        if "random weights" in str(r.get("model")):
            summary += " Random weights: these labels and this accuracy mean nothing."
    fields = (
        ("label_field", "Prediction field", "str"),
        ("num_predicted", "Labelled", "int"),
        ("num_reused_embeddings", "Reused stored embeddings", "int"),
        ("num_failed", "Unreadable images", "int"),
        ("accuracy", "Accuracy (vs ground truth)", "float"),
        ("eval_key", "Eval key", "str"),
        ("seconds", "Time (s)", "float"),
    )
    return result_view("CLIP zero-shot", summary, fields)


def _kind(value) -> str | None:
    """The output kind of a result value, None for values a dialog does not show."""
    if isinstance(value, bool) or isinstance(value, str):
        return "str"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (dict, list)) and len(str(value)) <= 2000:
        return "obj"
    return None


def summary_output(ctx, title: str, headline: str = "", labels: dict | None = None):
    """A result dialog for any operator: ``headline`` (a ``str.format`` template over
    the result; left out when a key is missing) on top, then every result value a
    dialog can show, labelled from ``labels`` or its key."""
    r = results(ctx)
    try:
        summary = headline.format(**r) if r and headline else ""
    except (KeyError, IndexError, ValueError, TypeError):  # a key missing, or None
        summary = ""
    labels = labels or {}
    fields = [
        (key, labels.get(key, key.replace("_", " ").capitalize()), kind)
        for key, value in r.items()
        if (kind := _kind(value)) is not None
    ]
    return result_view(title, summary, fields)
