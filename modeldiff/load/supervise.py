"""Supervisor of one loader child (standard library only; any Python 3.9+).

    python -s supervise.py REQUEST.json

Started by the parent in its own session. It makes itself a child subreaper (Linux), so
that every process model code manages to start, even a daemon that double-forked and called
`setsid`, stays its descendant; runs `child.py` with the time limit, reads its output (a
bounded head and tail go to `output.log`; more than the limit ends the child); and when the
child is done, or killed, kills every descendant still alive. It writes `status.json`:

    {"returncode", "timed_out", "output_exceeded", "output_bytes", "disk_exceeded",
     "strays", "seconds"}
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = Path(__file__).with_name("child.py")
_PR_SET_CHILD_SUBREAPER = 36
_KEEP = 16 * 1024  # bytes of output kept from the start and from the end
_DISK_EVERY = 0.1  # seconds between two looks at how much the child wrote


def tree_bytes(root: Path, limit: int) -> int:
    """Bytes allocated under `root` (as du counts them: sparse files cost nothing), stopping
    early once past `limit`."""
    total, stack = 0, [str(root)]
    while stack and total <= limit:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        pass
        except OSError:
            pass
    return total


def _subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except Exception:  # noqa: BLE001
        return False


def descendants(root: int) -> set[int]:
    """Live (non-zombie) descendants of `root`, from /proc."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) < 2 or fields[0] == b"Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def _reap(forget: set[int] | None = None) -> None:
    """Collect every finished child; their pids leave `forget`, if given."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if forget is not None:
            forget.discard(pid)


def kill_all(exclude: set[int]) -> int:
    """SIGKILL every descendant until none is left; how many there were besides `exclude`."""
    seen: set[int] = set()
    for _ in range(200):
        alive = descendants(os.getpid())
        if not alive:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGSTOP)  # a forking process cannot outrun us
            except OSError:
                pass
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        seen |= alive
        _reap()
        time.sleep(0.005)
    _reap()
    return len(seen - exclude)


class ForkedWorker:
    """The worker as a fork of this (preloaded) process, with the parts of Popen's interface
    `supervise` uses. It runs child.py's main in-process: the libraries the fork server
    imported once are already there."""

    def __init__(self, request_path: Path, workdir: Path, confine, env: dict) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                os.close(read_end)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(write_end, 1)
                os.dup2(write_end, 2)
                os.chdir(workdir)
                os.environ.clear()
                os.environ.update(env)
                confine()
                from modeldiff.load import child

                child.main(request_path)  # ends the process
            finally:
                os._exit(70)
        os.close(write_end)
        self.pid = pid
        self.stdout = os.fdopen(read_end, "rb", buffering=0)
        self.returncode: int | None = None

    def _status(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:
                self.returncode = 0  # reaped elsewhere, as Popen assumes
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._status(os.WNOHANG)

    def wait(self) -> int:
        return self._status(0)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


def _spawn_process(request_path: Path, workdir: Path, confine, request: dict):
    return subprocess.Popen(
        [sys.executable, "-s", str(CHILD), str(request_path)],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=confine,
    )


def _spawn_fork(request_path: Path, workdir: Path, confine, request: dict):
    return ForkedWorker(request_path, workdir, confine, request["env"])


def main() -> int:
    return supervise(Path(sys.argv[1]), _spawn_process)


def supervise(request_path: Path, spawn) -> int:
    request = json.loads(request_path.read_text())
    workdir = request_path.parent
    limits = request.get("limits", {})
    timeout = float(request.get("timeout") or 120)
    output_limit = int(limits.get("output_bytes", 4 * 2**20))
    disk_limit = int(limits.get("disk_bytes", 0))
    memory = int(limits.get("memory_bytes", 0))
    reaper = _subreaper()

    def confine() -> None:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    started = time.monotonic()
    worker = spawn(request_path, workdir, confine, request)
    head, tail, total = bytearray(), bytearray(), 0
    timed_out = exceeded = disk_exceeded = False
    next_disk_check = started + _DISK_EVERY
    selector = selectors.DefaultSelector()
    selector.register(worker.stdout, selectors.EVENT_READ)
    fd = worker.stdout.fileno()
    os.set_blocking(fd, False)
    open_pipe = True
    while worker.poll() is None:
        now = time.monotonic()
        remaining = started + timeout - now
        if remaining <= 0:
            timed_out = True
            break
        if disk_limit and now >= next_disk_check:
            next_disk_check = now + _DISK_EVERY
            if tree_bytes(workdir, disk_limit) > disk_limit:
                disk_exceeded = True
                break
        if not open_pipe:
            # Usually the worker has just exited and closed the pipe: look again soon.
            time.sleep(min(0.005, remaining))
            continue
        for _key, _ in selector.select(timeout=min(_DISK_EVERY, remaining)):
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                open_pipe = False
                selector.unregister(worker.stdout)
                break
            total += len(chunk)
            if len(head) < _KEEP:
                head += chunk[: _KEEP - len(head)]
            tail = (tail + chunk)[-_KEEP:]
        if total > output_limit:
            exceeded = True
            break
    # Whatever is still buffered (without waiting: a stray may hold the pipe open).
    if open_pipe:
        try:
            while total <= output_limit:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                tail = (tail + chunk)[-_KEEP:]
        except (BlockingIOError, OSError):
            pass
    worker_done = worker.poll() is not None
    if worker_done and reaper:
        # A helper ending on its own (it saw its input close) is not a stray: a moment's grace.
        grace = time.monotonic() + 0.5
        while descendants(os.getpid()) and time.monotonic() < grace:
            _reap()
            time.sleep(0.02)
    if not worker_done:
        try:
            worker.kill()
        except OSError:
            pass
    strays = kill_all(exclude=set() if worker_done else {worker.pid}) if reaper else 0
    if not reaper:  # no subreaper: at least the worker's own process group
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except OSError:
            pass
    worker.wait()
    worker.stdout.close()
    log = bytes(head) + (b"\n[...]\n" + bytes(tail) if total > len(head) else b"")
    (workdir / "output.log").write_bytes(log)
    status = {
        "returncode": worker.returncode,
        "timed_out": timed_out,
        "output_exceeded": exceeded,
        "disk_exceeded": disk_exceeded,
        "output_bytes": total,
        "strays": strays,
        "subreaper": reaper,
        "seconds": round(time.monotonic() - started, 3),
    }
    tmp = workdir / "status.tmp"
    tmp.write_text(json.dumps(status))
    tmp.replace(workdir / "status.json")
    return 0


def preload() -> None:
    """What every load imports anyway: SQLAlchemy (and Flask-SQLAlchemy where installed)
    and our child-side modules. Libraries only: no repository code ever runs here."""
    import importlib

    for name in (
        "sqlalchemy",
        "sqlalchemy.orm",
        "sqlalchemy.ext.declarative",
        "sqlalchemy.dialects.postgresql",
        "sqlalchemy.dialects.mysql",
        "sqlalchemy.dialects.sqlite",
        "flask_sqlalchemy",
        # For migration replays (modeldiff.replay.child): alembic's runtime and operations.
        "alembic.config",
        "alembic.script",
        "alembic.runtime.environment",
        "alembic.runtime.migration",
        "alembic.operations",
        "alembic.ddl.postgresql",
    ):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an interpreter without it imports per load, as before
            pass
    # Our child-side modules, as child.py's own bootstrap makes them importable: without the
    # parent side of the package (GitPython) and without our checkout on sys.path.
    import importlib.util
    import types

    for name, path in (("modeldiff", CHILD.parent.parent), ("modeldiff.load", CHILD.parent)):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(path)]  # type: ignore[attr-defined]
            sys.modules[name] = package
    spec = importlib.util.spec_from_file_location("modeldiff.load.child", CHILD)
    child = importlib.util.module_from_spec(spec)
    sys.modules["modeldiff.load.child"] = child
    spec.loader.exec_module(child)
    child._bootstrap()


def _fork_supervisor(request_path: str, close: list[int]) -> int:
    """Fork a supervisor for one request, in a session of its own; its pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # it waits for its own worker
            os.setsid()
            for fd in close:  # the server's protocol channels are not ours
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            code = supervise(Path(request_path), _spawn_fork)
        finally:
            os._exit(code)
    return pid


