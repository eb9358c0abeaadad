"""Every solution notebook runs clean in JupyterLab, and a student notebook stops only at its exercises.

These run the notebooks the way a student does, through JupyterLab's own commands in Chromium, in fast mode; they
check the cells' outputs as JupyterLab holds them (the same outputs it shows) and save screenshots to look at.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from course_utils.tools.notebook_build import SOLUTION_DIR, STUDENT_DIR, read_notebook
from course_utils.settings import PROJECT_ROOT

SOLUTIONS = sorted((PROJECT_ROOT / SOLUTION_DIR).glob("*.ipynb"))
STUDENTS = sorted((PROJECT_ROOT / STUDENT_DIR).glob("*.ipynb"))


def _errors(cells: list[dict]) -> list[str]:
    return [f"cell {cell['index']}: {output['ename']}: {output['evalue']}"
            for cell in cells for output in cell["outputs"] if output["type"] == "error"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.stem)
def test_solution_notebook_runs_without_errors(path: Path, open_notebook, screenshots):
    notebook = open_notebook(f"{SOLUTION_DIR}/{path.name}")
    cells = notebook.run_all()
    shots = notebook.screenshot_pages(screenshots, path.stem)

    assert _errors(cells) == [], f"screenshots: {shots[0].parent}"
    code = [cell for cell in cells if cell["type"] == "code" and cell["source"].strip()]
    assert all(cell["count"] is not None for cell in code), "Run All stopped before the last cell"
    stored_figures = sum("image/png" in output.get("data", {}) for cell in read_notebook(path).cells
                         if cell.cell_type == "code" for output in cell.outputs)
    shown = notebook.images_loaded()
    assert all(shown), f"{shown.count(False)} of {len(shown)} images in the outputs did not load"
    assert len(shown) >= stored_figures, f"{len(shown)} figures shown, the stored notebook has {stored_figures}"
    assert "Error displaying widget" not in notebook.page.inner_text(".jp-NotebookPanel:visible")


def _exercises(student: Path) -> list[str]:
    """Ids of the exercise cells of a student notebook: code cells whose source differs from the solution's."""
    solution = {cell.get("id"): cell.source for cell in read_notebook(PROJECT_ROOT / SOLUTION_DIR / student.name).cells}
    return [cell.get("id") for cell in read_notebook(student).cells
            if cell.cell_type == "code" and solution.get(cell.get("id")) != cell.source]


def _student_notebook() -> list[Path]:
    """The student notebook with the most exercises (the headless tests run them all; this one runs in the browser)."""
    with_exercises = [(len(_exercises(path)), path) for path in STUDENTS if _exercises(path)]
    return [max(with_exercises, key=lambda pair: pair[0])[1]] if with_exercises else []


def _error_names(cell: dict) -> list[str]:
    return [output["ename"] for output in cell["outputs"] if output["type"] == "error"]


@pytest.mark.parametrize("path", _student_notebook(), ids=lambda path: path.stem)
def test_student_notebook_stops_only_at_exercises(path: Path, open_notebook, screenshots):
    """Run cell by cell as a student would. An exercise's stub raises NotImplementedError, either in its own cell or
    (a function whose body is the stub) in the check cell after it, which may also say ❌ (AssertionError); the
    student then writes the solution into the exercise cell, runs it and the check again, and goes on. No other
    cell may fail: the convention of ``notebook_build.run_student_notebook``, here in the real front end."""
    solution = {cell.get("id"): cell.source for cell in read_notebook(PROJECT_ROOT / SOLUTION_DIR / path.name).cells}
    notebook = open_notebook(f"{STUDENT_DIR}/{path.name}")
    cells = [cell for cell in notebook.cells() if cell["type"] == "code" and "nbval-skip" not in cell["tags"]]
    problems, caught, exercises = [], 0, 0
    for position, cell in enumerate(cells):
        assert cell["id"] in solution, f"cell {cell['index']} has no counterpart in the solution: rebuild"
        errors = _error_names(notebook.run_cell(cell["index"]))
        if solution[cell["id"]] == cell["source"]:
            if errors and "raises-exception" not in cell["tags"]:
                problems.append(f"cell {cell['index']} (not an exercise) raised {errors}")
            continue
        exercises += 1
        if errors not in ([], ["NotImplementedError"]):
            problems.append(f"exercise cell {cell['index']} raised {errors}, not only NotImplementedError")
        after = cells[position + 1] if position + 1 < len(cells) else None
        check_errors = []
        if after is not None and "checks.check_" in after["source"] and not errors:
            check_errors = _error_names(notebook.run_cell(after["index"]))
            if check_errors not in (["NotImplementedError"], ["AssertionError"], ["ExerciseFailed"]):
                problems.append(f"the check after stub cell {cell['index']} gave {check_errors or 'no error'}")
        if errors or check_errors:
            caught += 1
            shown = after["index"] if check_errors else cell["index"]
            screenshots.save(notebook.page.locator(".jp-Cell").nth(shown), f"{path.stem}-stub-{shown:02d}")
        solved = _error_names(notebook.run_cell(cell["index"], solution[cell["id"]]))
        if solved:
            problems.append(f"exercise cell {cell['index']} with its solution raised {solved}")
    notebook.screenshot_pages(screenshots, f"{path.stem}-student")
    assert problems == []
    assert exercises > 0 and caught == exercises, f"only {caught} of {exercises} stubs raised NotImplementedError"
