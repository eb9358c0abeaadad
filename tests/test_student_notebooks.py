"""Student versions: generated from the solutions, they run up to each exercise, every exercise raises
NotImplementedError until it is filled in, nothing else fails, and with the solutions filled in they run clean.
(That they are up to date with the solutions is tested in test_notebook_build.py.)"""
from pathlib import Path

import pytest

from course_utils.tools.notebook_build import STUDENT_DIR, run_student_notebook
from course_utils.settings import PROJECT_ROOT

STUDENT_NOTEBOOKS = sorted((PROJECT_ROOT / STUDENT_DIR).glob("*.ipynb"))


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=lambda path: path.name)
def test_student_notebook_stops_only_at_exercises(path: Path):
    assert run_student_notebook(path) == []
