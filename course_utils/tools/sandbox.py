"""Run one untrusted command (a student's submission) with limits, and, on Linux, inside a bubblewrap sandbox.

``run(argv, folder=..., env=..., limits=...)`` starts ``argv`` in ``folder`` and returns how it ended. With
``isolate=True`` (the default) the command runs under ``bwrap`` (bubblewrap, Debian/Ubuntu package ``bubblewrap``):

- the whole system, the project included, is visible read-only, except the grader's home folder and the folders
  to ``hide`` (the grader passes the solution notebooks and git history; ``hide_always`` adds the class's folders);
  ``folder`` is the only writable place on disk, ``/tmp`` and ``/dev/shm`` are small private tmpfs mounts, ``/dev``
  holds only the usual character devices;
- its own PID, network, IPC, UTS and cgroup namespaces (and user namespace, unless the grader is root): the network
  has only its own loopback (a server on the grader's 127.0.0.1 is out of reach), and it sees and can signal only
  its own processes;
- exactly the environment the caller passes (plus ``HOME``, a folder inside ``folder``): no instructor tokens;
- no capabilities (as root, the two it needs to become the sandbox's user, which that switch drops), no new
  privileges from setuid programs, a new terminal session (no TIOCSTI into the grader's terminal), killed when the
  grader dies.

When the grader runs as root, the sandbox runs as an unprivileged user id of its own (one per concurrent sandbox,
61000 and up, taken with a lock file so that two graders on one machine do not share one), because the kernel does
not apply the process limit to root; ``folder`` is handed to that user for the run.

Limits (``Limits``): the wall time of the whole run; the memory of all its processes together (a watchdog sums the
anonymous and shared resident memory of the process tree from ``/proc`` ten times a second, and ``RLIMIT_DATA`` stops
one process from allocating more than the whole budget between two looks); the number of processes and threads
(``RLIMIT_NPROC``, set inside the sandbox so that it counts only the sandbox's own tasks: those of its user namespace,
or of its own user id under root; plus the watchdog).
A run that breaks a limit is killed, all of its processes and nothing else, and its result names the limit.

``isolate=False`` runs ``argv`` as a plain child process in its own session, with the same time and memory watchdog:
for machines without bubblewrap (macOS, Windows, some containers). It protects nothing.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CourseError

OUTPUT_BYTES = 4096
"""How much of the end of the command's output ``SandboxResult.output`` keeps."""
POLL_SECONDS = 0.1
"""How often the watchdog looks at the process tree."""
TMPFS_MB = 256
"""Size of the sandbox's private ``/tmp`` and ``/dev/shm`` each (memory the watchdog cannot see in any process)."""
TASK_MARGIN = 8
"""``RLIMIT_NPROC`` is the process limit plus this, so that the watchdog, not a failing fork, usually sees a process
bomb first and can say which limit it broke."""
SANDBOX_UIDS = range(61000, 61000 + 1024)
"""User ids the sandboxes run as when the grader is root: ids of no account of this machine are taken from here."""
_LOCKS = Path(tempfile.gettempdir()) / "course-sandbox-uids"
_STOP = threading.Event()
_MASKED: set[Path] = set()

_LIMITS_THEN_EXEC = """\
import os, resource, sys
for name, value in zip(("RLIMIT_DATA", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CORE"), sys.argv[1:5]):
    resource.setrlimit(getattr(resource, name), (int(value), int(value)))
uid = int(sys.argv[5])
if uid >= 0:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
try:
    os.execvp(sys.argv[6], sys.argv[6:])
except OSError as error:
    print(f"the sandbox's user (id {os.getuid()}) cannot run {sys.argv[6]} ({error.strerror}): make it and the "
          "project readable by all users (chmod o+rX), or grade as an ordinary user", flush=True)
    os._exit(126)
"""
"""Run inside the sandbox, before the command: the kernel's limits, then (as root) the sandbox's own user. Set there,
not on bwrap, the process limit counts only the sandbox's tasks (its user namespace's, or its user id's)."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``processes`` counts threads too, as the kernel does."""

    memory_mb: int = 4096
    """All processes of the submission together."""
    processes: int = 256
    seconds: int = 600
    """Wall time of the whole run."""


