"""Reading a digit from a student's own image file: photo -> MNIST-like 28x28 -> normalize -> model -> probabilities.

The photo is turned into what MNIST looks like by ``imaging.image_file_to_mnist``, then goes through the same
``normalize`` as training, so the model sees at prediction time exactly what it learnt from.

Two ways to run the model. ``predict_file`` takes a model object in the dynamic graph, the way the notebooks teach
it. ``CheckpointPredictor``, which ``python -m course_utils predict`` uses, takes saved checkpoints and starts in a
fraction of a second: a checkpoint whose ONNX export beside it is current (``export.current_onnx``) runs in ONNX
Runtime and Paddle is never imported (importing it alone takes longer than that whole prediction). Otherwise the
checkpoint runs in the dynamic graph, and its export is made then, so that the next start is fast.

How sure the model is: ``top_two`` and ``is_uncertain`` (below ``UNCERTAIN_BELOW``), used alike by the command line,
the drawing canvas and ``plots.show_prediction``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import CourseError
from .evaluation import predict_logits, softmax
from .export import OnnxModel, current_onnx, default_prefix, export_checkpoint, onnx_available
from .imaging import image_file_to_mnist
from .preprocess import normalize

if TYPE_CHECKING:
    from paddle import nn

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
"""The file types ``find_images`` picks up."""

UNCERTAIN_BELOW = 0.8
"""A prediction is 不确定 (uncertain) when the probability of its top digit is below this.

