"""Stage 2, load: one ref's model sources -> its schema, imported in a child process.

The parent side only prepares the request (a manifest of the ref's files under the import
root), runs `supervise.py` -> `child.py` with a time limit in a scrubbed environment and a
private temp directory, and reads back JSON. Each ref gets its own processes, so two refs
never share `sys.modules`, and no repository code ever runs in this process.

Containment of model code (see `sandbox.py` and `supervise.py`): no inherited environment,
writes only inside the private directory (Landlock where the kernel has it, an audit hook
everywhere), no sockets and no processes (seccomp; the audit hook makes an attempt a clear
error), no view of other processes (Landlock over /proc; this process, the supervisors and
the fork server are non-dumpable), no database connections, bounded time, output, file
size and memory; every process it manages to leave behind is killed, and the private
directory is removed whatever happened.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import settings
from ..values import Warning
from .schema_packages import stubbed_schema_packages
from ..source.repository import Snapshot
from ..db.tempdirs import scratch_base

SUPERVISOR = Path(__file__).with_name("supervise.py")
FILE_LIMIT = 64 * 1024 * 1024  # largest file model code may write (RLIMIT_FSIZE)
OUTPUT_LIMIT = 4 * 1024 * 1024  # bytes model code may print before it is stopped
MEMORY_LIMIT = 8 * 1024**3  # address space of the child (RLIMIT_AS)
DISK_LIMIT = 512 * 1024 * 1024  # all files model code may leave in its private directory
GRACE = 15.0  # seconds the parent waits beyond --timeout for the supervisor itself
TOKEN_VAR = settings.LOAD_TOKEN_VAR  # marks every process of one load, for the final sweep


class LoadFailure(Exception):
    """The models of a ref could not be loaded: one line naming ref, file:line and module."""


@dataclass(frozen=True)
class LoadOptions:
    import_root: str
    models_path: str  # one path, or several separated by commas
    settings: dict = field(default_factory=dict)
    timeout: float = 120.0
    python: str = sys.executable
    keep_going: bool = False
    metadata: tuple[str, ...] = ()  # only these MetaData objects (label, bind key or attribute)
    env: dict = field(default_factory=dict)  # environment variables model code may read
    # Fork loads from one preloaded server: pays off when a run loads three refs or more
    # (for two, two fresh processes import their libraries side by side, on two cores).
    fork_server: bool = True
    runtime: dict = field(default_factory=dict)  # the versions it loads with (runtime.Runtime.describe)
    runtime_warnings: tuple = ()  # (code, message) from choosing the runtime

    @property
    def models_paths(self) -> list[str]:
        return split_paths(self.models_path)


def split_paths(models_path: str) -> list[str]:
    return [p.strip().strip("/") for p in models_path.split(",") if p.strip().strip("/")]


@dataclass
class LoadedSchema:
    ref: str
    commit: str | None
    tables: dict  # table key -> {"name", "schema", "create", "create_plain", "defaults", "statements", "columns"}
    preamble: list[str]
    postamble: list[str]
    warnings: list[Warning]
    stubbed_modules: dict[str, str]
    files_read: dict[str, str]  # repo path -> git blob id of every file the import read
    metadatas: list[str]
    partial: bool = False
    seconds: float = 0.0
    absent: list[str] = field(default_factory=list)  # repo paths probed and not found
    skipped_statements: list = field(default_factory=list)  # app-module statements that raised
    stubs_in_schema: list = field(default_factory=list)  # {"name", "where", "how"}
    blocked: list = field(default_factory=list)  # what the sandbox refused
    sandbox: dict = field(default_factory=dict)
    runtime: dict = field(default_factory=dict)  # {"python", "packages"} under --runtime auto

    @property
    def stubbed_app_modules(self) -> dict[str, str]:
        """Repository modules that were partly or wholly stubbed (not missing libraries)."""
        return {k: v for k, v in self.stubbed_modules.items() if v != "not importable"}

    @property
    def missing_modules(self) -> list[str]:
        """Modules (libraries) that could not be imported at all and were stubbed."""
        return sorted(k for k, v in self.stubbed_modules.items() if v == "not importable")

    def to_json(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "warnings"}
        data["warnings"] = [w.to_json() for w in self.warnings]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "LoadedSchema":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["warnings"] = [Warning(**w) for w in data["warnings"]]
        return cls(**fields)


def load_schema(snapshot: Snapshot, options: LoadOptions, generation: int | None = None) -> LoadedSchema:
    """`snapshot`'s models, imported in the sandbox. `generation`: `stop_loads`'s count when
    the caller decided to load (a load that starts after a later `stop_loads` is stopped
    at once: see `_running`)."""
    generation = _stops if generation is None else generation
    paths = options.models_paths
    if not paths:
        raise LoadFailure(f"{snapshot.ref}: no models path given")
    for path in paths:
        if not snapshot.list_files(path):
            raise LoadFailure(f"{snapshot.ref}: models path {path!r} does not exist at this ref")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix(), dir=workdir_base()))
    try:
        request = {
            "workdir": str(workdir),
            "manifest": snapshot.list_files(options.import_root),
            "source": snapshot.reader_spec(),
            "import_root": options.import_root.strip("/"),
            "models_path": paths[0],
            "models_paths": paths,
            "settings": options.settings,
            "keep_going": options.keep_going,
            "metadata": list(options.metadata),
            "timeout": options.timeout,
            "limits": {"output_bytes": OUTPUT_LIMIT, "memory_bytes": MEMORY_LIMIT, "disk_bytes": DISK_LIMIT},
            # Unreadable to model code (Landlock), with other processes' /proc entries.
            "hidden": [str(server_root())],
            "seccomp": settings.seccomp_enabled(),
            # The load stops when this run is gone; its directory is named after it.
            "owner": os.getpid(),
        }
        request_path = workdir / "request.json"
        request_path.write_text(json.dumps(request))
        result = _run_child(snapshot.ref, options, workdir, request_path, generation)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    error = result.get("error")
    if error:
        if error["kind"] == "import":
            hint = _python_hint(snapshot, options)
            raise LoadFailure(f"{snapshot.ref}: {error['file']}:{error['line']}: {error['message']} (module {error['module']}){hint}")
        if error["kind"] == "sandbox":
            where = f"{error['file']}:{error['line']}: " if error.get("file") else ""
            raise LoadFailure(f"{snapshot.ref}: {where}{error['message']}; loading models may not run programs (module {error['module']})")
        raise LoadFailure(f"{snapshot.ref}: {error['message']}")
    return _to_schema(snapshot, options, result, time.monotonic() - started)


def _python_hint(snapshot: Snapshot, options: LoadOptions) -> str:
    """Why model code may have failed: on the ref's own runtime, its pins; on modeldiff's
    own interpreter, the ref asks for another Python (`type X = int` is a SyntaxError
    before 3.12, a forward reference in an annotation a NameError before 3.14)."""
    packages = options.runtime.get("packages") if options.runtime else None
    if packages:  # its own runtime: the pins themselves may not import together
        return f"; loaded with the runtime the ref pins (Python {options.runtime['python']}, SQLAlchemy {packages.get('sqlalchemy', '?')}): --runtime bundled loads it with modeldiff's own"
    if options.python != sys.executable or (options.runtime and "fallback" not in options.runtime):
        return ""
    from .requirements import read_declared

    try:
        declared = read_declared(snapshot, options.import_root)
    except Exception:  # noqa: BLE001 - a hint only; the error stands on its own
        return ""
    running = ".".join(map(str, sys.version_info[:3]))
    if declared.python_allows(running):
        return ""
    where = ", ".join(declared.files[:1]) or "the repository"
    return f"; {where} requires Python {declared.describe_python()}, loaded with {running}: try --runtime auto or --python PATH"


def load_pair(snapshots: list[Snapshot], options: LoadOptions | list[LoadOptions]) -> list[LoadedSchema]:
    """Load several refs at once: one child per ref, bounded by the CPU count. `options`
    is shared, or one per snapshot (when the layout moved between refs)."""
    per_ref = options if isinstance(options, list) else [options] * len(snapshots)
    generation = _stops
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(len(snapshots), os.cpu_count() or 1))) as pool:
        futures = [pool.submit(load_schema, snapshot, option, generation) for snapshot, option in zip(snapshots, per_ref)]
        try:
            return [result_of(future) for future in futures]
        except BaseException:  # Ctrl-C, or one ref failed: the others need not run on
            pool.shutdown(wait=False, cancel_futures=True)
            stop_loads()
            raise


def result_of(future):
    """`future.result()` in short waits, for the main thread: a signal that another thread
    happened to receive (the kernel picks any thread) is still handled, KeyboardInterrupt
    raised here, within a fifth of a second. An untimed wait would sleep through it."""
    from concurrent.futures import TimeoutError as Pending

    while True:
        try:
            return future.result(timeout=0.2)
        except Pending:
            continue


def workdir_base() -> str:
    """Where private load directories go (tmpfs where there is one: a load creates and
    rewrites a few hundred small files). The supervisor bounds what model code may write
    there (DISK_LIMIT). The first call of a run removes what killed runs left there."""
    base = scratch_base()
    if base not in _swept:
        _swept.add(base)
        sweep_dead_workdirs(base)
    return base


_swept: set[str] = set()
_WORKDIR = re.compile(r"modeldiff-(?:load|replay)-(\d+)-")


def workdir_prefix(kind: str = "load") -> str:
    """A private directory's name starts with the run's pid: a killed run's are known."""
    return f"modeldiff-{kind}-{os.getpid()}-"


