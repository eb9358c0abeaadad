"""Notebook benchmark: the wall time of the whole solution-notebook suite in fast mode, as the tests run it.

The command is the one the README gives for checking the notebooks: ``pytest notebooks`` from the project root with
``COURSE_FAST=1`` (nbval runs every notebook in a fresh kernel and compares its outputs).
"""
from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from course_utils.settings import PROJECT_ROOT

from .common import child_env, table


def run() -> dict[str, Any]:
    """Run the notebook suite once; return its wall time, pytest's closing line and the number of notebooks."""
    notebooks = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
    command = [sys.executable, "-m", "pytest", "notebooks", "-q", "-p", "no:cacheprovider"]
    started = time.perf_counter()
    env = child_env(COURSE_FAST="1")
    done = subprocess.run(command, check=False, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    return {
        "command": "COURSE_FAST=1 " + " ".join(["python", *command[1:]]),
        "notebooks": len(notebooks),
        "wall_seconds": wall,
        "returncode": done.returncode,
        "summary": lines[-1] if lines else "",
    }


def render(result: dict[str, Any]) -> str:
    row = [result["notebooks"], f"{result['wall_seconds']:.0f}", result["summary"]]
    return table("Notebooks (fast mode)", ["notebooks", "wall s", "pytest"], [row])