The rule looks at the top probability alone, the model's own confidence: below 0.8 the other nine digits share more
than 0.2, so another reading is a real possibility and the answer is shown as "this or that", the top two. (A
network's softmax tends to be overconfident, so a high probability proves little; a low one is a fair sign of doubt.)
"""


def top_two(probabilities: np.ndarray) -> tuple[tuple[int, float], tuple[int, float]]:
    """The two most probable digits of one image's ten probabilities, as ``((digit, p), (digit, p))``.

    Ties go to the smaller digit. Raises ``ValueError`` unless ``probabilities`` has shape ``[10]``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (10,):
        raise ValueError(f"expected the ten probabilities of one image, shape [10], got {list(probabilities.shape)}")
    first, second = (int(digit) for digit in np.argsort(-probabilities, kind="stable")[:2])
    return (first, float(probabilities[first])), (second, float(probabilities[second]))


def is_uncertain(probabilities: np.ndarray) -> bool:
    """True when the top digit's probability is below ``UNCERTAIN_BELOW``: show the top two, not one answer."""
    return top_two(probabilities)[0][1] < UNCERTAIN_BELOW


SECOND_CHOICE_FROM = 0.05
"""``describe`` names a sure prediction's runner-up only from this probability up: a second choice at 0-4% is noise,
not an alternative worth reading."""


def describe(probabilities: np.ndarray) -> str:
    """One line for the answer: ``预测 (prediction): 7 (99%)``, with the runner-up when it has at least
    ``SECOND_CHOICE_FROM`` (``预测 (prediction): 7 (90%) · 其次 (next): 1 (8%)``), or
    ``不确定 (uncertain): 7 (48%) 或 1 (40%)`` when ``is_uncertain``."""
    (first, p1), (second, p2) = top_two(probabilities)
    if p1 < UNCERTAIN_BELOW:
        return f"不确定 (uncertain): {first} ({p1:.0%}) 或 {second} ({p2:.0%})"
    if p2 < SECOND_CHOICE_FROM:
        return f"预测 (prediction): {first} ({p1:.0%})"
    return f"预测 (prediction): {first} ({p1:.0%}) · 其次 (next): {second} ({p2:.0%})"


@dataclass(frozen=True)
class Prediction:
    """The predicted ``digit``, the ten ``probabilities``, and the 28x28 ``image`` (uint8) the model saw."""

    file: str
    digit: int
    probabilities: np.ndarray
    image: np.ndarray

    @property
    def top_two(self) -> tuple[tuple[int, float], tuple[int, float]]:
        """The two most probable digits with their probabilities (see the module's ``top_two``)."""
        return top_two(self.probabilities)

    @property
    def uncertain(self) -> bool:
        """True when the top probability is below ``UNCERTAIN_BELOW``."""
        return is_uncertain(self.probabilities)

    def to_json(self) -> dict[str, Any]:
        """The fields the command line prints with ``--json``: ``file``, ``digit``, the ten ``probabilities``,
        ``top_two`` (``[{"digit", "probability"}, ...]``) and ``uncertain``."""
        return {
            "file": self.file,
            "digit": self.digit,
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "top_two": [{"digit": digit, "probability": round(p, 6)} for digit, p in self.top_two],
            "uncertain": self.uncertain,
        }


def predict_file(model: nn.Layer, path: str | Path) -> Prediction:
    """Predict the digit in one image file with a model in the dynamic graph (raises ``CourseError`` for a missing
    or unreadable file)."""
    image = image_file_to_mnist(path)
    return _prediction(path, image, softmax(predict_logits(model, image[None]))[0])


Logits = Callable[[np.ndarray], np.ndarray]
"""uint8 images ``[N, 28, 28]`` -> logits ``[N, 10]``."""
PREDICT_BACKENDS = ("auto", "dynamic")
"""How ``CheckpointPredictor`` runs a checkpoint: ``auto`` (its current ONNX export, else the dynamic graph and an
export for next time) or ``dynamic`` (the dynamic graph only)."""


class CheckpointPredictor:
    """Reads digits with the models saved in ``checkpoints``; with several, their mean probabilities (an ensemble).

    With ``backend="auto"`` each checkpoint runs the fastest way available: its current ONNX export
    (``export.current_onnx``) in ONNX Runtime, without importing Paddle; else the dynamic graph, the checkpoint's
    model itself, whose answer the ONNX export gives too (to float precision). A checkpoint that ran in the dynamic
    graph is then exported and converted to ONNX (a few seconds, once) when onnxruntime and paddle2onnx are
    installed, so the next start is fast. ``backend="dynamic"`` always runs the dynamic graph and exports nothing.

    ``backends`` names what runs each checkpoint (``"onnxruntime"`` or ``"dynamic"``); ``notes`` has one line per
    checkpoint that fell back or was exported, for the user. Raises ``CourseError`` for a missing, unreadable or
    unusable checkpoint.
    """

    def __init__(self, checkpoints: Sequence[str | Path], *, backend: str = "auto") -> None:
        if backend not in PREDICT_BACKENDS:
            raise CourseError(f"unknown backend {backend!r}; choose one of: {', '.join(PREDICT_BACKENDS)}")
        if not checkpoints:
            raise CourseError("no checkpoint given: name at least one checkpoint file")
        self.backends: list[str] = []
        self.notes: list[str] = []
        self._models: list[Logits] = []
        for checkpoint in checkpoints:
            logits, used, note = _open(Path(checkpoint), backend)
            self._models.append(logits)
            self.backends.append(used)
            if note:
                self.notes.append(note)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """The mean over the checkpoints of their softmax probabilities ``[N, 10]`` for uint8 images ``[N, 28, 28]``."""
        return np.mean([softmax(logits(images)) for logits in self._models], axis=0)

    def predict_file(self, path: str | Path) -> Prediction:
        """Predict the digit in one image file (raises ``CourseError`` for a missing or unreadable file)."""
        image = image_file_to_mnist(path)
        return _prediction(path, image, self.probabilities(image[None])[0])


def find_images(folder: str | Path) -> list[Path]:
    """The image files directly inside ``folder`` (e.g. what a student dropped into ``work/``), sorted by name."""
    return sorted(path for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())


def _prediction(path: str | Path, image: np.ndarray, probabilities: np.ndarray) -> Prediction:
    return Prediction(str(path), int(probabilities.argmax()), probabilities, image)


def _open(checkpoint: Path, backend: str) -> tuple[Logits, str, str | None]:
    """How to run ``checkpoint``: its logits function, the backend's name, and a note when it fell back."""
    onnx_file = current_onnx(checkpoint) if backend == "auto" else None
    problem = "it has no current ONNX export"
    if onnx_file is not None:
        try:
            session = OnnxModel(default_prefix(checkpoint))
        except CourseError as error:
            problem = str(error)
        else:
            return (lambda images: session(normalize(images))), "onnxruntime", None
    logits = _dynamic(checkpoint)  # a missing, unreadable or wrong checkpoint raises CourseError here
    if backend == "auto" and onnx_available():
        return logits, "dynamic", _export(checkpoint, onnx_file, problem)
    note = None if onnx_file is None else f"{checkpoint}: predicted with Paddle's dynamic graph ({problem})"
    return logits, "dynamic", note


def _export(checkpoint: Path, unreadable: Path | None, problem: str) -> str:
    """Export ``checkpoint`` and convert it to ONNX for the next start; return the note that says so (or why not)."""
    try:
        if unreadable is not None:
            unreadable.unlink(missing_ok=True)  # a copy ONNX Runtime cannot run: converted again from the export
        OnnxModel(export_checkpoint(checkpoint, reuse=True))  # converts, and checks that ONNX Runtime runs it
    except Exception as error:  # exporting and converting fail in many ways; each one only costs speed
        return (
            f"{checkpoint}: predicted with Paddle's dynamic graph ({problem}); could not export it for ONNX Runtime: "
            f"{type(error).__name__}: {' '.join(str(error).split()[:30])}"
        )
    return (
        f"{checkpoint}: predicted with Paddle's dynamic graph ({problem}); exported it to "
        f"{default_prefix(checkpoint)}.onnx, so the next predict starts without Paddle"
    )


def _dynamic(checkpoint: Path) -> Logits:
    """The checkpoint's model in the dynamic graph (this imports Paddle)."""
    from .checkpoint import load_model

    model, _ = load_model(checkpoint)
    return lambda images: predict_logits(model, images)
