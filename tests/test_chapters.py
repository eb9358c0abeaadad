"""Every chapter follows the template (docs/instructor/template.md) and the glossary (docs/glossary.md), and the
instructor guide has a note for each of its questions."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_utils.settings import PROJECT_ROOT
from course_utils.tools.notebook_build import SOLUTION_DIR, find_exercises

CHAPTERS = sorted((PROJECT_ROOT / SOLUTION_DIR).glob("[0-9][0-9]_*.ipynb"))
GUIDE = PROJECT_ROOT / "docs" / "instructor"
OPTIONAL = "> **选读 / Optional**"


def number(path: Path) -> int:
    return int(path.name[:2])


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def headings(nb: nbformat.NotebookNode, level: int) -> list[str]:
    marker = "#" * level + " "
    return [line[len(marker):].strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith(marker)]


def glossary() -> list[dict[str, str]]:
    rows = []
    for line in (PROJECT_ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2].startswith("第 "):
            rows.append({"term": cells[0], "english": cells[1], "chapter": cells[2], "avoid": cells[3]})
    return rows


def test_there_are_chapters_and_a_glossary():
    assert len(CHAPTERS) >= 6
    assert len(glossary()) >= 40


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_the_opening_cell_has_title_objectives_prerequisites_and_time(path):
    nb = read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    title = first.source.splitlines()[0]
    assert re.fullmatch(rf"# 第 {number(path)} 章 \S.* / Chapter {number(path)}: \S.*", title), title
    assert nb.metadata.get("title") == title[2:], "the notebook's metadata title is the H1 line"
    positions = [first.source.find(heading) for heading in
                 ("### 学习目标 / Learning objectives", "### 先修 / Prerequisites", "### 预计时间 / Time")]
    assert -1 not in positions and positions == sorted(positions), positions


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_the_setup_cell_only_sets_up(path):
    """The grader runs the first code cell before each exercise cell: it must be quick."""
    setup = next(cell for cell in read(path).cells if cell.cell_type == "code").source
    for slow in ("load_mnist(", "train_model(", "evaluate(", ".fit("):
        assert slow not in setup, f"the setup cell calls {slow}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_sections_are_numbered_and_the_chapter_ends_with_summary_questions_references(path):
    sections = headings(read(path), 2)
    assert sections[-3:] == ["小结 / Summary", "思考题 / Questions", "参考 / References"], sections[-3:]
    numbered = sections[:-3]
    assert numbered, "a chapter has sections"
    for k, section in enumerate(numbered, start=1):
        assert re.fullmatch(rf"{k}\. \S.* / \S.*", section), f"section {k} is '{section}'"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_exercises_are_numbered_and_each_heading_comes_before_its_cell(path):
    nb = read(path)
    exercises = find_exercises(nb)
    titled = [heading for heading in headings(nb, 3) if heading.startswith("练习")]
    assert len(titled) == len(exercises)
    for k, heading in enumerate(titled, start=1):
        assert re.fullmatch(rf"练习 {number(path)}\.{k}：\S.* / Exercise {number(path)}\.{k}: \S.*", heading), heading
    index = {cell.get("id"): position for position, cell in enumerate(nb.cells)}
    for k, exercise in enumerate(exercises, start=1):
        before = [cell for cell in nb.cells[: index[exercise.cell_id]] if cell.cell_type == "markdown"]
        assert any(f"### 练习 {number(path)}.{k}：" in cell.source for cell in before)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_the_instructor_guide_has_a_note_for_every_question(path):
    nb = read(path)
    [questions] = [cell.source for cell in nb.cells
                   if cell.cell_type == "markdown" and cell.source.startswith("## 思考题 / Questions")]
    count = len(re.findall(r"^\d+\. ", questions, re.MULTILINE))
    assert count >= 1
    guide = (GUIDE / f"ch{number(path):02d}.md").read_text(encoding="utf-8")
    for k in range(1, count + 1):
        assert re.search(rf"^### 思考题 {k}\b", guide, re.MULTILINE), f"ch{number(path):02d}.md has no note on 思考题 {k}"


def _student_text(nb: nbformat.NotebookNode) -> str:
    """What a student reads in the path of the chapter: markdown outside optional boxes, and code."""
    return "\n".join(cell.source for cell in nb.cells if not cell.source.startswith(OPTIONAL))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_instructor_material_stays_out_of_the_students_path(path):
    text = _student_text(read(path))
    for word in ("benchmarks", "mnist.json", "profile", "sys.path.insert"):
        assert word not in text, f"'{word}' belongs in docs/instructor/ or an optional box"


def test_the_double_softmax_is_explained_in_one_place():
    anchors = [path.name for path in CHAPTERS
               if any('<a id="softmax-twice"></a>' in cell.source for cell in read(path).cells)]
    assert anchors == ["03_training.ipynb"]


@pytest.mark.parametrize("row", glossary(), ids=lambda row: row["term"])
def test_each_glossary_term_appears_in_its_chapter_and_its_rejected_variants_nowhere(row):
    chapter = int(re.search(r"\d+", row["chapter"]).group())
    [path] = [path for path in CHAPTERS if number(path) == chapter]
    assert row["term"] in path.read_text(encoding="utf-8"), f"{row['term']} does not appear in {path.name}"
    for variant in filter(None, (part.split("(")[0].strip() for part in row["avoid"].split("、"))):
        users = [path.name for path in CHAPTERS if variant in _student_text(read(path))]
        assert not users, f"'{variant}' (say '{row['term']}') appears in {users}"
