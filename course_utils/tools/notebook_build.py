"""Build the student notebooks from the solution notebooks, and keep both reproducible.

``notebooks/NN_name.ipynb`` are the solution notebooks: the source of truth, committed with their outputs, which
``pytest --nbval`` compares cell by cell. ``student/NN_name.ipynb`` are generated from them and never edited by hand.
Both folders sit at the same depth, so a relative path such as ``../work/example_0.jpg`` works in either.

Solution code is marked the nbgrader way. In a code cell the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION``
become ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the indentation of the BEGIN line; in a markdown cell
the lines from ``<!-- BEGIN SOLUTION -->`` to ``<!-- END SOLUTION -->`` become ``YOUR ANSWER HERE``. Student notebooks
have no outputs.

Every build rewrites the notebooks in one canonical form (fixed kernelspec and language info, nbformat 4.5, stable
cell ids, no timing or UI metadata, nbformat's JSON layout), so rebuilding is byte-identical and a diff shows only real
changes. :func:`check_notebooks` changes nothing and lists what is out of date; :func:`run_student_notebook` executes a student
notebook the way a student would, for the tests. :func:`find_exercises` is the course's one definition of an exercise
(the grader uses it too); notebooks run through ``notebook_runner``, the tools' one runner.
"""
from __future__ import annotations

import copy
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import unquote

import nbformat
import nbformat.reader
from nbformat import NotebookNode

from course_utils import quiet_paddle_import
from course_utils.errors import CourseError
from course_utils.settings import PROJECT_ROOT
from course_utils.tools.notebook_runner import KERNEL_NAME, NotebookRunner

SOLUTION_DIR = "notebooks"
STUDENT_DIR = "student"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
BEGIN_ANSWER = "<!-- BEGIN SOLUTION -->"
END_ANSWER = "<!-- END SOLUTION -->"
ANSWER_STUB = ("YOUR ANSWER HERE",)

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

CELL_TIMEOUT = 3600
"""Seconds one cell may run: generous, because solution notebooks train real models."""

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL_NAME}
LANGUAGE_INFO = {
    # What ipykernel reports, minus the Python version, so re-running in any Python 3 changes nothing.
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
_NOTEBOOK_METADATA_KEPT = ("kernelspec", "language_info", "title", "authors")
_CELL_METADATA_KEPT = ("tags", "editable", "deletable")  # tags carry nbval's markers (nbval-ignore-output, ...)
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ANY_MARKER = re.compile(r"\b(?:BEGIN|END)\s+SOLUTION\b", re.IGNORECASE)

_KERNEL_ENV_DROPPED = ("COURSE_FAST", "MPLBACKEND")
"""Stored outputs come from full runs (no fast mode) with ipykernel's inline figures (a non-interactive backend such
as ``MPLBACKEND=Agg`` would show no figure at all)."""

CODE_SPANS = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.DOTALL)
"""Fenced code blocks and inline code in Markdown: links there are text, not links."""
_LINK_PATTERNS = (
    re.compile(r"\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)"),  # [text](target), and so ![alt](target)
    re.compile(r"^ {0,3}\[[^\]]+\]:\s*(\S+)", re.MULTILINE),  # [label]: target
    re.compile(r"<(?:img|a|source|video)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE),
)
URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
"""A link target that starts with a scheme (``https:``, ``attachment:``, ``path:``) is not a local path."""


def read_notebook(path: Path) -> NotebookNode:
    """Read a v4 notebook exactly as stored.

    ``nbformat.read`` would silently give cells without an id a random one; this reader leaves that to
    :func:`normalize_notebook`, which assigns deterministic ids.
    """
    try:
        nb = nbformat.reader.reads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, nbformat.reader.NotJSONError, nbformat.ValidationError) as error:
        raise CourseError(f"{path}: not a readable notebook ({error}); fix or restore the file") from None
    if nb.get("nbformat") != 4:
        raise CourseError(f"{path}: nbformat {nb.get('nbformat')} is not supported; open and save it in JupyterLab")
    return nb


def notebook_text(nb: NotebookNode) -> str:
    """The canonical file content of a notebook: nbformat's JSON layout (indent 1, sorted keys) and a final newline."""
    return nbformat.writes(nb) + "\n"


