"""Installing next to an existing Paddle, the one-line message when Paddle is missing or too old, Python 3.10.

The pip tests resolve offline and in seconds: the project's requirements (read from pyproject.toml) become a
metadata-only wheel, every requirement a metadata-only wheel in a local folder, and ``pip install --dry-run --report``
runs with ``--no-index`` and no pip configuration against a throwaway virtual environment whose ``paddlepaddle-gpu``
is such a dummy too, as on AI Studio.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import course_utils
from course_utils.errors import CourseError
from course_utils.paddle_check import PaddleNotReady, paddle_problem
from course_utils.settings import PROJECT_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # AI Studio's Python 3.10: pip carries the same parser
    from pip._vendor import tomli as tomllib

CPU_HINT = 'pip install "paddlepaddle>=3.0,<4"'
GPU_HINT = "paddlepaddle-gpu 3.x for your CUDA version"


# --- the install layout -----------------------------------------------------------------------------------------------


def wheel_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_wheel(
    folder: Path, name: str, version: str, requires: Sequence[str] = (), extras: Sequence[str] = ()
) -> Path:
    """A wheel that holds only metadata: enough for pip to resolve it."""
    info = f"{wheel_name(name)}-{version}.dist-info"
    files = {
        f"{info}/METADATA": "".join(
            ["Metadata-Version: 2.1\n", f"Name: {name}\n", f"Version: {version}\n"]
            + [f"Provides-Extra: {extra}\n" for extra in extras]
            + [f"Requires-Dist: {requirement}\n" for requirement in requires]
        ),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    path = folder / f"{wheel_name(name)}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
        wheel.writestr(f"{info}/RECORD", "".join(f"{member},,\n" for member in [*files, f"{info}/RECORD"]))
    return path


def satisfying_version(requirement: Requirement) -> str:
    """A version that ``requirement`` accepts, for its dummy."""
    candidates = [spec.version for spec in requirement.specifier] + ["1.0", "99.0"]
    return next(v for v in candidates if requirement.specifier.contains(v, prereleases=True))


@pytest.fixture(scope="module")
def project() -> dict:
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, project: dict) -> Path:
    """A local folder of dummy wheels: every requirement of the project, and three releases of paddlepaddle."""
    folder = tmp_path_factory.mktemp("wheels")
    requirements = [Requirement(r) for r in project["dependencies"]]
    requirements += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    made = {"course-utils", "paddlepaddle"}
    for requirement in requirements:
        if canonicalize_name(requirement.name) not in made:
            made.add(canonicalize_name(requirement.name))
            metadata_wheel(folder, requirement.name, satisfying_version(requirement))
    for version in ("2.6.2", "3.3.1", "4.0.0"):
        metadata_wheel(folder, "paddlepaddle", version)
    return folder


@pytest.fixture(scope="module")
def gpu_machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a throwaway virtual environment with ``paddlepaddle-gpu`` 3.3.1 installed (a dummy)."""
    venv = tmp_path_factory.mktemp("gpu") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    info = Path(purelib) / "paddlepaddle_gpu-3.3.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: paddlepaddle-gpu\nVersion: 3.3.1\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")
    (Path(purelib) / "paddle").mkdir()
    (Path(purelib) / "paddle" / "__init__.py").write_text("")
    return python


def selected(
    python: Path, index: Path, project: dict, extras: str, tmp_path: Path, dependencies: list[str] | None = None
) -> dict:
    """What ``pip install course_utils[extras]`` would install into ``python``'s environment: name -> version.

    ``dependencies`` replaces the project's own, to show what another layout would do.
    """
    requires = list(project["dependencies"] if dependencies is None else dependencies)
    for extra, requirements in project["optional-dependencies"].items():
        assert all(";" not in r for r in requirements)
        requires += [f'{r}; extra == "{extra}"' for r in requirements]
    extras_declared = list(project["optional-dependencies"])
    wheel = metadata_wheel(tmp_path, project["name"], course_utils.__version__, requires, extras_declared)
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the throwaway environment sees nothing else
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--dry-run", "--quiet", "--no-index",
         "--find-links", str(index), "--report", str(report), f"{wheel}{extras}"],
        check=True, env=env, cwd=tmp_path, timeout=300,
    )
    chosen = json.loads(report.read_text())["install"]
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in chosen}


def test_installing_the_project_leaves_an_installed_paddlepaddle_gpu_alone(gpu_machine, index, project, tmp_path):
    install = selected(gpu_machine, index, project, "", tmp_path)
    assert "course-utils" in install and "numpy" in install
    assert "paddlepaddle" not in install and "paddlepaddle-gpu" not in install


def test_the_old_hard_dependency_would_have_put_the_cpu_build_on_top(gpu_machine, index, project, tmp_path):
    """The same check with ``paddlepaddle`` back among the dependencies: so the test above can fail."""
    install = selected(
        gpu_machine, index, project, "", tmp_path, dependencies=["paddlepaddle>=3.0,<4", *project["dependencies"]]
    )
    assert install["paddlepaddle"] == "3.3.1"


@pytest.mark.parametrize("extras", ["[cpu]", "[dev]"])
def test_the_cpu_and_dev_extras_bring_paddle_3_to_a_fresh_machine(gpu_machine, index, project, tmp_path, extras):
    install = selected(gpu_machine, index, project, extras, tmp_path)
    assert install["paddlepaddle"] == "3.3.1"  # the newest 3.x, neither 2.6.2 nor 4.0.0
    if extras == "[dev]":
        assert {"pytest", "nbval", "vermin", "onnxruntime", "jupyter-book"} <= set(install)


