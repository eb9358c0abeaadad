"""Saving and restoring training state: weights, optimizer state and metadata in one ``paddle.save`` file.

A checkpoint is written to a temporary file beside its target and renamed into place, so an interrupted save never
leaves a half-written file where a good one was. Loading checks that the weights fit the model (Paddle's own
``set_state_dict`` only warns on a mismatch) and says clearly when a checkpoint belongs to another model.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import paddle
from paddle import nn

from .atomic import atomic_write
from .errors import CourseError
from .models import MODELS, build_model
from .preprocess import MEAN, STD

FORMAT = "course_utils.checkpoint/1"


@dataclass
class Checkpoint:
    """The contents of a checkpoint file. ``meta`` holds the model name, epoch, metrics, preprocessing and versions."""

    model_state: dict[str, Any]
    optimizer_state: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    parameter_names: list[str] = field(default_factory=list)


def save_checkpoint(
    path: str | Path,
    model: nn.Layer,
    optimizer: paddle.optimizer.Optimizer | None = None,
    /,
    **meta: Any,
) -> Path:
    """Write ``model`` (and ``optimizer``) state with metadata ``meta`` atomically to ``path``; return the path.

    The metadata always records the preprocessing and library versions; pass ``model=<registry name>``, ``epoch``,
    ``val_accuracy`` and anything else useful (plain Python values).
    """
    from . import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "preprocessing": {"input": "uint8 28x28, white digit on black", "mean": MEAN, "std": STD},
        "versions": {
            "course_utils": __version__,
            "paddle": paddle.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        **meta,
    }
    payload = {
        "format": FORMAT,
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "parameter_names": [parameter.name for parameter in model.parameters()],
        "meta": meta,
    }
    with atomic_write(path) as temporary:
        paddle.save(payload, str(temporary))
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``, or a plain ``paddle.save(model.state_dict(), path)`` file."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(
            f"no checkpoint at {path}: train a model first (`python -m course_utils train` or chapter 3)"
        )
    try:
        payload = paddle.load(str(path))
    except Exception as error:  # paddle.load raises many types for a file that is not its format
        raise CourseError(
            f"{path} is not a readable checkpoint ({type(error).__name__}); delete it and train again"
        ) from None
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return Checkpoint(
            payload["model_state"],
            payload.get("optimizer_state"),
            dict(payload.get("meta") or {}),
            list(payload.get("parameter_names") or []),
        )
    if isinstance(payload, dict) and payload and all(hasattr(value, "shape") for value in payload.values()):
        return Checkpoint(payload)
    raise CourseError(f"{path} holds no model weights; point to a checkpoint saved by the course or by paddle.save")


def load_weights(model: nn.Layer, checkpoint: str | Path | Checkpoint) -> Checkpoint:
    """Put the checkpoint's weights into ``model``, refusing any missing, unexpected or wrongly shaped parameter."""
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load_checkpoint(checkpoint)
    expected = {key: list(value.shape) for key, value in model.state_dict().items()}
    found = {key: list(value.shape) for key, value in checkpoint.model_state.items()}
    problems = [f"missing {key}" for key in expected if key not in found]
    problems += [f"unexpected {key}" for key in found if key not in expected]
    problems += [
        f"{key} has shape {found[key]}, the model needs {shape}"
        for key, shape in expected.items()
        if key in found and found[key] != shape
    ]
    if problems:
        saved = checkpoint.meta.get("model") or "an unknown model"
        advice = "load it into the model it was trained with"
        if saved in MODELS and type(MODELS[saved]()) is type(model):  # the same network in an older version
            advice = (f"it was saved by an older version of {saved}: train it again "
                      f"(python -m course_utils train --model {saved})")
        raise CourseError(
            f"this checkpoint holds {saved}, which does not fit {type(model).__name__} "
            f"({len(problems)} problems, e.g. {problems[0]}); {advice}"
        )
    model.set_state_dict(checkpoint.model_state)
    return checkpoint


def load_optimizer_state(optimizer: paddle.optimizer.Optimizer, model: nn.Layer, checkpoint: Checkpoint) -> None:
    """Restore the optimizer state (moments, step counts, schedule) saved with ``model``'s weights.

    Paddle keys optimizer state by parameter names such as ``conv2d_3.w_0_moment1_0``, and those names depend on how
    many layers the process built before; the saved names are mapped to ``model``'s current ones by position.
    """
    if checkpoint.optimizer_state is None:
        raise CourseError("this checkpoint has no optimizer state; start a new run instead of resuming")
    current = [parameter.name for parameter in model.parameters()]
    if len(checkpoint.parameter_names) != len(current):
        raise CourseError("this checkpoint's optimizer state does not fit the model; start a new run")
    renames = {old + "_": new + "_" for old, new in zip(checkpoint.parameter_names, current)}
    state = {}
    for key, value in checkpoint.optimizer_state.items():
        prefix = next((old for old in renames if key.startswith(old)), None)
        state[renames[prefix] + key[len(prefix) :] if prefix else key] = value
    optimizer.set_state_dict(state)


def load_model(checkpoint: str | Path | Checkpoint) -> tuple[nn.Layer, dict[str, Any]]:
    """Rebuild the registry model a checkpoint was saved from, load its weights, and return it in eval mode."""
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load_checkpoint(checkpoint)
    name = checkpoint.meta.get("model")
    if not name:
        raise CourseError(
            "this checkpoint does not say which model it holds; build the model yourself and call load_weights(model, path)"
        )
    model = build_model(name)
    load_weights(model, checkpoint)
    model.eval()
    return model, checkpoint.meta
