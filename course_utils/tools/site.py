"""The course as a static website: ``python -m course_utils site [--out DIR]``.

The pages are the solution notebooks with their stored outputs (nothing is executed), the README as the home page,
the glossary and the instructor guide (``docs/instructor/*.md``). The builder is Jupyter Book 1 (Sphinx + myst-nb,
all from PyPI), configured in ``site/_config.yml``: it builds offline, whereas Jupyter Book 2 (mystmd) fetches its
theme from a web API at build time.

A build has three steps:

1. *Stage* the pages in a temporary folder, at the same relative paths as in the project, so every relative link in
   them still points where it did: the README, each ``notebooks/NN_*.ipynb`` with a box under its title that links
   the download of its student notebook (``student/NN_*.ipynb``, never the solution), the docs, and every other local
   file these pages link to (e.g. ``work/example_0.jpg``, ``tools/make_example_image.py``). Jupyter's HTML anchors
   become MyST targets, and two kinds of links are rewritten so that MyST resolves them (``_sphinx_links``): then
   the build treats every warning as an error, and a link that leads nowhere fails it.
2. Write the table of contents (``_toc.yml``) from what was staged, so a new chapter or instructor page appears by
   itself.
3. Build the HTML with Jupyter Book and put it in place of the output folder: a static folder any web server serves.
"""
from __future__ import annotations

import importlib.util
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from ..errors import CourseError
from ..settings import PROJECT_ROOT
from .notebook_build import CODE_SPANS, SOLUTION_DIR, STUDENT_DIR, URL_SCHEME, local_links

SITE_DIR = "site"
"""The book's configuration folder (``_config.yml``), relative to the project."""
DEFAULT_OUT = PROJECT_ROOT / "build" / "site"
"""Where the site goes unless ``--out`` says otherwise."""
HOME_PAGE = "README.md"
GLOSSARY = "docs/glossary.md"
INSTRUCTOR_DIR = "docs/instructor"
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
DOWNLOAD_BOX = """
:::{{admonition}} 学生版笔记本 / Student notebook
:class: tip
{{download}}`下载 {name} <{link}>`：本章的练习版，练习处留空、没有运行结果，在 JupyterLab 或 AI Studio 中打开
(the exercise version: blanks to fill in, no outputs). 本页是参考答案及其运行结果 (this page: the solutions and
their outputs).
:::
"""
"""Put under each chapter's title (MyST). ``{name}``: the notebook's file name, ``{link}``: its path from the page."""
BUILD_TIMEOUT = 1800
"""Seconds the Jupyter Book build may take (it takes 10-30 s on 2 cores)."""
_SITE_MARKER = ".buildinfo"
"""A file Sphinx writes into every HTML build: an existing ``--out`` folder without it is not replaced."""


@dataclass(frozen=True)
class Pages:
    """The project files that become pages, relative to the project root, in the order of the table of contents."""

    home: str
    chapters: list[str]
    reference: list[str]
    instructor: list[str]

    def all(self) -> list[str]:
        return [self.home, *self.chapters, *self.reference, *self.instructor]


def find_pages(root: Path = PROJECT_ROOT) -> Pages:
    """The pages present in *root* now: every chapter notebook and every instructor page, whatever their number."""
    chapters = sorted(path.relative_to(root).as_posix() for path in (root / SOLUTION_DIR).glob(CHAPTER_GLOB))
    if not chapters:
        raise CourseError(f"no chapter notebooks ({SOLUTION_DIR}/{CHAPTER_GLOB}) in {root}")
    instructor = sorted(path.relative_to(root).as_posix() for path in (root / INSTRUCTOR_DIR).glob("*.md"))
    reference = [GLOSSARY] if (root / GLOSSARY).is_file() else []
    return Pages(HOME_PAGE, chapters, reference, instructor)


