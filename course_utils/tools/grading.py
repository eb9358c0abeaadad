"""Grade a class's notebooks: run each student notebook headless and record the outcome of every exercise's check.

An instructor collects the students' ``.ipynb`` files and runs ``python -m course_utils grade *.ipynb``. Each
submission is recognised as one of the course's chapters by its content (its cell ids, else the checks it calls, else
its title; the file name does not matter), then run top to bottom in a fresh Jupyter kernel (nbclient), in fast mode
(``COURSE_FAST=1``) and inside a throw-away folder: ``<tmp>/student/<file>`` beside ``<tmp>/work``, a copy of the
project's ``work/`` folder that ``COURSE_WORK_DIR`` points to. Relative paths such as ``../work/example_0.jpg`` work
as they do for students, and a notebook that writes to ``../notebooks/x``, ``../work/...`` or
``settings.work_dir()`` changes only the copy. It is not a security sandbox: code that names an absolute path can
still reach it. Each notebook has a time limit, so an endless loop stops the notebook, not the grading.

Chapters after the training chapter load the trained model ``work/checkpoints/fast/small_cnn.pdckpt``. Students'
notebooks must not depend on one another, so the grader trains that checkpoint itself, once per grading run, in
fast mode (a few seconds, seed 0) into the template of the work folder that every submission gets a copy of.

Exercises follow the course's convention: a code cell of the solution notebook with ``### BEGIN SOLUTION``
immediately followed by a code cell that calls exactly one ``checks.check_<name>(...)``; ``<name>`` is the exercise's
id. The grader runs the submission's cells in order, but in place of each check cell it runs the solution's check
cell (a student cannot edit a check into passing). The outcome: passed (the check printed its ✅ line), failed (the
check raised ``AssertionError("❌ ...")``), not attempted (the exercise cell or the check raised
``NotImplementedError``, as the untouched stub does), or an error (any other exception, with its one-line text). After
an exercise that did not pass, the solution's version of the exercise cell runs, so that later cells and exercises
see the state a student who solved it would have; other cells that fail are passed over, as a student would.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import io
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .. import quiet_paddle_import, settings
from ..errors import CourseError

if TYPE_CHECKING:
    from nbformat import NotebookNode

DEFAULT_TIMEOUT = 600
"""Seconds one submission may run in all. A solved chapter takes well under a minute in fast mode on 2 cores."""

CSV_COLUMNS = ("file", "chapter", "exercise", "passed", "message", "seconds")

_CHECK_CALL = re.compile(r"\bchecks\s*\.\s*check_(\w+)\s*\(")
_BEGIN_SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*$", re.MULTILINE)
_WORK_NOT_COPIED = ("checkpoints", "logs")
"""Top-level folders of ``work/`` a submission does not get: the instructor's models and training logs."""
_NOT_ATTEMPTED = "未作答 not attempted (NotImplementedError)"


@dataclass(frozen=True)
class Exercise:
    """One exercise of a solution notebook: its id (the check's ``<name>``) and its two cells."""

    name: str
    solution_id: str
    solution_source: str
    check_id: str
    check_source: str


@dataclass(frozen=True)
class Chapter:
    """A solution notebook as the grader needs it: cell ids and title to recognise it, and its exercises."""

    path: Path
    cell_ids: frozenset[str]
    title: str
    exercises: tuple[Exercise, ...]

    @property
    def name(self) -> str:
        """The notebook's stem, e.g. ``05_accuracy``."""
        return self.path.stem

    @property
    def label(self) -> str:
        """``第 5 章`` for ``05_accuracy``, else the stem."""
        number = self.name.split("_", 1)[0]
        return f"第 {int(number)} 章" if number.isdigit() else self.name


@dataclass(frozen=True)
class ExerciseResult:
    """One exercise of one submission: passed or not, the check's message (or why there is none), seconds taken."""

    exercise: str
    passed: bool
    message: str
    seconds: float


