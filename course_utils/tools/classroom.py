"""Grade a whole class: each submission in its own sandbox, several at once, every result saved as soon as it is known.

``python -m course_utils grade SUBMISSIONS... --out DIR`` calls ``grade_class``. It recognises nothing itself: each
notebook goes to ``grading.grade_submission`` (read, recognise the chapter, run the answers in a sandbox, judge them
in this process). Around it, this module

- runs ``jobs`` submissions at once (default: the usable cores) in threads; the work is done by the sandboxed
  processes, so the threads only wait. The grades do not depend on the number of jobs: every submission gets the same
  seed and a fresh copy of the same work folder, prepared once per run (``grading.prepare_work``);
- saves each submission's result as ``DIR/results/<content hash>-<seed>.json`` (atomically) the moment it is known,
  so an interrupted run keeps what was graded, and ``--resume`` grades only what is missing. The key is the file's
  content, not its name: a notebook changed since is graded again, and identical files are graded once (and reported:
  two students handing in the very same file is worth a look);
- draws the seed of the hidden test cases once per run, unless ``--seed`` is given, and records it in
  ``DIR/run.json``; ``--resume`` reads it from there, so a resumed run grades with the same cases;
- writes the reports from the saved results: ``grades.csv`` (one row per exercise, as before), ``gradebook.csv``
  (one row per student, a column per chapter: the number of exercises passed, for Canvas and Moodle) and
  ``feedback/<student>.md`` (what each check found, for the student: the checks' messages, never their inputs).

Student ids: when the submissions lie in more than one folder (one folder per student, as Canvas, Moodle and most
LMS downloads arrange them, or as an instructor sorts them), a submission's student is its folder's name; when they
all lie in one folder, it is the file's name without ``.ipynb`` (``alice.ipynb`` -> ``alice``).
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import settings
from ..atomic import atomic_write
from ..errors import CourseError
from . import grading, sandbox
from .grading import CSV_COLUMNS, Chapter, ExerciseResult, SubmissionGrade
from .sandbox import Limits

RUN_FILE = "run.json"
RESULTS_DIR = "results"
GRADES_CSV = "grades.csv"
GRADEBOOK_CSV = "gradebook.csv"
FEEDBACK_DIR = "feedback"
GRADEBOOK_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
"""The identity columns of a Canvas gradebook export, which its import reads (``Student`` and ``SIS Login ID`` are
filled with the student id); Moodle's CSV import lets the instructor map any of them to username, email or ID
number, and each chapter column to a grade item."""


@dataclass(frozen=True)
class Submission:
    """One notebook handed in: where it is, whose it is, and the hash of its content (its key in ``results/``)."""

    path: Path
    student: str
    digest: str


@dataclass
class ClassGrades:
    """What ``grade_class`` found: each submission with its grade (in the order given), the seed, and counts."""

    out: Path
    seed: int
    graded: list[tuple[Submission, SubmissionGrade]]
    graded_now: int
    reused: int

    @property
    def complete(self) -> bool:
        """True when every submission was graded to its end (no problem reported)."""
        return not any(grade.problem for _, grade in self.graded)


def student_ids(paths: Sequence[Path]) -> list[str]:
    """The student of each submission (see the module's docstring for the rule)."""
    folders = {path.resolve().parent for path in paths}
    if len(folders) > 1:
        return [path.resolve().parent.name for path in paths]
    return [path.stem for path in paths]


def grade_class(
    submissions: Sequence[str | Path],
    *,
    out: Path,
    jobs: int | None = None,
    resume: bool = False,
    seed: int | None = None,
    limits: Limits = Limits(),
    isolate: bool = True,
    solutions: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ClassGrades:
    """Grade every submission, ``jobs`` at a time, saving each result in ``out``; then write the reports there.

    ``resume`` continues the run recorded in ``out`` (its seed, the results already saved); without it, ``out`` must
    not hold an earlier run. A submission that cannot be graded gets a ``problem``; the others are still graded.
    """
    from .notebook_build import SOLUTION_DIR, STUDENT_DIR

    out = Path(out)
    paths = [Path(path) for path in submissions]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise CourseError(f"no such file: {', '.join(missing[:5])}: give the students' .ipynb files")
    seed = _run_seed(out, seed, resume, limits, isolate)
    chapters = grading.load_chapters(solutions or settings.PROJECT_ROOT / SOLUTION_DIR)
    by_name = {chapter.name: chapter for chapter in chapters}
    members = [Submission(path, student, _digest(path)) for path, student in zip(paths, student_ids(paths))]
    handed_out = {_digest(path) for path in (settings.PROJECT_ROOT / STUDENT_DIR).glob("*.ipynb")}
    _report_identical([member for member in members if member.digest not in handed_out], log)

    results: dict[str, SubmissionGrade] = {}
    for member in members:
        saved = _load(_result_path(out, member, seed), by_name)
        if saved is not None:
            results[member.digest] = saved
    reused = len(results)
    todo = list({member.digest: member for member in members if member.digest not in results}.values())
    sandbox.hide_always([*{member.path.resolve().parent for member in members}, out.resolve()])  # no copying
    if todo:
        _grade_all(todo, results, out=out, chapters=chapters, jobs=jobs, seed=seed, limits=limits,
                   isolate=isolate, progress=progress, log=log)
    graded = [(member, _as_file(results[member.digest], member.path)) for member in members]
    grades = ClassGrades(out, seed, graded, len(todo), reused)
    write_reports(grades, chapters)
    return grades


def _grade_all(todo: list[Submission], results: dict[str, SubmissionGrade], *, out: Path, chapters: list[Chapter],
               jobs: int | None, seed: int, limits: Limits, isolate: bool, progress: bool,
               log: Callable[[str], None]) -> None:
    """Grade ``todo`` in a pool of ``jobs`` threads, saving and logging each result as it comes."""
    from tqdm import tqdm

    jobs = max(1, jobs or settings.usable_cores())
    with contextlib.ExitStack() as cleanup:
        work = cleanup.enter_context(_work_folder(log))
        bar = cleanup.enter_context(tqdm(total=len(todo), desc="评分 grading", unit="nb", disable=not progress))
        write = tqdm.write if progress else log
        pool = cleanup.enter_context(ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade"))
        pending: dict[Future, Submission] = {
            pool.submit(_grade_one, member, chapters, work, seed, limits, isolate): member for member in todo
        }
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                interrupted = None
                for future in done:  # all of them, even after an interruption: what was graded is kept
                    member = pending.pop(future)
                    try:
                        grade, finished = future.result()
                    except BaseException as error:  # KeyboardInterrupt, SystemExit: not a submission's fault
                        interrupted = interrupted or error
                        continue
                    if finished:
                        _save(_result_path(out, member, seed), grade)
                    results[member.digest] = grade
                    write(_as_file(grade, member.path).summary())
                    bar.update()
                if interrupted is not None:
                    raise interrupted
        except BaseException:
            for future in pending:
                future.cancel()
            sandbox.stop_all()  # the runs under way end now; what was saved stays saved
            pool.shutdown(wait=True)
            sandbox.allow_runs()
            raise


@contextlib.contextmanager
def _work_folder(log: Callable[[str], None]) -> Iterator[Path]:
    """The work folder every submission of a run gets a copy of (``grading.prepare_work``), made once, in a
    temporary folder deleted at the end."""
    with tempfile.TemporaryDirectory(prefix="course-grade-work-") as folder:
        yield grading.prepare_work(Path(folder) / "work", log=log)


def _grade_one(member: Submission, chapters: list[Chapter], work: Path, seed: int, limits: Limits,
               isolate: bool) -> tuple[SubmissionGrade, bool]:
    """One submission's grade, and whether it is final (a failure of the grader itself is not saved: ``--resume``
    tries again)."""
    try:
        grade = grading.grade_submission(member.path, chapters, work=work, seed=seed, limits=limits, isolate=isolate)
    except Exception as error:  # a bug or an instructor-side problem must not stop the class
        text = " ".join(str(error).split())[:300]
        return SubmissionGrade(str(member.path), None, problem=f"评分出错 grading failed: {type(error).__name__}: "
                                                               f"{text}"), False
    return grade, True


def _run_seed(out: Path, seed: int | None, resume: bool, limits: Limits, isolate: bool) -> int:
    """The run's seed: from ``out/run.json`` when resuming, else ``seed`` or a new random one (then recorded)."""
    record = out / RUN_FILE
    if record.is_file():
        if not resume:
            raise CourseError(f"{out} already holds a grading run: add --resume to continue it, or give another --out")
        recorded = json.loads(record.read_text(encoding="utf-8"))["seed"]
        if seed is not None and seed != recorded:
            raise CourseError(f"{out} was graded with --seed {recorded}, not {seed}: resume without --seed, or give "
                              "another --out")
        return recorded
    if resume and out.is_dir() and any(out.iterdir()):
        raise CourseError(f"{out} holds no grading run to resume ({RUN_FILE} is missing): give the --out of the run")
    seed = secrets.randbelow(2**31) if seed is None else seed
    with atomic_write(record) as tmp:
        tmp.write_text(json.dumps({"seed": seed, "isolate": isolate, "limits": asdict(limits),
                                   "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}, indent=2), encoding="utf-8")
    return seed


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:24]


def _result_path(out: Path, member: Submission, seed: int) -> Path:
    return out / RESULTS_DIR / f"{member.digest}-{seed}.json"


def _report_identical(members: list[Submission], log: Callable[[str], None]) -> None:
    """Name the students who handed in the very same file (untouched copies of a student notebook left out)."""
    by_digest: dict[str, list[str]] = {}
    for member in members:
        by_digest.setdefault(member.digest, []).append(f"{member.student} ({member.path.name})")
    for students in by_digest.values():
        if len(students) > 1:
            log(f"注意 identical files, graded once: {', '.join(students)}")


def _save(path: Path, grade: SubmissionGrade) -> None:
    record = {
        "file": grade.file,
        "chapter": grade.chapter.name if grade.chapter else None,
        "results": [asdict(result) for result in grade.results],
        "problem": grade.problem,
        "seconds": grade.seconds,
        "limit": grade.limit,
    }
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")


def _load(path: Path, chapters: dict[str, Chapter]) -> SubmissionGrade | None:
    """A saved result, or None if there is none or it does not fit the course's chapters any more."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    chapter = chapters.get(record["chapter"]) if record["chapter"] else None
    if record["chapter"] and chapter is None:
        return None  # graded against a chapter that is gone: grade again
    return SubmissionGrade(record["file"], chapter, [ExerciseResult(**result) for result in record["results"]],
                           record["problem"], record["seconds"], record["limit"])


def _as_file(grade: SubmissionGrade, path: Path) -> SubmissionGrade:
    """The grade as this file's (an identical file graded once is reported under each name)."""
    return replace(grade, file=str(path))


def write_reports(grades: ClassGrades, chapters: list[Chapter]) -> None:
    """Write ``grades.csv``, ``gradebook.csv`` and the feedback files from ``grades`` into its ``out`` folder."""
    write_grades_csv([grade for _, grade in grades.graded], grades.out / GRADES_CSV)
    write_gradebook(grades.graded, chapters, grades.out / GRADEBOOK_CSV)
    write_feedback(grades.graded, grades.out / FEEDBACK_DIR)


def write_grades_csv(graded: Sequence[SubmissionGrade], path: Path) -> None:
    """One row per exercise (``grading.CSV_COLUMNS``), UTF-8 with a BOM so spreadsheet programs show the Chinese."""
    with atomic_write(path) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for grade in graded:
            writer.writerows(grade.rows())


def write_gradebook(graded: Sequence[tuple[Submission, SubmissionGrade]], chapters: list[Chapter],
                    path: Path) -> None:
    """One row per student, a column per chapter with exercises: the number of exercises passed.

    The identity columns are those of a Canvas gradebook export (``GRADEBOOK_IDENTITY``); a chapter a student did not
    hand in is left empty (Canvas and Moodle leave such a grade unchanged). Of two submissions of one chapter by one
    student, the better counts.
    """
    columns = [chapter for chapter in chapters if chapter.exercises]
    scores: dict[str, dict[str, int]] = {}
    for member, grade in graded:
        row = scores.setdefault(member.student, {})
        if grade.chapter is not None:
            row[grade.chapter.name] = max(row.get(grade.chapter.name, 0), grade.score)
    with atomic_write(path) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*GRADEBOOK_IDENTITY, *(chapter.name for chapter in columns)])
        for student, row in scores.items():
            writer.writerow([student, "", "", student, "", *(row.get(chapter.name, "") for chapter in columns)])


def write_feedback(graded: Sequence[tuple[Submission, SubmissionGrade]], folder: Path) -> None:
    """``folder/<student>.md`` for every student: each submission's score and what each check said."""
    by_student: dict[str, list[SubmissionGrade]] = {}
    for member, grade in graded:
        by_student.setdefault(member.student, []).append(grade)
    for student, grades in by_student.items():
        lines = [f"# 评分反馈 Feedback: {student}", "",
                 "评分用的是你的副本里没有的输入；下面是每个检查的结论，不含这些输入。",
                 "The grader used inputs your copy of the notebook does not have; below is what each check concluded.",
                 ""]
        for grade in grades:
            lines += _feedback_section(grade)
        with atomic_write(folder / f"{_safe_name(student)}.md") as tmp:
            tmp.write_text("\n".join(lines), encoding="utf-8")


def _feedback_section(grade: SubmissionGrade) -> list[str]:
    name = Path(grade.file).name
    if grade.chapter is None:
        return [f"## {name}", "", f"无法评分 not graded: {grade.problem}", ""]
    lines = [f"## {grade.chapter.title or grade.chapter.label} ({name}): {grade.score}/{len(grade.chapter.exercises)}",
             ""]
    for result in grade.results:
        mark = "✅" if result.passed else "❌"
        message = result.message.removeprefix(mark).strip()
        lines.append(f"- {mark} `{result.exercise}`: {message}")
    if grade.problem:
        lines += ["", f"> {grade.problem}"]
    return [*lines, ""]


def _safe_name(student: str) -> str:
    """A file name for ``student``: anything but letters, digits, ``-``, ``_`` and ``.`` becomes ``_``."""
    return re.sub(r"[^\w.-]", "_", student).strip(".") or "_"


def precheck(path: Path, chapters: list[Chapter]) -> tuple[Chapter | None, list[str]]:
    """What ``check-submission`` says before running anything: the chapter the notebook is, and the classic mistakes
    (not a notebook, empty, not saved since it was handed out, the file name naming another chapter)."""
    from .notebook_build import STUDENT_DIR, read_notebook

    try:
        nb = read_notebook(path)
    except Exception as error:  # nbformat raises JSON, schema and conversion errors of several types
        return None, [f"不是有效的笔记本 not a valid notebook: {' '.join(str(error).split())[:200]}"]
    code = [cell.source for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
    if not code:
        return None, ["笔记本是空的 the notebook is empty (no code): did you save it (Ctrl+S) before handing it in?"]
    chapter = grading.recognise(nb, chapters)
    if chapter is None:
        return None, ["不是本课程的笔记本 not a notebook of this course: hand in the notebook from student/"]
    problems = []
    named = re.match(r"(\d\d)_", path.name)
    if named and named.group(1) != chapter.name[:2]:
        problems.append(f"章节不对 wrong chapter: the file name says chapter {int(named.group(1))}, but its content is "
                        f"{chapter.title or chapter.name}: hand in the right file")
    handed_out = settings.PROJECT_ROOT / STUDENT_DIR / chapter.path.name
    if handed_out.is_file() and chapter.exercises:
        given = {cell.get("id"): cell.source for cell in read_notebook(handed_out).cells}
        mine = {cell.get("id"): cell.source for cell in nb.cells}
        answered = [exercise.name for exercise in chapter.exercises
                    if exercise.cell_id in mine and mine[exercise.cell_id] != given.get(exercise.cell_id)]
        if not answered and any(exercise.cell_id in mine for exercise in chapter.exercises):
            problems.append("没有保存的改动 unsaved: no exercise cell differs from the notebook handed out; save it "
                            "(Ctrl+S) and check again")
    return chapter, problems


def check_submission(path: Path, *, limits: Limits = Limits(), isolate: bool = True,
                     log: Callable[[str], None] = print) -> bool:
    """``python -m course_utils check-submission``: say what will be graded, run exactly what the grader runs on this
    one notebook (a work folder prepared as for a class, a new seed), and print each check's verdict. True when the
    notebook has none of ``precheck``'s problems and was graded to its end."""
    from .notebook_build import SOLUTION_DIR

    path = Path(path)
    if not path.is_file():
        raise CourseError(f"no such file: {path}: give the notebook you will hand in (.ipynb)")
    chapters = grading.load_chapters(settings.PROJECT_ROOT / SOLUTION_DIR)
    chapter, problems = precheck(path, chapters)
    for problem in problems:
        log(f"⚠️ {problem}")
    if chapter is None:
        return False
    names = ", ".join(exercise.name for exercise in chapter.exercises) or "none"
    log(f"将批改 will be graded: {chapter.title or chapter.name}: {len(chapter.exercises)} 个练习 exercises ({names})")
    with _work_folder(lambda line: None) as work:
        grade = grading.grade_submission(path, chapters, work=work, seed=secrets.randbelow(2**31), limits=limits,
                                         isolate=isolate)
    for result in grade.results:
        log(f"  {result.exercise}: {result.message}")
    log(grade.summary())
    return not problems and not grade.problem
