"""Deployment: save a trained model with ``paddle.jit.save`` and run it with Paddle Inference.

``paddle.jit.save`` turns the dynamic-graph model into a static program (``<prefix>.json``) plus its weights
(``<prefix>.pdiparams``): a file pair that runs without the Python class that defined the model. Paddle Inference
runs that program with oneDNN kernels on the CPU, several times faster than the dynamic graph for large batches.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import paddle
from paddle import nn

from .errors import CourseError

EXPORT_SUFFIXES = (".json", ".pdiparams")
"""The files ``paddle.jit.save`` writes for a prefix (Paddle 3's PIR format)."""


def export_model(model: nn.Layer, prefix: str | Path) -> Path:
    """Save ``model`` for inference as ``<prefix>.json`` + ``<prefix>.pdiparams``; return the prefix.

    The input is declared as float32 ``[batch, 1, 28, 28]`` with a variable batch size. Files are written to a
    temporary folder first and moved into place, so a failed export leaves any earlier export intact.
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    spec = [paddle.static.InputSpec([None, 1, 28, 28], "float32", name="image")]
    with tempfile.TemporaryDirectory(dir=prefix.parent, prefix=".export-") as staging:
        paddle.jit.save(model, os.path.join(staging, prefix.name), input_spec=spec)
        for suffix in EXPORT_SUFFIXES:
            os.replace(Path(staging, prefix.name + suffix), prefix.with_name(prefix.name + suffix))
    if was_training:
        model.train()
    return prefix


def _require_export(prefix: Path) -> None:
    missing = [prefix.name + suffix for suffix in EXPORT_SUFFIXES if not prefix.with_name(prefix.name + suffix).is_file()]
    if missing:
        raise CourseError(
            f"no exported model at {prefix} (missing {', '.join(missing)}); run `python -m course_utils export` first"
        )


def load_exported(prefix: str | Path) -> nn.Layer:
    """Load an export back as a Paddle layer (``paddle.jit.load``) that returns the same logits as the original."""
    prefix = Path(prefix)
    _require_export(prefix)
    return paddle.jit.load(str(prefix))


class InferenceModel:
    """An exported model run by Paddle Inference (oneDNN on the CPU, the GPU when Paddle has one).

    Call it on normalized float32 images ``[N, 1, 28, 28]``; it returns logits ``[N, 10]`` as a NumPy array.
    """

    def __init__(self, prefix: str | Path, threads: int | None = None) -> None:
        prefix = Path(prefix)
        _require_export(prefix)
        config = paddle.inference.Config(str(prefix) + ".json", str(prefix) + ".pdiparams")
        if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
            config.enable_use_gpu(256, 0)
        else:
            config.enable_mkldnn()
            config.set_cpu_math_library_num_threads(threads or os.cpu_count() or 1)
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

