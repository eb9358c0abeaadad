"""The sandbox alone: a command run by ``sandbox.run`` stays in its folder, sees no secrets, reaches no network and no
other process, and is killed (all of it, nothing else) when it breaks a limit.

On Linux these tests need bubblewrap (``apt-get install bubblewrap``; ``.ci/run`` installs it) and fail without it
rather than skip: grading untrusted notebooks depends on it. Elsewhere only the unsandboxed mode is tested.
"""
from __future__ import annotations

import os
import socket
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from course_utils.settings import PROJECT_ROOT
from course_utils.tools import sandbox
from course_utils.tools.sandbox import Limits

LINUX = sys.platform.startswith("linux")
needs_bwrap = pytest.mark.skipif(not LINUX, reason="bubblewrap sandboxes exist on Linux only")


@pytest.fixture(scope="module", autouse=True)
def bubblewrap_works():
    if LINUX:
        assert sandbox.sandbox_problem() is None, sandbox.sandbox_problem()


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "submission"
    path.mkdir()
    return path


def python(code: str, folder: Path, *, isolate: bool = True, env: dict[str, str] | None = None,
           hide: tuple[Path, ...] = (), **limits: int) -> sandbox.SandboxResult:
    """Run ``code`` with this Python in ``folder`` (small limits unless given)."""
    limits = {"memory_mb": 1024, "processes": 64, "seconds": 30, **limits}
    return sandbox.run([sys.executable, "-c", textwrap.dedent(code)], folder=folder,
                       env=env or {"PATH": "/usr/bin:/bin"}, limits=Limits(**limits), isolate=isolate, hide=hide)


def tree_gone(marker: str) -> bool:
    """No process of this machine has ``marker`` in its command line (the run left nothing behind)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                return False
        except OSError:
            continue
    return True


@pytest.mark.parametrize("isolate", [pytest.param(True, marks=needs_bwrap), False])
def test_an_endless_loop_is_killed_at_the_time_limit(folder, isolate):
    result = python("while True: pass  # endless-loop-marker", folder, isolate=isolate, seconds=2)
    assert (result.limit, result.returncode) == ("time", None)
    assert 2 <= result.seconds < 6
    assert tree_gone("endless-loop-marker")


@pytest.mark.parametrize("isolate", [pytest.param(True, marks=needs_bwrap), False])
def test_processes_that_together_use_too_much_memory_are_all_killed(folder, isolate):
    hog = """\
        import os, time  # memory-hog-marker
        os.fork(); os.fork()
        block = bytearray(300 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1  # resident, not just reserved
        time.sleep(30)
    """
    result = python(hog, folder, isolate=isolate, memory_mb=800)
    assert (result.limit, result.returncode) == ("memory", None)
    assert result.seconds < 20
    time.sleep(0.5)
    assert tree_gone("memory-hog-marker")


@needs_bwrap
def test_one_process_cannot_allocate_past_the_limit_between_two_looks(folder):
    result = python("block = bytearray(3 * 2**30)", folder, memory_mb=1024)
    assert result.limit == "memory" or "MemoryError" in result.output


@needs_bwrap
def test_a_fork_bomb_is_stopped_and_the_others_run_on(folder, tmp_path):
    bomb = """\
        import os  # fork-bomb-marker
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """
    neighbour_folder = tmp_path / "neighbour"
    neighbour_folder.mkdir()
    neighbour: list[sandbox.SandboxResult] = []
    thread = threading.Thread(target=lambda: neighbour.append(
        python("import time; time.sleep(3); print('still here')", neighbour_folder)))
    thread.start()

    result = python(bomb, folder, processes=40)
    thread.join()

    assert (result.limit, result.returncode) == ("processes", None)
    time.sleep(0.5)
    assert tree_gone("fork-bomb-marker")
    assert neighbour[0].returncode == 0 and neighbour[0].output == "still here\n"


@needs_bwrap
def test_no_network_not_even_the_graders_loopback(folder):
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        port = server.getsockname()[1]

        def listen():
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    connection, _ = server.accept()
                except (socket.timeout, OSError):
                    continue
                with connection:
                    received.append(connection.recv(100))

        thread = threading.Thread(target=listen)
        thread.start()
        result = python(f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"answers")
                print("connected")
            except OSError as error:
                print("refused", type(error).__name__)
            try:
                socket.create_connection(("pypi.org", 443), timeout=2)
                print("internet")
            except OSError as error:
                print("no internet", type(error).__name__)
        """, folder)
        thread.join()
    assert received == []
    assert "refused" in result.output and "no internet" in result.output
    assert "connected" not in result.output and "internet\n" not in result.output.replace("no internet", "")