@dataclass
class SubmissionGrade:
    """Everything the grader found out about one submission.

    ``problem`` is set when the submission could not be graded completely (not readable, not a course notebook, the
    kernel died, the time limit ran out); the exercises not reached are then listed as not graded.
    """

    file: str
    chapter: Chapter | None
    results: list[ExerciseResult] = field(default_factory=list)
    problem: str | None = None
    seconds: float = 0.0

    @property
    def score(self) -> int:
        return sum(result.passed for result in self.results)

    def summary(self) -> str:
        """One line per student, e.g. ``alice.ipynb  第 3 章  2/3``."""
        if self.chapter is None:
            return f"{self.file}  无法评分 not graded: {self.problem}"
        line = f"{self.file}  {self.chapter.label}  {self.score}/{len(self.chapter.exercises)}"
        return f"{line}  ({self.problem})" if self.problem else line

    def rows(self) -> list[dict[str, object]]:
        """The CSV rows: one per exercise, and one (with an empty exercise) saying why grading stopped, if it did."""
        chapter = self.chapter.name if self.chapter else ""
        rows: list[dict[str, object]] = [
            {"file": self.file, "chapter": chapter, "exercise": result.exercise, "passed": int(result.passed),
             "message": result.message, "seconds": round(result.seconds, 2)}
            for result in self.results
        ]
        if self.problem:
            rows.append({"file": self.file, "chapter": chapter, "exercise": "", "passed": 0,
                         "message": self.problem, "seconds": round(self.seconds, 2)})
        return rows


def find_exercises(nb: NotebookNode) -> tuple[Exercise, ...]:
    """The exercises of a solution notebook, in order (see the module's docstring for the convention)."""
    exercises = []
    for cell, following in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type != "code" or following.cell_type != "code" or not _BEGIN_SOLUTION.search(cell.source):
            continue
        calls = _CHECK_CALL.findall(following.source)
        if len(calls) == 1:
            exercises.append(Exercise(calls[0], cell.get("id", ""), cell.source, following.get("id", ""),
                                      following.source))
    return tuple(exercises)


def load_chapters(solutions: Path) -> list[Chapter]:
    """The course's chapters: every solution notebook in *solutions* (``notebooks/``)."""
    from .notebook_build import read_notebook

    chapters = []
    for path in sorted(solutions.glob("*.ipynb")):
        nb = read_notebook(path)
        ids = frozenset(cell.get("id") for cell in nb.cells if cell.get("id"))
        chapters.append(Chapter(path, ids, _title(nb), find_exercises(nb)))
    if not chapters:
        raise CourseError(f"no solution notebooks in {solutions}: grade from the course's project folder")
    return chapters


def _title(nb: NotebookNode) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def recognise(nb: NotebookNode, chapters: Iterable[Chapter]) -> Chapter | None:
    """The chapter *nb* is a version of, or None.

    Most of a chapter's cell ids survive a student's editing (JupyterLab keeps them); a notebook saved by a tool that
    dropped the ids is recognised by the checks it calls (their names are unique across the course), else by its
    title.
    """
    chapters = list(chapters)
    ids = {cell.get("id") for cell in nb.cells}
    by_ids = max(chapters, key=lambda chapter: len(chapter.cell_ids & ids))
    if by_ids.cell_ids & ids and len(by_ids.cell_ids & ids) * 2 >= len(by_ids.cell_ids):
        return by_ids
    called = {name for cell in nb.cells if cell.cell_type == "code" for name in _CHECK_CALL.findall(cell.source)}
    by_checks = [chapter for chapter in chapters if called & {exercise.name for exercise in chapter.exercises}]
    if len(by_checks) == 1:
        return by_checks[0]
    title = _title(nb)
    by_title = [chapter for chapter in chapters if title and chapter.title == title]
    return by_title[0] if len(by_title) == 1 else None


def prepare_work(dest: Path, source: Path | None = None, *, log: Callable[[str], None] = print) -> Path:
    """Make *dest* the work folder every submission gets a copy of, and return it.

    It holds what the project's work folder (*source*, default ``settings.work_dir()``) holds except its checkpoints
    and logs, plus a checkpoint of the default model trained here in fast mode, where the chapters look for it.
    """
    from unittest import mock

    source = source or settings.work_dir()
    if source.is_dir():

        def not_copied(folder: str, names: list[str]) -> list[str]:
            return [name for name in names if Path(folder) == source and name in _WORK_NOT_COPIED]

        shutil.copytree(source, dest, dirs_exist_ok=True, ignore=not_copied)
    dest.mkdir(parents=True, exist_ok=True)
    log("为需要模型的章节训练一个快速模式的检查点 training a fast-mode checkpoint for the chapters that load one ...")
    with mock.patch.dict(os.environ, {"COURSE_FAST": "1", "COURSE_WORK_DIR": str(dest)}):
        from ..mnist import load_mnist
        from ..models import DEFAULT_MODEL, build_model
        from ..training import TrainConfig, set_seed, train_model

        data = load_mnist(progress=False)
        set_seed(0)
        model = build_model(DEFAULT_MODEL)
        checkpoint = settings.checkpoint_dir() / f"{DEFAULT_MODEL}.pdckpt"
        with contextlib.redirect_stdout(io.StringIO()):  # the device it trains on, which is no news to the grader
            train_model(model, data, TrainConfig(), checkpoint=checkpoint, progress=False, log=lambda line: None)
    return dest


