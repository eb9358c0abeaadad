"""What every benchmark part shares: running a measured child process, memory readings, the machine, tables."""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from course_utils.settings import PROJECT_ROOT


def child_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a measured child: this one, with the project importable and fast mode off unless given.

    An override of ``None`` removes the variable.
    """
    env = {key: value for key, value in os.environ.items() if key != "COURSE_FAST"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_child(args: Sequence[str], env: dict[str, str], timeout: float = 3600) -> tuple[dict[str, Any], float]:
    """Run ``args`` from the project root; return the JSON object on its last stdout line and the wall seconds.

    Raises ``RuntimeError`` with the end of the child's stderr if it fails or prints no JSON.
    """
    started = time.perf_counter()
    done = subprocess.run(
        list(args), check=False, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("{"):
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(args)} exited with {done.returncode}:\n{tail}")
    return json.loads(lines[-1]), wall


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux: /proc; elsewhere the peak, the closest available)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """The most resident memory this process has used so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # macOS counts bytes, Linux KiB


def machine() -> dict[str, Any]:
    """The facts that make figures comparable: cores, load average at the time, versions."""
    import numpy
    import paddle

    return {
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu_cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "paddle": paddle.__version__,
        "numpy": numpy.__version__,
    }


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: a title line, then left-aligned columns."""
    cells = [[str(c) for c in header]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([title, *lines])


def print_report(report: Callable[[], str]) -> int:
    """Print what *report* returns and exit 0; a problem the user can fix (``CourseError``: a missing or wrong
    checkpoint) is one ``error:`` line and exit 1 instead of a traceback. For a part's own command line."""
    from course_utils.errors import CourseError

    try:
        print(report())
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
