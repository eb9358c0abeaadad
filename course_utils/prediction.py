"""Reading a digit from a student's own image file: photo -> MNIST-like 28x28 -> normalize -> model -> probabilities.

The photo is turned into what MNIST looks like by ``imaging.image_file_to_mnist``, then goes through the same ``normalize`` as
training (via ``evaluation.predict_logits``), so the model sees at prediction time exactly what it learnt from.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from paddle import nn

from .evaluation import predict_logits, softmax
from .imaging import image_file_to_mnist

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
"""The file types ``find_images`` picks up."""


@dataclass(frozen=True)
class Prediction:
    """The predicted ``digit``, the ten ``probabilities``, and the 28x28 ``image`` (uint8) the model saw."""

    file: str
    digit: int
    probabilities: np.ndarray
    image: np.ndarray

    def to_json(self) -> dict[str, Any]:
        """The fields the command line prints with ``--json``."""
        return {"file": self.file, "digit": self.digit, "probabilities": [round(float(p), 6) for p in self.probabilities]}


def predict_file(model: nn.Layer, path: str | Path) -> Prediction:
    """Predict the digit in one image file (raises ``CourseError`` for a missing or unreadable file)."""
    image = image_file_to_mnist(path)
    probabilities = softmax(predict_logits(model, image[None]))[0]
    return Prediction(str(path), int(probabilities.argmax()), probabilities, image)


def find_images(folder: str | Path) -> list[Path]:
    """The image files directly inside ``folder`` (e.g. what a student dropped into ``work/``), sorted by name."""
    return sorted(path for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