@dataclass(frozen=True)
class SandboxResult:
    """How a run ended: the exit code (None when killed for a limit), the limit it broke, its time and last output."""

    returncode: int | None
    limit: str | None
    """``"memory"``, ``"processes"``, ``"time"`` or None (``"stopped"`` after ``stop_all``)."""
    seconds: float
    output: str
    """The last ``OUTPUT_BYTES`` of stdout and stderr together."""
    peak_mb: float = 0.0
    """The most memory the watchdog saw the run's processes use together (MB, anonymous and shared resident)."""


@functools.lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """None when bubblewrap can make a sandbox here; else one line that says why not and what to do."""
    how = "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install bubblewrap`)"
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux with bubblewrap; this is {sys.platform}: grade on Linux, or use --no-sandbox"
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed: {how}, or use --no-sandbox"
    with tempfile.TemporaryDirectory(prefix="course-sandbox-probe-") as folder:
        os.chmod(folder, 0o755)
        result = run([sys.executable, "-c", "import course_utils"], folder=Path(folder),
                     env={"PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
                     limits=Limits(memory_mb=1024, processes=32, seconds=60))
    if result.returncode != 0 and "cannot run" in result.output:
        return " ".join(result.output.split())[-300:]
    if result.returncode != 0:
        said = " ".join(result.output.split())[-200:] or f"exit code {result.returncode}"
        return (f"bubblewrap cannot make a sandbox here ({said}): user namespaces may be off (as root: `sysctl -w "
                "kernel.unprivileged_userns_clone=1 user.max_user_namespaces=10000`; in a container, allow them), "
                "or use --no-sandbox")
    return None


def run(argv: list[str], *, folder: Path, env: dict[str, str], limits: Limits, isolate: bool = True,
        readonly: Sequence[Path] = (), hide: Sequence[Path] = ()) -> SandboxResult:
    """Run ``argv`` in ``folder`` with exactly ``env`` (plus ``HOME`` inside ``folder``) within ``limits``.

    With ``isolate`` it runs in a bubblewrap sandbox (see the module docstring); without, as a plain child process in
    its own session. ``readonly`` are paths the command needs to read wherever they lie (under ``/tmp`` or a hidden
    folder); ``hide`` are folders it must not read (covered by an empty tmpfs), besides those given to ``hide_always``.
    """
    folder = Path(folder).resolve()
    home = Path(env["HOME"]) if folder in Path(env.get("HOME", "/")).parents else folder / ".home"
    home.mkdir(exist_ok=True)
    env = {**env, "HOME": str(home)}
    if not isolate:
        return _watch(argv, limits, cwd=folder, env=env)
    with _sandbox_user() as uid:
        if uid is None:  # an ordinary user: bubblewrap makes a user namespace, in which the process limit counts
            namespaces = ["--unshare-all"]
            capabilities = ["--cap-drop", "ALL"]
        else:  # root: no user namespace (it would map the sandbox to root); the command drops to ``uid`` itself
            namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
            capabilities = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            for path in [folder, *folder.rglob("*")]:
                os.lchown(path, uid, uid)
        tmpfs = ["--size", str(TMPFS_MB * 2**20), "--tmpfs"]
        command = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--remount-ro", "/dev", *tmpfs, "/dev/shm",
                   "--proc", "/proc", *tmpfs, "/tmp"]
        hidden, shown, masked = _hidden_and_shown([*argv, *map(str, readonly)], env, folder, hide)
        for path in hidden:
            command += ["--tmpfs", str(path)]
        for path in shown:
            command += ["--ro-bind", str(path), str(path)]
        for path in masked:
            command += ["--tmpfs", str(path)]
        command += ["--bind", str(folder), str(folder)]
        for path in _made_on_the_way([*hidden, *masked, Path("/tmp")], [*shown, folder]):
            command += ["--chmod", "0755", str(path)]  # bwrap makes them owner-only; the sandbox's user must pass
        command += ["--chdir", str(folder), *namespaces, "--die-with-parent",
                    "--new-session", "--clearenv", *capabilities]
        for key, value in env.items():
            command += ["--setenv", key, value]
        limited = [sys.executable, "-I", "-S", "-c", _LIMITS_THEN_EXEC, str(limits.memory_mb * 2**20),
                   str(limits.processes + TASK_MARGIN), str(limits.memory_mb * 2**20), "0",
                   str(-1 if uid is None else uid), *argv]
        bwrap_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return _watch([*command, "--", *limited], limits, cwd=folder, env=bwrap_env)


