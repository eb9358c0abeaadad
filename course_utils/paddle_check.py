"""Is a usable PaddlePaddle (3.x) installed? Checked without importing it, when something first imports ``paddle``.

The course installs no Paddle of its own where one is there: on AI Studio and on GPU machines Paddle is the
``paddlepaddle-gpu`` distribution, and pip installing ``paddlepaddle`` beside it would overwrite the same ``paddle``
package with the CPU build. So ``pip install -e .`` leaves Paddle alone, the ``cpu`` extra brings the CPU wheel to a
fresh machine, and a missing or too old Paddle becomes one line that says what to install: ``course_utils`` puts
``guard_paddle_import`` in place at import, so the first ``import paddle`` (in ``course_utils.models``, a notebook, a
command) raises ``PaddleNotReady``, a ``CourseError``, instead of a bare ``ModuleNotFoundError`` or the
``AttributeError`` an old Paddle gives later. Code that never imports Paddle (ONNX Runtime prediction) needs none.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import re
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path

from .errors import CourseError

__all__ = ["MIN_VERSION", "PaddleNotReady", "guard_paddle_import", "paddle_problem"]

MIN_VERSION = (3, 0)
"""The oldest Paddle the course runs on (its API: ``paddle.nn``, ``paddle.jit.save``'s PIR format, ...)."""

_DISTRIBUTIONS = ("paddlepaddle", "paddlepaddle-gpu")
_WHAT_TO_INSTALL = (
    'on a CPU machine run `pip install "paddlepaddle>=3.0,<4"` (or `pip install -e ".[cpu]"` in the course folder); '
    "with a GPU install paddlepaddle-gpu 3.x for your CUDA version (https://www.paddlepaddle.org.cn/install/quick), "
    "on AI Studio choose a PaddlePaddle 3 environment; then restart Python (the notebook kernel)"
)


class PaddleNotReady(CourseError, ImportError):
    """Paddle is missing or too old; the message says what to install. An ``ImportError`` too, for code that probes."""


def paddle_problem(path: Sequence[str] | None = None) -> str | None:
    """What is wrong with the Paddle that ``import paddle`` would find on ``path`` (default ``sys.path``), or None.

    Paddle is not imported: its location comes from the path finder and its version from the installed metadata,
    else from the ``paddle/version`` file its build writes. A development build (version 0.0.0) or a version that
    cannot be found passes.
    """
    if path is None:
        spec = importlib.util.find_spec("paddle")  # every finder, e.g. an editable install's; imports nothing
    else:
        spec = importlib.machinery.PathFinder.find_spec("paddle", list(path))
    if spec is None:
        return f"PaddlePaddle is not installed: {_WHAT_TO_INSTALL}"
    version = _version(spec, path)
    numbers = re.match(r"(\d+)\.(\d+)", version or "")
    if numbers and version != "0.0.0" and (int(numbers[1]), int(numbers[2])) < MIN_VERSION:
        return f"PaddlePaddle {version} is installed, but this course needs 3.0 or newer: {_WHAT_TO_INSTALL}"
    return None


def guard_paddle_import() -> None:
    """Check Paddle (``paddle_problem``) when ``paddle`` is first imported; nothing to do if it is imported already."""
    if "paddle" not in sys.modules and not any(isinstance(f, _PaddleImportGuard) for f in sys.meta_path):
        sys.meta_path.insert(0, _PaddleImportGuard())


class _PaddleImportGuard(importlib.abc.MetaPathFinder):
    """A finder that finds nothing: it raises ``PaddleNotReady`` at ``import paddle`` while Paddle is not usable.

    Once Paddle passes it stays out of the way (it is not removed: the import system is iterating over the list).
    """

    def __init__(self) -> None:
        self._passed = self._checking = False

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if fullname == "paddle" and not (self._passed or self._checking):
            self._checking = True  # paddle_problem asks the finders, this one included
            try:
                problem = paddle_problem()
            finally:
                self._checking = False
            if problem is not None:
                raise PaddleNotReady(problem)
            self._passed = True
            _warn_if_both_builds()
        return None


def _version(spec: ModuleSpec, path: Sequence[str] | None) -> str | None:
    """The version of the Paddle at ``spec``: from the metadata of the distribution that installed it, else the
    ``full_version`` its build wrote into ``paddle/version``; None if neither says."""
    locations = spec.submodule_search_locations
    folder = Path(locations[0]) if locations else Path(spec.origin or "").parent
    search = list(sys.path if path is None else path)
    for name in _DISTRIBUTIONS:
        for dist in importlib.metadata.distributions(name=name, path=search):
            if Path(str(dist.locate_file("paddle"))).resolve() == folder.resolve():
                return dist.version
    for version_file in (folder / "version" / "__init__.py", folder / "version.py"):
        if version_file.is_file():
            found = re.search(r"^full_version\s*=\s*['\"]([^'\"]+)", version_file.read_text(errors="replace"), re.M)
            if found:
                return found[1]
    return None


def _warn_if_both_builds() -> None:
    """Warn when the CPU and the GPU distribution are both installed: they overwrite each other's ``paddle`` files."""
    installed = [name for name in _DISTRIBUTIONS if next(iter(importlib.metadata.distributions(name=name)), None)]
    if len(installed) == len(_DISTRIBUTIONS):
        warnings.warn(
            "both paddlepaddle (CPU) and paddlepaddle-gpu are installed and share one paddle package, so the GPU "
            "may be lost: on a GPU machine run `pip uninstall -y paddlepaddle paddlepaddle-gpu` and install "
            "paddlepaddle-gpu again",
            stacklevel=2,
        )