def serve_socket(path: str, idle: float) -> int:
    """Fork server: `supervise.py --serve-socket PATH IDLE`. Each connection to the unix
    socket PATH (mode 0600) sends one request path and gets the pid of the supervisor forked
    for it (which forks the worker). Leaves once nothing has connected for IDLE seconds and
    its supervisors are done, when its socket is removed, or when told `quit`; then waits for
    its supervisors and kills whatever is left below it."""
    import socket

    preload()
    _subreaper()
    supervisors: set[int] = set()

    signal.signal(signal.SIGCHLD, lambda *_: _reap(supervisors))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mask = os.umask(0o177)
    try:
        if os.path.exists(path):
            os.unlink(path)
        listener.bind(path)
    finally:
        os.umask(mask)
    identity = os.stat(path).st_ino
    listener.listen(16)
    listener.settimeout(1.0)
    last_used = time.monotonic()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                _kill_orphans(supervisors)
                try:
                    mine = os.stat(path).st_ino == identity
                except OSError:
                    mine = False
                if not mine or (not supervisors and time.monotonic() - last_used > idle):
                    break
                continue
            last_used = time.monotonic()
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while not data.endswith(b"\n"):
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    continue
                request_path = data.decode(errors="replace").strip()
                if request_path == "quit":  # request paths are absolute: no clash
                    conn.sendall(b"0\n")
                    break
                if not request_path:
                    continue
                pid = _fork_supervisor(request_path, [listener.fileno(), conn.fileno()])
                supervisors.add(pid)
                try:
                    conn.sendall(f"{pid}\n".encode())
                except OSError:
                    pass
    finally:
        listener.close()
        try:
            if os.stat(path).st_ino == identity:
                os.unlink(path)
        except OSError:
            pass
    return _finish()


def _kill_orphans(supervisors: set[int]) -> None:
    """Processes re-parented to the server (a supervisor was killed from outside before it
    could clean up) are the leftovers of a load: they go, with everything below them."""
    me = os.getpid()
    for pid in descendants(me):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == me and pid not in supervisors:
            for victim in descendants(pid) | {pid}:
                try:
                    os.kill(victim, signal.SIGKILL)
                except OSError:
                    pass
    # (the SIGCHLD handler reaps them and the supervisors, keeping `supervisors` current)
    for pid in list(supervisors):
        if not os.path.exists(f"/proc/{pid}"):
            supervisors.discard(pid)


def _finish() -> int:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    kill_all(exclude=set())
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-socket"]:
        sys.exit(serve_socket(sys.argv[2], float(sys.argv[3])))
    sys.exit(main())
