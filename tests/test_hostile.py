"""Hostile repositories that go below Python (ctypes), where the audit hook sees nothing:
sockets, processes, other processes' memory and environment, the fork server, the work
tree. Each test fails if the attack works; the docstring names the layer that stops it.

Model code reports through its error: "ESCAPED ..." when an attack got through, else
"blocked: ..." with the errno names it met (the load fails with that message). Side
effects (a datagram received, a connection accepted, a file written) are checked too.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

# Signals and the fork server's lifecycle: these fail inside an xdist worker (see pyproject's
# `serial` marker); scripts/test runs them in one process after the parallel run.
pytestmark = pytest.mark.serial

from modeldiff import load as load_module
from test_loader_safety import fails, hostile, load, marker, processes_with, snapshot  # noqa: F401 - marker is a fixture

PRELUDE = """\
import ctypes, errno, os, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def err():
    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
"""


SLOW = 30.0  # seconds: these tests are not about time, and the machine may be busy


@pytest.fixture(params=["fork-server", "processes"])
def loader_path(request, monkeypatch):
    """Both ways a load runs: forked from the preloaded server, or in processes of its own."""
    monkeypatch.setenv("MODELDIFF_FORK_SERVER", "1" if request.param == "fork-server" else "0")
    return request.param


def attack(tmp_path, marker, code: str, **options) -> str:
    """Load a repository whose model module runs PRELUDE + `code`; the load's error."""
    message, _ = fails(hostile(tmp_path, PRELUDE + code), marker, timeout=options.pop("timeout", SLOW), **options)
    assert "ESCAPED" not in message
    return message


# -- sockets ----------------------------------------------------------------------------------------
UDP_SEND = """\
fd = libc.socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
if fd >= 0:
    addr = struct.pack("HH4s8x", socket.AF_INET, socket.htons({port}), socket.inet_aton("127.0.0.1"))
    raise RuntimeError(f"ESCAPED socket; sendto -> {{libc.sendto(fd, b'stolen', 6, 0, addr, len(addr))}}")
raise RuntimeError("blocked: socket " + err())
"""


def udp_listener():
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.setblocking(False)
    return listener


def received(listener) -> bytes | None:
    try:
        return listener.recv(100)
    except BlockingIOError:
        return None


def test_udp_sendto_below_python_is_refused(tmp_path, marker, loader_path):
    """seccomp: socket() fails with EPERM (Landlock has no rule for UDP)."""
    with udp_listener() as listener:
        message = attack(tmp_path, marker, UDP_SEND.format(port=listener.getsockname()[1]))
        assert message.endswith("RuntimeError: blocked: socket EPERM (module zzmodels.evil)")
        assert received(listener) is None


def test_udp_sendto_gets_through_without_seccomp(tmp_path, marker, monkeypatch):
    """Control: the attack above is real. Without seccomp (a kernel without it) nothing else
    stops a datagram, and the load says which layer was missing."""
    monkeypatch.setenv("MODELDIFF_SECCOMP", "0")
    with udp_listener() as listener:
        code = UDP_SEND.format(port=listener.getsockname()[1]).replace('raise RuntimeError(f"ESCAPED', 'SENT = (f"')
        schema = load(hostile(tmp_path, PRELUDE + code.replace("raise RuntimeError(\"blocked", "BLOCKED = (\"blocked")), marker, timeout=SLOW)
        assert received(listener) == b"stolen"
    assert [w.code for w in schema.warnings if "seccomp unavailable" in w.message] == ["sandbox-limited"]


