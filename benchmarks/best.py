"""The best recipe: ``python -m course_utils train --recipe best`` from start to exit, its ensemble's test accuracy.

It trains every member of the preset (``course_utils.training.RECIPES["best"]``) and evaluates their averaged
probabilities on the test set, as a student would run it. It takes minutes, so it is not among the default parts:
``python -m benchmarks --only best``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .common import child_env, run_child, table

BUDGET_MINUTES = 15
TARGET_ACCURACY = 0.996


def run(work: Path, *, quick: bool = False) -> dict[str, Any]:
    """Run ``train --recipe best`` (``quick``: in fast mode, a smoke test) and report accuracy and wall minutes."""
    command = [sys.executable, "-m", "course_utils", "train", "--recipe", "best", "--quiet", "--json",
               "--checkpoint", str(work / "best.pdckpt")]
    env = child_env(COURSE_FAST="1" if quick else None, COURSE_WORK_DIR=str(work / "course-work"))
    report, wall = run_child(command, env, timeout=3 * BUDGET_MINUTES * 60)
    return {
        "test_accuracy": report["test_accuracy"],
        "member_test_accuracy": report["member_test_accuracy"],
        "wall_minutes": wall / 60,
        "members": len(report["checkpoints"]),
    }


def render(result: dict[str, Any]) -> str:
    rows = [[f"member {i}", f"{accuracy:.2%}"] for i, accuracy in enumerate(result["member_test_accuracy"], 1)]
    rows.append([f"ensemble of {result['members']}", f"{result['test_accuracy']:.2%}"])
    title = f"Best recipe (train --recipe best: {result['wall_minutes']:.1f} min from start to exit)"
    return table(title, ["model", "test acc"], rows)
