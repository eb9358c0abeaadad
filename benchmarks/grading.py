"""Grading benchmark: a generated class graded with 1 job and with 2, side by side, in the sandbox.

The class is made from the course's own notebooks, cycling through the chapters with exercises: solved (the student
notebook with every exercise cell taken from ``notebooks/``), untouched (the ``student/`` copy), partly solved (solved
but for one exercise left as the stub) and hanging (solved, then an endless loop in the first exercise cell). Both
runs use the same seed and limits; the grades must be equal, and 2 jobs should take at most 1/1.6 of the time of 1.
The memory figure is the most the sandbox's watchdog saw one submission's processes use together.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import peak_rss_mb, table

KINDS = ("solved", "untouched", "partly solved", "hanging")
CLASS_SIZE = 20
QUICK_CLASS_SIZE = 4
HANGING_EVERY = 10
"""One submission in this many hangs (it costs the whole time limit, whatever the number of jobs)."""
SECONDS_LIMIT = 60
"""The benchmark's ``--timeout``: a solved chapter takes well under it in fast mode; a hanging one takes all of it."""
TARGET_SPEEDUP = 1.6


def kind_of(number: int) -> str:
    """The kind of the class's submission ``number``."""
    return "hanging" if number % HANGING_EVERY == HANGING_EVERY - 1 else KINDS[number % 3]


def make_class(folder: Path, size: int) -> list[Path]:
    """``size`` submissions in one folder per student, of the kinds above in turn, chapters in turn."""
    import nbformat

    from course_utils.settings import PROJECT_ROOT
    from course_utils.tools.grading import load_chapters
    from course_utils.tools.notebook_build import SOLUTION_DIR, STUDENT_DIR

    chapters = [chapter for chapter in load_chapters(PROJECT_ROOT / SOLUTION_DIR) if chapter.exercises]
    paths = []
    for number in range(size):
        chapter = chapters[number % len(chapters)]
        kind = kind_of(number)
        nb = nbformat.read(PROJECT_ROOT / STUDENT_DIR / chapter.path.name, as_version=4)
        answers = {exercise.cell_id: exercise.source for exercise in chapter.exercises}
        if kind != "untouched":
            for cell in nb.cells:
                if cell.get("id") in answers and not (kind == "partly solved" and
                                                      cell.get("id") == chapter.exercises[-1].cell_id):
                    cell.source = answers[cell.get("id")]
        if kind == "hanging":
            [first] = [cell for cell in nb.cells if cell.get("id") == chapter.exercises[0].cell_id]
            first.source += "\n\nwhile True:\n    pass\n"
        path = folder / f"student{number:02d}" / chapter.path.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def _memory_recorder() -> tuple[list[float], Any]:
    """Record each sandbox run's peak memory, by wrapping ``sandbox.run`` (the grader calls it through the module)."""
    from course_utils.tools import sandbox

    peaks: list[float] = []
    original = sandbox.run

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        peaks.append(result.peak_mb)
        return result

    sandbox.run = recording
    return peaks, lambda: setattr(sandbox, "run", original)


def run(run_dir: Path, *, quick: bool = False) -> dict[str, Any]:
    """Grade the generated class with 1 and with 2 jobs; return the times, the grades' agreement and memory."""
    from course_utils.tools.classroom import grade_class
    from course_utils.tools.sandbox import Limits, sandbox_problem

    isolate = sandbox_problem() is None
    folder = Path(tempfile.mkdtemp(prefix="grading-", dir=run_dir))
    try:
        submissions = make_class(folder / "class", QUICK_CLASS_SIZE if quick else CLASS_SIZE)
        limits = Limits(seconds=SECONDS_LIMIT)
        runs, grades, peaks = {}, {}, {}
        for jobs in (1, 2):
            recorded, restore = _memory_recorder()
            started = time.perf_counter()
            try:
                graded = grade_class(submissions, out=folder / f"out-{jobs}", jobs=jobs, seed=1234, limits=limits,
                                     isolate=isolate, progress=False, log=lambda line: None)
            finally:
                restore()
            runs[jobs] = time.perf_counter() - started
            grades[jobs] = [(Path(grade.file).name, grade.score, grade.problem is None,
                             tuple(result.passed for result in grade.results)) for _, grade in graded.graded]
            peaks[jobs] = max(recorded, default=0.0)
        kinds = [kind_of(number) for number in range(len(submissions))]
        return {
            "submissions": len(submissions),
            "kinds": {kind: kinds.count(kind) for kind in KINDS},
            "sandbox": isolate,
            "timeout_seconds": SECONDS_LIMIT,
            "wall_seconds": {str(jobs): seconds for jobs, seconds in runs.items()},
            "seconds_per_submission": {str(jobs): seconds / len(submissions) for jobs, seconds in runs.items()},
            "speedup": runs[1] / runs[2],
            "same_grades": grades[1] == grades[2],
            "scores": [score for _, score, _, _ in grades[1]],
            "peak_submission_mb": max(peaks.values()),
            "grader_peak_rss_mb": peak_rss_mb(),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def render(result: dict[str, Any]) -> str:
    rows = [[jobs, f"{result['wall_seconds'][jobs]:.0f}", f"{result['seconds_per_submission'][jobs]:.1f}"]
            for jobs in ("1", "2")]
    kinds = ", ".join(f"{count} {kind}" for kind, count in result["kinds"].items())
    title = (f"Grading {result['submissions']} submissions ({kinds}; sandbox {'on' if result['sandbox'] else 'OFF'}, "
             f"timeout {result['timeout_seconds']} s): speedup {result['speedup']:.2f}x, grades "
             f"{'equal' if result['same_grades'] else 'DIFFER'}; one submission used at most "
             f"{result['peak_submission_mb']:.0f} MB, the grader {result['grader_peak_rss_mb']:.0f} MB")
    return table(title, ["jobs", "wall s", "s per submission"], rows)
