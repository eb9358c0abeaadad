"""The grader: full marks for solved notebooks, zero for untouched ones, the one wrong answer found, and submissions
that try to fool the checks, read the solutions or change the project get nothing for it.

Each submission runs in the sandbox (bubblewrap), as `grade` runs it; the class-level runs (many submissions, in
parallel, resumable) and the sandbox's limits are tested in test_classroom.py and test_sandbox.py.
"""
from __future__ import annotations

import random
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from course_utils.settings import PROJECT_ROOT
from course_utils.tools.grading import SubmissionGrade, grade_submission, load_chapters, prepare_work, recognise
from course_utils.tools.notebook_build import CHECK_CALL, SOLUTION_DIR, STUDENT_DIR
from course_utils.tools.sandbox import Limits, sandbox_problem

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))

CHAPTERS = load_chapters(PROJECT_ROOT / SOLUTION_DIR)
LIMITS = Limits(seconds=300)


@pytest.fixture(scope="module")
def course_work(tmp_path_factory) -> Path:
    """The work folder for the real chapters, with its fast-mode checkpoint, prepared once for this module."""
    return prepare_work(tmp_path_factory.mktemp("course") / "work", log=lambda line: None)


def write(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def filled(name: str) -> nbformat.NotebookNode:
    """Chapter *name*'s student version with every exercise cell filled in with the solution's code."""
    solution = nbformat.read(PROJECT_ROOT / SOLUTION_DIR / name, as_version=4)
    student = nbformat.read(PROJECT_ROOT / STUDENT_DIR / name, as_version=4)
    solved = {cell.id: cell.source for cell in solution.cells}
    for cell in student.cells:
        cell.source = solved.get(cell.id, cell.source)
    return student


def exercise_cell(nb: nbformat.NotebookNode, marker: str) -> nbformat.NotebookNode:
    [cell] = [cell for cell in nb.cells if marker in cell.source and cell.cell_type == "code"]
    return cell


def graded(path: Path, work: Path, seed: int = 0) -> SubmissionGrade:
    return grade_submission(path, CHAPTERS, work=work, seed=seed, limits=LIMITS)


def outcome(submission: SubmissionGrade) -> dict[str, tuple[bool, str]]:
    return {result.exercise: (result.passed, result.message) for result in submission.results}


def test_every_check_in_the_course_belongs_to_an_exercise():
    """A check cell that does not follow the convention would be silently left out of the grades."""
    for chapter in CHAPTERS:
        nb = nbformat.read(chapter.path, as_version=4)
        calls = [cell.id for cell in nb.cells if cell.cell_type == "code" and CHECK_CALL.search(cell.source)]
        assert calls == [exercise.check_id for exercise in chapter.exercises], chapter.name
    names = [exercise.name for chapter in CHAPTERS for exercise in chapter.exercises]
    assert len(names) == len(set(names)), "exercise ids must be unique across the course"


def test_course_chapters_are_recognised_by_content_not_file_name():
    for chapter in CHAPTERS:
        student = nbformat.read(PROJECT_ROOT / STUDENT_DIR / chapter.path.name, as_version=4)
        assert recognise(student, CHAPTERS) is chapter
        student.cells = student.cells[: len(student.cells) // 3]  # ids of a third are too few; the title decides
        assert recognise(student, CHAPTERS) is chapter
    assert recognise(new_notebook(cells=[new_markdown_cell("# Homework")]), CHAPTERS) is None


def test_submissions_get_the_work_folder_with_a_fast_checkpoint_but_not_the_instructors_models(course_work):
    assert (course_work / "checkpoints" / "fast" / "small_cnn.pdckpt").is_file()
    assert [path.name for path in (course_work / "checkpoints").iterdir()] == ["fast"]
    examples = {path.name for path in (PROJECT_ROOT / "work").glob("example_*")}
    assert examples and examples <= {path.name for path in course_work.iterdir()}


def test_solved_course_notebooks_score_full_marks_in_the_sandbox(course_work, tmp_path):
    """Every chapter with exercises, its student version filled in with the solutions, each with its own seed."""
    for chapter in CHAPTERS:
        if not chapter.exercises:
            continue
        submission = graded(write(tmp_path / chapter.path.name, filled(chapter.path.name)), course_work,
                            seed=random.randrange(2**31))
        assert submission.problem is None, submission.summary()
        assert all(result.passed for result in submission.results), outcome(submission)
        assert len(submission.results) == len(chapter.exercises)


def test_untouched_and_one_wrong_answer(course_work, tmp_path):
    untouched = graded(PROJECT_ROOT / STUDENT_DIR / "02_network.ipynb", course_work)
    assert untouched.problem is None and untouched.results and untouched.score == 0
    assert all(not result.attempted for result in untouched.results), outcome(untouched)

    wrong = filled("05_accuracy.ipynb")
    cell = exercise_cell(wrong, "def confusion_matrix(")
    cell.source = cell.source.replace("confusion[label, prediction] += 1", "confusion[prediction, label] += 1")
    assert "confusion[prediction, label]" in cell.source
    mistaken = graded(write(tmp_path / "wrong.ipynb", wrong), course_work)
    assert mistaken.problem is None
    assert [name for name, (passed, _) in outcome(mistaken).items() if not passed] == ["confusion_matrix"]
    assert outcome(mistaken)["confusion_matrix"][1].startswith("❌ 行和列反了")


def test_tricks_in_the_exercise_cells_earn_nothing_and_change_nothing(course_work, tmp_path):
    """Chapter 1 with each exercise cell trying something: calling the library's answer; reading the instructor's
    solution notebook from the project and running its answer; patching the checks to pass and writing into the
    project and /tmp by absolute paths."""
    nb = filled("01_data.ipynb")
    exercise_cell(nb, "def normalize_pixels(").source = (
        "from course_utils.preprocess import normalize\n\n\ndef normalize_pixels(images):\n    return normalize(images)\n")
    solution = PROJECT_ROOT / SOLUTION_DIR / "01_data.ipynb"
    exercise_cell(nb, "def batch_generator(").source = (
        "import json\n"
        f"cells = json.load(open({str(solution)!r}))['cells']\n"
        "exec(next(''.join(c['source']) for c in cells if 'def batch_generator(' in ''.join(c['source'])))\n")
    target = PROJECT_ROOT / "graded-by-a-student.txt"
    exercise_cell(nb, "class DigitDataset(").source = (
        "import course_utils.checks as checks\n"
        "for name in dir(checks):\n"
        "    if name.startswith('check_'):\n"
        "        setattr(checks, name, lambda *args: print('✅ 正确'))\n"
        f"for path in ({str(target)!r}, '/tmp/graded-by-a-student.txt'):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "    except OSError:\n"
        "        pass\n"
        "class DigitDataset:\n    def __init__(self, split):\n        pass\n")

    submission = graded(write(tmp_path / "tricks.ipynb", nb), course_work)

    results = outcome(submission)
    assert submission.score == 0, results
    assert "课程库自己的 normalize" in results["normalize_pixels"][1]
    assert "FileNotFoundError" in results["batch_generator"][1] or "No such file" in results["batch_generator"][1]
    assert "paddle.io.Dataset" in results["dataset_getitem"][1]
    assert not target.exists()
    assert not Path("/tmp/graded-by-a-student.txt").exists()
