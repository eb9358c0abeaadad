"""Run a command where a student's code cannot reach beyond one folder.

(Placeholder: the time limit and bubblewrap's isolation only; the limits on memory and processes come with this
module's full version.) The grader calls ``run(argv, folder=, env=, limits=, isolate=, readonly=, hide=)``:
*readonly* are paths to show read-only although they lie under ``/tmp`` (which is a fresh tmpfs inside), such as a
virtual environment made there; *hide* are paths replaced by an empty tmpfs (the solution notebooks, git history).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 4096
    processes: int = 256
    seconds: int = 600


@dataclass(frozen=True)
class SandboxResult:
    returncode: int | None
    limit: str | None
    seconds: float
    output: str


def sandbox_problem() -> str | None:
    """None when bubblewrap can run here, else why not and how to install it."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`, or grade with --no-sandbox"
    return None


def run(argv: list[str], *, folder: Path, env: dict[str, str], limits: Limits, isolate: bool = True,
        readonly: Sequence[Path] = (), hide: Sequence[Path] = ()) -> SandboxResult:
    """Run *argv* in *folder* with exactly *env*, stopped after ``limits.seconds``."""
    if isolate:
        options = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in readonly:
            options += ["--ro-bind", str(path), str(path)]
        for path in hide:
            options += ["--tmpfs", str(path)]
        options += ["--bind", str(folder), str(folder), "--chdir", str(folder), "--unshare-all", "--die-with-parent",
                    "--new-session", "--clearenv"]
        for name, value in env.items():
            options += ["--setenv", name, value]
        argv = [*options, "--", *argv]
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=limits.seconds)
        limit = None
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        limit = "time"
    return SandboxResult(None if limit else process.returncode, limit, time.monotonic() - started,
                         output.decode("utf-8", "replace")[-4096:])
