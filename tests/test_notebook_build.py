"""Tests of the notebook build: student versions, canonical form, --check, execution, and the nbval sanitizers."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbval.plugin import get_sanitize_patterns

from course_utils.errors import CourseError
from course_utils.tools.notebook_build import (
    LANGUAGE_INFO,
    broken_links,
    build,
    check_notebooks,
    make_student_version,
    normalize_notebook,
    run_student_notebook,
)
from course_utils.settings import PROJECT_ROOT

BUILD_HINT = "run `python -m course_utils notebooks build`"


def write_solution(root: Path, name: str, cells: list, *, executed: bool = True) -> Path:
    """Write notebooks/<name> made of *cells*; with *executed*, code cells get counts 1, 2, ... as after a run."""
    if executed:
        for count, cell in enumerate((c for c in cells if c.cell_type == "code"), start=1):
            cell.execution_count = count
    path = root / "notebooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(new_notebook(cells=cells)), encoding="utf-8")
    return path


def test_student_version_replaces_each_solution_region_at_its_indentation():
    solution = normalize_notebook(new_notebook(cells=[
        new_markdown_cell("Why?\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->\nDone."),
        new_code_cell(
            "def double(x):\n"
            "    ### BEGIN SOLUTION\n"
            "    y = 2 * x\n"
            "    return y\n"
            "    ### END SOLUTION\n"
            "\n"
            "### BEGIN SOLUTION\n"
            "z = double(21)\n"
            "### END SOLUTION\n"
            "print(z)",
            execution_count=1,
            outputs=[new_output("stream", name="stdout", text="42\n")],
            metadata={"tags": ["nbval-ignore-output"]},
        ),
        new_code_cell("print('unchanged')", execution_count=2),
    ]))

    student = make_student_version(solution, label="notebooks/01_x.ipynb")

    assert student.cells[0].source == "Why?\nYOUR ANSWER HERE\nDone."
    assert student.cells[1].source == (
        "def double(x):\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
        "\n"
        "# YOUR CODE HERE\n"
        "raise NotImplementedError()\n"
        "print(z)"
    )
    assert student.cells[2].source == "print('unchanged')"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in student.cells[1:])
    assert [cell.id for cell in student.cells] == [cell.id for cell in solution.cells]
    assert student.cells[1].metadata == {"tags": ["nbval-ignore-output"]}
    assert solution.cells[1].outputs, "the solution notebook itself must not change"


@pytest.mark.parametrize(("source", "message"), [
    ("x = 1\n### BEGIN SOLUTION\nx = 2", r"cell 1: '### BEGIN SOLUTION' on line 2 is never closed"),
    ("x = 1\n### END SOLUTION", r"cell 1: '### END SOLUTION' on line 2 has no '### BEGIN SOLUTION' before it"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", r"cell 1: .* line 2 is inside the region opened"),
    ("# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION", r"cell 1: line 1 looks like a solution marker"),
])
def test_bad_solution_markers_name_the_notebook_and_cell(source, message):
    nb = new_notebook(cells=[new_markdown_cell("intro"), new_code_cell(source)])
    with pytest.raises(CourseError, match=r"^notebooks/07_x\.ipynb " + message):
        make_student_version(nb, label="notebooks/07_x.ipynb")


def messy_notebook() -> dict:
    """A notebook as JupyterLab, VS Code or papermill might leave it: nbformat 4.4, no ids, volatile metadata."""
    return {
        "nbformat": 4,
        "nbformat_minor": 4,
        "metadata": {
            "kernelspec": {"display_name": "Python 3.11 (course)", "language": "python", "name": "course-env"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
            "papermill": {"duration": 3.2},
            "vscode": {"interpreter": {"hash": "abc"}},
            "title": "Chapter 1",
        },
        "cells": [
            {"cell_type": "markdown", "metadata": {"jupyter": {"source_hidden": True}}, "source": ["# Title"]},
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {
                    "collapsed": False,
                    "scrolled": True,
                    "execution": {"iopub.execute_input": "2025-01-01T00:00:00.000Z"},
                    "ExecuteTime": {"end_time": "2025-01-01T00:00:01.000Z"},
                    "tags": ["raises-exception", "nbval-skip", "raises-exception"],
                },
                "outputs": [],
                "source": ["1 / 0"],
            },
            {"cell_type": "code", "execution_count": 2, "metadata": {"tags": []}, "outputs": [], "source": ["2"]},
        ],
    }


def test_build_normalizes_metadata_and_a_second_build_changes_nothing(tmp_path):
    path = tmp_path / "notebooks" / "01_intro.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(messy_notebook()), encoding="utf-8")

    assert build(tmp_path) == ["wrote notebooks/01_intro.ipynb", "wrote student/01_intro.ipynb"]
    first = {p: p.read_bytes() for p in (path, tmp_path / "student" / "01_intro.ipynb")}
    assert build(tmp_path) == []
    assert {p: p.read_bytes() for p in first} == first

    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {\n')
    nb = json.loads(text)
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"] == {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": LANGUAGE_INFO,
        "title": "Chapter 1",
    }
    assert [cell["metadata"] for cell in nb["cells"]] == [{}, {"tags": ["raises-exception", "nbval-skip"]}, {}]
    assert check_notebooks(tmp_path) == []


def test_normalize_drops_progress_bar_widgets_but_keeps_printed_text():
    widget = new_output(
        "display_data",
        data={"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
              "text/plain": "  0%|          | 0/391 [00:00<?, ?it/s]"},
    )
    printed = new_output("stream", name="stdout", text="epoch 1/1: train loss 0.15\n")
    nb = normalize_notebook(new_notebook(cells=[new_code_cell("train()", execution_count=1, outputs=[widget, printed])]))
    assert nb.cells[0].outputs == [printed]


def test_cell_ids_are_deterministic_kept_when_valid_and_unique(tmp_path):
    data = messy_notebook()
    first_build, second_build = [], []
    for root, ids in ((tmp_path / "a", first_build), (tmp_path / "b", second_build)):
        path = root / "notebooks" / "01_intro.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(data), encoding="utf-8")
        build(root)
        ids.extend(cell["id"] for cell in json.loads(path.read_text(encoding="utf-8"))["cells"])
    assert first_build == second_build, "two builds of the same notebook must agree on the ids"
    assert len(set(first_build)) == 3

    nb = nbformat.from_dict(data)
    nb.nbformat_minor = 5
    for cell, cell_id in zip(nb.cells, ["intro-cell", "dup", "dup"]):
        cell.id = cell_id
    ids = [cell.id for cell in normalize_notebook(nb).cells]
    assert ids[:2] == ["intro-cell", "dup"] and ids[2] not in ("dup", "intro-cell")
    assert [cell.id for cell in normalize_notebook(normalize_notebook(nb)).cells] == ids


def test_check_lists_what_is_out_of_date_and_changes_nothing(tmp_path):
    write_solution(tmp_path, "01_a.ipynb", [new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    write_solution(tmp_path, "02_b.ipynb", [new_markdown_cell("![digit](../work/example_0.jpg)"),
                                           new_code_cell("y = 2")])
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "example_0.jpg").write_bytes(b"jpeg")
    build(tmp_path)
    assert check_notebooks(tmp_path) == []

    solution_a = tmp_path / "notebooks" / "01_a.ipynb"
    nb = json.loads(solution_a.read_text(encoding="utf-8"))
    solution_a.write_text(json.dumps(nb, indent=2), encoding="utf-8")  # same content, other layout
    student_b = tmp_path / "student" / "02_b.ipynb"
    student_b.write_text(student_b.read_text(encoding="utf-8").replace("y = 2", "y = 3"), encoding="utf-8")
    (tmp_path / "work" / "example_0.jpg").unlink()
    orphan = tmp_path / "student" / "00_old.ipynb"
    orphan.write_text(nbformat.writes(new_notebook()), encoding="utf-8")
    (tmp_path / "student" / "01_a.ipynb").unlink()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.ipynb")}

    assert check_notebooks(tmp_path) == [
        f"notebooks/01_a.ipynb is not normalized: {BUILD_HINT}",
        f"student/01_a.ipynb is missing: {BUILD_HINT}",
        "notebooks/02_b.ipynb cell 0: '../work/example_0.jpg' does not exist",
        f"student/02_b.ipynb is out of date: {BUILD_HINT}",
        "student/02_b.ipynb cell 0: '../work/example_0.jpg' does not exist",
        f"student/00_old.ipynb has no solution notebook: {BUILD_HINT} to delete it",
    ]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.ipynb")} == before

    assert build(tmp_path) == [
        "wrote notebooks/01_a.ipynb",
        "wrote student/01_a.ipynb",
        "wrote student/02_b.ipynb",
        "deleted student/00_old.ipynb (no solution notebook of that name)",
    ]
    assert check_notebooks(tmp_path) == [
        "notebooks/02_b.ipynb cell 0: '../work/example_0.jpg' does not exist",
        "student/02_b.ipynb cell 0: '../work/example_0.jpg' does not exist",
    ]


def test_check_requires_one_top_to_bottom_run_and_reports_bad_markers(tmp_path):
    cells = [new_code_cell("a = 1", execution_count=1), new_code_cell(""), new_code_cell("b = 2", execution_count=5)]
    write_solution(tmp_path, "01_a.ipynb", cells, executed=False)
    write_solution(tmp_path, "03_c.ipynb", [new_code_cell("c = 3")], executed=False)
    build(tmp_path)
    write_solution(tmp_path, "02_b.ipynb", [new_code_cell("### BEGIN SOLUTION")])
    with pytest.raises(CourseError, match="^notebooks/02_b.ipynb cell 0: '### BEGIN SOLUTION' on line 1 is never"):
        build(tmp_path)

    problems = check_notebooks(tmp_path)

    assert len(problems) == 3
    assert problems[0].startswith("notebooks/01_a.ipynb cell 2 has execution count 5, expected 2:")
    assert problems[0].endswith("run `python -m course_utils notebooks build --execute 01_a`")
    assert problems[1].startswith("notebooks/02_b.ipynb cell 0: '### BEGIN SOLUTION' on line 1 is never closed")
    assert problems[2].startswith("notebooks/03_c.ipynb cell 0 has execution count None, expected 1:")


def test_broken_links_resolve_relative_to_each_notebook_folder(tmp_path):
    (tmp_path / "notebooks" / "images").mkdir(parents=True)
    (tmp_path / "notebooks" / "images" / "net.png").write_bytes(b"png")
    (tmp_path / "notebooks" / "02_next.ipynb").write_text("{}", encoding="utf-8")
    nb = new_notebook(cells=[
        new_markdown_cell(
            "![net](images/net.png) [next](02_next.ipynb#training) [docs](https://paddlepaddle.org.cn)\n"
            "![pasted](attachment:image.png) [top](#top) `![not a link](nowhere.png)`\n"
            "```\n![also code](nowhere.png)\n```\n"
            "<img src=\"images/missing.png\" width=200>\n[ref]: ../README%20x.md\n"
        ),
        new_code_cell("# ![comment](nowhere.png)"),
        new_markdown_cell("[abs](/etc/passwd)"),
    ])

    assert broken_links(nb, tmp_path / "notebooks") == [
        "cell 0: '../README%20x.md' does not exist",
        "cell 0: 'images/missing.png' does not exist",
        "cell 2: '/etc/passwd' is an absolute path; use a path relative to the notebook",
    ]
    assert broken_links(nb, tmp_path / "student")[:2] == [
        "cell 0: 'images/net.png' does not exist",  # an image beside the solutions is missing for students
        "cell 0: '02_next.ipynb#training' does not exist",
    ]
    (tmp_path / "README x.md").write_text("x", encoding="utf-8")
    assert broken_links(nb, tmp_path / "notebooks")[0] == "cell 0: 'images/missing.png' does not exist"


def test_build_selects_notebooks_by_name_stem_or_number(tmp_path):
    for name in ("01_a.ipynb", "02_b.ipynb"):
        write_solution(tmp_path, name, [new_code_cell("x = 1")])
    assert build(tmp_path, only=["02"]) == ["wrote notebooks/02_b.ipynb", "wrote student/02_b.ipynb"]
    assert build(tmp_path, only=["01_a", "01_a.ipynb"]) == ["wrote notebooks/01_a.ipynb", "wrote student/01_a.ipynb"]
    with pytest.raises(CourseError, match="'03' names 0 solution notebooks; choose one of: 01_a, 02_b"):
        build(tmp_path, only=["03"])


def test_build_with_check_only_reports(tmp_path):
    write_solution(tmp_path, "01_a.ipynb", [new_code_cell("x = 1")])
    assert build(tmp_path, check=True) == check_notebooks(tmp_path) != []
    assert not (tmp_path / "student").exists()
    with pytest.raises(CourseError, match="--check changes nothing"):
        build(tmp_path, check=True, execute=True)


def test_execute_stores_fresh_outputs_without_timing_and_not_in_fast_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    (tmp_path / "notebooks" / "data.txt").parent.mkdir()
    (tmp_path / "notebooks" / "data.txt").write_text("from the notebook folder", encoding="utf-8")
    path = write_solution(tmp_path, "01_run.ipynb", [
        new_code_cell("import os\nprint(os.environ.get('COURSE_FAST'), open('data.txt').read())",
                      outputs=[new_output("stream", name="stdout", text="stale\n")]),
        new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"),
    ], executed=False)

    assert build(tmp_path, execute=True) == ["wrote notebooks/01_run.ipynb", "wrote student/01_run.ipynb"]

    nb = json.loads(path.read_text(encoding="utf-8"))
    assert [cell["execution_count"] for cell in nb["cells"]] == [1, 2]
    assert nb["cells"][0]["outputs"] == [
        {"name": "stdout", "output_type": "stream", "text": ["None from the notebook folder\n"]}]
    figure = nb["cells"][1]["outputs"][0]
    assert figure["data"]["text/plain"] == ["<Figure size 640x480 with 1 Axes>"] and "image/png" in figure["data"]
    assert all(cell["metadata"] == {} for cell in nb["cells"])
    assert nb["metadata"]["language_info"] == LANGUAGE_INFO
    assert check_notebooks(tmp_path) == []


def test_execute_failure_names_the_cell_and_leaves_the_notebook_alone(tmp_path):
    path = write_solution(tmp_path, "01_fail.ipynb", [new_code_cell("x = 1"), new_code_cell("x / 0")])
    before = path.read_bytes()
    with pytest.raises(CourseError, match=r"01_fail.ipynb cell 1 failed with ZeroDivisionError: division by zero"):
        build(tmp_path, execute=True)
    assert path.read_bytes() == before


def test_run_student_notebook_allows_stubs_and_reports_real_errors(tmp_path):
    write_solution(tmp_path, "01_ex.ipynb", [
        new_markdown_cell("Exercise"),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        new_code_cell("### BEGIN SOLUTION\ny = double(21)\n### END SOLUTION\nprint(y)"),
        new_code_cell("assert y == 42"),
        new_code_cell("raise ValueError('broken')"),
        new_code_cell("import sys\nsys.exit(3)", metadata={"tags": ["nbval-skip"]}),
    ])
    build(tmp_path)

    problems = run_student_notebook(tmp_path / "student" / "01_ex.ipynb")

    assert problems == [f"{tmp_path / 'student' / '01_ex.ipynb'} cell 4: ValueError: broken"]


SANITIZED_PAIRS = [
    ("   Conv2D-17      [[1, 1, 28, 28]]", "   Conv2D-15      [[1, 1, 28, 28]]"),
    ("Tensor(shape=[2], dtype=float32, place=Place(cpu), stop_gradient=True,",
     "Tensor(shape=[2], dtype=float32, place=Place(gpu:0), stop_gradient=True,"),
    ("[<matplotlib.lines.Line2D at 0x7f8ca587f790>]", "[<matplotlib.lines.Line2D at 0x7fab12345678>]"),
    ("/tmp/ipykernel_9421/3110404617.py:2: UserWarning: x", "/tmp/ipykernel_77/42.py:5: UserWarning: x"),
    ("100%|██████████| 5/5 [00:00<00:00, 98.10it/s]", "100%|██████████| 5/5 [00:03<00:00,  1.52it/s]"),
    ("  0%|          | 0/5 [00:00<?, ?it/s]", "  0%|          | 0/5 [00:01<?, ?it/s]"),
    ("12it [00:01, 9.80it/s, loss=0.1]", "12it [00:02,  5.1s/it, loss=0.2]"),
    ("epoch 1 took 52.31 s", "epoch 1 took 7.0 s"),
    ("用时 3.2 秒", "用时 10.25 秒"),
    ("saved 2025-01-31 12:34:56.789", "saved 2026-02-01T01:02:03+08:00"),
]
UNCHANGED = ["LeNet-5", "accuracy 0.9914", "Tensor(shape=[1, 28, 28], dtype=float32", "0xFF", "0.5 steps", "[3, 4]"]


def sanitize(text: str) -> str:
    """Apply tests/nbval_sanitize.cfg the way nbval does."""
    patterns = get_sanitize_patterns((PROJECT_ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8"))
    assert len(patterns) == 7, "a pattern was not read: check the regex:/replace: line pairs"
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize(("one_run", "other_run"), SANITIZED_PAIRS)
def test_sanitizers_make_volatile_fragments_equal(one_run, other_run):
    assert sanitize(one_run) == sanitize(other_run)
    assert sanitize(one_run) != one_run


@pytest.mark.parametrize("text", UNCHANGED)
def test_sanitizers_leave_results_alone(text):
    assert sanitize(text) == text


def test_committed_notebooks_are_built_and_up_to_date():
    """The repository's own notebooks: normalized, run top to bottom, student versions current, links intact."""
    assert check_notebooks(PROJECT_ROOT) == []