# --- a missing or too old Paddle ------------------------------------------------------------------------------------


def fake_paddle(folder: Path, version: str, *, metadata: bool = True, version_file: bool = True) -> Path:
    """``folder`` holding a ``paddle`` package of ``version`` that fails if it is ever imported."""
    package = folder / "paddle"
    (package / "version").mkdir(parents=True)
    (package / "__init__.py").write_text("raise AssertionError('the version check imported paddle')\n")
    if version_file:
        (package / "version" / "__init__.py").write_text(f"full_version     = '{version}'\nmajor = '{version[0]}'\n")
    if metadata:
        info = folder / f"paddlepaddle-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: paddlepaddle\nVersion: {version}\n")
    return folder


@pytest.mark.parametrize(
    ("version", "where", "problem"),
    [
        ("2.6.2", {}, "PaddlePaddle 2.6.2 is installed, but this course needs 3.0 or newer"),
        ("2.6.2", {"metadata": False}, "PaddlePaddle 2.6.2 is installed, but"),
        ("1.8.5", {"version_file": False}, "PaddlePaddle 1.8.5 is installed, but"),
        ("3.0.0rc1", {}, None),
        ("3.3.1", {"version_file": False}, None),
        ("0.0.0", {}, None),  # a development build
    ],
)
def test_paddle_problem_reads_the_version_without_importing_paddle(tmp_path, version, where, problem):
    found = paddle_problem([str(fake_paddle(tmp_path, version, **where))])
    if problem is None:
        assert found is None
    else:
        assert found.startswith(problem) and CPU_HINT in found and GPU_HINT in found and "\n" not in found


def test_paddle_problem_when_paddle_is_missing(tmp_path):
    found = paddle_problem([str(tmp_path)])
    assert found.startswith("PaddlePaddle is not installed: on a CPU machine run") and CPU_HINT in found


def run(args: list[str], pythonpath: str | None) -> subprocess.CompletedProcess:
    """``python args`` in the project folder; ``pythonpath`` None means no site-packages at all (``-S``): no Paddle."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    prefix = [sys.executable, "-S"] if pythonpath is None else [sys.executable]
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, str(PROJECT_ROOT)])
    return subprocess.run([*prefix, *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120)


NOTEBOOK_IMPORT = """
from course_utils.errors import CourseError
try:
    from course_utils.models import build_model
except CourseError as error:
    print(type(error).__name__, isinstance(error, ImportError), str(error), sep="|")
"""


@pytest.mark.parametrize("paddle", ["missing", "2.6.2"])
def test_importing_a_paddle_module_raises_one_line_course_error(tmp_path, paddle):
    done = run(["-c", NOTEBOOK_IMPORT], None if paddle == "missing" else str(fake_paddle(tmp_path, paddle)))
    assert done.returncode == 0, done.stderr[-2000:]
    name, is_import_error, message = done.stdout.rstrip("\n").split("|")
    assert (name, is_import_error) == ("PaddleNotReady", "True")
    start = "PaddlePaddle is not installed" if paddle == "missing" else "PaddlePaddle 2.6.2 is installed, but"
    assert message.startswith(start) and CPU_HINT in message and GPU_HINT in message


@pytest.mark.parametrize("paddle", ["missing", "2.6.2"])
def test_the_command_line_says_it_in_one_line_without_traceback(tmp_path, paddle):
    done = run(["-m", "course_utils", "train"], None if paddle == "missing" else str(fake_paddle(tmp_path, paddle)))
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: PaddlePaddle ")
    assert CPU_HINT in done.stderr and GPU_HINT in done.stderr and "Traceback" not in done.stderr


def test_both_builds_installed_is_warned_about(tmp_path):
    folder = fake_paddle(tmp_path, "3.3.1")
    (folder / "paddle" / "__init__.py").write_text("")
    gpu = folder / "paddlepaddle_gpu-3.3.1.dist-info"
    gpu.mkdir()
    (gpu / "METADATA").write_text("Metadata-Version: 2.1\nName: paddlepaddle-gpu\nVersion: 3.3.1\n")
    done = run(["-c", "import course_utils, paddle"], str(folder))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "both paddlepaddle (CPU) and paddlepaddle-gpu are installed" in done.stderr
    (gpu / "METADATA").unlink()
    gpu.rmdir()
    assert "both paddlepaddle" not in run(["-c", "import course_utils, paddle"], str(folder)).stderr


def test_paddle_not_ready_is_a_course_error_and_an_import_error():
    assert issubclass(PaddleNotReady, CourseError) and issubclass(PaddleNotReady, ImportError)


# --- Python 3.10 (AI Studio) ----------------------------------------------------------------------------------------


def vermin(*paths: str) -> subprocess.CompletedProcess:
    script = Path(sysconfig.get_path("scripts")) / "vermin"
    return subprocess.run(
        [str(script), "-t=3.10-", "--no-tips", "--violations", "--eval-annotations", *paths],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )


def test_the_code_stays_python_3_10_compatible():
    done = vermin("course_utils", "benchmarks", "tests", "tools", "conftest.py")
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_3_10_check_catches_what_3_10_lacks(tmp_path):
    samples = {
        "tomllib.py": "import tomllib\n",
        "except_star.py": "try:\n    pass\nexcept* ValueError:\n    pass\n",
        "self_type.py": "from typing import Self\n",
        "utc.py": "import datetime\nprint(datetime.UTC)\n",
    }
    for name, code in samples.items():
        (tmp_path / name).write_text(code)
        done = vermin(str(tmp_path / name))
        assert done.returncode != 0 and "requires !2, 3.11" in done.stdout, (name, done.stdout)