def grade(
    submissions: Iterable[str | Path],
    *,
    timeout: int = DEFAULT_TIMEOUT,
    solutions: Path | None = None,
    work: Path | None = None,
    log: Callable[[str], None] = print,
) -> Iterator[SubmissionGrade]:
    """Grade each submission in turn and yield its :class:`SubmissionGrade` as soon as it is known.

    *solutions* is the folder of solution notebooks (default: the project's ``notebooks/``). *work* is a prepared work
    folder (:func:`prepare_work`); by default one is made in a temporary folder when the first course notebook comes,
    and deleted at the end. A submission that cannot be graded gets a ``problem``; the others are still graded.
    """
    from .notebook_build import SOLUTION_DIR
    from ..settings import PROJECT_ROOT

    chapters = load_chapters(solutions or PROJECT_ROOT / SOLUTION_DIR)
    with contextlib.ExitStack() as cleanup:
        for submission in submissions:
            path = Path(submission)
            started = time.monotonic()
            nb, problem = _read_submission(path)
            chapter = recognise(nb, chapters) if nb is not None else None
            if nb is not None and chapter is None:
                problem = "不是本课程的笔记本 not a notebook of this course (no chapter's cells, checks or title found)"
            if chapter is None:
                yield SubmissionGrade(str(submission), None, problem=problem, seconds=time.monotonic() - started)
                continue
            if work is None:
                work = prepare_work(Path(cleanup.enter_context(tempfile.TemporaryDirectory())) / "work", log=log)
            grade_ = SubmissionGrade(str(submission), chapter)
            try:
                _run(nb, chapter, grade_, work, timeout)
            except Exception as error:  # the kernel may fail in many ways; one submission must not stop the class
                grade_.problem = f"评分出错 grading failed: {type(error).__name__}: {_one_line(str(error))}"
            graded = {result.exercise for result in grade_.results}
            missing = (f"未评分 not graded: {grade_.problem}" if grade_.problem
                       else "缺少检查单元格 the exercise's check cell is missing from the notebook")
            grade_.results.extend(ExerciseResult(exercise.name, False, missing, 0.0)
                                  for exercise in chapter.exercises if exercise.name not in graded)
            grade_.seconds = time.monotonic() - started
            yield grade_


def _read_submission(path: Path) -> tuple[NotebookNode | None, str | None]:
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        return None, f"无法读取 cannot read the file: {_one_line(str(error))}"
    except UnicodeDecodeError:
        return None, "不是有效的笔记本 not a valid notebook: not UTF-8 text"
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises JSON, schema and conversion errors of several types
        return None, f"不是有效的笔记本 not a valid notebook (.ipynb JSON): {_one_line(str(error))}"
    if not isinstance(nb.get("cells"), list):
        return None, "不是有效的笔记本 not a valid notebook: no cells"
    return nb, None


class _Stopped(Exception):
    """The submission stopped before its end: the time limit ran out or the kernel died."""


