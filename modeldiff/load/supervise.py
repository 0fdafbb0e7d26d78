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
_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36
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


def set_dumpable(on: bool) -> bool:
    """prctl(PR_SET_DUMPABLE): a non-dumpable process's /proc/<pid>/environ, mem and fd are
    unreadable to other processes of the same user (model code included) and it cannot be
    ptraced. Forks inherit it, execve resets it to dumpable. False where the kernel refuses."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, int(on), 0, 0, 0) == 0
    except Exception:  # noqa: BLE001
        return False


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
                # Its memory is its own to read (/proc/self/mem): nothing of the server's
                # key is in it (wiped in the supervisor), so it may be dumpable again, which
                # lets the parent's final sweep read its environment.
                set_dumpable(True)
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def main() -> int:
    set_dumpable(False)  # the worker (dumpable again after its execve) cannot read us
    return supervise(Path(sys.argv[1]), _spawn_process)


def supervise(request_path: Path, spawn) -> int:
    request = json.loads(request_path.read_text())
    workdir = request_path.parent
    limits = request.get("limits", {})
    timeout = float(request.get("timeout") or 120)
    owner = int(request.get("owner") or 0)  # the run that asked: a load it cannot read is stopped
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
        if now >= next_disk_check:
            next_disk_check = now + _DISK_EVERY
            if disk_limit and tree_bytes(workdir, disk_limit) > disk_limit:
                disk_exceeded = True
                break
            if owner and not _alive(owner):  # the run was killed (SIGKILL): nobody waits for this load
                timed_out = True
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
        "psycopg2",  # the driver a replay connects with (when installed), and its dialect
        "psycopg2.extras",
        "sqlalchemy.dialects.postgresql.psycopg2",
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


KEY_BYTES = 32  # the fork server's secret
REQUEST_LIMIT = 256 * 2**20  # largest request (the manifest of a huge import root is a few MB)


def _fork_supervisor(request_path: str, close: list[int], wipe: list[bytearray]) -> int:
    """Fork a supervisor for one request, in a session of its own; its pid, returned once
    it leads that session. (Answered before, a client that stops the load at once, a
    Ctrl-C while the server was starting, found no such process group to kill, and the
    load ran on to its time limit: 120 s.)"""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for secret in wipe:  # the worker is forked from this memory
                secret[:] = bytes(len(secret))
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # it waits for its own worker
            os.setsid()
            os.close(ready_read)
            os.close(ready_write)  # the server's read returns: the group exists
            for fd in close:  # the server's protocol channels are not ours
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            code = supervise(Path(request_path), _spawn_fork)
        finally:
            os._exit(code)
    os.close(ready_write)
    try:
        os.read(ready_read, 1)  # end of file once the child has called setsid (or died)
    finally:
        os.close(ready_read)
    return pid


def _write_key(directory: str) -> bytearray:
    """A random key for this server, written to DIRECTORY/key (0600). A bytearray, filled
    and written in place, so that no copy of it lingers in memory the worker inherits."""
    key = bytearray(KEY_BYTES)
    with open("/dev/urandom", "rb", buffering=0) as source:
        source.readinto(key)
    tmp = os.path.join(directory, "key.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(directory, "key"))
    return key


def _read_request(conn, key: bytearray) -> bytes | None:
    """The request after the key, or None when the key is wrong (checked in constant time;
    what was received of it is wiped)."""
    import hmac

    given = bytearray(KEY_BYTES)
    view, got = memoryview(given), 0
    try:
        while got < KEY_BYTES:
            n = conn.recv_into(view[got:])
            if not n:
                break
            got += n
        ok = got == KEY_BYTES and hmac.compare_digest(given, key)
    finally:
        view.release()
        given[:] = bytes(KEY_BYTES)
    if not ok:
        return None
    chunks, total = [], 0
    while total <= REQUEST_LIMIT:
        chunk = conn.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    return None


def _new_workdir(body: bytes) -> tuple[str, str]:
    """A new private directory this server creates for the load in the request's scratch
    directory (never an existing one named by the request), with the request in it;
    (request path, directory)."""
    import tempfile

    request = json.loads(body)
    workdir = tempfile.mkdtemp(prefix=f"modeldiff-load-{int(request.get('owner', 0))}-", dir=request["scratch"])
    request["workdir"] = workdir
    env = request.setdefault("env", {})
    env["HOME"] = env["TMPDIR"] = workdir
    request_path = os.path.join(workdir, "request.json")
    with open(request_path, "w") as handle:
        json.dump(request, handle)
    return request_path, workdir


class socket_address:
    """`directory`'s `sock` as an address a unix socket accepts whatever the directory's
    length (108 bytes at most; a long cache path, pytest's temp tree): the path through a
    descriptor of the directory, /proc/self/fd/N/sock. A context manager (closes N)."""

    def __init__(self, directory) -> None:
        self._fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def __enter__(self) -> str:
        return f"/proc/self/fd/{self._fd}/sock"

    def __exit__(self, *exc) -> None:
        os.close(self._fd)


def serve_socket(directory: str, idle: float, owner: int = 0) -> int:
    """Fork server: `supervise.py --serve-socket DIR IDLE [OWNER]`. DIR (0700; loads cannot
    read it, see sandbox.landlock) holds its socket `sock` (0600) and its key `key` (0600,
    random for each server, written before the socket exists). Each connection sends the key
    followed by a load request (JSON, up to end of input) and gets "PID WORKDIR": the
    supervisor forked for it (which forks the worker) and the private directory created for
    it in the request's scratch directory. A connection without the key gets nothing. Leaves once nothing has
    connected for IDLE seconds and its supervisors are done, when its socket is removed, or
    when told `quit` (with the key), or when OWNER (the run it serves alone) has gone, then
    removing DIR; then waits for its supervisors and kills whatever is left below it."""
    import socket

    set_dumpable(False)  # its environ, memory (the key) and fds are not for model code
    preload()
    _subreaper()
    supervisors: set[int] = set()

    signal.signal(signal.SIGCHLD, lambda *_: _reap(supervisors))
    key = _write_key(directory)
    path = os.path.join(directory, "sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mask = os.umask(0o177)
    try:
        if os.path.exists(path):
            os.unlink(path)
        with socket_address(directory) as address:
            listener.bind(address)
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
                if owner and os.getppid() != owner:  # the run was killed: nobody will ask again
                    break
                continue
            with conn:
                conn.settimeout(5)
                try:
                    body = _read_request(conn, key)
                except OSError:
                    continue
                if body is None:
                    continue  # not from modeldiff: no answer
                last_used = time.monotonic()
                if body == b"quit":
                    conn.sendall(b"0\n")
                    break
                try:
                    request_path, workdir = _new_workdir(body)
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    conn.sendall(f"error {type(exc).__name__}: {exc}\n".encode())
                    continue
                pid = _fork_supervisor(request_path, [listener.fileno(), conn.fileno()], [key])
                supervisors.add(pid)
                try:
                    conn.sendall(f"{pid} {workdir}\n".encode())
                except OSError:
                    pass
    finally:
        listener.close()
        try:
            if os.stat(path).st_ino == identity:
                os.unlink(path)
                os.unlink(os.path.join(directory, "key"))
                if owner and os.getppid() != owner:
                    os.unlink(os.path.join(directory, "lock"))
                    os.rmdir(directory)
        except OSError:
            pass
        key[:] = bytes(KEY_BYTES)
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
        sys.exit(serve_socket(sys.argv[2], float(sys.argv[3]), int((sys.argv[4:] or [0])[0])))
    sys.exit(main())
