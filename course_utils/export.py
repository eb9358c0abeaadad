"""Deployment: save a trained model with ``paddle.jit.save`` and run it outside the dynamic graph.

``paddle.jit.save`` turns the dynamic-graph model into a static program (``<prefix>.json``) plus its weights
(``<prefix>.pdiparams``): a file pair that runs without the Python class that defined the model. Two runtimes run it
several times faster than the dynamic graph on a CPU (figures: ``python -m benchmarks --only inference``):

- ``InferenceModel``: Paddle Inference with oneDNN kernels, part of every ``paddlepaddle`` install;
- ``OnnxModel``: ONNX Runtime on a copy converted by ``paddle2onnx`` (``<prefix>.onnx``). Faster still, but both
  packages are optional: ``pip install onnxruntime paddle2onnx``.

An export made from a checkpoint (``export_checkpoint``) sits beside it by default (``small_cnn.pdckpt`` ->
``small_cnn.json`` + ``small_cnn.pdiparams``) with a third file, ``small_cnn.source.json``, that records the
checkpoint's SHA-256 and the Paddle version. An export is reused only while both still match, so retraining (which
rewrites the checkpoint) or upgrading Paddle makes the next evaluation export again instead of using stale files.
Exporting again also removes the ``.onnx`` copy of the earlier export, so a ``.onnx`` file is always current.

Paddle is imported only by the functions that run it: ``current_onnx`` and ``OnnxModel`` on an existing ``.onnx``
file work without it, which is what makes ``python -m course_utils predict`` start in a fraction of a second.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_write
from .errors import CourseError
from .settings import usable_cores

if TYPE_CHECKING:
    from paddle import nn

EXPORT_SUFFIXES = (".json", ".pdiparams")
"""The files ``paddle.jit.save`` writes for a prefix (Paddle 3's PIR format)."""
SOURCE_SUFFIX = ".source.json"
"""The file beside an export that says which checkpoint (SHA-256) and Paddle version it was made from."""
ONNX_SUFFIX = ".onnx"
"""The ONNX copy of an export that ``OnnxModel`` converts once and reuses."""
ONNX_OPSET = 13


def export_model(model: nn.Layer, prefix: str | Path) -> Path:
    """Save ``model`` for inference as ``<prefix>.json`` + ``<prefix>.pdiparams``; return the prefix.

    The input is declared as float32 ``[batch, 1, 28, 28]`` with a variable batch size. Files are written to a
    temporary folder first and moved into place, so a failed export leaves any earlier export intact. A
    ``<prefix>.source.json`` and ``<prefix>.onnx`` of an earlier export are removed: they describe the old files.
    """
    import paddle

    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    spec = [paddle.static.InputSpec([None, 1, 28, 28], "float32", name="image")]
    try:
        with tempfile.TemporaryDirectory(dir=prefix.parent, prefix=".export-") as staging:
            paddle.jit.save(model, os.path.join(staging, prefix.name), input_spec=spec)
            for stale in (SOURCE_SUFFIX, ONNX_SUFFIX):
                _path(prefix, stale).unlink(missing_ok=True)
            for suffix in EXPORT_SUFFIXES:
                os.replace(Path(staging, prefix.name + suffix), _path(prefix, suffix))
    finally:
        if was_training:
            model.train()
    return prefix


def default_prefix(checkpoint: str | Path) -> Path:
    """Where a checkpoint's export goes unless told otherwise: beside it, same name, no suffix."""
    return Path(checkpoint).with_suffix("")


def export_checkpoint(checkpoint: str | Path, prefix: str | Path | None = None, *, reuse: bool = False) -> Path:
    """Export the model saved in ``checkpoint`` to ``prefix`` (default: ``default_prefix``); return the prefix.

    With ``reuse``, an export already at ``prefix`` that was made from this very checkpoint file by this Paddle
    version is kept as it is (see the module docstring). Raises ``CourseError`` for a missing or unusable checkpoint.
    """
    import paddle

    from .checkpoint import load_model

    checkpoint = Path(checkpoint)
    prefix = default_prefix(checkpoint) if prefix is None else Path(prefix)
    if not checkpoint.is_file():
        raise CourseError(f"no checkpoint at {checkpoint}: train a model first (`python -m course_utils train`)")
    source = {"checkpoint_sha256": _sha256(checkpoint), "paddle": paddle.__version__}
    if reuse and _read_source(prefix) == source and all(_path(prefix, s).is_file() for s in EXPORT_SUFFIXES):
        return prefix
    model, _ = load_model(checkpoint)
    export_model(model, prefix)
    record = _path(prefix, SOURCE_SUFFIX)
    with atomic_write(record) as staged:
        staged.write_text(json.dumps(source), encoding="utf-8")
    return prefix


def current_onnx(checkpoint: str | Path) -> Path | None:
    """The ONNX file of ``checkpoint``'s export beside it (``default_prefix`` + ``.onnx``) if that export was made
    from this very checkpoint file, else None (no export, not converted yet, or the checkpoint changed since).

    "This very file" means the SHA-256 recorded in ``<prefix>.source.json``. The Paddle version recorded there is
    not compared: ONNX Runtime runs the ``.onnx`` file without Paddle, and this check needs no Paddle either.
    """
    checkpoint = Path(checkpoint)
    prefix = default_prefix(checkpoint)
    onnx_file = _path(prefix, ONNX_SUFFIX)
    if not (checkpoint.is_file() and onnx_file.is_file()):
        return None
    source = _read_source(prefix)
    if not isinstance(source, dict) or source.get("checkpoint_sha256") != _sha256(checkpoint):
        return None
    return onnx_file


def load_exported(prefix: str | Path) -> nn.Layer:
    """Load an export back as a Paddle layer (``paddle.jit.load``) that returns the same logits as the original."""
    import paddle

    prefix = Path(prefix)
    _require_export(prefix)
    return paddle.jit.load(str(prefix))


class InferenceModel:
    """An exported model run by Paddle Inference (oneDNN on the CPU, the GPU when Paddle has one).

    Call it on normalized float32 images ``[N, 1, 28, 28]``; it returns logits ``[N, 10]`` as a NumPy array.
    ``threads`` is the number of CPU threads per call (default: every usable core). oneDNN pays off most for batches
    of hundreds of images (about 6x the dynamic graph at batch 1000 on 2 cores; see ``benchmarks/``).
    """

    def __init__(self, prefix: str | Path, threads: int | None = None) -> None:
        import paddle

        prefix = Path(prefix)
        _require_export(prefix)
        config = paddle.inference.Config(str(_path(prefix, ".json")), str(_path(prefix, ".pdiparams")))
        if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
            config.enable_use_gpu(256, 0)
        else:
            config.enable_mkldnn()
            config.set_cpu_math_library_num_threads(threads or usable_cores())
        config.disable_glog_info()
        self._predictor = paddle.inference.create_predictor(config)
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        self._input.reshape(list(images.shape))
        self._input.copy_from_cpu(images)
        self._predictor.run()
        return self._output.copy_to_cpu()


def onnx_available() -> bool:
    """True when ONNX Runtime and paddle2onnx are installed, so that ``OnnxModel`` can work."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "paddle2onnx"))


class OnnxModel:
    """An export run by ONNX Runtime, converted to ``<prefix>.onnx`` by paddle2onnx the first time it is needed.

    Called like ``InferenceModel``: normalized float32 images ``[N, 1, 28, 28]`` in, logits ``[N, 10]`` out.
    ``threads`` defaults to every usable core. Raises ``CourseError`` when the packages are missing, the
    conversion fails or ONNX Runtime cannot read the file. An existing ``<prefix>.onnx`` is run as it is, without
    Paddle and without the Paddle export files (whether it is current is ``current_onnx``'s question).
    """

    def __init__(self, prefix: str | Path, threads: int | None = None) -> None:
        prefix = Path(prefix)
        onnx_file = _path(prefix, ONNX_SUFFIX)
        if not onnx_file.is_file():
            _require_export(prefix)
            if not onnx_available():
                raise CourseError("ONNX Runtime needs two optional packages: pip install onnxruntime paddle2onnx")
            _convert_to_onnx(prefix, onnx_file)
        try:
            import onnxruntime
        except ImportError:
            raise CourseError("ONNX Runtime is not installed: pip install onnxruntime paddle2onnx") from None

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or usable_cores()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: it warns about initializers paddle2onnx leaves unused
        try:
            self._session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
            raise CourseError(
                f"{onnx_file} is not a model ONNX Runtime can run ({type(error).__name__}); delete it, "
                "the next evaluate or predict converts the export again"
            ) from None
        self._input = self._session.get_inputs()[0].name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: np.ascontiguousarray(images, dtype=np.float32)})[0]


def _convert_to_onnx(prefix: Path, onnx_file: Path) -> None:
    """Convert the export with paddle2onnx's own command line, atomically.

    A separate process keeps the converter's console output (and its ``sys.exit`` on failure) away from the caller.
    ``--optimize_tool None``: its default optimizer, polygraphy, would pip-install packages on its own.
    """
    with atomic_write(onnx_file) as staged:
        command = [
            sys.executable, "-m", "paddle2onnx.command",
            "--model_dir", str(prefix.parent),
            "--model_filename", prefix.name + ".json",
            "--params_filename", prefix.name + ".pdiparams",
            "--save_file", str(staged),
            "--opset_version", str(ONNX_OPSET),
            "--optimize_tool", "None",
        ]  # fmt: skip
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0 or not staged.stat().st_size:
            output = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise CourseError(f"paddle2onnx could not convert {prefix} (exit code {done.returncode}: {output})")


def _path(prefix: Path, suffix: str) -> Path:
    """``<prefix><suffix>``: the prefix's name may contain dots, so ``with_suffix`` would cut it."""
    return prefix.with_name(prefix.name + suffix)


def _require_export(prefix: Path) -> None:
    missing = [prefix.name + suffix for suffix in EXPORT_SUFFIXES if not _path(prefix, suffix).is_file()]
    if missing:
        raise CourseError(
            f"no exported model at {prefix} (missing {', '.join(missing)}); run `python -m course_utils export` first"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_source(prefix: Path) -> dict | None:
    """What ``<prefix>.source.json`` records, or None if it is missing or unreadable."""
    try:
        return json.loads(_path(prefix, SOURCE_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
