"""A real JupyterLab 4 driven by a real Chromium: the notebooks as a student sees and runs them.

Fixtures:

- ``lab`` (session): a JupyterLab server on 127.0.0.1, a random free port and a random token, serving a temporary copy
  of the project's ``notebooks/``, ``student/`` and ``work/`` folders (the tests never touch the committed files). Its
  kernels inherit this session's environment plus ``COURSE_FAST=1`` (fast mode), ``COURSE_DATA_DIR`` (the MNIST
  files) and ``COURSE_WORK_DIR`` (the copy's ``work/``, so checkpoints land there too). A fast-mode checkpoint is
  trained first (``python -m course_utils train``), so chapters 4 and 5 can run without chapter 3 having run.
- ``browser`` (session): Debian's Chromium (``/usr/bin/chromium``) through Playwright's Python API. Playwright's own
  browser downloads are not used.
- ``open_notebook`` (per test): opens a notebook in a fresh page and workspace and returns a :class:`Notebook` to
  drive it; the test's kernels are shut down afterwards.
- ``screenshots`` (per test): a :class:`Screenshots` saving PNGs in the test's tmp folder and, when the environment
  variable ``COURSE_SCREENSHOTS`` names a folder, there as well, for a person to look at.

Every test here is skipped, with the reason, where Playwright or Chromium is missing. The server's process group and
the browser are ended at the end of the session, whatever happened.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from course_utils import quiet_paddle_import
from course_utils.settings import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_TIMEOUT = 180
"""Seconds for JupyterLab to answer (the machine may be loaded)."""
KERNEL_TIMEOUT_MS = 240_000
"""Milliseconds for a notebook's kernel to start, or for one cell to run."""
RUN_ALL_TIMEOUT_MS = 900_000
"""Milliseconds for a whole notebook to run in fast mode."""

