"""Measuring a trained model: logits for many images, accuracy, per-class accuracy and the confusion matrix.

Two ways to run the model. ``evaluate`` and ``predict_logits`` take the model object in the dynamic graph, the way
the notebooks teach it. ``evaluate_checkpoint``, which the command line uses, takes a saved checkpoint and runs its
export through the fastest runtime available (ONNX Runtime if installed, else Paddle Inference: several times
faster than the dynamic graph on a CPU; see ``export``), and falls back to the dynamic graph when none works.
``evaluate_ensemble`` does that for several checkpoints and averages their probabilities.
Paddle is imported where the dynamic graph runs, so ``softmax`` and the runtimes serve ``prediction``'s fast path,
which never imports it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import CourseError
from .export import InferenceModel, OnnxModel, export_checkpoint, onnx_available
from .preprocess import normalize

if TYPE_CHECKING:
    from paddle import nn

    from .mnist import Split

RUNTIMES: dict[str, Callable[[Path], Callable[[np.ndarray], np.ndarray]]] = {
    "onnxruntime": OnnxModel,
    "inference": InferenceModel,
}
"""The runtimes that can run a checkpoint's export, fastest first (see ``benchmarks/``)."""
BACKENDS = ("auto", *RUNTIMES, "dynamic")
"""How ``evaluate_checkpoint`` runs a model: a runtime of ``RUNTIMES``, ``dynamic`` (the dynamic graph), or ``auto``:
the first runtime that works (ONNX Runtime only when it is installed), else the dynamic graph."""


def predict_logits(model: nn.Layer, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Logits ``[N, 10]`` of ``model`` for uint8 images ``[N, 28, 28]``, in evaluation mode and without gradients."""
    import paddle

    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            return batched_logits(lambda batch: model(paddle.to_tensor(batch)).numpy(), images, batch_size)
    finally:
        if was_training:
            model.train()


def batched_logits(
    forward: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch_size: int = 1000
) -> np.ndarray:
    """Run ``forward`` (normalized float32 ``[B, 1, 28, 28]`` -> logits ``[B, 10]``) over uint8 images in batches."""
    outputs = [forward(normalize(images[start : start + batch_size])) for start in range(0, len(images), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, 10), np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis (numerically stable)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy loss of logits against integer labels, as ``F.cross_entropy`` computes it."""
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(labels)), labels]))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts ``[classes, classes]``: row = true digit, column = predicted digit."""
    return np.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)


@dataclass(frozen=True)
class EvalResult:
    """What ``evaluate`` measured: overall accuracy, accuracy per digit, confusion matrix, and the raw logits."""

    accuracy: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    logits: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        """The predicted digit of each image."""
        return self.logits.argmax(axis=1)


def evaluate(model: nn.Layer, split: Split, batch_size: int = 1000) -> EvalResult:
    """Accuracy, per-class accuracy and confusion matrix of ``model`` on ``split``."""
    logits = predict_logits(model, split.images, batch_size)
    return result_from_logits(logits, split.labels)


def result_from_logits(logits: np.ndarray, labels: np.ndarray) -> EvalResult:
    """Build an ``EvalResult`` from logits computed by any backend (dynamic graph or an exported model)."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = logits.argmax(axis=1)
    confusion = confusion_matrix(labels, predictions)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    return EvalResult(float(np.mean(predictions == labels)), per_class, confusion, logits)


@dataclass(frozen=True)
class CheckpointEvaluation:
    """What ``evaluate_checkpoint`` found: the result, the ``backend`` that computed it (a runtime's name or
    ``"dynamic"``), the checkpoint's metadata, and why faster backends were skipped (``fallback_reason``), if any."""

    result: EvalResult
    backend: str
    meta: dict[str, Any] = field(default_factory=dict)
    fallback_reason: str | None = None


def evaluate_checkpoint(
    checkpoint: str | Path, split: Split, *, backend: str = "auto", batch_size: int = 1000
) -> CheckpointEvaluation:
    """Evaluate the model saved in ``checkpoint`` on ``split`` by the fastest path available.

    A runtime runs the checkpoint's export, made beside it or reused while current (``export.export_checkpoint``).
    With ``backend="auto"`` a runtime that fails for any reason is skipped, ending with the dynamic graph, which
    computes the same result; ``fallback_reason`` then says what failed. Naming a runtime raises ``CourseError``
    instead of falling back; ``"dynamic"`` skips the export.
    """
    from .checkpoint import load_checkpoint, load_model
    if backend not in BACKENDS:
        raise CourseError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    saved = load_checkpoint(checkpoint)  # a missing or unreadable checkpoint is the user's to fix, on any path
    if backend == "auto":
        runtimes = [name for name in RUNTIMES if name != "onnxruntime" or onnx_available()]
    else:
        runtimes = [backend] if backend in RUNTIMES else []
    failures = []
    for name in runtimes:
        try:
            run = RUNTIMES[name](export_checkpoint(checkpoint, reuse=True))
            logits = batched_logits(run, split.images, batch_size)
        except Exception as error:  # exporting and runtimes fail in many ways; each one only costs speed
            failures.append(f"{name}: {type(error).__name__}: {' '.join(str(error).split()[:30])}")
            continue
        reason = "; ".join(failures) or None
        return CheckpointEvaluation(result_from_logits(logits, split.labels), name, saved.meta, reason)
    if failures and backend != "auto":
        raise CourseError(f"could not evaluate {checkpoint} with {failures[0]}; try --backend dynamic")
    model, meta = load_model(saved)
    return CheckpointEvaluation(evaluate(model, split, batch_size), "dynamic", meta, "; ".join(failures) or None)


@dataclass(frozen=True)
class EnsembleEvaluation:
    """What ``evaluate_ensemble`` found: the ensemble's ``result`` and each member's own ``CheckpointEvaluation``.

    The ensemble's ``result.logits`` are the logarithms of the averaged probabilities: their softmax is that average
    and their argmax the ensemble's prediction.
    """

    result: EvalResult
    members: list[CheckpointEvaluation]


def evaluate_ensemble(
    checkpoints: Sequence[str | Path], split: Split, *, backend: str = "auto", batch_size: int = 1000
) -> EnsembleEvaluation:
    """Evaluate the average of several models: each checkpoint by ``evaluate_checkpoint`` (its own fast path), then
    the mean of their softmax probabilities per image.

    Averaging probabilities rather than logits keeps every member's say bounded: one over-confident model cannot
    outvote the others by the size of its logits. Every checkpoint is read before anything runs, so a missing or
    wrong one fails at once.
    """
    from .checkpoint import load_checkpoint

    if not checkpoints:
        raise CourseError("no checkpoint to evaluate; give at least one")
    for checkpoint in checkpoints:
        load_checkpoint(checkpoint)
    members = [evaluate_checkpoint(path, split, backend=backend, batch_size=batch_size) for path in checkpoints]
    probabilities = np.mean([softmax(member.result.logits) for member in members], axis=0)
    log_probabilities = np.log(np.maximum(probabilities, np.finfo(np.float32).tiny)).astype(np.float32)
    return EnsembleEvaluation(result_from_logits(log_probabilities, split.labels), members)
