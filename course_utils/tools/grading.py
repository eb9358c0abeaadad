"""Grade one submission: run the student's code in a sandbox, judge what it did in this process.

An instructor collects the students' ``.ipynb`` files and runs ``python -m course_utils grade ...`` (the class-level
loop, in parallel and resumable, is ``classroom``). Each submission is recognised as one of the course's chapters by
its content (its cell ids, else the checks it calls, else its title; the file name does not matter). Then
:func:`grade_submission` gives it a private folder (``<tmp>/student/<file>`` beside a copy of the prepared work
folder, as students have it), and runs ``grade_runner`` there inside the sandbox (``sandbox.run``): no network, a
read-only system, the instructor's solutions, git history and models hidden, its own processes, limits on time,
memory and processes. The runner collects *evidence* for each exercise: what the student's answer did on cases drawn
from this run's seed (see ``course_utils.exercises``). The verdicts are reached here, by the exercises' judges, from
the evidence files alone: whatever the student's code did to the checks, the collector or its own process, the worst
it can get is "wrong" or "evidence tampered with", never a pass it did not earn.

Exercises follow the course's convention (``notebook_build.find_exercises``): a code cell of the solution notebook
with ``### BEGIN SOLUTION`` immediately followed by a code cell that calls exactly one ``checks.check_<name>(...)``;
``<name>`` is the exercise's id in ``course_utils.exercises``.

Chapters after the training chapter load the trained model ``work/checkpoints/fast/small_cnn.pdckpt``. Students'
notebooks must not depend on one another, so :func:`prepare_work` trains that checkpoint once per grading run, in
fast mode (a few seconds, seed 0), into the work folder every submission gets a copy of.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from .. import quiet_paddle_import, settings
from ..errors import CourseError
from ..exercises import one_line
from .notebook_build import CHECK_CALL, NotebookExercise

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .sandbox import Limits

CSV_COLUMNS = ("file", "chapter", "exercise", "passed", "message", "seconds")

_WORK_NOT_COPIED = ("checkpoints", "logs")
"""Top-level folders of ``work/`` a submission does not get: the instructor's models and training logs."""


@dataclass(frozen=True)
class Chapter:
    """A solution notebook as the grader needs it: cell ids and title to recognise it, and its exercises."""

    path: Path
    cell_ids: frozenset[str]
    title: str
    exercises: tuple[NotebookExercise, ...]
    setup: str
    """The chapter's setup cell (its first code cell): the grader runs it before each exercise cell."""

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
    attempted: bool = True


@dataclass
class SubmissionGrade:
    """Everything the grader found out about one submission.

    ``problem`` is set when the submission could not be graded completely (not readable, not a course notebook, the
    kernel died, a sandbox limit was hit); the exercises not reached are then listed as not graded. ``limit`` names
    the sandbox limit it hit ("time", "memory", "processes"), if any.
    """

    file: str
    chapter: Chapter | None
    results: list[ExerciseResult] = field(default_factory=list)
    problem: str | None = None
    seconds: float = 0.0
    limit: str | None = None

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


def load_chapters(solutions: Path) -> list[Chapter]:
    """The course's chapters: every solution notebook in *solutions* (``notebooks/``)."""
    from .notebook_build import find_exercises, read_notebook

    chapters = []
    for path in sorted(solutions.glob("*.ipynb")):
        nb = read_notebook(path)
        ids = frozenset(cell.get("id") for cell in nb.cells if cell.get("id"))
        setup = next((cell.source for cell in nb.cells if cell.cell_type == "code"), "")
        chapters.append(Chapter(path, ids, _title(nb), tuple(find_exercises(nb)), setup))
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
    called = {name for cell in nb.cells if cell.cell_type == "code" for name in CHECK_CALL.findall(cell.source)}
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


def _read_submission(path: Path) -> tuple[NotebookNode | None, str | None]:
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        return None, f"无法读取 cannot read the file: {one_line(str(error))}"
    except UnicodeDecodeError:
        return None, "不是有效的笔记本 not a valid notebook: not UTF-8 text"
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises JSON, schema and conversion errors of several types
        return None, f"不是有效的笔记本 not a valid notebook (.ipynb JSON): {one_line(str(error))}"
    if not isinstance(nb.get("cells"), list):
        return None, "不是有效的笔记本 not a valid notebook: no cells"
    return nb, None


_LIMIT_PROBLEMS = {
    "time": "超时 timed out: 超过 {seconds} s 的时限 time limit",
    "memory": "内存超限 memory limit: 超过 {memory_mb} MB",
    "processes": "进程数超限 process limit: 超过 {processes} 个进程",
}
_EXERCISE_SECONDS = 120
"""Seconds one code exercise's collection may take (inside the submission's own limit): a hanging answer costs this,
not the whole submission's time."""