@needs_bwrap
def test_it_cannot_see_or_signal_the_grader(folder):
    result = python(f"""
        import os, signal
        print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
        for pid in (os.getppid(), 1, {os.getpid()}):
            try:
                os.kill(pid, signal.SIGKILL)
                print("killed", pid)
            except OSError as error:
                print("not", pid, type(error).__name__)
    """, folder)
    assert "killed" not in result.output, result.output
    visible = eval(result.output.splitlines()[0])
    assert os.getpid() not in visible and len(visible) <= 4  # bwrap's init, the limits shim's exec, this Python


@pytest.mark.parametrize("isolate", [pytest.param(True, marks=needs_bwrap), False])
def test_the_environment_is_exactly_what_the_caller_passes(folder, monkeypatch, isolate):
    monkeypatch.setenv("COURSE_TEST_TOKEN", "s3cr3t-token")
    result = python("import os; print(sorted(os.environ.items()))", folder, isolate=isolate,
                    env={"PATH": "/usr/bin:/bin", "COURSE_FAST": "1"})
    assert "s3cr3t-token" not in result.output
    env = dict(eval(result.output))
    assert env["COURSE_FAST"] == "1" and Path(env["HOME"]).parent == folder.resolve()
    assert not set(env) - {"PATH", "COURSE_FAST", "HOME", "PWD", "LC_CTYPE"}  # PWD, LC_CTYPE: set by the shell/Python


@needs_bwrap
def test_only_the_folder_is_writable_and_the_project_is_read_only(folder, tmp_path):
    outside = tmp_path / "outside.txt"
    result = python(f"""
        from pathlib import Path
        for target in [{str(PROJECT_ROOT / "x.txt")!r}, {str(outside)!r}, "/tmp/x.txt", "/dev/x", "/dev/shm/x",
                       "/usr/x", {str(Path.home() / "x.txt")!r}, "inside.txt"]:
            try:
                Path(target).write_text("written")
                print("wrote", target)
            except OSError as error:
                print("refused", target, type(error).__name__)
    """, folder)
    wrote = {line.split(" ", 1)[1] for line in result.output.splitlines() if line.startswith("wrote")}
    assert wrote <= {"/tmp/x.txt", "/dev/shm/x", "inside.txt", str(Path.home() / "x.txt")}, result.output
    assert (folder / "inside.txt").read_text() == "written"
    assert not (PROJECT_ROOT / "x.txt").exists() and not outside.exists()
    assert not Path("/tmp/x.txt").exists() and not (Path.home() / "x.txt").exists()  # private tmpfs and home


@needs_bwrap
def test_the_graders_home_is_hidden(folder):
    secret = Path.home() / ".course-sandbox-test-secret"
    secret.write_text("token")
    try:
        result = python(f"print(open({str(secret)!r}).read())", folder)
    finally:
        secret.unlink()
    assert result.returncode != 0 and "token" not in result.output.replace(".course-sandbox-test-secret", "")


def test_only_the_end_of_a_long_output_is_kept(folder):
    result = python("for i in range(100000): print(i)", folder, isolate=LINUX)
    assert result.returncode == 0 and len(result.output.encode()) <= sandbox.OUTPUT_BYTES
    assert result.output.endswith("99998\n99999\n")


@needs_bwrap
def test_solutions_and_hidden_folders_cannot_be_read(folder, tmp_path, monkeypatch):
    others = tmp_path / "class" / "bob"
    others.mkdir(parents=True)
    (others / "03_training.ipynb").write_text("bob's answers")
    monkeypatch.setattr(sandbox, "_MASKED", set())
    sandbox.hide_always([tmp_path / "class"])
    result = python(f"""
        import os
        for folder in [{str(PROJECT_ROOT / "notebooks")!r}, {str(others)!r}]:
            print(folder, os.listdir(folder) if os.path.isdir(folder) else "missing")
    """, folder, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}, hide=(PROJECT_ROOT / "notebooks",))
    assert result.output.splitlines() == [f"{PROJECT_ROOT / 'notebooks'} []", f"{others} missing"]