def test_unix_connect_below_python_is_refused(tmp_path, marker, loader_path):
    """seccomp: no socket of any family, so no connect to a local unix socket."""
    path = tmp_path / "listen.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        listener.setblocking(False)
        code = f"""\
fd = libc.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
if fd >= 0:
    addr = struct.pack("H108s", socket.AF_UNIX, {str(path).encode()!r})
    raise RuntimeError(f"ESCAPED socket; connect -> {{libc.connect(fd, addr, len(addr))}}")
pair = (ctypes.c_int * 2)()
if libc.socketpair(socket.AF_UNIX, socket.SOCK_STREAM, 0, pair) == 0:
    raise RuntimeError("ESCAPED socketpair")
raise RuntimeError("blocked: socket " + err())
"""
        message = attack(tmp_path, marker, code)
        assert message.endswith("RuntimeError: blocked: socket EPERM (module zzmodels.evil)")
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_no_socket_is_inherited_and_send_on_any_fd_is_refused(tmp_path, marker, loader_path):
    """The worker holds no socket of ours (the server's channels are closed before it is
    forked); and seccomp refuses connect/sendto/sendmsg whatever the descriptor."""
    code = """\
def target(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""  # the descriptor listdir itself used
sockets = [fd for fd in os.listdir("/proc/self/fd") if target(fd).startswith("socket:")]
if sockets:
    raise RuntimeError(f"ESCAPED: inherited sockets {sockets}")
results = [libc.sendto(fd, b"x", 1, 0, None, 0) == -1 and err() for fd in range(64)]
results += [libc.connect(fd, b"\\0" * 16, 16) == -1 and err() for fd in range(64)]
raise RuntimeError(f"blocked: {sorted(set(map(str, results)))}")
"""
    assert attack(tmp_path, marker, code).endswith("RuntimeError: blocked: ['EPERM'] (module zzmodels.evil)")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x32 and int 0x80 exist on x86-64 only")
def test_x32_syscall_numbers_are_refused(tmp_path, marker):
    """seccomp: the x32 ABI (syscall numbers with bit 30 set) is refused as a whole, so that
    socket() cannot come in under another number."""
    code = """\
if libc.syscall(0x40000000 | 41, socket.AF_INET, socket.SOCK_DGRAM, 0) >= 0:
    raise RuntimeError("ESCAPED x32 socket")
raise RuntimeError("blocked: x32 socket " + err())
"""
    assert attack(tmp_path, marker, code).endswith("blocked: x32 socket EPERM (module zzmodels.evil)")


def test_io_uring_is_refused(tmp_path, marker):
    """seccomp: io_uring would open sockets and connect without the syscalls above."""
    code = """\
params = ctypes.create_string_buffer(120)
if libc.syscall(425, 8, params) >= 0:
    raise RuntimeError("ESCAPED io_uring_setup")
raise RuntimeError("blocked: io_uring_setup " + err())
"""
    assert attack(tmp_path, marker, code).endswith("blocked: io_uring_setup EPERM (module zzmodels.evil)")


# -- processes --------------------------------------------------------------------------------------
def test_fork_below_python_is_refused(tmp_path, marker, loader_path):
    """seccomp: glibc's fork() is clone() without CLONE_THREAD: EPERM, nothing started."""
    code = """\
import time
pid = libc.fork()
if pid == 0:
    time.sleep(600)
if pid > 0:
    raise RuntimeError("ESCAPED fork")
raise RuntimeError("blocked: fork " + err())
"""
    assert attack(tmp_path, marker, code).endswith("RuntimeError: blocked: fork EPERM (module zzmodels.evil)")
    # (the marker fixture checks that no process of the load is left)


def test_raw_clone_and_clone3_are_refused(tmp_path, marker):
    """seccomp: clone() without CLONE_THREAD is EPERM; clone3() (flags in memory the filter
    cannot read) is ENOSYS, so that glibc falls back to clone()."""
    code = """\
import signal, time
args = (ctypes.c_uint64 * 11)()
args[4] = signal.SIGCHLD  # exit_signal
clone3 = libc.syscall(435, args, ctypes.sizeof(args))
clone3_err = err()
if clone3 == 0:
    time.sleep(600)
clone = libc.syscall(56 if os.uname().machine == "x86_64" else 220, signal.SIGCHLD, 0, 0, 0, 0)
if clone == 0:
    time.sleep(600)
if clone > 0 or clone3 > 0:
    raise RuntimeError("ESCAPED clone")
raise RuntimeError(f"blocked: clone3 {clone3_err}, clone {err()}")
"""
    assert attack(tmp_path, marker, code).endswith("blocked: clone3 ENOSYS, clone EPERM (module zzmodels.evil)")