def normalize_notebook(nb: NotebookNode) -> NotebookNode:
    """Return a copy of *nb* in canonical form.

    Fixed kernelspec and version-free language info, nbformat 4.5, only the metadata that means something to the
    course (notebook: title, authors; cell: tags, editable, deletable), and valid unique cell ids: existing ones are
    kept, missing or duplicate ones are derived from the cell's position and source, so the result is stable.
    Widget outputs (the progress bars of ``tqdm.auto``) are dropped: they are live views whose state is not stored,
    so a saved one would show only its first frame or an error; the text a cell printed stays.
    """
    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    metadata = {key: nb.metadata[key] for key in _NOTEBOOK_METADATA_KEPT if key in nb.metadata}
    metadata.update(kernelspec=copy.deepcopy(KERNELSPEC), language_info=copy.deepcopy(LANGUAGE_INFO))
    nb.metadata = nbformat.from_dict(metadata)
    used_ids: set[str] = set()
    for index, cell in enumerate(nb.cells):
        kept = {key: cell.metadata[key] for key in _CELL_METADATA_KEPT if key in cell.metadata}
        if "tags" in kept:
            kept["tags"] = list(dict.fromkeys(kept["tags"]))
            if not kept["tags"]:
                del kept["tags"]
        cell.metadata = nbformat.from_dict(kept)
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.outputs if _WIDGET_VIEW not in output.get("data", {})]
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not _CELL_ID.match(cell_id) or cell_id in used_ids:
            cell_id = _derived_cell_id(index, cell.source, used_ids)
        cell.id = cell_id
        used_ids.add(cell_id)
    return nb


def _derived_cell_id(index: int, source: str, used: set[str]) -> str:
    attempt = 0
    while True:
        cell_id = hashlib.sha1(f"{index}:{attempt}:{source}".encode()).hexdigest()[:8]
        if cell_id not in used:
            return cell_id
        attempt += 1


def make_student_version(nb: NotebookNode, *, label: str = "notebook") -> NotebookNode:
    """Return the student version of a solution notebook: solutions replaced by stubs, outputs cleared.

    Cell ids, metadata and everything outside the marked regions stay as they are. *label* names the notebook in the
    :class:`CourseError` raised for a misplaced, unclosed or misspelt marker (a misspelt one would leak a solution).
    """
    student = copy.deepcopy(nb)
    for index, cell in enumerate(student.cells):
        where = f"{label} cell {index}"
        if cell.cell_type == "code":
            cell.source = _replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, CODE_STUB, where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = _replace_regions(cell.source, BEGIN_ANSWER, END_ANSWER, ANSWER_STUB, where)
    return student


def _replace_regions(source: str, begin: str, end: str, stub: Sequence[str], where: str) -> str:
    """Replace each line range from *begin* to *end* (marker lines on their own) by *stub*, indented like *begin*."""
    kept: list[str] = []
    opened_on = 0
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == begin:
            if opened_on:
                raise CourseError(f"{where}: '{begin}' on line {number} is inside the region opened on line "
                                  f"{opened_on}; add '{end}' before it")
            opened_on = number
            indent = line[: len(line) - len(line.lstrip())]
            kept.extend(indent + stub_line for stub_line in stub)
        elif marker == end:
            if not opened_on:
                raise CourseError(f"{where}: '{end}' on line {number} has no '{begin}' before it")
            opened_on = 0
        elif _ANY_MARKER.search(line):
            raise CourseError(f"{where}: line {number} looks like a solution marker but is not '{begin}' or "
                              f"'{end}' on a line of its own; fix it so the solution is not shown to students")
        elif not opened_on:
            kept.append(line)
    if opened_on:
        raise CourseError(f"{where}: '{begin}' on line {opened_on} is never closed; add '{end}' after the solution")
    return "\n".join(kept)


@dataclass(frozen=True)
class NotebookExercise:
    """An exercise as a solution notebook marks it: a code cell with a solution region (its id and source),
    immediately followed by a code cell that calls exactly one ``checks.check_<name>(...)`` (its id and source)."""

    name: str
    cell_id: str
    source: str
    check_id: str
    check_source: str


CHECK_CALL = re.compile(r"\bchecks\s*\.\s*check_(\w+)\s*\(")


def has_solution(source: str) -> bool:
    """Whether a code cell's *source* holds a solution region (students get a stub there)."""
    return any(line.strip() == BEGIN_SOLUTION for line in source.split("\n"))


def find_exercises(nb: NotebookNode) -> list[NotebookExercise]:
    """The exercises of a solution notebook, in order: the course's one definition of an exercise, used by the
    student-notebook runs below and by the grader."""
    exercises = []
    for cell, following in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type != "code" or following.cell_type != "code" or not has_solution(cell.source):
            continue
        calls = CHECK_CALL.findall(following.source)
        if len(calls) == 1:
            exercises.append(NotebookExercise(calls[0], cell.get("id", ""), cell.source, following.get("id", ""),
                                              following.source))
    return exercises