def hide_always(folders: list[Path]) -> None:
    """Hide these folders from every later sandbox of this process, besides each run's ``hide``: the class's
    submissions and results, which one student's code must not read (to copy another's answers)."""
    _MASKED.update(Path(folder).resolve() for folder in folders)


def _hidden_and_shown(argv: list[str], env: dict[str, str], folder: Path, hide: Sequence[Path] = (),
                      ) -> tuple[list[Path], list[Path], list[Path]]:
    """Folders to cover with an empty tmpfs, the paths to show again inside them (read-only), and folders to cover
    after that (``hide`` and those given to ``hide_always``).

    Covered, besides ``/tmp``: the grader's home folder (its tokens and keys; the sandbox has a home of its own) and
    every folder that other users may not pass through (``/root``), where the sandbox's user would be stopped anyway.
    Shown again: what the command needs there, namely Python, its ``sys.path``, the project and every absolute path in
    ``argv`` and in ``env`` (``PYTHONPATH``, ``COURSE_DATA_DIR``, ...). Without this, a Python installed under
    ``/root`` (pyenv) or a virtual environment under ``/tmp`` could not run in the sandbox.
    """
    from ..settings import PROJECT_ROOT

    needed = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent,
              PROJECT_ROOT, *(Path(entry) for entry in sys.path if entry)}
    for value in [*argv, *env.values()]:
        needed.update(Path(part) for part in value.split(os.pathsep) if part.startswith("/"))
    # Both the path as named (COURSE_DATA_DIR may run through a symbolic link under /tmp) and where it leads.
    needed = {form for path in needed if path.exists() for form in (path.absolute(), path.resolve())}
    needed = needed - {Path("/"), Path("/tmp")} | {folder}
    hidden = set()
    for path in needed:
        for parent in reversed(path.parents):
            if parent != Path("/") and Path("/tmp") not in (parent, *parent.parents) and not parent.stat().st_mode & 1:
                hidden.add(parent)
                break
    home = Path(os.path.expanduser("~"))
    if home.is_dir() and home != Path("/"):
        hidden.add(home.resolve())
    hidden = {path for path in hidden if not any(other in path.parents for other in hidden)}
    covers = hidden | {Path("/tmp")}  # the sandbox's /tmp is empty too: a virtual environment there is shown again
    shown = {path for path in needed - {folder} if any(cover in (path, *path.parents) for cover in covers)}
    shown = {path for path in shown if not any(other in path.parents for other in shown)}
    masks = {*_MASKED, *(Path(path).resolve() for path in hide)}
    masked = {path for path in masks if path.is_dir()
              and not any(path in (other, *other.parents) for other in needed - {folder})}
    return sorted(hidden), sorted(shown), sorted(masked)


def _made_on_the_way(covers: list[Path], bound: list[Path]) -> list[Path]:
    """The folders bubblewrap makes inside a tmpfs (one of ``covers``) to mount a ``bound`` path there."""
    made = set()
    for path in bound:
        for cover in covers:
            if cover in path.parents:
                made.update(parent for parent in path.parents if cover in parent.parents)
    return sorted(made)


def stop_all() -> None:
    """Kill every run of this process, now and until ``allow_runs`` (the grader was interrupted: Ctrl-C)."""
    _STOP.set()


def allow_runs() -> None:
    """Let runs go on again after ``stop_all`` (once the interrupted ones have ended)."""
    _STOP.clear()