def test_threads_still_work(tmp_path, marker, loader_path):
    """The filter lets threads through (clone with CLONE_THREAD): model code using a thread
    pool at import time loads normally, with every kernel layer reported active."""
    code = """\
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:
    assert sorted(pool.map(abs, [-2, -1, 3])) == [1, 2, 3]
"""
    schema = load(hostile(tmp_path, code), marker, timeout=SLOW)
    assert list(schema.tables) == ["things"]
    assert [w for w in schema.warnings if w.code == "sandbox-limited"] == []
    assert schema.sandbox["seccomp"] is True and schema.sandbox["landlock"] is True
    assert schema.sandbox["capabilities_dropped"] is True


def test_execve_below_python_is_refused(tmp_path, marker, loader_path):
    """seccomp: execve() is EPERM (the process would otherwise become /bin/sh)."""
    proof = tmp_path / "executed"
    code = f"""\
argv = (ctypes.c_char_p * 4)(b"/bin/sh", b"-c", b"echo x > {proof}", None)
envp = (ctypes.c_char_p * 1)(None)
libc.execve(b"/bin/sh", argv, envp)
raise RuntimeError("blocked: execve " + err())
"""
    assert attack(tmp_path, marker, code).endswith("blocked: execve EPERM (module zzmodels.evil)")
    assert not proof.exists()


def test_posix_spawn_is_refused_by_the_audit_hook_and_the_kernel(tmp_path, marker, loader_path):
    """os.posix_spawn: the audit hook ends the load with a readable error. libc's
    posix_spawn (clone3 -> clone(CLONE_VM|CLONE_VFORK)): seccomp, EPERM."""
    proof = tmp_path / "spawned"
    message, _ = fails(hostile(tmp_path, f"import os\nos.posix_spawn('/bin/sh', ['sh', '-c', 'echo x > {proof}'], {{}})\n"), marker, timeout=SLOW)
    assert message.startswith("v1: zzmodels/evil.py:2: model code tried to start a process (os.posix_spawn())")
    code = f"""\
pid = ctypes.c_int(0)
argv = (ctypes.c_char_p * 4)(b"/bin/sh", b"-c", b"echo x > {proof}", None)
envp = (ctypes.c_char_p * 1)(None)
code = libc.posix_spawn(ctypes.byref(pid), b"/bin/sh", None, None, argv, envp)
if code == 0:
    raise RuntimeError(f"ESCAPED posix_spawn {{pid.value}}")
raise RuntimeError("blocked: posix_spawn " + errno.errorcode[code])
"""
    assert attack(tmp_path / "ctypes", marker, code).endswith("blocked: posix_spawn EPERM (module zzmodels.evil)")
    assert not proof.exists()


# -- other processes ----------------------------------------------------------------------------------
CLI = """\
import ctypes, os, sys
from modeldiff.load import LoadFailure, LoadOptions, load_schema
from modeldiff.source.repository import Repository
try:
    load_schema(Repository(sys.argv[1]).snapshot("v1"), LoadOptions("", "zzmodels", timeout=30, env={"CLI_PID": str(os.getpid())}))
    print("loaded")
except LoadFailure as exc:
    print(exc)
print("dumpable", ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE
"""


