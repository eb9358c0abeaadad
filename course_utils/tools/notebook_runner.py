"""The one way the course's tools run a notebook: cell by cell in a fresh Jupyter kernel that uses this very Python.

``notebook_build`` runs solution notebooks to store their outputs and student notebooks to test them; the grader's
inner runner (``grade_runner``) runs submissions inside the sandbox. All three go through :class:`NotebookRunner`,
which starts the kernel in the notebook's folder, runs one cell at a time (the caller decides which cells, with which
sources), keeps an overall time limit, and turns the ways a cell can end into three answers: it ran, it raised (a
:class:`CellError` with the exception's name and text), or the run cannot go on (:class:`Stopped`: the time is up or
the kernel died).
"""
from __future__ import annotations

import math
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from traitlets import default

KERNEL_NAME = "python3"


class Stopped(Exception):
    """The notebook cannot go on: its time limit ran out, or its kernel died."""


@dataclass(frozen=True)
class CellError:
    """A cell raised: the exception's class name and its first line."""

    ename: str
    evalue: str

    def __str__(self) -> str:
        return f"{self.ename}: {self.evalue}" if self.evalue else self.ename


class _CurrentPythonKernelManager(AsyncKernelManager):
    """Starts the ``python3`` kernel with this very interpreter (as ``nbval --nbval-current-env`` does), whatever
    kernelspecs are installed, so notebooks run with the packages of the environment that runs the tool."""

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[], ensure_native_kernel=True)


class NotebookRunner:
    """A kernel for *nb* working in *folder*; use as ``with NotebookRunner(...) as runner: runner.run(cell, i)``.

    *env* is the kernel's whole environment (None: this process's). *timeout* is in seconds, for the whole run from
    the kernel's start. *quiet* sends the kernel's own log lines (not the notebook's output) to nowhere.
    """

    def __init__(self, nb: NotebookNode, folder: Path, *, timeout: float, env: dict[str, str] | None = None,
                 quiet: bool = False) -> None:
        self._client = NotebookClient(
            nb,
            kernel_name=KERNEL_NAME,
            kernel_manager_class=_CurrentPythonKernelManager,
            timeout=max(1, math.ceil(timeout)),
            record_timing=False,
            coalesce_streams=True,  # also applies \r, so a progress bar is stored as its final line
            store_widget_state=False,
            shutdown_kernel="immediate",  # a kernel stuck in a loop cannot answer a polite request
            resources={"metadata": {"path": str(folder)}},  # the kernel's working directory
        )
        self._client.shell_timeout_interval = 1  # how often the time limit is looked at, in seconds
        self._env, self._quiet, self._timeout = env, quiet, timeout
        self._deadline = math.inf
        self._setup = None

    def __enter__(self) -> NotebookRunner:
        options = {"stderr": subprocess.DEVNULL} if self._quiet else {}
        env = dict(os.environ) if self._env is None else self._env
        self._setup = self._client.setup_kernel(env=env, **options)
        self._setup.__enter__()
        self._deadline = time.monotonic() + self._timeout  # from the kernel's start: how fast it starts is not the cells'
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        assert self._setup is not None
        self._setup.__exit__(kind, error, traceback)

    def run(self, cell: NotebookNode, index: int) -> CellError | None:
        """Run *cell* (its outputs are replaced), and return its error, if it raised."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise Stopped(f"超时 timed out: 超过 {self._timeout:.0f} s 的时限, before cell {index}")
        self._client.timeout = max(1, math.ceil(remaining))
        try:
            self._client.execute_cell(cell, index)
        except CellExecutionError as error:
            lines = (error.evalue or "").strip().splitlines()
            return CellError(error.ename, lines[0] if lines else "")
        except CellTimeoutError:
            raise Stopped(f"超时 timed out: 超过 {self._timeout:.0f} s 的时限, in cell {index}") from None
        except DeadKernelError:
            raise Stopped(f"内核崩溃 the kernel died in cell {index}") from None
        return None
