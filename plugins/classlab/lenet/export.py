"""ONNX export of a recorded model, verified with onnxruntime, and the ONNX runner that
``apply_lenet(..., runtime="onnxruntime")`` uses.

Each export writes a new file ``models_dir(dataset)/<model_id>-<version>.onnx`` (named by
the model's immutable id and a fresh version, next to its checkpoint, under ClassLab's
root), written by torch's exporter
(``torch.onnx.export(dynamo=True)``) with a dynamic batch axis:

- input ``images``: float32 ``N x C x S x S``, pixels scaled as in training
  (``pixel / 127.5 - 1``);
- outputs ``logits`` (``N x classes``) and ``features`` (the penultimate layer).

Before anything is kept, onnxruntime runs up to 256 samples of the dataset and its
logits are compared with torch's: max absolute difference <= 1e-4 and the same argmax
on every sample, else :class:`ExportMismatchError` and no file. Only then is the file
moved into place (``os.replace``) and the record updated, in one atomic update, with
``onnx_path``, ``onnx_opset``, ``onnx_max_abs_diff`` and ``latency_ms["onnx"]`` (CPU, per
image, batch 1 and 256; ``onnx_latency_ms`` is its batch-1 figure) next to torch's;
then the file it replaced is removed unless another record (a clone's) uses it.

Crash safety: a journal ``.<file>~<host>~<pid>.pending`` names the new and the old file
before the move, as for checkpoints (:mod:`classlab.lenet.checkpoints`). The record always
names a whole file whose figures are its own (the old one until the update, the new one
after); a killed export's new file, or an old one it did not get to remove, is swept by the
next write into that folder when no record references it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import numpy as np

from classlab import config, defaults, records
from classlab.errors import ClassLabError, DataSourceError, InputError, RunExistsError
from classlab.lenet import checkpoints, registry
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_nonempty
from classlab.writers import fault, owner

logger = logging.getLogger("classlab")

# test-only SIGKILL points (CLASSLAB_FAULT): the verified temp file written, not moved;
# the file moved into place, the record not yet updated
FAULT_POINTS = ("onnx_after_tmp_write", "onnx_after_replace")


class ExportMismatchError(InputError):
    """onnxruntime's outputs differ from torch's beyond the tolerance: nothing was kept."""


def check_opset(opset) -> int:
    """``opset`` is an integer in ``defaults.ONNX_OPSETS`` (what torch's exporter emits
    and onnxruntime runs).

    Raises:
        InputError: naming ``opset`` and the range
    """
    lo, hi = defaults.ONNX_OPSETS
    ok = isinstance(opset, int | float) and not isinstance(opset, bool)
    if not (ok and opset == int(opset) and lo <= opset <= hi):
        raise InputError(
            f"opset must be an integer from {lo} to {hi} (torch's exporter emits {lo} or "
            f"more; onnxruntime runs up to {hi}), e.g. {defaults.ONNX_OPSET}; got {opset!r}"
        )
    return int(opset)


def onnx_file(dataset_name: str, model_id: str, version: str | None = None) -> Path:
    """A new ONNX file of the model ``model_id`` (inside ClassLab's root): a fresh
    ``version`` each export, so that a re-export never writes over the file a record
    names."""
    import uuid

    version = version or uuid.uuid4().hex[:12]
    name = f"{config.check_key(model_id, 'model_id')}-{config.check_key(version, 'version')}"
    return config.models_dir(dataset_name) / f"{name}.onnx"


def check_num_samples(num_samples) -> int:
    """``num_samples`` (export verification) is an integer from 1 to 65536."""
    ok = isinstance(num_samples, int | float) and not isinstance(num_samples, bool)
    if not (ok and num_samples == int(num_samples) and 1 <= num_samples <= 65536):
        raise InputError(
            f"num_samples must be an integer from 1 to 65536 (samples that verify the "
            f"export), e.g. {defaults.ONNX_VERIFY_SAMPLES}; got {num_samples!r}"
        )
    return int(num_samples)


def check_export_args(
    dataset,
    run_key: str,
    opset,
    overwrite: bool = False,
    models=None,
    num_samples=defaults.ONNX_VERIFY_SAMPLES,
):
    """Every check of :func:`export_model` (no write); returns the model's record.

    Raises:
        RunNotFoundError: no such model (naming ``run_key``)
        InputError: a bad opset or num_samples
        RunExistsError: the model is exported already and ``overwrite`` is False
    """
    check_opset(opset)
    check_num_samples(num_samples)
    models = registry.list_models(dataset) if models is None else models
    registry.require_model(models, run_key)
    rec = models[run_key]
    from classlab.lenet.models import ARCHITECTURES

    if rec.get("architecture") not in ARCHITECTURES:
        raise InputError(
            f"Model {run_key!r} is a {rec.get('architecture')!r}: export_model exports the "
            f"networks of the trainer ({', '.join(ARCHITECTURES)}). Pick another run_key."
        )
    if rec.get("onnx_path") and Path(rec["onnx_path"]).is_file() and not overwrite:
        raise RunExistsError(
            f"Model {run_key!r} is exported already ({rec['onnx_path']}): pass "
            "overwrite=True to export it again"
        )
    return rec


def _wrapped(model):
    """``model`` with the two outputs of the ONNX file: ``(logits, features)``."""
    from torch import nn

    class LogitsAndFeatures(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, images):
            f = self.model.features(images)
            return self.model.head(f), f

    return LogitsAndFeatures().eval()


def write_onnx(model, rec: dict, opset: int, path: Path) -> Path:
    """Exports ``model`` (eval mode, CPU) to ``path`` with a dynamic batch axis."""
    import torch
    from torch.export import Dim

    example = torch.zeros((2, rec["in_channels"], rec["input_size"], rec["input_size"]))
    chatter = io.StringIO()  # the exporter prints its steps
    with contextlib.redirect_stdout(chatter), torch.no_grad():
        program = torch.onnx.export(
            _wrapped(model),
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=["images"],
            output_names=["logits", "features"],
            dynamic_shapes={"images": {0: Dim("batch", min=1, max=65536)}},
            verbose=False,
        )
        program.save(str(path))
    logger.debug("torch.onnx.export: %s", chatter.getvalue())
    return path


def session(path: str | Path):
    """An onnxruntime CPU session with as many threads as torch uses."""
    import onnxruntime as ort
    import torch

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def verify(model, sess, x, tolerance: float = defaults.ONNX_TOLERANCE) -> dict:
    """Runs uint8 images ``x`` through torch and onnxruntime and compares the logits.

    Raises:
        ExportMismatchError: max absolute difference above ``tolerance``, or an argmax
            that differs
    """
    from classlab.lenet.train import predict, to_input

    ref = predict(model, x, 256, "cpu", amp=False).numpy()
    got = sess.run(["logits"], {"images": to_input(x).numpy()})[0]
    diff = float(np.abs(got - ref).max()) if len(ref) else 0.0
    same = int((got.argmax(1) == ref.argmax(1)).sum())
    if not (diff <= tolerance and same == len(ref)):
        raise ExportMismatchError(
            f"The ONNX export does not match torch on {len(ref)} samples: max absolute "
            f"logit difference {diff:.3g} (allowed {tolerance:g}), same class on {same}. "
            "Nothing was kept: try another opset."
        )
    return {"max_abs_diff": diff, "num_verified": len(ref)}


def _samples(view, rec: dict, n: int):
    """Up to ``n`` images of the view, decoded as the model sees them (uint8)."""
    from classlab.lenet.data import view_tensors

    _, x, _ = view_tensors(view.limit(n), None, None, rec["in_channels"], rec["input_size"])
    return x


def _commit_record(dataset, run_key: str, rec: dict, path: Path, opset: int, facts: dict):
    """Records the export next to torch's figures in ONE atomic update; returns
    ``(new record, the record just before)``."""
    from classlab.errors import RunNotFoundError

    latency = dict(rec.get("latency_ms") or {})
    latency["onnx"] = facts["latency"]
    before = records.update_record_before(
        dataset,
        registry.KIND,
        run_key,
        onnx_path=str(path),
        onnx_opset=opset,
        onnx_max_abs_diff=facts["max_abs_diff"],
        onnx_latency_ms=facts["latency"]["1"],
        latency_ms=latency,
    )
    if before is None:
        raise RunNotFoundError(
            f"Model {run_key!r} was deleted while it was exported: nothing was kept"
        )
    return records.get_record(dataset, registry.KIND, run_key), before


def export_model(
    view,
    run_key: str,
    opset: int = defaults.ONNX_OPSET,
    num_samples: int = defaults.ONNX_VERIFY_SAMPLES,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Exports the recorded model ``run_key`` to ONNX, verified with onnxruntime.

    Args:
        view: the dataset (or a view of it) whose model it is; its first ``num_samples``
            samples verify the export
        run_key: a model of the dataset's registry
        opset: the ONNX opset (``defaults.ONNX_OPSETS``)
        num_samples: how many samples to compare torch and onnxruntime on
        overwrite: export again a model that has an ONNX file
        progress: ``fn(fraction, label)``

    Returns:
        ``{run_key, onnx_path, opset, max_abs_diff, num_verified, latency_ms}``

    Raises:
        ExportMismatchError: the outputs differ (no file is kept, the record unchanged)
    """
    report = as_progress(progress)
    dataset = view._dataset
    require_nonempty(view)
    check_export_args(dataset, run_key, opset, overwrite, num_samples=num_samples)
    opset, n = check_opset(opset), check_num_samples(num_samples)
    model, rec = registry.load_model(dataset, run_key, "cpu")
    report(0.1, f"decoding {n} samples to verify the export", force=True)
    x = _samples(view, rec, n)
    path = onnx_file(dataset.name, rec["model_id"])
    journal = path.with_name(f".{path.name}~{owner()}.pending")
    try:
        facts = _export_verified(model, rec, x, opset, path, report, journal, rec)
        fault("onnx_after_replace")
        try:
            rec, before = _commit_record(dataset, run_key, rec, path, opset, facts)
        except BaseException:
            checkpoints.remove_unreferenced(path)
            raise
        old = before.get("onnx_path")
        if old and old != str(path):
            checkpoints.remove_unreferenced(old)  # unless a clone's record uses it
    finally:
        config.remove_file(journal)
    report(1.0, f"{run_key!r} exported to {path}", force=True)
    return {
        "run_key": run_key,
        "onnx_path": str(path),
        "opset": opset,
        "max_abs_diff": facts["max_abs_diff"],
        "num_verified": facts["num_verified"],
        "latency_ms": rec["latency_ms"],
    }


def _export_verified(
    model, rec: dict, x, opset: int, path: Path, report, journal: Path, old: dict
) -> dict:
    """Exports into a temp file, verifies it, times it, writes ``journal`` (the new file
    and ``old``'s), then moves the temp file onto ``path``; nothing is left when any step
    fails. Returns ``{max_abs_diff, num_verified, latency}``."""
    import json

    from classlab.lenet.latency import onnx_latency, torch_latency

    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoints.sweep(path.parent)  # what dead writers left: journals, temp files
    tmp = path.with_name(f".{path.name}~{owner()}.tmp")
    size, channels = rec["input_size"], rec["in_channels"]
    try:
        report(0.3, f"exporting (opset {opset})", force=True)
        write_onnx(model, rec, opset, tmp)
        sess = session(tmp)
        report(0.7, f"verifying on {len(x)} samples", force=True)
        facts = verify(model, sess, x)
        facts["latency"] = onnx_latency(sess, channels, size)
        if not (rec.get("latency_ms") or {}).get("torch"):  # a model trained before latency
            rec["latency_ms"] = {"torch": torch_latency(model, channels, size)}
        fault("onnx_after_tmp_write")
        journal.write_text(json.dumps({"new": str(path), "old": old.get("onnx_path")}))
        os.replace(tmp, path)
    except ClassLabError:
        raise
    except Exception as e:  # the exporter's and onnxruntime's errors have no common base
        raise DataSourceError(f"Exporting to ONNX failed: {e}") from e
    finally:
        if tmp.exists():
            config.remove_file(tmp)
    return facts


class OnnxRunner:
    """A model's ONNX file behind the two calls :func:`classlab.lenet.train.predict`
    makes (``features(x)``, then ``head(features)``): one onnxruntime run gives both
    outputs; ``head`` returns the logits of the ``features`` it is given."""

    def __init__(self, path: str | Path):
        self.session = session(path)
        self._last = (None, None)

    def eval(self):
        return self

    def features(self, x):
        import torch

        logits, feats = self.session.run(["logits", "features"], {"images": x.cpu().numpy()})
        feats = torch.from_numpy(feats)
        self._last = (feats, torch.from_numpy(logits))
        return feats

    def head(self, feats):
        if feats is not self._last[0]:
            raise RuntimeError("OnnxRunner.head takes the features of the last features() call")
        return self._last[1]


def check_runtime(runtime: str, rec: dict | None = None, run_key: str = "") -> str:
    """``runtime`` is one of ``defaults.RUNTIMES``; ``"onnxruntime"`` needs the model's
    ONNX file (``rec``: its record, when known).

    Raises:
        InputError: naming ``runtime`` and what to do
    """
    if runtime not in defaults.RUNTIMES:
        raise InputError(f"runtime must be one of {', '.join(defaults.RUNTIMES)}, got {runtime!r}")
    if runtime == "onnxruntime" and rec is not None:
        path = rec.get("onnx_path")
        if not path or not Path(path).is_file():
            raise InputError(
                f"runtime='onnxruntime': model {run_key!r} has no ONNX file"
                f"{f' ({path} is missing)' if path else ''}: export it first (export_model)"
            )
    return runtime


def load_runner(dataset, run_key: str, device: str = "cpu", runtime: str = "torch"):
    """``(model, record)`` for :func:`classlab.lenet.apply.apply_lenet`: the torch model
    on ``device``, or (``runtime="onnxruntime"``) an :class:`OnnxRunner` on the CPU."""
    if runtime == "torch":
        return registry.load_model(dataset, run_key, device)
    rec = registry.get_model_record(dataset, run_key)
    check_runtime(runtime, rec, run_key)
    return OnnxRunner(rec["onnx_path"]), rec
