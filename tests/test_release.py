"""The release is written once (course_utils.__version__) and every place that shows it agrees; the lower bounds in
pyproject.toml are the versions constraints/oldest.txt pins (the ones .ci/run tests)."""
from __future__ import annotations

import re
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import course_utils
from course_utils.settings import PROJECT_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # AI Studio's Python 3.10: pip carries the same parser
    from pip._vendor import tomli as tomllib

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
TESTED_EXTRAS = ("cpu", "fast", "test")
"""The extras .ci/run installs with constraints/oldest.txt."""


def test_the_command_line_and_pyproject_show_the_one_version():
    done = subprocess.run([sys.executable, "-m", "course_utils", "--version"], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"course_utils {course_utils.__version__}"
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "course_utils.__version__"}


def test_the_changelog_describes_this_release_first():
    changelog = (PROJECT_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert releases and releases[0] == course_utils.__version__, releases


def _pins(path: str) -> dict[str, Version]:
    pins = {}
    for line in (PROJECT_ROOT / path).read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, _, version = requirement.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_the_oldest_constraints_pin_exactly_the_lower_bounds():
    project = PYPROJECT["project"]
    requirements = [*project["dependencies"]]
    requirements += [r for extra in TESTED_EXTRAS for r in project["optional-dependencies"][extra]]
    bounds = {}
    for text in requirements:
        requirement = Requirement(text)
        lower = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        if lower:
            bounds[canonicalize_name(requirement.name)] = lower[0]
    assert bounds == _pins("constraints/oldest.txt")


def test_the_tested_set_pins_every_dependency_within_its_bounds():
    tested = _pins("constraints/tested.txt")
    project = PYPROJECT["project"]
    for text in [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == "course-utils":
            continue
        assert canonicalize_name(requirement.name) in tested, f"{requirement.name} is missing from tested.txt"
        assert tested[canonicalize_name(requirement.name)] in requirement.specifier, requirement
