"""Shared code of the course 手写数字识别 (handwritten digit recognition) with PaddlePaddle 3.

The notebooks import from here; each module holds one concern:

- ``mnist``: find, download, verify and load MNIST (train 50k / val 10k / test 10k)
- ``preprocess``: the one normalization used everywhere; ``imaging``: a photo -> an MNIST-like 28x28 image
- ``batching``: ``paddle.io.Dataset``/``DataLoader`` and a fast in-memory batch iterator
- ``models``: softmax regression, MLP, the original course CNN, LeNet-5, a small batch-norm CNN
- ``training``, ``checkpoint``, ``evaluation``, ``prediction``, ``export``: train, save, measure, predict (from an
  ONNX export without Paddle), deploy
- ``plots``, ``checks``: figures and exercise checks for the notebooks; ``notebook_build``: the instructor tool
- ``canvas``, ``upload``: chapter 4's drawing canvas and photo upload button (widgets)
- ``paddle_check``: a missing or too old Paddle becomes one line that says what to install (Paddle is not a dependency)
- ``atomic``: write a file so that readers see the old one or the complete new one (downloads, checkpoints, grades)
"""
from __future__ import annotations

import os
import warnings

from .paddle_check import guard_paddle_import

__version__ = "2.0.0"
"""The course's release (pyproject.toml reads it; CHANGELOG.md says what each release changed)."""

# A missing or too old Paddle becomes one line saying what to install, where `paddle` is first imported (checked from
# its metadata: importing course_utils never imports Paddle).
guard_paddle_import()

# Two messages Paddle prints that say nothing to a student (and would make notebook outputs vary): the C++ extension
# builder's "No ccache found" at import, and a note on every batch-norm forward in training mode.
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
warnings.filterwarnings("ignore", message="When training, we now always track global mean", category=UserWarning)

# Paddle's C++ core logs INFO lines with timestamps and process ids ("New Executor is Running ...") when a saved model
# runs; glog reads this level when Paddle's library loads, so it only takes effect when course_utils is imported first.
os.environ.setdefault("GLOG_minloglevel", "1")

_CCACHE_FILTER = "ignore:No ccache found:UserWarning"


def quiet_paddle_import(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` whose ``PYTHONWARNINGS`` also hides the ccache warning, for child processes that import
    Paddle before this package (a notebook kernel, Paddle's distributed launcher)."""
    return {**env, "PYTHONWARNINGS": ",".join(filter(None, [env.get("PYTHONWARNINGS"), _CCACHE_FILTER]))}
