"""The grader: full marks for solved notebooks, zero for untouched ones, the one wrong answer found, and broken,
endless, foreign or mischievous submissions reported without stopping the others or touching the project.

Most cases run on a toy course (two exercises, no Paddle) so they take a second or two each; the real chapters are
graded solved (all of them, in one run), untouched, and with one wrong answer.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.tools import cli, grading
from course_utils.tools.grading import find_exercises, grade, load_chapters, prepare_work, recognise
from course_utils.tools.notebook_build import SOLUTION_DIR, STUDENT_DIR, make_student_version, normalize_notebook
from course_utils.settings import PROJECT_ROOT

TOY_CHECKS = '''\
import types


def _check_answer(answer):
    if answer != 42:
        raise AssertionError(f"❌ 不对：{answer}，应是 6 × 7")
    print("✅ 正确！")


def _check_double(double):
    if double(3) != 6:
        raise AssertionError("❌ double(3) 应是 6")
    print("✅ 正确！double 没问题。")


checks = types.SimpleNamespace(check_answer=_check_answer, check_double=_check_double)'''


def toy_solution() -> nbformat.NotebookNode:
    """A solution notebook in the course's convention: two exercises, each followed by its check cell."""
    nb = new_notebook(cells=[
        new_markdown_cell("# 第 9 章 玩具 / Chapter 9: Toy"),
        new_code_cell(TOY_CHECKS),
        new_code_cell("### BEGIN SOLUTION\nanswer = 6 * 7\n### END SOLUTION"),
        new_code_cell("checks.check_answer(answer)"),
        new_markdown_cell("Now a function."),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        new_code_cell("checks.check_double(double)"),
        new_code_cell("print(double(answer))"),
    ])
    for cell in nb.cells:
        del cell["id"]  # normalize_notebook derives them from the sources: the same ids in every copy
    return normalize_notebook(nb)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """A course folder with the toy chapter as notebooks/09_toy.ipynb."""
    root = tmp_path_factory.mktemp("toy")
    (root / SOLUTION_DIR).mkdir()
    (root / SOLUTION_DIR / "09_toy.ipynb").write_text(nbformat.writes(toy_solution()), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def empty_work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def course_work(tmp_path_factory) -> Path:
    """The work folder for the real chapters, with its fast-mode checkpoint, prepared once for this module."""
    return prepare_work(tmp_path_factory.mktemp("course") / "work", log=lambda line: None)


def write(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def toy_student(**sources: str) -> nbformat.NotebookNode:
    """The toy's student version, with some cells' sources replaced (by index: ``c2="answer = 41"``)."""
    nb = make_student_version(toy_solution())
    for name, source in sources.items():
        nb.cells[int(name[1:])].source = source
    return nb


def filled(student: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A student notebook with every exercise cell filled in with the solution's code."""
    solved = {cell.id: cell.source for cell in solution.cells}
    for cell in student.cells:
        cell.source = solved.get(cell.id, cell.source)
    return student


def grade_toy(toy: Path, work: Path, *paths: Path, timeout: int = 60) -> list[grading.SubmissionGrade]:
    return list(grade(paths, solutions=toy / SOLUTION_DIR, work=work, timeout=timeout, log=lambda line: None))


def outcome(submission: grading.SubmissionGrade) -> dict[str, tuple[bool, str]]:
    return {result.exercise: (result.passed, result.message) for result in submission.results}


def test_exercises_follow_the_convention():
    exercises = find_exercises(toy_solution())
    assert [exercise.name for exercise in exercises] == ["answer", "double"]
    assert exercises[0].check_source == "checks.check_answer(answer)"


def test_every_check_in_the_course_belongs_to_an_exercise():
    """A check cell that does not follow the convention would be silently left out of the grades."""
    for chapter in load_chapters(PROJECT_ROOT / SOLUTION_DIR):
        nb = nbformat.read(chapter.path, as_version=4)
        calls = [cell.id for cell in nb.cells if cell.cell_type == "code" and grading._CHECK_CALL.search(cell.source)]
        assert calls == [exercise.check_id for exercise in chapter.exercises], chapter.name
    names = [exercise.name for chapter in load_chapters(PROJECT_ROOT / SOLUTION_DIR) for exercise in chapter.exercises]
    assert len(names) == len(set(names)), "exercise ids must be unique across the course"


def test_solved_untouched_and_wrong_toy_notebooks(toy, empty_work, tmp_path):
    solved = write(tmp_path / "solved.ipynb", toy_student(c2="answer = 6 * 7", c5="def double(x):\n    return x + x"))
    untouched = write(tmp_path / "untouched.ipynb", toy_student())
    wrong = write(tmp_path / "wrong.ipynb", toy_student(c2="answer = 41", c5="def double(x):\n    return x * 2"))

    grades = grade_toy(toy, empty_work, solved, untouched, wrong)

    assert [g.summary() for g in grades] == [f"{solved}  第 9 章  2/2", f"{untouched}  第 9 章  0/2",
                                             f"{wrong}  第 9 章  1/2"]
    assert outcome(grades[0]) == {"answer": (True, "✅ 正确！"), "double": (True, "✅ 正确！double 没问题。")}
    assert outcome(grades[1]) == {name: (False, "未作答 not attempted (NotImplementedError)")
                                  for name in ("answer", "double")}
    assert outcome(grades[2]) == {"answer": (False, "❌ 不对：41，应是 6 × 7"),
                                  "double": (True, "✅ 正确！double 没问题。")}
    assert all(g.problem is None for g in grades)


def test_later_exercises_are_graded_after_failures_and_edited_checks_do_not_count(toy, empty_work, tmp_path):
    nb = toy_student(c2="answer = 6 * 7\n1 / 0", c3="print('✅ 正确！')", c5="def double(x):\n    return 2 * x")
    nb.cells.insert(4, new_code_cell("undefined_name"))  # a failing cell of the student's own
    nb.cells[4].id = "student-scratch"
    del nb.cells[-1]  # the last ungraded cell deleted
    edited = write(tmp_path / "edited.ipynb", nb)
    faked = write(tmp_path / "faked.ipynb", toy_student(c3="print('✅ 正确！')"))

    first, second = grade_toy(toy, empty_work, edited, faked)

    assert outcome(first) == {"answer": (True, "✅ 正确！"), "double": (True, "✅ 正确！double 没问题。")}
    assert outcome(second)["answer"] == (False, "未作答 not attempted (NotImplementedError)")


def test_a_deleted_check_cell_is_a_missing_exercise(toy, empty_work, tmp_path):
    nb = toy_student(c2="answer = 42")
    del nb.cells[6]
    [result] = grade_toy(toy, empty_work, write(tmp_path / "deleted.ipynb", nb))
    assert outcome(result) == {"answer": (True, "✅ 正确！"),
                               "double": (False, "缺少检查单元格 the exercise's check cell is missing from the notebook")}
    assert result.problem is None


def test_a_wrong_check_call_and_other_errors_are_reported(toy, empty_work, tmp_path):
    nb = toy_student(c5="def double(x):\n    return undefined * x")
    broken = write(tmp_path / "broken.ipynb", nb)
    [result] = grade_toy(toy, empty_work, broken)
    assert outcome(result)["double"] == (False, "出错 error: NameError: name 'undefined' is not defined")


def test_a_notebook_without_ids_is_recognised_by_its_checks(toy, empty_work, tmp_path):
    nb = toy_student(c2="answer = 42", c5="def double(x):\n    return 2 * x")
    nb.nbformat_minor = 4
    for cell in nb.cells:
        del cell["id"]
    old_format = write(tmp_path / "old.ipynb", nb)
    [result] = grade_toy(toy, empty_work, old_format)
    assert result.summary() == f"{old_format}  第 9 章  2/2"


def test_an_endless_loop_stops_at_the_time_limit_and_the_next_notebook_is_graded(toy, empty_work, tmp_path):
    endless = write(tmp_path / "endless.ipynb", toy_student(c2="answer = 42", c5="while True:\n    pass"))
    solved = write(tmp_path / "solved.ipynb", toy_student(c2="answer = 42", c5="def double(x):\n    return 2 * x"))
    started = time.monotonic()

    stuck, fine = grade_toy(toy, empty_work, endless, solved, timeout=4)

    assert time.monotonic() - started < 30
    assert stuck.problem.startswith("超时 timed out: 超过 4 s 的时限 time limit in cell 5")
    assert outcome(stuck)["answer"] == (True, "✅ 正确！")
    assert outcome(stuck)["double"] == (False, f"未评分 not graded: {stuck.problem}")
    assert stuck.summary() == f"{endless}  第 9 章  1/2  ({stuck.problem})"
    assert fine.problem is None and fine.score == 2


def test_a_crashing_kernel_gets_a_row(toy, empty_work, tmp_path):
    crash = write(tmp_path / "crash.ipynb", toy_student(c2="import os\nos._exit(1)"))
    [result] = grade_toy(toy, empty_work, crash)
    assert result.problem == "内核崩溃 the kernel died in cell 2"
    assert result.score == 0


def test_a_notebook_writing_outside_its_folder_changes_only_its_copy(toy, empty_work, tmp_path):
    mischief = (
        "from pathlib import Path\n"
        "from course_utils import settings\n"
        "for target in ('../notebooks/x.ipynb', '../student/x.ipynb', '../work/x.txt', '../work/checkpoints/x.pdckpt',"
        " settings.work_dir() / 'x.txt', settings.checkpoint_dir() / 'small_cnn.pdckpt'):\n"
        "    Path(target).parent.mkdir(parents=True, exist_ok=True)\n"
        "    Path(target).write_text('overwritten')\n"
        "answer = 42"
    )
    watched = [PROJECT_ROOT / SOLUTION_DIR, PROJECT_ROOT / STUDENT_DIR, PROJECT_ROOT / "work", toy, empty_work]
    before = {path: path.stat().st_mtime_ns for folder in watched for path in [folder, *folder.rglob("*")]}
    submission = write(tmp_path / "mischief.ipynb", toy_student(c2=mischief))

    [result] = grade_toy(toy, empty_work, submission)

    assert outcome(result)["answer"][0], "the notebook ran in its copy"
    after = {path: path.stat().st_mtime_ns for folder in watched for path in [folder, *folder.rglob("*")]}
    assert after == before


def test_invalid_and_foreign_notebooks_get_a_row_and_the_others_are_graded(toy, empty_work, tmp_path):
    not_json = tmp_path / "not_json.ipynb"
    not_json.write_text('{"cells": [', encoding="utf-8")
    foreign = write(tmp_path / "foreign.ipynb", new_notebook(cells=[new_markdown_cell("# My own notes"),
                                                                    new_code_cell("print(1)")]))
    solved = write(tmp_path / "solved.ipynb", toy_student(c2="answer = 42", c5="def double(x):\n    return 2 * x"))

    bad, alien, good = grade_toy(toy, empty_work, not_json, foreign, solved)

    assert bad.chapter is None and bad.problem.startswith("不是有效的笔记本 not a valid notebook (.ipynb JSON)")
    assert alien.chapter is None and alien.problem.startswith("不是本课程的笔记本 not a notebook of this course")
    assert bad.rows() == [{"file": str(not_json), "chapter": "", "exercise": "", "passed": 0,
                           "message": bad.problem, "seconds": 0.0}]
    assert good.score == 2 and good.problem is None


def test_course_chapters_are_recognised_by_content_not_file_name():
    chapters = load_chapters(PROJECT_ROOT / SOLUTION_DIR)
    for chapter in chapters:
        student = nbformat.read(PROJECT_ROOT / STUDENT_DIR / chapter.path.name, as_version=4)
        assert recognise(student, chapters) is chapter
        student.cells = student.cells[: len(student.cells) // 3]  # ids of a third are too few; the title decides
        assert recognise(student, chapters) is chapter
    assert recognise(new_notebook(cells=[new_markdown_cell("# Homework")]), chapters) is None


def test_submissions_get_the_work_folder_with_a_fast_checkpoint_but_not_the_instructors_models(course_work):
    assert (course_work / "checkpoints" / "fast" / "small_cnn.pdckpt").is_file()
    assert [path.name for path in (course_work / "checkpoints").iterdir()] == ["fast"]
    examples = {path.name for path in (PROJECT_ROOT / "work").glob("example_*")}
    assert examples and examples <= {path.name for path in course_work.iterdir()}


def test_solved_course_notebooks_score_full_marks(course_work, tmp_path):
    """Every chapter with exercises, its student version filled in with the solutions, graded in one run."""
    paths = []
    for chapter in load_chapters(PROJECT_ROOT / SOLUTION_DIR):
        if chapter.exercises:
            solution = nbformat.read(chapter.path, as_version=4)
            student = nbformat.read(PROJECT_ROOT / STUDENT_DIR / chapter.path.name, as_version=4)
            paths.append(write(tmp_path / f"student_{chapter.name.split('_')[0]}.ipynb", filled(student, solution)))

    grades = list(grade(paths, work=course_work, log=lambda line: None))

    assert len(grades) >= 3
    for submission in grades:
        assert submission.problem is None, submission.summary()
        assert all(result.passed for result in submission.results), outcome(submission)
        assert len(submission.results) == len(submission.chapter.exercises)


def test_untouched_and_one_wrong_answer_in_course_chapters(course_work, tmp_path):
    untouched_path = PROJECT_ROOT / STUDENT_DIR / "02_network.ipynb"
    solution = nbformat.read(PROJECT_ROOT / SOLUTION_DIR / "05_accuracy.ipynb", as_version=4)
    wrong = filled(nbformat.read(PROJECT_ROOT / STUDENT_DIR / "05_accuracy.ipynb", as_version=4), solution)
    [cell] = [cell for cell in wrong.cells if "def confusion_matrix(" in cell.source]
    cell.source = cell.source.replace("confusion[label, prediction] += 1", "confusion[prediction, label] += 1")
    assert "confusion[prediction, label]" in cell.source
    wrong_path = write(tmp_path / "wrong.ipynb", wrong)

    untouched, mistaken = grade([untouched_path, wrong_path], work=course_work, log=lambda line: None)

    assert untouched.problem is None and untouched.results and untouched.score == 0
    # A stub either raises NotImplementedError in the check, or the check itself says the function is not written yet.
    assert all(r.message == "未作答 not attempted (NotImplementedError)" or "还没有写" in r.message
               for r in untouched.results)
    assert mistaken.problem is None
    assert [name for name, (passed, _) in outcome(mistaken).items() if not passed] == ["confusion_matrix"]
    assert outcome(mistaken)["confusion_matrix"][1].startswith("❌ 行和列反了")


def test_grade_command_prints_totals_writes_the_csv_and_fails_when_one_was_not_graded(toy, empty_work, tmp_path,
                                                                                  monkeypatch, capsys):
    toy_chapters = load_chapters(toy / SOLUTION_DIR)
    monkeypatch.setattr(grading, "load_chapters", lambda folder: toy_chapters)
    monkeypatch.setattr(grading, "prepare_work", lambda dest, **options: empty_work)
    solved = write(tmp_path / "bob.ipynb", toy_student(c2="answer = 42"))
    not_json = tmp_path / "alice.ipynb"
    not_json.write_bytes(b"\x89PNG")
    out = tmp_path / "grades.csv"

    code = cli.main(["grade", str(solved), str(not_json), "--out", str(out), "--timeout", "60"])

    printed = capsys.readouterr().out.splitlines()
    assert code == 1
    assert printed[:2] == [f"{solved}  第 9 章  1/2", f"{not_json}  无法评分 not graded: {printed[1].split(': ', 1)[1]}"]
    assert "not a valid notebook" in printed[1]
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["file"], row["chapter"], row["exercise"], row["passed"]) for row in rows] == [
        (str(solved), "09_toy", "answer", "1"), (str(solved), "09_toy", "double", "0"), (str(not_json), "", "", "0")]
    assert cli.main(["grade", str(solved), "--out", str(out)]) == 0