def sweep_dead_workdirs(base: str) -> int:
    """Remove the load and replay directories (copies of a repository's sources) of runs
    that no longer exist (SIGKILL leaves them, in RAM on tmpfs); how many."""
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        match = _WORKDIR.match(entry.name)
        try:
            if not match or not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
        except OSError:
            continue  # alive (or not ours to judge)
    return removed


def _child_env(workdir: Path, token: str, extra: dict) -> dict[str, str]:
    # Nothing inherited but PATH: no credentials, no DATABASE_URL, no PYTHON* settings.
    env = {str(k): str(v) for k, v in extra.items()}
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",  # set iteration order in model code must not vary between runs
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8:backslashreplace",
            "GIT_OPTIONAL_LOCKS": "0",
            TOKEN_VAR: token,
        }
    )
    return env


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


class ForkServer:
    """`supervise.py --serve-socket`: imports SQLAlchemy and our child-side modules once (a
    third of a load's CPU) and forks a supervisor, and that a worker, per load. Everything
    a load does is as with a fresh process: the worker starts from the server's state, in
    which no repository code has ever run.

    Kept across runs (idle > 0), like the embedded PostgreSQL, so that each run finds the
    libraries already imported: its directory (socket and key) is in the cache directory,
    named after the interpreter and the loader's own code (a new
    modeldiff never talks to an old server), and it leaves after `idle` seconds without a
    request. With idle 0 it is this run's own and `close()` ends it. Either way it answers
    only requests carrying its key, which loads cannot read (see `server_root`), and it
    creates each load's private directory itself."""

    def __init__(self, python: str, idle: float, stopped=lambda: False) -> None:
        self.python, self.kept = python, idle > 0
        self._proc: subprocess.Popen | None = None
        root = server_root()
        if self.kept:
            import hashlib

            from ..cache import loader_digest

            digest = hashlib.sha256(f"{python}\0{sys.version}\0{loader_digest()}".encode()).hexdigest()[:12]
            self.dir, self.idle = root / digest, idle
            self.dir.mkdir(mode=0o700, exist_ok=True)
            self.dir.chmod(0o700)
        else:
            self.dir, self.idle = Path(tempfile.mkdtemp(prefix="run-", dir=root)), 24 * 3600.0
            try:
                self._start(stopped)
            except OSError:
                self.close()  # what started of it
                shutil.rmtree(self.dir, ignore_errors=True)
                raise
        self.path = self.dir / "sock"

    def submit(self, request: dict, stopped=lambda: False) -> tuple[int, Path]:
        """Start a load; the pid (and process group) of its supervisor, and the private
        directory the server made for it. `stopped()` true: give up starting the server
        (OSError), for a Ctrl-C not to wait for its imports."""
        body = json.dumps(request).encode()
        try:
            answer = self._ask(body)
        except OSError:
            if not self.kept:
                raise
            self._start(stopped)
            answer = self._ask(body)
        pid, _, workdir = answer.partition(" ")
        if not pid.isdigit():
            raise OSError(f"the fork server refused the load: {answer}")
        return int(pid), Path(workdir)

    def _ask(self, body: bytes) -> str:
        return _ask(self.dir, body)

    def _start(self, stopped=lambda: False) -> None:
        import fcntl
        import socket

        from .supervise import socket_address

        sock = self.dir / "sock"
        with open(self.dir / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent runs start one server, not two
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    with socket_address(self.dir) as address:
                        probe.connect(address)
                return  # another run started it meanwhile
            except OSError:
                pass
            if stopped():
                raise OSError("the run is stopping")
            self.token = os.urandom(16).hex()  # what uuid4().hex is made of, without importing uuid (and platform)
            # It writes only its key (in self.dir) and each load's private directory; a
            # load's environment (HOME, TMPDIR, --env) comes with its request.
            self._proc = subprocess.Popen(
                [self.python, "-s", str(SUPERVISOR), "--serve-socket", str(self.dir), str(self.idle), str(0 if self.kept else os.getpid())],
                cwd="/",
                env=_child_env(Path("/nonexistent"), self.token, {}),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_limit_files,
            )
            deadline = time.monotonic() + 30
            while not sock.exists() and time.monotonic() < deadline and self._proc.poll() is None and not stopped():
                time.sleep(0.01)
        if not sock.exists():
            raise OSError("the fork server did not start")

    def close(self) -> None:
        if self.kept or self._proc is None:
            return  # a kept server leaves by itself when idle
        try:
            self._ask(b"quit")  # it waits for its supervisors, then kills what is left
            self._proc.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc.wait()
        sweep(self.token)
        shutil.rmtree(self.dir, ignore_errors=True)


def _ask(directory: Path, body: bytes) -> str:
    """Send `body` with the server's key to the fork server in `directory`; its answer."""
    import socket

    from .supervise import socket_address

    key = (directory / "key").read_bytes()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(60)
        with socket_address(directory) as address:
            conn.connect(address)
        conn.sendall(key + body)
        conn.shutdown(socket.SHUT_WR)
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                raise OSError("the fork server closed the connection")
            data += chunk
    return data.decode().strip()


def stop_kept_fork_servers() -> int:
    """Ask every fork server kept in the cache directory to quit (`modeldiff stop`); how
    many were running. Each finishes the loads it has started first."""
    stopped = 0
    for directory in sorted(server_root().iterdir()):
        if (directory / "sock").exists() and (directory / "key").exists():
            try:
                _ask(directory, b"quit")
                stopped += 1
            except OSError:
                pass  # not running (a stale socket): nothing to stop
    return stopped


def server_root() -> Path:
    """The directory (0700) of every fork server's socket and key, hidden from loads."""
    root = settings.cache_dir() / "forkservers"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    return root


_servers: dict[str, ForkServer] = {}
_servers_lock = threading.Lock()


def keep_alive_seconds() -> float:
    """How long background helpers (PostgreSQL, the loader's fork server) outlive a run."""
    return settings.keep_alive_seconds()


def _fork_server(python: str, stopped=lambda: False) -> ForkServer | None:
    """The fork server for `python` (Linux; MODELDIFF_FORK_SERVER=0 turns it off): kept
    across runs unless MODELDIFF_PG_IDLE=0, else one for this run."""
    if not sys.platform.startswith("linux") or not settings.fork_server_enabled():
        return None
    with _servers_lock:
        if python not in _servers:
            idle = keep_alive_seconds()
            try:
                _servers[python] = ForkServer(python, idle, stopped)
            except OSError:
                return None
            if len(_servers) == 1:
                atexit.register(close_fork_servers)
        return _servers[python]


def close_fork_servers() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.close()
        _servers.clear()


def _run_child(ref: str, options: LoadOptions, workdir: Path, request_path: Path, generation: int | None = None) -> dict:
    generation = _stops if generation is None else generation
    if generation != _stops:
        raise LoadFailure(f"{ref}: load stopped")
    from .supervise import set_dumpable

    global _non_dumpable
    _non_dumpable = set_dumpable(False)  # this process's environ and memory: not readable by model code
    token = os.urandom(16).hex()
    stopped = lambda: generation != _stops  # noqa: E731
    server = _fork_server(options.python, stopped) if options.fork_server else None
    if stopped():  # Ctrl-C while the server was starting
        raise LoadFailure(f"{ref}: load stopped")
    if server is not None:
        request = json.loads(request_path.read_text())
        request["env"] = _child_env(workdir, token, options.env)  # HOME, TMPDIR: set by the server
        request["scratch"] = str(workdir.parent)  # where the server makes the load's directory
        try:
            pid, server_dir = server.submit(request, stopped)
        except OSError:
            if stopped():
                raise LoadFailure(f"{ref}: load stopped") from None
            pid = None  # a broken server: the load runs in processes of its own, below
        if pid is not None:
            try:
                with _running(ref, pid, generation):
                    try:
                        ended = _wait_for_status(pid, server_dir / "status.json", options.timeout + GRACE)
                    finally:
                        _kill_group(pid)  # whatever of the load is left
                        sweep(token)
                return _read_outcome(ref, options, server_dir, ended)
            finally:
                shutil.rmtree(server_dir, ignore_errors=True)
    with open(workdir / "supervisor.log", "wb") as log:
        try:
            proc = subprocess.Popen(
                [options.python, "-s", str(SUPERVISOR), str(request_path)],
                cwd=workdir,
                env=_child_env(workdir, token, options.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: forks die with it
                preexec_fn=_limit_files,
            )
        except OSError as exc:
            raise LoadFailure(f"{ref}: cannot run the interpreter {options.python!r}: {exc.strerror or exc}") from None
        ended = False
        with _running(ref, proc.pid, generation):
            try:
                proc.wait(timeout=options.timeout + GRACE)
                ended = True
            except subprocess.TimeoutExpired:
                pass
            finally:
                _kill_group(proc.pid)
                proc.wait()
                sweep(token)
    return _read_outcome(ref, options, workdir, ended)


def _kill_group(group: int, limit: float = 2.0) -> None:
    """SIGKILL a load's process group and wait (up to `limit` s) until none of it runs, so
    that nothing of a load outlives `load_schema` (zombies, awaiting their reaper, are gone)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return  # the usual case: the load ended cleanly, its group is empty
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and _group_alive(group):
        time.sleep(0.005)


def _group_alive(group: int) -> bool:
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False  # no /proc: nothing to wait with
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[-1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != b"Z":
                return True
    return False


_non_dumpable: bool | None = None  # whether this process could make itself non-dumpable

# The kernel and Python layers between model code and the rest of the machine, as the
# output names them (`sandbox` in JSON, `-v`). No PID namespace is made: Landlock already
# refuses every other process's /proc entries, and the CLI, supervisors and fork server
# are non-dumpable.
LAYERS = ("seccomp", "landlock", "pid_namespace", "non_dumpable", "overlay", "audit_hook")


def sandbox_layers(confinement: dict) -> dict[str, bool]:
    """Which layers a load had: name -> active (sorted as LAYERS)."""
    return {name: bool(confinement.get(name)) for name in LAYERS}


_loads: dict[int, bool] = {}  # process group of each running load's supervisor -> stopped
_loads_lock = threading.Lock()
_stops = 0  # how many times `stop_loads` ran


@contextmanager
def _running(ref: str, group: int, generation: int):
    """Register a load's supervisor for `stop_loads`; a stopped load fails as such. A load
    whose supervisor started after `stop_loads` ran (Ctrl-C while it was being started:
    `stop_loads` could not see it) is stopped here, at once."""
    with _loads_lock:
        _loads[group] = generation != _stops
    if _loads[group]:
        _kill_group(group)
    try:
        yield
    finally:
        with _loads_lock:
            stopped = _loads.pop(group)
    if stopped:
        raise LoadFailure(f"{ref}: load stopped")


def stop_generation() -> int:
    """What a caller about to start loads passes on to `load_schema`: a `stop_loads` after
    this moment stops them, even those not started yet."""
    return _stops


def stop_loads() -> int:
    """Kill every load of this process now (Ctrl-C, a failing run): the threads waiting for
    them return at once, each with a LoadFailure. How many were running."""
    global _stops
    with _loads_lock:
        _stops += 1
        groups = list(_loads)
        for group in groups:
            _loads[group] = True
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return len(groups)


def _wait_for_status(pid: int, status: Path, limit: float) -> bool:
    """Wait for a forked supervisor (not our child) to write `status`, at most `limit`
    seconds; True if it ended before that (a supervisor killed from outside is noticed at
    once, through a pidfd, not after the time limit)."""
    import select

    deadline = time.monotonic() + limit
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        pidfd = None  # Python < 3.9 or Linux < 5.3: status polling alone
    try:
        while not status.exists():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pidfd is None:
                time.sleep(min(0.005, remaining))
            elif select.select([pidfd], [], [], min(0.005, remaining))[0]:
                return True  # it exited (its status, if any, was written before)
        return True
    finally:
        if pidfd is not None:
            os.close(pidfd)


def sweep(token: str) -> int:
    """Kill any process still carrying this load's token in its environment (a daemon that
    escaped the supervisor). Linux only; returns how many were found."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found = 0
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return 0
    for entry in entries:
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle not in handle.read().split(b"\0"):
                    continue
            os.kill(int(entry), signal.SIGKILL)
            found += 1
        except OSError:
            continue
    return found


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _where(workdir: Path) -> str:
    """Where the import was when it stopped: the innermost repository frame of the stack
    dump (a hang), else the module being imported."""
    location = ""
    stack = workdir / "stack.txt"
    prefix = str(workdir / "src") + "/"
    if stack.exists():
        for line in stack.read_text(errors="replace").splitlines():
            match = _FRAME.match(line)
            if match and match.group(1).startswith(prefix):
                location = f"{match.group(1)[len(prefix):]}:{match.group(2)}"
                break  # faulthandler prints the most recent call first
    progress = workdir / "progress"
    module = progress.read_text(errors="replace").strip() if progress.exists() else ""
    parts = []
    if location:
        parts.append(f" at {location}")
    if module:
        parts.append(f" while importing {module}")
    return "".join(parts)


_FRAME = re.compile(r'\s*File "(.+)", line (\d+)')


def _read_outcome(ref: str, options: LoadOptions, workdir: Path, ended: bool = False) -> dict:
    status = _read_json(workdir / "status.json")
    result = _read_json(workdir / "result.json")
    where = _where(workdir)
    if status is None and ended:
        raise LoadFailure(f"{ref}: the loader's supervisor ended without a result (killed from outside?){where}")
    if status is None:
        raise LoadFailure(f"{ref}: the loader's supervisor did not finish within {options.timeout + GRACE:g}s{where}")
    if status["output_exceeded"]:
        raise LoadFailure(f"{ref}: model code printed more than {OUTPUT_LIMIT // 2**20} MB{where}; stopped")
    if status.get("disk_exceeded"):
        raise LoadFailure(f"{ref}: model code wrote more than {DISK_LIMIT // 2**20} MB of files{where}; stopped")
    if status["timed_out"]:
        raise LoadFailure(f"{ref}: model import timed out after {options.timeout:g}s{where} (raise it with --timeout)")
    if status["strays"]:
        n = status["strays"]
        raise LoadFailure(f"{ref}: model code left {n} process{'es' * (n != 1)} running after the import (killed){where}; loading models may not run programs")
    if result is not None:
        return result
    code = status["returncode"]
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    log = workdir / "output.log"
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    detail = f": {tail[0][:200]}" if tail else ""
    raise LoadFailure(f"{ref}: model code ended the loader ({how}){where}{detail}")


def _to_schema(snapshot: Snapshot, options: LoadOptions, result: dict, seconds: float) -> LoadedSchema:
    ref = snapshot.ref
    missing = {k for k, v in result["stubbed_modules"].items() if v == "not importable"}
    warnings = []
    in_schema = []
    for w in result["warnings"]:
        message = w["message"]
        if w.get("stub"):
            for where in w.get("locations") or [w.get("location") or ""]:
                in_schema.append({"name": w["stub"], "where": where, "how": w["code"]})
            library = _missing_library(w["stub"], missing)
            if library:
                message += f"; {library} is not installed for the loader (--python PATH: an interpreter that has it)"
        warnings.append(Warning(w["code"], message, ref, w.get("location")))
    prefixes = tuple(p + ("/" if not p.endswith(".py") else "") for p in options.models_paths)
    for use in result["stub_uses"]:
        # Only uses in model files can shape the schema; app modules using stubs are expected.
        if use["file"].startswith(prefixes) or use["file"] in options.models_paths:
            if use["how"] in ("compared", "truth-tested"):
                name = use.get("reached_as") or use["path"]
                origin = f" (a stub of {use['path']})" if name != use["path"] else ""
                message = f"{name}{origin} {_HOW[use['how']]}: the schema may depend on it; set it with --set {name}=VALUE"
            else:
                message = f"stubbed {use['path']} {_HOW.get(use['how'], use['how'])}"
            warnings.append(Warning(f"stub-{use['how']}", message, ref, f"{use['file']}:{use['line']}"))
            in_schema.append({"name": use["path"], "where": f"{use['file']}:{use['line']}", "how": use["how"]})
    skipped_by_module: dict[str, list[dict]] = {}
    for statement in result.get("skipped_statements", []):
        skipped_by_module.setdefault(statement["module"], []).append(statement)
    for module, statements in skipped_by_module.items():
        first = statements[0]
        names = sorted({n for s in statements for n in s["stubbed_names"]})
        more = f" (and {len(statements) - 1} more statement{'s' * (len(statements) > 2)})" if len(statements) > 1 else ""
        at = f" at {first['error_at']}" if first.get("error_at") and not first["error_at"].startswith(f"{first['file']}:") else ""
        warnings.append(
            Warning(
                "module-stubbed",
                f"application module {module}: a statement raised {first['error']}{at}{more}; skipped, "
                + (f"stubbed: {', '.join(names)}" if names else "nothing stubbed"),
                ref,
                f"{first['file']}:{first['line']}",
            )
        )
    blocked: dict[tuple, int] = {}
    for item in result.get("blocked", []):
        key = (item["what"], item["detail"], item["file"], item["line"])
        blocked[key] = blocked.get(key, 0) + 1
    for (what, detail, file, line), _count in blocked.items():
        message = _BLOCKED.get(what, "model code tried {}: refused").format(detail)
        warnings.append(Warning(f"blocked-{what}", message, ref, f"{file}:{line}" if file else None))
    confinement = result.get("sandbox", {})
    if confinement and _non_dumpable is not None:
        confinement["non_dumpable"] = _non_dumpable
    if confinement and confinement.get("non_dumpable") is False:
        warnings.append(Warning("sandbox-limited", "this process could not be made non-dumpable: model code of the same user may read its environment and memory where Landlock is missing", ref))
    if confinement and not confinement.get("landlock"):
        warnings.append(Warning("sandbox-limited", f"Landlock unavailable ({confinement.get('reason', '?')}): model code may write files anywhere this user can and read other processes' /proc entries; only Python-level guards stop it", ref))
    if confinement and not confinement.get("seccomp"):
        warnings.append(Warning("sandbox-limited", f"seccomp unavailable ({confinement.get('seccomp_reason', '?')}): model code may open sockets and start processes below Python; only the audit hook and Landlock stop it", ref))
    if confinement and confinement.get("capabilities_dropped") is False:
        warnings.append(Warning("sandbox-limited", "capabilities could not be dropped: model code keeps this user's capabilities", ref))
    for key in result["unused_settings"]:
        warnings.append(Warning("unused-setting", f"--set {key}: no module or attribute of that name was loaded", ref))
    for failure in result["failures"]:
        named = tables_named_in(snapshot, failure["file"])
        listed = f": {', '.join(named)}" if named else ""
        warnings.append(Warning("import-failed", f"{failure['message']} (module {failure['module']}); its tables are missing{listed}", ref, f"{failure['file']}:{failure['line']}"))
        for table in named:  # missing for a reason other than the models: compared at neither ref
            warnings.append(Warning("not-compared", f"its model module failed to import ({failure['file']}:{failure['line']})", ref, table))
    warnings += [Warning(code, message, ref) for code, message in options.runtime_warnings]
    shaping = stubbed_schema_packages(missing)
    for library, what in shaping:
        warnings.append(Warning("schema-package-stubbed", f"{library} is not installed for the loader and was stubbed: {what} are missing from this schema; the result is partial (--runtime auto installs what the ref pins, or --python PATH)", ref))
    if not result["tables"]:
        # One empty side would show every table of the other as added or removed.
        if not options.keep_going:
            why = f" ({', '.join(name for name, _ in shaping)}, which defines tables, is not installed for the loader: --runtime auto or --python PATH)" if shaping else ""
            raise LoadFailure(f"{ref}: no tables found under {options.models_path}{why}; --keep-going compares anyway, marked partial")
        warnings.append(Warning("no-tables", f"no tables found under {options.models_path}; the result is partial", ref))
    return LoadedSchema(
        ref=ref,
        commit=snapshot.commit,
        tables=result["tables"],
        preamble=result["preamble"],
        postamble=result["postamble"],
        warnings=warnings,
        stubbed_modules=result["stubbed_modules"],
        files_read=snapshot.blob_ids(result["files_read"]),
        absent=result["absent"],
        metadatas=result["metadatas"],
        partial=bool(result["failures"]) or not result["tables"] or bool(shaping) or any(code == "runtime-fallback" for code, _ in options.runtime_warnings),
        seconds=seconds,
        skipped_statements=result.get("skipped_statements", []),
        stubs_in_schema=sorted({(d["name"], d["where"], d["how"]): d for d in in_schema}.values(), key=lambda d: (d["name"], d["where"])),
        blocked=result.get("blocked", []),
        sandbox=confinement,
        runtime=options.runtime,
    )


# Table names in model source, read as text: the file may not even parse.
_TABLE_NAME = re.compile(r"""__tablename__\s*=\s*['"]([^'"]+)['"]|\bTable\(\s*['"]([^'"]+)['"]""")


def tables_named_in(snapshot: Snapshot, path: str) -> list[str]:
    """The tables a model file names (`__tablename__ = "x"`, `Table("x", ...)`), sorted."""
    try:
        text = snapshot.read(path).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - best effort: the failure is reported either way
        return []
    return sorted({a or b for a, b in _TABLE_NAME.findall(text)})


_BLOCKED = {
    "write": "model code tried to write outside its private directory ({}): refused",
    "network": "model code tried to use the network ({}): refused",
    "database": "model code tried to connect to a database ({}): refused",
    "signal": "model code tried to signal another process ({}): refused",
    "exit": "model code called {}: raised as SystemExit instead",
    "process": "model code tried to start a process ({}): refused",
    "flask-sqlalchemy": "Flask-SQLAlchemy {} (its tables are still loaded)",
    "contained": "model code wrote outside its private directory ({}): done in a throwaway copy, discarded after the load",
}


def _missing_library(stub: str, missing: set[str]) -> str | None:
    """The top-level library a stub comes from, if it was stubbed for not being installed."""
    top = stub.split(".")[0]
    return top if top in missing else None


_HOW = {
    "compared": "was compared",
    "truth-tested": "was tested for truth",
    "value": "gave its name as an enum value",
    "base-class": "is used as a base class",
    "metaclass": "is used as a metaclass (the class is built by its bases' own)",
    "iterated": "was iterated (as empty)",
    "str": "was turned into a string",
    "int": "was used as a number (0)",
    "float": "was used as a number (0.0)",
}
