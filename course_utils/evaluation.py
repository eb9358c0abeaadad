"""Measuring a trained model: logits for many images, accuracy, per-class accuracy and the confusion matrix."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import paddle
from paddle import nn

from .mnist import Split
from .preprocess import normalize


def predict_logits(model: nn.Layer, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Logits ``[N, 10]`` of ``model`` for uint8 images ``[N, 28, 28]``, in evaluation mode and without gradients."""
    was_training = model.training
    model.eval()
    outputs = []
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            batch = paddle.to_tensor(normalize(images[start : start + batch_size]))
            outputs.append(model(batch).numpy())
    if was_training:
        model.train()
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
