"""Where the course keeps its files, whether it runs in fast mode, and how many CPU cores it may use.

AI Studio's convention is a ``work/`` folder beside the notebooks' project: data, example images and checkpoints live
there. ``COURSE_WORK_DIR`` moves it; ``COURSE_FAST=1`` (set by the tests) makes training short so the whole notebook
suite runs in minutes.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def work_dir() -> Path:
    """The ``work/`` folder: ``$COURSE_WORK_DIR`` if set, else ``work/`` in the project checkout."""
    override = os.environ.get("COURSE_WORK_DIR")
    if override:
        return Path(override).expanduser().resolve()
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "work"
    return Path.cwd() / "work"


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` is set to 1/true/yes: train on a few batches only (tests and quick previews)."""
    return os.environ.get("COURSE_FAST", "").strip().lower() in {"1", "true", "yes", "on"}


def checkpoint_dir() -> Path:
    """Where checkpoints go. Fast-mode runs write to a separate folder so they never overwrite a real model."""
    base = work_dir() / "checkpoints"
    return base / "fast" if fast_mode() else base


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one, else all cores)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity masks
        return os.cpu_count() or 1