_COPIED_FOLDERS = ("notebooks", "student")
_WORK_FILES = ("README.md", "example_*.jpg", "example_*.png", "sample_sheets/*.jpg")  # what git keeps of work/
_LAB_SETTINGS = {
    # No toast asking to fetch Jupyter news over the network, no update check: nothing over the screenshots.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every browser test, saying why, where Playwright or Chromium is missing; with ``COURSE_REQUIRE_BROWSER=1``
    (.ci/run sets it) stop the session instead, so CI never passes with its browser tests skipped."""
    reason = _missing_tools()
    if reason and os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"COURSE_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        here = Path(__file__).parent
        for item in items:
            if here in Path(item.path).parents:
                item.add_marker(pytest.mark.skip(reason=reason))


def _missing_tools() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need Playwright's Python package: pip install -e '.[dev]' (or pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium (or set COURSE_CHROMIUM)"
    return None


@dataclass
class Lab:
    """A running JupyterLab server: its base ``url``, ``token`` and the temporary ``root`` folder it serves."""

    url: str
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str) -> Any:
        """Call the server's REST API (e.g. ``api("GET", "kernels")``) and return the decoded JSON, if any."""
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        for kernel in self.api("GET", "kernels"):
            self.api("DELETE", f"kernels/{kernel['id']}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _copy_project(root: Path) -> None:
    for folder in _COPIED_FOLDERS:
        shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "work").mkdir()
    for pattern in _WORK_FILES:
        for path in (PROJECT_ROOT / "work").glob(pattern):
            target = root / "work" / path.relative_to(PROJECT_ROOT / "work")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _server_env(home: Path, root: Path) -> dict[str, str]:
    """The environment of the server and so of its kernels: this session's, in fast mode, isolated from the user's
    Jupyter configuration, settings and kernelspecs."""
    env = quiet_paddle_import(dict(os.environ))
    env.pop("MPLBACKEND", None)  # let ipykernel pick its inline backend, as in nbval (see the root conftest)
    env.update(
        COURSE_FAST="1",
        COURSE_WORK_DIR=str(root / "work"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
    )
    if "COURSE_DATA_DIR" in os.environ:
        env["COURSE_DATA_DIR"] = os.environ["COURSE_DATA_DIR"]
    return env


def _write_lab_config(home: Path) -> None:
    # The python3 kernel runs with this very interpreter, whatever kernelspecs are installed elsewhere.
    kernel = home / "data" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python", "metadata": {"debugger": True},
    }))
    for name, values in _LAB_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_until_answering(lab: Lab, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{lab.log.read_text()[-3000:]}")
        try:
            lab.api("GET", "status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)  # polling the socket: the server offers nothing to wait on
    raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{lab.log.read_text()[-3000:]}")


def _train_fast_checkpoint(env: dict[str, str], home: Path) -> None:
    """The checkpoint chapter 3 leaves (fast mode), so chapters 4 and 5 run in any order."""
    result = subprocess.run([sys.executable, "-m", "course_utils", "train", "--procs", "1"], env=env, cwd=home,
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"training the fast-mode checkpoint failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab 4 server on 127.0.0.1 serving a temporary copy of the project (see the module docstring)."""
    home = tmp_path_factory.mktemp("jupyterlab")
    root = home / "project"
    _copy_project(root)
    _write_lab_config(home)
    env = _server_env(home, root)
    _train_fast_checkpoint(env, home)
    port, token = _free_port(), secrets.token_hex(16)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, home / "server.log")
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--expose-app-in-browser",
        "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:  # CI and containers run as root
        command.append("--allow-root")
    with open(lab.log, "wb") as log:
        process = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until_answering(lab, process)
        yield lab
    finally:
        _stop_process_group(process)


def _stop_process_group(process: subprocess.Popen) -> None:
    """End the server and everything it started (its kernels): politely first, then by force."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)  # kernels left behind by a server that stopped before them
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=KERNEL_TIMEOUT_MS)  # the machine may be loaded; expect waits for its condition
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Screenshots:
    """Saves screenshots as ``<name>.png`` in the test's tmp folder, and in ``$COURSE_SCREENSHOTS`` when set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        extra = os.environ.get("COURSE_SCREENSHOTS")
        self.extra = Path(extra).expanduser() if extra else None
        if self.extra:
            self.extra.mkdir(parents=True, exist_ok=True)

    def save(self, target: Any, name: str) -> Path:
        """Screenshot a Playwright page or locator; returns the path in the tmp folder."""
        path = self.folder / f"{name}.png"
        target.screenshot(path=str(path))
        if self.extra:
            shutil.copy2(path, self.extra / path.name)
        return path


@pytest.fixture
def screenshots(tmp_path: Path) -> Screenshots:
    return Screenshots(tmp_path / "screenshots")


# JavaScript run in the page, against JupyterLab's application object (``--expose-app-in-browser``).
_CURRENT = "window.jupyterapp.shell.currentWidget"
_JS_READY = f"""(path) => {{
    const panel = window.jupyterapp && {_CURRENT};
    return Boolean(panel && panel.context && panel.context.path === path && panel.content.widgets.length
                   && panel.sessionContext.session && panel.sessionContext.session.kernel
                   && panel.sessionContext.session.kernel.status === "idle");
}}"""
_JS_IDLE = f"() => {_CURRENT}.sessionContext.session.kernel.status === 'idle'"
_JS_CELLS = f"""() => {_CURRENT}.content.widgets.map((cell, index) => ({{
    index, id: cell.model.id, type: cell.model.type, source: cell.model.sharedModel.getSource(),
    tags: cell.model.getMetadata("tags") || [],
    count: cell.model.type === "code" ? cell.model.executionCount : null,
    outputs: cell.model.type === "code" ? cell.model.outputs.toJSON().map((output) => ({{
        type: output.output_type, ename: output.ename || null, evalue: output.evalue || null,
        mimes: Object.keys(output.data || {{}}),
    }})) : [],
}}))"""
_JS_RUN_ALL = """() => {
    window.__courseRunAll = null;
    window.jupyterapp.commands.execute("notebook:run-all-cells").then(
        () => { window.__courseRunAll = "done"; }, (error) => { window.__courseRunAll = "failed: " + error; });
}"""
_JS_RUN_CELL = f"""async ([index, source]) => {{
    const panel = {_CURRENT};
    const cell = panel.content.widgets[index];
    if (source !== null) cell.model.sharedModel.setSource(source);
    panel.content.activeCellIndex = index;
    await window.jupyterapp.commands.execute("notebook:run-cell");
}}"""
_JS_SCROLL = f"""(page) => {{
    // The element that scrolls the notebook: the nearest scrollable ancestor of its first cell.
    let scroller = {_CURRENT}.content.widgets[0].node;
    while (scroller && !(scroller.scrollHeight > scroller.clientHeight
                         && ["auto", "scroll"].includes(getComputedStyle(scroller).overflowY))) {{
        scroller = scroller.parentElement;
    }}
    if (!scroller) return true;
    scroller.scrollTop = page * scroller.clientHeight * 0.9;
    return scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2;
}}"""
_JS_IMAGES = f"""() => Array.from({_CURRENT}.content.node.querySelectorAll(".jp-OutputArea-output img"))
    .map((img) => img.complete && img.naturalWidth > 0)"""


class Notebook:
    """One notebook open in JupyterLab in its own page, with helpers that wait for conditions rather than sleep."""

    def __init__(self, page: Any, path: str) -> None:
        self.page = page
        self.path = path

    def wait_until_idle(self, timeout_ms: int = KERNEL_TIMEOUT_MS) -> None:
        self.page.wait_for_function(_JS_IDLE, timeout=timeout_ms)

    def cells(self) -> list[dict[str, Any]]:
        """Every cell: index, id, type, source, tags, execution count and outputs (type, ename, evalue, mimes)."""
        return self.page.evaluate(_JS_CELLS)

    def run_all(self) -> list[dict[str, Any]]:
        """Run → Run All Cells, wait until the kernel is idle again, and return :meth:`cells`."""
        self.page.evaluate(_JS_RUN_ALL)
        self.page.wait_for_function("() => window.__courseRunAll !== null", timeout=RUN_ALL_TIMEOUT_MS)
        assert self.page.evaluate("() => window.__courseRunAll") == "done"
        self.wait_until_idle()
        return self.cells()

    def run_cell(self, index: int, source: str | None = None) -> dict[str, Any]:
        """Run one cell (after replacing its source when given), as Ctrl+Enter would, and return it afterwards."""
        self.page.evaluate(_JS_RUN_CELL, [index, source])
        self.wait_until_idle()
        return self.cells()[index]

    def images_loaded(self) -> list[bool]:
        """For every image in the output areas: whether the browser decoded it (a broken image is False)."""
        return self.page.evaluate(_JS_IMAGES)

    def screenshot_pages(self, screenshots: Screenshots, name: str, *, limit: int = 40) -> list[Path]:
        """Screenshots of the notebook from top to bottom, one per screenful: ``<name>-01.png``, ..."""
        paths = []
        for page in range(limit):
            at_end = self.page.evaluate(_JS_SCROLL, page)
            self.page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
            paths.append(screenshots.save(self.page, f"{name}-{page + 1:02d}"))
            if at_end:
                break
        return paths


@pytest.fixture
def open_notebook(lab: Lab, browser: Any) -> Iterator[Any]:
    """``open_notebook("notebooks/04_prediction.ipynb")`` -> a :class:`Notebook` whose kernel is started and idle."""
    contexts = []

    def open_(path: str) -> Notebook:
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(KERNEL_TIMEOUT_MS)
        workspace = f"test-{secrets.token_hex(4)}"
        page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={lab.token}")
        page.wait_for_function(_JS_READY, arg=path, timeout=KERNEL_TIMEOUT_MS)
        return Notebook(page, path)

    try:
        yield open_
    finally:
        for context in contexts:
            context.close()
        lab.shut_down_kernels()