def table_of_contents(pages: Pages) -> dict:
    """Jupyter Book's ``_toc.yml`` (format ``jb-book``) for *pages*: the README as root, then one part each for the
    chapters, the reference pages and the instructor guide (empty parts are left out)."""
    parts = [
        ("课程 / Chapters", pages.chapters),
        ("参考 / Reference", pages.reference),
        ("教师指南 / Instructor guide", pages.instructor),
    ]
    return {
        "format": "jb-book",
        "root": _document(pages.home),
        "parts": [
            {"caption": caption, "chapters": [{"file": _document(page)} for page in files]}
            for caption, files in parts
            if files
        ],
    }


def _document(page: str) -> str:
    """A page's name in the table of contents: its path without the suffix."""
    return page.rsplit(".", 1)[0]


def stage(pages: Pages, dest: Path, root: Path = PROJECT_ROOT) -> None:
    """Copy *pages* and the local files they link to from *root* into *dest*, and write ``_config.yml`` and
    ``_toc.yml`` there. Each chapter gets its student notebook's download box, and links are made plain to Sphinx
    (``_sphinx_links``), so that any link the build cannot resolve is an error."""
    import nbformat
    import yaml

    notebooks, texts = {}, {}
    for page in pages.all():
        if page in pages.chapters:
            nb = notebooks[page] = nbformat.read(root / page, as_version=4)
            _add_download_box(nb, page, root)
            texts[page] = [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
        else:
            texts[page] = [(root / page).read_text(encoding="utf-8")]
        texts[page] = [_myst_targets(text) for text in texts[page]]
    labels = {page: {label for text in markdown for label in _MYST_TARGET.findall(text)}
              for page, markdown in texts.items()}
    for page in pages.all():
        markdown = [_sphinx_links(text, page, labels) for text in texts[page]]
        target = dest / page
        target.parent.mkdir(parents=True, exist_ok=True)
        if page in notebooks:
            cells = (cell for cell in notebooks[page].cells if cell.cell_type == "markdown")
            for cell, text in zip(cells, markdown):
                cell.source = text
            nbformat.write(notebooks[page], target)
        else:
            target.write_text(markdown[0], encoding="utf-8")
        for text in markdown:
            _stage_linked_files(text, page, dest, root, set(pages.all()))
    shutil.copy2(root / SITE_DIR / "_config.yml", dest / "_config.yml")
    (dest / "_toc.yml").write_text(yaml.safe_dump(table_of_contents(pages), allow_unicode=True, sort_keys=False),
                                   encoding="utf-8")


_HTML_ANCHOR = re.compile(r"""^ {0,3}<a\s+(?:id|name)\s*=\s*["']([^"']+)["']\s*>\s*</a>[ \t]*$""", re.MULTILINE)
_MYST_TARGET = re.compile(r"^\(([^()\s]+)\)=[ \t]*$", re.MULTILINE)
_MARKDOWN_LINK = re.compile(r"(?<!!)(\[[^\]]*\]\()\s*([^)\s]+)\s*\)")


def _myst_targets(markdown: str) -> str:
    """Turn each line that is only an HTML anchor (``<a id="x"></a>``, Jupyter's way to name a place) into a MyST
    target ``(x)=``: Sphinx then knows the name, and a link to it is checked."""
    return _HTML_ANCHOR.sub(r"(\1)=", markdown)


def _sphinx_links(markdown: str, page: str, labels: dict[str, set[str]]) -> str:
    """*markdown* of *page* with two kinds of Markdown links (not images, not in code) rewritten for MyST:

    - to a named place on another page, ``02_network.ipynb#softmax-twice``: ``#softmax-twice``, which MyST finds
      across pages (it would warn about the page-and-name form, although it writes that link right);
    - to a notebook or Markdown file that is not a page (a student notebook): ``path:...``, a download (MyST would
      look for a page by that name and drop the link).
    """

    def rewrite(match: re.Match) -> str:
        opening, target = match.groups()
        if URL_SCHEME.match(target) or target.startswith("#"):
            return match.group(0)
        path, _, anchor = unquote(target).partition("#")
        linked = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
        if linked in labels:
            return f"{opening}#{anchor})" if anchor in labels[linked] else match.group(0)
        if linked.endswith((".ipynb", ".md")):
            return f"{opening}path:{target})"
        return match.group(0)

    parts = CODE_SPANS.split(markdown)
    spans = CODE_SPANS.findall(markdown)
    rewritten = [_MARKDOWN_LINK.sub(rewrite, part) for part in parts]
    return "".join(part + span for part, span in zip(rewritten, [*spans, ""]))


_DOWNLOAD_ROLE = re.compile(r"\{download\}`[^`<]*<([^>`]+)>`")
"""A MyST ``{download}`text <path>``` role (the download box's link); its path is staged like a link's."""
_PATH_LINK = re.compile(r"\]\(\s*(path:[^)\s]+)")
"""A download link ``[text](path:...)`` made by ``_sphinx_links``; its path is staged like a link's."""
def _add_download_box(nb, page: str, root: Path) -> None:
    """Put ``DOWNLOAD_BOX`` under the title of chapter *page*; the student notebook it links must exist (it is staged
    with the other linked files)."""
    name = Path(page).name
    if not (root / STUDENT_DIR / name).is_file():
        raise CourseError(f"{STUDENT_DIR}/{name} is missing: run python -m course_utils notebooks build")
    box = DOWNLOAD_BOX.format(name=name, link=f"../{STUDENT_DIR}/{name}")
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and first.source.lstrip().startswith("# "):
        title, _, rest = first.source.lstrip().partition("\n")
        first.source = f"{title}\n{box}\n{rest}"
    else:
        import nbformat

        nb.cells.insert(0, nbformat.v4.new_markdown_cell(box, id="student-notebook"))


def _stage_linked_files(text: str, page: str, dest: Path, root: Path, pages: set[str]) -> None:
    """Copy into *dest* every file inside *root* that *text* (of *page*) links to, unless it is a page itself.

    Links to folders, to files outside the project and to missing files are left for the build to report. Solution
    notebooks are never copied: only those in ``pages`` become pages, and a page is HTML, not the ``.ipynb``.
    """
    folder = (root / page).parent
    links = [path for _, path in local_links(text)] + _DOWNLOAD_ROLE.findall(text)
    links += [unquote(target[len("path:"):]).partition("#")[0] for target in _PATH_LINK.findall(text)]
    for path in links:
        linked = (folder / path).resolve()
        try:
            relative = linked.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        if relative in pages or not linked.is_file() or relative.startswith(f"{SOLUTION_DIR}/"):
            continue
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(linked, dest / relative)


def build_site(out: Path = DEFAULT_OUT, root: Path = PROJECT_ROOT, *, quiet: bool = False) -> Path:
    """Build the website of the project in *root* into the folder *out* and return *out*.

    The HTML is built next to *out* and replaces it only when the build succeeded, so a failed build leaves the
    previous site as it was. An existing *out* that is not a site built before is refused rather than deleted.
    """
    if importlib.util.find_spec("jupyter_book") is None:
        raise CourseError("building the website needs Jupyter Book: pip install -e '.[site]'")
    out = out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / _SITE_MARKER).exists():
        raise CourseError(f"{out} exists and is not a site built before: choose another --out or empty it")
    pages = find_pages(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".site-", dir=out.parent) as scratch:
        source, build = Path(scratch) / "source", Path(scratch) / "build"
        stage(pages, source, root)
        command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(source),
                   "--path-output", str(build), "--warningiserror", "--keep-going", "--all"]
        result = subprocess.run(command, capture_output=quiet, text=True, timeout=BUILD_TIMEOUT)
        if result.returncode:
            if quiet:
                print(result.stdout[-8000:], result.stderr[-8000:], sep="\n", file=sys.stderr)
            raise CourseError(f"the Jupyter Book build failed (exit code {result.returncode}): see its messages above")
        html = build / "_build" / "html"
        old = Path(scratch) / "old"
        if out.exists():
            out.rename(old)
        html.rename(out)
    return out
