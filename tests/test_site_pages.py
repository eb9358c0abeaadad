"""The website's pages and staging (course_utils.tools.site), on small projects made here; the built site itself is
tested in a browser (tests/browser/test_site.py)."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils.errors import CourseError
from course_utils.settings import PROJECT_ROOT
from course_utils.tools.site import build_site, find_pages, stage, table_of_contents


def _notebook(path: Path, *markdown: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in markdown] + [nbformat.v4.new_code_cell("1 + 1")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two chapters (one linking a photo in work/ and a named place in the other), their student versions, the
    README, the glossary and one instructor page."""
    root = tmp_path / "project"
    _notebook(root / "notebooks" / "01_data.ipynb", "# 第 1 章 数据\n\n正文。", "见[第 2 章](02_network.ipynb#twice)。")
    _notebook(root / "notebooks" / "02_network.ipynb", "# 第 2 章 网络",
              '<img src="../work/example_0.jpg" width="180">\n\n<a id="twice"></a>\n\n## 两次 softmax')
    _notebook(root / "notebooks" / "scratch.ipynb", "# not a chapter")
    for name in ("01_data.ipynb", "02_network.ipynb"):
        _notebook(root / "student" / name, "# student version")
    (root / "work").mkdir()
    (root / "work" / "example_0.jpg").write_bytes(b"jpeg")
    (root / "work" / "mnist.npz").write_bytes(b"data, not linked")
    (root / "docs" / "instructor").mkdir(parents=True)
    (root / "docs" / "glossary.md").write_text("# 术语表\n", encoding="utf-8")
    (root / "docs" / "instructor" / "ch01.md").write_text(
        "# 第 1 章\n\n[答案](../../notebooks/01_data.ipynb) [学生版](../../student/01_data.ipynb)\n\n"
        "`[代码里的](../../student/01_data.ipynb)`\n", encoding="utf-8")
    (root / "README.md").write_text("# 课程\n\n[第 1 章](notebooks/01_data.ipynb)\n", encoding="utf-8")
    shutil.copytree(PROJECT_ROOT / "site", root / "site")
    return root


def test_pages_are_whatever_chapters_and_instructor_pages_exist(project):
    pages = find_pages(project)
    assert pages.chapters == ["notebooks/01_data.ipynb", "notebooks/02_network.ipynb"]
    _notebook(project / "notebooks" / "07_handwriting.ipynb", "# 第 7 章")
    (project / "docs" / "instructor" / "ch07.md").write_text("# 第 7 章\n", encoding="utf-8")
    pages = find_pages(project)
    assert pages.chapters[-1] == "notebooks/07_handwriting.ipynb"
    assert pages.instructor == ["docs/instructor/ch01.md", "docs/instructor/ch07.md"]
    toc = table_of_contents(pages)
    assert toc["root"] == "README"
    assert [[entry["file"] for entry in part["chapters"]] for part in toc["parts"]] == [
        ["notebooks/01_data", "notebooks/02_network", "notebooks/07_handwriting"],
        ["docs/glossary"],
        ["docs/instructor/ch01", "docs/instructor/ch07"],
    ]


def test_staging_links_the_student_notebook_and_never_copies_a_solution(project, tmp_path):
    dest = tmp_path / "stage"
    stage(find_pages(project), dest, project)
    staged = nbformat.read(dest / "notebooks" / "01_data.ipynb", as_version=4)
    title, box = staged.cells[0].source.split("\n", 2)[0], staged.cells[0].source
    assert title == "# 第 1 章 数据"
    assert "{download}`下载 01_data.ipynb <../student/01_data.ipynb>`" in box and box.endswith("正文。")
    assert (dest / "student" / "01_data.ipynb").read_bytes() == (project / "student" / "01_data.ipynb").read_bytes()
    assert (dest / "work" / "example_0.jpg").is_file()  # linked from chapter 2
    assert not (dest / "work" / "mnist.npz").exists()  # not linked
    assert not (dest / "notebooks" / "scratch.ipynb").exists()
    # The staged chapters are the pages' sources; the only notebooks that can be downloaded are students'.
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.ipynb")) == [
        "notebooks/01_data.ipynb", "notebooks/02_network.ipynb", "student/01_data.ipynb", "student/02_network.ipynb",
    ]
    chapter_2 = nbformat.read(dest / "notebooks" / "02_network.ipynb", as_version=4)
    assert "(twice)=\n\n## 两次 softmax" in chapter_2.cells[1].source  # an HTML anchor becomes a MyST target
    # A named place on another page is linked by its name alone (MyST finds it across pages); a notebook that is not
    # a page becomes a download; links in code stay as they are.
    assert staged.cells[1].source == "见[第 2 章](#twice)。"
    assert (dest / "docs" / "instructor" / "ch01.md").read_text(encoding="utf-8") == (
        "# 第 1 章\n\n[答案](../../notebooks/01_data.ipynb) [学生版](path:../../student/01_data.ipynb)\n\n"
        "`[代码里的](../../student/01_data.ipynb)`\n")
    toc = yaml.safe_load((dest / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["parts"][0]["caption"] == "课程 / Chapters"
    assert (dest / "_config.yml").read_bytes() == (PROJECT_ROOT / "site" / "_config.yml").read_bytes()


def test_a_chapter_without_its_student_notebook_is_refused(project, tmp_path):
    (project / "student" / "02_network.ipynb").unlink()
    with pytest.raises(CourseError, match="student/02_network.ipynb is missing"):
        build_site(tmp_path / "out", project, quiet=True)
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_is_not_a_site_is_left_alone(project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    with pytest.raises(CourseError, match="not a site built before"):
        build_site(out, project, quiet=True)
    assert (out / "thesis.tex").read_text() == "mine"