@contextlib.contextmanager
def _sandbox_user() -> Iterator[int | None]:
    """A user id no other sandbox uses now, when running as root (held by a lock file until the run ends); else None:
    an ordinary user's sandbox runs as that user, in a user namespace of its own."""
    if os.geteuid() != 0:
        yield None
        return
    _LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in SANDBOX_UIDS:
        with contextlib.suppress(KeyError):
            pwd.getpwuid(uid)
            continue  # an account of this machine
        handle = os.open(_LOCKS / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        try:
            yield uid
        finally:
            os.close(handle)  # releases the lock
        return
    raise CourseError(f"all {len(SANDBOX_UIDS)} sandbox user ids are in use: run fewer jobs at once")


@dataclass(frozen=True)
class _Task:
    ppid: int
    session: int
    started: int
    threads: int
    zombie: bool


def _tasks() -> dict[int, _Task]:
    """Every process of the machine now, from ``/proc/<pid>/stat``."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # it ended meanwhile
        fields = stat[stat.rfind(b")") + 2:].split()  # after the command name, which may hold spaces
        found[int(entry.name)] = _Task(int(fields[1]), int(fields[3]), int(fields[19]), int(fields[17]),
                                       fields[0] == b"Z")
    return found


def _tree(root: int, session: int | None) -> dict[int, _Task]:
    """``root`` and its descendants (and, given ``session``, every process of that session)."""
    tasks = _tasks()
    children: dict[int, list[int]] = {}
    for pid, task in tasks.items():
        children.setdefault(task.ppid, []).append(pid)
    tree, todo = {}, [root, *(pid for pid, task in tasks.items() if session is not None and task.session == session)]
    while todo:
        pid = todo.pop()
        if pid in tasks and pid not in tree:
            tree[pid] = tasks[pid]
            todo.extend(children.get(pid, ()))
    return tree


def _resident_mb(pids: Iterator[int] | list[int]) -> float:
    """The anonymous and shared-memory resident set of these processes together, in MB (file-backed pages, such as
    Paddle's libraries that every process maps, are not counted: they are shared and can be dropped)."""
    kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", "rb") as handle:
                for line in handle:
                    if line.startswith((b"RssAnon:", b"RssShmem:")):
                        kb += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return kb / 1024


def _watch(command: list[str], limits: Limits, *, cwd: Path, env: dict[str, str], uid: int | None = None,
           ) -> SandboxResult:
    """Start ``command`` in its own session and watch it until it ends or breaks a limit (then kill its tree)."""
    started = time.monotonic()
    as_user = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True, **as_user)
    tail = bytearray()
    reader = threading.Thread(target=_keep_tail, args=(process.stdout, tail), daemon=True)
    reader.start()
    limit, peak = None, 0.0
    while process.poll() is None:
        tree = _tree(process.pid, process.pid)
        resident = _resident_mb(list(tree))
        peak = max(peak, resident)
        if _STOP.is_set():
            limit = "stopped"
        elif time.monotonic() - started > limits.seconds:
            limit = "time"
        elif sum(task.threads for task in tree.values()) > limits.processes:
            limit = "processes"
        elif resident > limits.memory_mb:
            limit = "memory"
        if limit:
            _kill(process, tree)
            break
        time.sleep(POLL_SECONDS)
    process.wait()
    seconds = time.monotonic() - started
    reader.join(timeout=2)  # a process that escaped the session may hold the pipe open: do not wait for it
    output = bytes(tail[-OUTPUT_BYTES:]).decode("utf-8", "replace")
    return SandboxResult(None if limit else process.returncode, limit, seconds, output, peak)


def _keep_tail(stream, tail: bytearray) -> None:
    """Read ``stream`` to its end, keeping only its last ``OUTPUT_BYTES`` (a submission may print gigabytes)."""
    with stream:
        while chunk := stream.read1(65536):
            tail += chunk
            del tail[:-OUTPUT_BYTES]


def _kill(process: subprocess.Popen, tree: dict[int, _Task]) -> None:
    """SIGKILL the command's whole tree and nothing else.

    The command's session (its process group, reserved while the unreaped leader lives) goes first; then every other
    process seen in the tree, each checked to be the same process (its start time) right before. In a sandbox,
    killing bwrap ends its PID namespace and with it every process inside.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for _ in range(50):
        now = _tasks()
        left = [pid for pid, task in tree.items()
                if pid != process.pid and pid in now and now[pid].started == task.started and not now[pid].zombie]
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