def test_cli_environment_is_not_readable_through_proc(tmp_path, loader_path):
    """Landlock: no other process's /proc entry is readable (what a PID namespace would
    give, without privileges); and the CLI, supervisors and fork server are non-dumpable
    (for kernels without Landlock; the worker has no CAP_SYS_PTRACE even as root). The CLI
    is a process of its own here, with the secret in the environment it started with."""
    secret = f"wJalrXUtnFEMI-{uuid.uuid4().hex}"
    code = f"""\
errors, readable = set(), 0
try:
    listed = [p for p in os.listdir("/proc") if p.isdigit()]
except OSError as exc:
    listed = []
    errors.add("list " + errno.errorcode[exc.errno])
for pid in [os.environ["CLI_PID"], str(os.getppid()), "1"] + listed:
    for name in ("environ", "cmdline", "mem"):
        try:
            with open(f"/proc/{{pid}}/{{name}}", "rb") as handle:
                data = handle.read(1 << 20)
        except OSError as exc:
            errors.add(errno.errorcode[exc.errno])
            continue
        if {secret.encode()!r} in data:
            raise RuntimeError(f"ESCAPED: the secret from /proc/{{pid}}/{{name}}")
        readable += 1
if readable:
    raise RuntimeError(f"ESCAPED: {{readable}} /proc files of other processes readable")
raise RuntimeError(f"blocked: {{sorted(errors)}}")
"""
    repo = hostile(tmp_path, PRELUDE + code)
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": secret}
    proc = subprocess.run([sys.executable, "-c", CLI, str(repo)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["v1: zzmodels/evil.py:26: RuntimeError: blocked: ['EACCES', 'list EACCES'] (module zzmodels.evil)", "dumpable 0"]


def test_ptrace_and_process_vm_readv_are_refused(tmp_path, marker):
    """seccomp: ptrace and process_vm_readv (reading the supervisor's memory) are EPERM."""
    x86 = platform.machine() == "x86_64"
    code = f"""\
attach = libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH
attach_err = err()
buf = ctypes.create_string_buffer(16)
local = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 16)
remote = (ctypes.c_void_p * 2)(0x400000, 16)
vm = libc.syscall({310 if x86 else 270}, os.getppid(), local, 1, remote, 1, 0)
if attach == 0 or vm >= 0:
    raise RuntimeError("ESCAPED ptrace/process_vm_readv")
raise RuntimeError(f"blocked: ptrace {{attach_err}}, process_vm_readv {{err()}}")
"""
    assert attack(tmp_path, marker, code).endswith("blocked: ptrace EPERM, process_vm_readv EPERM (module zzmodels.evil)")


# -- the fork server ----------------------------------------------------------------------------------
def _server(tmp_path, marker, monkeypatch):
    """This run's fork server, started by a first (harmless) load."""
    monkeypatch.setenv("MODELDIFF_FORK_SERVER", "1")
    load(hostile(tmp_path / "first", "X = 1\n"), marker, timeout=SLOW)
    server = load_module._fork_server(sys.executable)
    assert server is not None
    return server


def test_worker_cannot_reach_the_fork_server(tmp_path, marker, monkeypatch):
    """Landlock hides the server's directory (its key is unreadable); seccomp: no socket to
    connect with. Nothing is written into the directory the forged request names."""
    server = _server(tmp_path, marker, monkeypatch)
    victim = tmp_path / "victim"
    victim.mkdir()
    forged = json.dumps({"workdir": str(victim), "env": {}}).encode()
    code = f"""\
outcome = []
try:
    key = open({str(server.dir / "key")!r}, "rb").read()
    raise RuntimeError("ESCAPED: read the fork server's key")
except PermissionError:
    outcome.append("key EACCES")
fd = libc.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
if fd >= 0:
    addr = struct.pack("H108s", socket.AF_UNIX, {str(server.path).encode()!r})
    if libc.connect(fd, addr, len(addr)) == 0:
        libc.write(fd, {forged!r}, {len(forged)})
    raise RuntimeError("ESCAPED: socket")
outcome.append("socket " + err())
raise RuntimeError("blocked: " + ", ".join(outcome))
"""
    assert attack(tmp_path, marker, code).endswith("blocked: key EACCES, socket EPERM (module zzmodels.evil)")
    assert list(victim.iterdir()) == []


def _ask(server, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(server.path))
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := conn.recv(4096):
                data += chunk
        except ConnectionResetError:  # closed with our request unread: no answer
            pass
    return data


def test_fork_server_answers_only_with_its_key_and_makes_the_workdir_itself(tmp_path, marker, monkeypatch):
    """The key: a request without it (the old protocol: a request path; or a wrong key) gets
    no answer and starts nothing. With it, the workdir in the request is ignored: the load
    runs in a directory the server created."""
    from modeldiff.load.supervise import descendants

    server = _server(tmp_path, marker, monkeypatch)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "request.json").write_text(json.dumps({"workdir": str(victim), "env": {}}))
    forged = json.dumps({"workdir": str(victim), "scratch": load_module.workdir_base(), "env": {"HOME": str(victim)}, "timeout": 1}).encode()
    for payload in (f"{victim / 'request.json'}\n".encode(), os.urandom(32) + forged, b"quit"):
        assert _ask(server, payload) == b""
    assert server._proc.poll() is None  # `quit` without the key did not end it either
    assert descendants(server._proc.pid) == set()
    answer = _ask(server, (server.dir / "key").read_bytes() + forged).decode()
    pid, workdir = answer.split()
    try:
        assert Path(workdir).parent == Path(load_module.workdir_base()) and Path(workdir) != victim
        request = json.loads((Path(workdir) / "request.json").read_text())
        assert request["workdir"] == workdir and request["env"]["HOME"] == workdir
        deadline = time.monotonic() + 20
        while not (Path(workdir) / "status.json").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (Path(workdir) / "status.json").exists()
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    assert sorted(p.name for p in victim.iterdir()) == ["request.json"]


def test_server_key_is_not_in_the_workers_memory(tmp_path, marker, monkeypatch):
    """The worker is forked from the server: the key is wiped in the supervisor before the
    worker is forked, so scanning its own memory finds no copy. (Model code gets the key's
    first 8 bytes and its hash, enough to recognise it, not to use it.)"""
    server = _server(tmp_path, marker, monkeypatch)
    key = (server.dir / "key").read_bytes()
    code = f"""\
import hashlib
prefix, digest, found = {key[:8]!r}, {hashlib.sha256(key).hexdigest()!r}, 0
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
    for line in maps:
        fields = line.split()
        if not fields[1].startswith("r") or (len(fields) > 5 and fields[5].startswith("[v")):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        try:
            mem.seek(start)
            data = mem.read(end - start)
        except (OSError, OverflowError, ValueError):
            continue
        at = data.find(prefix)
        while at >= 0:
            found += hashlib.sha256(data[at:at + 32]).hexdigest() == digest
            at = data.find(prefix, at + 1)
if found:
    raise RuntimeError(f"ESCAPED: the fork server's key is in the worker's memory ({{found}}x)")
raise RuntimeError("blocked: no copy of the key")
"""
    assert attack(tmp_path, marker, code, timeout=60).endswith("blocked: no copy of the key (module zzmodels.evil)")


# -- the user's work tree -----------------------------------------------------------------------------
def test_work_tree_writes_below_python_are_refused(tmp_path, marker, loader_path):
    """Landlock (writes only in the private directory) below the audit hook: open, unlink,
    rename, mkdir, symlink, truncate in the repository's work tree all fail with EACCES;
    Python's own open() succeeds in the load's throwaway copy and leaves the tree as it was."""
    repo = tmp_path / "repo"  # where hostile() puts it
    target = str(repo / "zzmodels" / "__init__.py").encode()
    code = f"""\
results = [
    libc.open({target!r}, os.O_WRONLY | os.O_APPEND) < 0 and err(),
    libc.open({str(repo / 'new.py').encode()!r}, os.O_WRONLY | os.O_CREAT, 0o644) < 0 and err(),
    libc.unlink({target!r}) < 0 and err(),
    libc.rename({target!r}, {target + b'.moved'!r}) < 0 and err(),
    libc.mkdir({str(repo / 'dir').encode()!r}, 0o755) < 0 and err(),
    libc.symlink(b"/etc/passwd", {str(repo / 'link').encode()!r}) < 0 and err(),
    libc.truncate({target!r}, 0) < 0 and err(),
]
if not all(results):
    raise RuntimeError(f"ESCAPED: {{results}}")
# Python-level: done in the load's throwaway copy of the file (the snapshot below shows
# the work tree unchanged).
with open({str(target, 'utf-8')!r}, "a") as f:
    f.write("# pwned")
if not open({str(target, 'utf-8')!r}).read().endswith("# pwned"):
    raise RuntimeError("the load does not see its own write")
raise RuntimeError(f"blocked: {{sorted(set(results))}}")
"""
    repo = hostile(tmp_path, PRELUDE + code)
    before = snapshot(repo)
    message, _ = fails(repo, marker, timeout=SLOW)
    assert message.endswith("blocked: ['EACCES'] (module zzmodels.evil)")
    assert snapshot(repo) == before


# -- supervision ----------------------------------------------------------------------------------------
def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()[1])
    except OSError:
        return 0  # gone