def submission_env(folder: Path) -> dict[str, str]:
    """The whole environment a submission runs with: what Python, Paddle and the course need, nothing of the
    instructor's (no tokens, no credentials): fast mode, the submission's own work folder and home, the MNIST files."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(folder / "home"),
        "LANG": "C.UTF-8",
        "COURSE_FAST": "1",
        "COURSE_WORK_DIR": str(folder / "work"),
        "MPLBACKEND": "Agg",
        "GLOG_minloglevel": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("COURSE_DATA_DIR", "PYTHONPATH", "VIRTUAL_ENV"):  # where the data and the course's code are
        if os.environ.get(name):
            env[name] = os.environ[name]
    return quiet_paddle_import(env)


def hidden_paths(chapter: Chapter) -> list[Path]:
    """What a submission must not read although the rest of the system is visible: the solution notebooks, the
    project's git history (it holds them too) and the instructor's models and logs in the work folder."""
    from ..settings import PROJECT_ROOT

    paths = [chapter.path.parent, PROJECT_ROOT / ".git", PROJECT_ROOT / "notebooks",
             *(settings.work_dir() / name for name in _WORK_NOT_COPIED)]
    return sorted({path.resolve() for path in paths if path.exists()})


def readonly_paths() -> list[Path]:
    """What a submission needs to see: this Python and its packages, the course's code and the MNIST files (shown
    again where they lie under ``/tmp``, which the sandbox replaces by an empty one)."""
    from ..settings import PROJECT_ROOT

    paths = [Path(sys.prefix), Path(sys.base_prefix), PROJECT_ROOT,
             *(Path(part) for name in ("COURSE_DATA_DIR", "PYTHONPATH") for part in
               os.environ.get(name, "").split(os.pathsep) if part)]
    return sorted({path.resolve() for path in paths if path.exists()})


def grade_submission(path: Path, chapters: list[Chapter], *, work: Path, seed: int, limits: Limits,
                     isolate: bool = True) -> SubmissionGrade:
    """Grade the notebook at *path*: recognise its chapter, collect its evidence in the sandbox, judge it here.

    *work* is the prepared work folder (:func:`prepare_work`) each submission gets a copy of; *seed* draws the
    hidden cases; *limits* bound the whole run; *isolate* False runs without the sandbox (``--no-sandbox``).
    """
    from . import grade_runner, sandbox

    started = time.monotonic()
    nb, problem = _read_submission(path)
    chapter = recognise(nb, chapters) if nb is not None else None
    if nb is not None and chapter is None:
        problem = "不是本课程的笔记本 not a notebook of this course (no chapter's cells, checks or title found)"
    if chapter is None:
        return SubmissionGrade(str(path), None, problem=problem, seconds=time.monotonic() - started)
    grade_ = SubmissionGrade(str(path), chapter)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        folder = Path(tmp)
        (folder / "student").mkdir()
        (folder / "home").mkdir()
        shutil.copytree(work, folder / "work")
        submission = folder / "student" / "submission.ipynb"
        shutil.copyfile(path, submission)
        plan = {"submission": str(submission), "seed": seed, "setup": chapter.setup,
                "seconds": max(1, limits.seconds - 15), "exercise_seconds": min(_EXERCISE_SECONDS, limits.seconds),
                "exercises": [_planned(exercise) for exercise in chapter.exercises]}
        (folder / grade_runner.PLAN_FILE).write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
        outcome = sandbox.run([sys.executable, "-m", "course_utils.tools.grade_runner", grade_runner.PLAN_FILE],
                              folder=folder, env=submission_env(folder), limits=limits, isolate=isolate,
                              readonly=readonly_paths(), hide=hidden_paths(chapter))
        grade_.limit = outcome.limit
        notes, runner_problem = _runner_result(folder / grade_runner.RESULT_FILE)
        if outcome.limit:
            grade_.problem = _LIMIT_PROBLEMS.get(outcome.limit, "评分被中断 grading was interrupted").format(
                **vars(limits))
        elif outcome.returncode != 0:
            # The runner itself died, not at a limit: something in the submission killed it (its parent, the
            # runner, is what `os.kill(os.getppid(), ...)` in an exercise cell reaches). Nothing it left is trusted.
            grade_.problem = f"评分进程被结束 the grading run was killed (exit {outcome.returncode}): 不计分 no credit"
            grade_.results = [ExerciseResult(exercise.name, False, f"❌ {grade_.problem}", 0.0)
                              for exercise in chapter.exercises]
        else:
            grade_.problem = runner_problem
        if not grade_.results:
            grade_.results = [_judged(exercise, folder / grade_runner.EVIDENCE_DIR, seed,
                                      grade_runner.NOTES.get(notes.get(exercise.name, ""), grade_.problem))
                              for exercise in chapter.exercises]
    grade_.seconds = time.monotonic() - started
    return grade_


def _planned(exercise: NotebookExercise) -> dict[str, object]:
    from ..exercises import EXERCISES

    registered = EXERCISES[exercise.name]
    return {"name": exercise.name, "kind": "code" if registered.answer else "value", "answer": registered.answer,
            "cell_id": exercise.cell_id, "solution_source": exercise.source, "check_id": exercise.check_id,
            "check_source": exercise.check_source}


def _runner_result(path: Path) -> tuple[dict[str, str], str | None]:
    """The runner's note codes and whether it stopped early, read as untrusted data: only its codes are used, each
    shown as the grader's own fixed message."""
    from .grade_runner import NOTES

    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        notes = {str(name): str(code) for name, code in dict(result.get("notes") or {}).items() if code in NOTES}
        stopped = "笔记本没有运行完 the notebook stopped early (time limit or a dead kernel)"
        return notes, stopped if result.get("problem") else None
    except (OSError, ValueError, TypeError, AttributeError):
        return {}, "评分进程没有留下结果 the grading run left no result"


def _judged(exercise: NotebookExercise, evidence: Path, seed: int, note: str | None) -> ExerciseResult:
    """The verdict on one exercise, from its evidence file alone."""
    from .. import exercises

    registered = exercises.EXERCISES[exercise.name]
    file = evidence / f"{exercise.name}.npz"
    if not file.is_file():
        return ExerciseResult(exercise.name, False, f"未评分 not graded: {note or '没有结果 no evidence'}", 0.0)
    try:
        found = exercises.from_bytes(file.read_bytes())
    except Exception:  # anything at all may be in that file
        verdict = exercises.Verdict(False, "❌ 检查结果不完整或被改动 evidence incomplete or tampered with")
    else:
        verdict = exercises.judge(registered, found, registered.cases(seed))
    return ExerciseResult(exercise.name, verdict.passed, verdict.message, 0.0, verdict.attempted)
