"""The course website as a reader gets it: built by ``python -m course_utils site``, served by a plain static HTTP
server on 127.0.0.1, read in Chromium.

The site is built once for this module, into a temporary folder. Chromium may fetch nothing but that server (every
other request is aborted), so the pages are checked as they would work offline: figures, the example photo, MathJax.
"""
from __future__ import annotations

import functools
import json
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

from course_utils.settings import PROJECT_ROOT
from course_utils.tools.site import build_site

CHAPTER_4 = "notebooks/04_prediction.html"
VIEWPORT = {"width": 1280, "height": 900}
"""A laptop's window: the theme shows its left sidebar (table of contents) from this width on."""
MAX_PAGES = 500
"""The crawl stops with a failure past this many pages: the site has a few dozen."""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The website of this checkout, built with the README's command into a temporary folder."""
    return build_site(tmp_path_factory.mktemp("site") / "html", quiet=True)


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    """The base URL of a static HTTP server on 127.0.0.1 (a free port) serving the built site."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def page(browser: Any, site_url: str) -> Iterator[Any]:
    """A Chromium page that may load only from the site's server."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site_url) else route.abort())
    try:
        yield context.new_page()
    finally:
        context.close()


_JS_IMAGES = "() => Array.from(document.images).map((img) => [img.currentSrc || img.src, img.naturalWidth])"


def test_chapter_4_as_a_reader_sees_it(page: Any, site_url: str, screenshots: Any) -> None:
    page.goto(site_url + CHAPTER_4, wait_until="load")
    heading = page.locator("h1").first.inner_text()
    assert "第 4 章" in heading, heading
    images = page.evaluate(_JS_IMAGES)
    assert len(images) >= 5, f"chapter 4 should show its photo and figures, found {images}"
    broken = [src for src, width in images if width == 0]
    assert not broken, f"images that did not load: {broken}"
    assert any(src.endswith("example_0.jpg") for src, _ in images), "the photo linked from ../work/ is missing"

    # The download is the student notebook, byte for byte: exercises blank, no outputs, never the solution.
    link = page.locator("a.download", has_text="04_prediction.ipynb")
    assert link.count() == 1
    with urllib.request.urlopen(urljoin(page.url, link.get_attribute("href")), timeout=30) as response:
        downloaded = response.read()
    assert downloaded == (PROJECT_ROOT / "student" / "04_prediction.ipynb").read_bytes()
    assert all(not cell.get("outputs") for cell in json.loads(downloaded)["cells"])

    # Math is typeset by the site's own MathJax (the CDN is unreachable here).
    if page.locator(".math").count():
        page.wait_for_selector("mjx-container", timeout=60_000)
    screenshots.save(page, "site-chapter-4")
    page.locator("img[src$='example_0.jpg']").scroll_into_view_if_needed()
    screenshots.save(page, "site-chapter-4-photo")


def test_search_finds_chinese_words(page: Any, site_url: str, screenshots: Any) -> None:
    page.goto(site_url + "search.html?q=" + "归一化", wait_until="load")
    results = page.locator("#search-results li a")
    results.first.wait_for(timeout=60_000)
    found = {urlsplit(href).path.rsplit("/", 1)[-1] for href in results.evaluate_all("(a) => a.map((x) => x.href)")}
    assert "01_data.html" in found, found
    screenshots.save(page, "site-search")


class _Links(HTMLParser):
    """The ``id``/``name`` anchors of one HTML page and the URLs it refers to (links, images, scripts, styles, a
    redirect)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: set[str] = set()
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if values.get(name):
                self.anchors.add(values[name])
        attribute = {"a": "href", "link": "href", "img": "src", "script": "src", "source": "src"}.get(tag)
        if attribute and values.get(attribute):
            self.references.append(values[attribute])
        refresh = (values.get("content") or "").partition("url=")[2] if tag == "meta" else ""
        if refresh and (values.get("http-equiv") or "").lower() == "refresh":
            self.references.append(refresh.strip())  # index.html redirects to the home page


def _fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        return error.code, b"", ""


def test_no_broken_link_inside_the_site(site_url: str) -> None:
    """Crawl from the home page: every internal link, image, script and style answers 200, every ``#anchor`` names
    an element of its page, and every page of the table of contents is reached."""
    pages: dict[str, _Links] = {}
    to_visit, seen, problems = [(site_url + "index.html", "the start")], set(), []
    fragments: list[tuple[str, str, str]] = []  # (page linking, target page, anchor)
    while to_visit:
        url, referrer = to_visit.pop()
        if url in seen:
            continue
        seen.add(url)
        assert len(seen) < MAX_PAGES, "the crawl found more pages than the site should have"
        status, body, kind = _fetch(url)
        if status != 200:
            problems.append(f"{url} (linked from {referrer}): HTTP {status}")
            continue
        if kind != "text/html":
            continue
        parser = _Links()
        parser.feed(body.decode("utf-8"))
        pages[url] = parser
        for reference in parser.references:
            target, fragment = urldefrag(urljoin(url, reference))
            if not target.startswith(site_url):
                continue  # external: not this test's business (and unreachable here)
            if fragment:
                fragments.append((url, target, unquote(fragment)))
            to_visit.append((target, url))
    for source, target, anchor in fragments:
        if target in pages and anchor not in pages[target].anchors:
            problems.append(f"{source}: #{anchor} is not on {target}")
    assert not problems, "broken links:\n" + "\n".join(sorted(set(problems)))
    visited = {urlsplit(url).path.lstrip("/") for url in pages}
    for notebook in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{notebook.stem}.html" in visited, f"no link leads to chapter {notebook.stem}"
    for doc in ["docs/glossary.md", *sorted(p.relative_to(PROJECT_ROOT).as_posix()
                                              for p in (PROJECT_ROOT / "docs" / "instructor").glob("*.md"))]:
        assert doc.replace(".md", ".html") in visited, f"no link leads to {doc}"