def test_a_killed_supervisor_is_noticed_at_once(tmp_path, marker, loader_path):
    """The supervisor killed from outside (OOM killer, a user's kill): the load fails at
    once with what happened, not after the time limit blaming a timeout."""
    import signal
    import threading

    repo = hostile(tmp_path, "import time\ntime.sleep(600)\n")
    killed = []

    def kill_supervisor():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            # From a process that carries the marker (the worker's `git cat-file` at least) up
            # to the supervisor: the child of this process, or of the fork server.
            tops = {os.getpid()} | {server._proc.pid for server in load_module._servers.values() if server._proc}
            for pid in processes_with(marker):
                while parent_of(pid) not in tops | {0, 1}:
                    pid = parent_of(pid)
                if parent_of(pid) in tops:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(time.monotonic())
                    break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_supervisor)
    killer.start()
    try:
        message, _ = fails(repo, marker, timeout=120)
    finally:
        killer.join()
    assert killed and time.monotonic() - killed[0] < 30  # not the 135 s of the time limit (a busy machine is slow)
    assert message.startswith("v1: the loader's supervisor ended without a result (killed from outside?)")


def test_ctrl_c_stops_every_load_at_once(tmp_path, marker, loader_path):
    """Ctrl-C while two refs load (model code sleeping): both loads are killed at once, the
    interrupt comes through, and nothing of them is left (the marker fixture checks)."""
    import signal
    import threading

    from modeldiff.load import LoadOptions, load_pair
    from modeldiff.source.repository import Repository

    repo = hostile(tmp_path, "import time\ntime.sleep(600)\n")
    repository = Repository(str(repo))
    options = LoadOptions("", "zzmodels", timeout=120, env={"MD_TEST_MARKER": marker})
    started = []

    def interrupt():
        deadline = time.monotonic() + 60
        while len(processes_with(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # both loads running (each has a `git cat-file` with the marker)
        started.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        load_pair([repository.snapshot("v1"), repository.snapshot("v1")], options)
    assert started and time.monotonic() - started[0] < 30  # not the 120 s the loads would take (a busy machine is slow)
    assert load_module._loads == {}


# -- the filter itself, for both architectures ------------------------------------------------------------
def run_filter(program, arch: int, nr: int, arg0: int = 0) -> int:
    """A classic-BPF interpreter for the instructions the filter uses, over seccomp_data."""
    from modeldiff.load.sandbox import _JEQ, _JGE, _JSET, _LD_W_ABS, _RET

    data = {0: nr, 4: arch, 16: arg0 & 0xFFFFFFFF}
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == _LD_W_ABS:
            acc = data[k]
        elif code == _RET:
            return k
        else:
            taken = {_JEQ: acc == k, _JGE: acc >= k, _JSET: bool(acc & k)}[code]
            pc += jt if taken else jf
        pc += 1


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_seccomp_program_decisions(machine):
    """What the kernel will answer, for the architecture this machine is not, too."""
    from modeldiff.load.sandbox import _SECCOMP_ARCH, seccomp_program

    program = seccomp_program(machine)
    arch, _, clone, denied = _SECCOMP_ARCH[machine]
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    assert run_filter(program, arch, 63 if machine == "x86_64" else 160) == allow  # uname
    for name, nr in denied.items():
        assert run_filter(program, arch, nr) == eperm, name
    assert run_filter(program, arch, clone, 0x003D0F00) == allow  # pthread_create's flags
    assert run_filter(program, arch, clone, 0x01200011) == eperm  # fork()'s flags
    assert run_filter(program, arch, clone, 0x00004111) == eperm  # posix_spawn: CLONE_VM|CLONE_VFORK
    assert run_filter(program, arch, 435) == enosys  # clone3
    assert run_filter(program, 0x40000003, 1) == eperm  # another ABI (i386)
    if machine == "x86_64":
        assert run_filter(program, arch, 0x40000000 | 41) == eperm  # x32 socket


def test_a_runs_own_fork_server_leaves_when_the_run_is_killed(tmp_path):
    """With MODELDIFF_PG_IDLE=0 the fork server belongs to one run: SIGKILL of that run
    (no atexit, no `quit`) ends the server within seconds, and its directory is removed."""
    import signal

    repo = hostile(tmp_path, "X = 1\n")
    script = """\
import sys, time
from modeldiff.load import LoadOptions, load_schema
from modeldiff.source.repository import Repository
load_schema(Repository(sys.argv[1]).snapshot("v1"), LoadOptions("", "zzmodels", timeout=60))
print("loaded", flush=True)
time.sleep(600)
"""
    env = {**os.environ, "MODELDIFF_CACHE_DIR": str(tmp_path / "cache"), "MODELDIFF_PG_IDLE": "0", "MODELDIFF_FORK_SERVER": "1"}
    run = subprocess.Popen([sys.executable, "-c", script, str(repo)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline() == "loaded\n"
        (directory,) = (tmp_path / "cache" / "forkservers").iterdir()
        assert (directory / "sock").exists()
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    deadline = time.monotonic() + 20
    while directory.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not directory.exists()
    while _serving(directory) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _serving(directory)


def _serving(directory: Path) -> bool:
    """A fork server for `directory` is running (its command line names it)."""
    needle = f"--serve-socket\0{directory}\0".encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_seccomp_lets_only_the_replays_database_socket_send(machine):
    """The migration replay opens its one database connection before the filter: sendto and
    sendmsg are allowed on that descriptor alone; every other socket call stays refused."""
    from modeldiff.load.sandbox import _SECCOMP_ARCH, seccomp_program

    arch, _, _, calls = _SECCOMP_ARCH[machine]
    program = seccomp_program(machine, sending_fds=(7,))
    allow, eperm = 0x7FFF0000, 0x00050000 | 1
    for name in ("sendto", "sendmsg"):
        assert run_filter(program, arch, calls[name], 7) == allow, name
        assert run_filter(program, arch, calls[name], 8) == eperm, name
        assert run_filter(program, arch, calls[name], 0) == eperm, name
    for name in ("socket", "connect", "socketpair", "sendmmsg", "execve"):
        assert run_filter(program, arch, calls[name], 7) == eperm, name
    assert run_filter(seccomp_program(machine), arch, calls["sendto"], 7) == eperm  # loads: no exception