def _run(nb: NotebookNode, chapter: Chapter, grade_: SubmissionGrade, template: Path, timeout: int) -> None:
    """Run *nb* in a fresh copy of the work folder, appending one result per exercise checked to *grade_*."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from .notebook_build import STUDENT_DIR, _client

    by_check_id = {exercise.check_id: exercise for exercise in chapter.exercises}
    by_name = {exercise.name: exercise for exercise in chapter.exercises}
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        folder = Path(tmp) / STUDENT_DIR
        folder.mkdir()
        shutil.copytree(template, Path(tmp) / "work")
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        env = quiet_paddle_import({**os.environ, "COURSE_FAST": "1", "COURSE_WORK_DIR": str(Path(tmp) / "work"),
                                   "MPLBACKEND": "Agg"})
        client = _client(nb, folder, timeout)
        client.shutdown_kernel = "immediate"  # a kernel stuck in a loop cannot answer a polite request
        client.shell_timeout_interval = 1  # how often the time limit is looked at, in seconds

        outcomes: dict[str, tuple[BaseException | None, float]] = {}  # exercise cells by id: error, seconds
        last: tuple[BaseException | None, float] = (None, 0.0)

        def execute(cell: NotebookNode, index: int) -> tuple[BaseException | None, float]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Stopped(f"超时 timed out: 超过 {timeout} s 的时限 time limit, before cell {index}")
            client.timeout = max(1, math.ceil(remaining))
            started = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                return error, time.monotonic() - started
            except CellTimeoutError:
                raise _Stopped(f"超时 timed out: 超过 {timeout} s 的时限 time limit in cell {index}") from None
            except DeadKernelError:
                raise _Stopped(f"内核崩溃 the kernel died in cell {index}") from None
            return None, time.monotonic() - started

        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):  # the kernel's own log lines, not the student's
            deadline = time.monotonic() + timeout  # from the kernel's start: how fast it starts is not the student's
            try:
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code" or "nbval-skip" in cell.metadata.get("tags", []):
                        continue
                    exercise = by_check_id.get(cell.get("id")) or _called_exercise(cell, by_name)
                    if exercise is None or exercise.name in {result.exercise for result in grade_.results}:
                        last = execute(cell, index)
                        outcomes[cell.get("id")] = last
                        continue
                    answer_error, answer_seconds = outcomes.get(exercise.solution_id, last)
                    result = _check(exercise, cell, index, answer_error, answer_seconds, execute)
                    grade_.results.append(result)
                    if not result.passed:
                        solved = copy.deepcopy(cell)
                        solved.source = exercise.solution_source
                        execute(solved, index)
                    last = (None, 0.0)
            except _Stopped as stop:
                grade_.problem = str(stop)


def _called_exercise(cell: NotebookNode, by_name: dict[str, Exercise]) -> Exercise | None:
    """The exercise whose check this cell calls, for notebooks whose cell ids were lost."""
    calls = _CHECK_CALL.findall(cell.source)
    return by_name.get(calls[0]) if len(calls) == 1 else None


def _check(exercise: Exercise, cell: NotebookNode, index: int, answer_error: BaseException | None,
           answer_seconds: float, execute: Callable) -> ExerciseResult:
    """Run the solution's check in place of the submission's check cell and say what it found."""
    if getattr(answer_error, "ename", None) == "NotImplementedError":
        return ExerciseResult(exercise.name, False, _NOT_ATTEMPTED, answer_seconds)
    probe = copy.deepcopy(cell)
    probe.source = exercise.check_source
    error, seconds = execute(probe, index)
    seconds += answer_seconds
    if error is not None:
        ename, evalue = getattr(error, "ename", type(error).__name__), _one_line(getattr(error, "evalue", ""))
        if ename == "NotImplementedError":
            return ExerciseResult(exercise.name, False, _NOT_ATTEMPTED, seconds)
        if ename == "AssertionError" and evalue.startswith("❌"):
            return ExerciseResult(exercise.name, False, evalue, seconds)
        return ExerciseResult(exercise.name, False, f"出错 error: {ename}: {evalue}".rstrip(": "), seconds)
    printed = "".join(output.get("text", "") for output in probe.outputs if output.get("output_type") == "stream")
    verdict = next((line.strip() for line in printed.splitlines() if line.strip().startswith("✅")), None)
    if verdict is None:
        return ExerciseResult(exercise.name, False, "检查没有给出结果 the check printed no ✅ line", seconds)
    return ExerciseResult(exercise.name, True, verdict, seconds)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]


def write_csv(grades: Iterable[SubmissionGrade], path: Path) -> None:
    """Write the grades as CSV (UTF-8 with a BOM, so that spreadsheet programs show the Chinese messages), atomically:
    an existing file is replaced only once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for grade_ in grades:
                writer.writerows(grade_.rows())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