def execute_notebook(path: Path, *, timeout: int = CELL_TIMEOUT) -> NotebookNode:
    """Run the notebook at *path* top to bottom in a fresh kernel and return it with the new outputs (not saved).

    The kernel works in the notebook's folder, never in fast mode and with inline figures (``COURSE_FAST`` and
    ``MPLBACKEND`` are removed from its environment): stored outputs show what a student's full run shows, without
    Paddle's ccache warning. *timeout* is per cell. Any failure raises :class:`CourseError` and nothing is returned.
    """
    nb = read_notebook(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    env = quiet_paddle_import({name: value for name, value in os.environ.items() if name not in _KERNEL_ENV_DROPPED})
    with NotebookRunner(nb, path.parent, timeout=timeout * max(1, len(nb.cells)), env=env) as runner:
        for index, cell in enumerate(nb.cells):
            error = runner.run(cell, index) if cell.cell_type == "code" else None
            if error is not None:
                raise CourseError(f"{path} cell {index} failed with {error}; run the notebook in "
                                  f"JupyterLab to see the traceback, fix it and build again")
    return nb


def run_student_notebook(path: Path, *, solution: Path | None = None, timeout: int = CELL_TIMEOUT) -> list[str]:
    """Execute a student notebook as a student would and return what went wrong (an empty list when all is well).

    Cells run in order in one kernel working in the notebook's folder; the kernel inherits this process's
    environment (so under pytest it runs in fast mode). A cell that holds a solution in the solution notebook may
    raise ``NotImplementedError``, which is what its stub does; any other error is a problem. After such a cell, the
    solution's version of it runs too, so later cells see the state a student who solved it would have, and their
    errors are real problems. Cells tagged ``nbval-skip`` do not run.

    *solution* defaults to the notebook of the same name in ``notebooks/`` beside the student folder.
    """
    solution = solution or path.parent.parent / SOLUTION_DIR / path.name
    solution_sources = {cell.get("id"): cell.source for cell in read_notebook(solution).cells}
    student = read_notebook(path)
    problems: list[str] = []
    with NotebookRunner(student, path.parent, timeout=timeout * max(1, len(student.cells))) as runner:
        for index, cell in enumerate(student.cells):
            if cell.cell_type != "code" or "nbval-skip" in cell.metadata.get("tags", []):
                continue
            if cell.get("id") not in solution_sources:
                return problems + [f"{path} cell {index} has no counterpart in {solution}: rebuild the notebooks"]
            solved_source = solution_sources[cell.id]
            is_exercise = has_solution(solved_source)
            error = runner.run(cell, index)
            if error is not None and not (is_exercise and error.ename == "NotImplementedError"):
                problems.append(f"{path} cell {index}: {error}")
            if is_exercise:
                solved = copy.deepcopy(cell)
                solved.source = solved_source
                error = runner.run(solved, index)
                if error is not None:
                    problems.append(f"{path} cell {index} (with its solution): {error}")
    return problems


def broken_links(nb: NotebookNode, folder: Path) -> list[str]:
    """Local links and images in *nb*'s markdown whose target does not exist relative to *folder*.

    Checks ``[..](path)``, ``![..](path)``, ``[label]: path``, ``<img src=..>`` and ``<a href=..>`` outside code
    spans; URLs, ``attachment:`` images and in-page anchors are skipped. Returns one message per broken target.
    """
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for target, path in local_links(cell.source):
            if path.startswith("/"):
                problems.append(f"cell {index}: '{target}' is an absolute path; use a path relative to the notebook")
            elif not (folder / path).exists():
                problems.append(f"cell {index}: '{target}' does not exist")
    return problems


def local_links(markdown: str) -> list[tuple[str, str]]:
    """``(target, path)`` for every local link and image in *markdown* outside code spans: the target as written and
    its file path (unquoted, without ``#anchor`` or ``?query``). URLs, ``attachment:`` images and in-page anchors are
    left out. The same links are checked in the notebooks (``broken_links``) and copied into the website (``site``)."""
    links = []
    for target in _link_targets(CODE_SPANS.sub("", markdown)):
        path = unquote(re.split(r"[#?]", target, maxsplit=1)[0])
        if path and not URL_SCHEME.match(target):
            links.append((target, path))
    return links


def _link_targets(text: str) -> Iterable[str]:
    for pattern in _LINK_PATTERNS:
        for match in pattern.finditer(text):
            yield match.group(1).strip("<>")


def _solution_paths(root: Path) -> list[Path]:
    return sorted((root / SOLUTION_DIR).glob("*.ipynb"))


def _select(solutions: list[Path], names: Sequence[str]) -> list[Path]:
    """The solution notebooks named in *names*, in the order named; a name must match exactly one notebook."""
    chosen = []
    for name in names:
        matches = [path for path in solutions if name in (path.name, path.stem, path.stem.split("_")[0])]
        if len(matches) != 1:
            known = ", ".join(path.stem for path in solutions) or "none"
            raise CourseError(f"'{name}' names {len(matches)} solution notebooks; choose one of: {known}")
        chosen.extend(match for match in matches if match not in chosen)
    return chosen


def build(
    root: Path = PROJECT_ROOT, *, execute: bool = False, check: bool = False, only: Sequence[str] | None = None
) -> list[str]:
    """Normalize the solution notebooks, regenerate the student notebooks, delete orphaned student notebooks.

    *only* limits the build to some solution notebooks, each named by file name, stem or number prefix
    (``03_training.ipynb``, ``03_training`` or ``03``); by default all are built. With *execute*, those notebooks are
    first re-run (:func:`execute_notebook`) and their new outputs stored. Files are written only when their content
    changes. Returns one line per file changed, e.g. ``"wrote student/01_x.ipynb"``.

    With *check*, nothing changes and the result is :func:`check_notebooks`'s list of problems, for all notebooks.
    """
    if check:
        if execute or only:
            raise CourseError("--check changes nothing and covers all notebooks: use it without --execute or names")
        return check_notebooks(root)
    solutions = _solution_paths(root)
    changes = []
    for path in _select(solutions, only) if only else solutions:
        nb = execute_notebook(path) if execute else read_notebook(path)
        solution, student = _canonical_versions(nb, _relative(path, root))
        for target, version in ((path, solution), (root / STUDENT_DIR / path.name, student)):
            text = notebook_text(version)
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8", newline="\n")
                changes.append(f"wrote {_relative(target, root)}")
    # Listed again: executing can take many minutes, and a chapter added meanwhile must not lose its student version.
    for orphan in _orphans(root, _solution_paths(root)):
        orphan.unlink()
        changes.append(f"deleted {_relative(orphan, root)} (no solution notebook of that name)")
    return changes


def check_notebooks(root: Path = PROJECT_ROOT) -> list[str]:
    """List what is out of date, changing nothing; an empty list means the notebooks are ready to commit.

    Reports solution notebooks that are invalid, not normalized or not run top to bottom in one fresh kernel
    (execution counts 1, 2, 3, ...: otherwise nbval would silently skip unrun cells), student notebooks that are
    missing, stale or orphaned, and local links or images that point nowhere, in either version.
    """
    build_hint = "run `python -m course_utils notebooks build`"
    problems = []
    solutions = _solution_paths(root)
    for path in solutions:
        label = _relative(path, root)
        try:
            solution, student = _canonical_versions(read_notebook(path), label)
        except CourseError as error:
            problems.append(str(error))
            continue
        if path.read_text(encoding="utf-8") != notebook_text(solution):
            problems.append(f"{label} is not normalized: {build_hint}")
        problems.extend(f"{label} {problem}" for problem in _execution_problems(solution, path.stem))
        problems.extend(f"{label} {problem}" for problem in broken_links(solution, path.parent))
        student_path = root / STUDENT_DIR / path.name
        student_label = _relative(student_path, root)
        if not student_path.exists():
            problems.append(f"{student_label} is missing: {build_hint}")
        elif student_path.read_text(encoding="utf-8") != notebook_text(student):
            problems.append(f"{student_label} is out of date: {build_hint}")
        problems.extend(f"{student_label} {problem}" for problem in broken_links(student, student_path.parent))
    problems.extend(f"{_relative(orphan, root)} has no solution notebook: {build_hint} to delete it"
                    for orphan in _orphans(root, solutions))
    return problems


def _canonical_versions(nb: NotebookNode, label: str) -> tuple[NotebookNode, NotebookNode]:
    """The normalized solution notebook and its student version, both checked against the nbformat schema."""
    solution = normalize_notebook(nb)
    student = make_student_version(solution, label=label)
    for version in (solution, student):
        try:
            nbformat.validate(version)
        except nbformat.ValidationError as error:
            message = str(error).strip().splitlines()[0]
            raise CourseError(f"{label} is not a valid notebook ({message}); fix it in JupyterLab") from None
    return solution, student


def _execution_problems(nb: NotebookNode, name: str) -> list[str]:
    """Non-empty code cells must carry execution counts 1, 2, 3, ... in order, as a fresh top-to-bottom run leaves."""
    expected = 1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.execution_count != expected:
            return [f"cell {index} has execution count {cell.execution_count}, expected {expected}: the stored "
                    f"outputs are not from one top-to-bottom run; run `python -m course_utils notebooks build "
                    f"--execute {name}`"]
        expected += 1
    return []


def _orphans(root: Path, solutions: list[Path]) -> list[Path]:
    names = {path.name for path in solutions}
    return [path for path in sorted((root / STUDENT_DIR).glob("*.ipynb")) if path.name not in names]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
