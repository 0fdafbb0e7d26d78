"""Confinement of the loader child before it runs any repository code (standard library only).

Layers, each covering what the previous one cannot:

- seccomp (kernel, no privileges needed): no sockets of any family (socket, socketpair, and
  connect/send*/bind/accept on any descriptor), no new processes (fork, vfork, clone without
  CLONE_THREAD, execve, execveat), no ptrace/process_vm_* and no io_uring (which would do
  all of these asynchronously). Denied calls fail with EPERM; threads keep working.
- Landlock (Linux >= 5.13, no privileges needed): the kernel refuses every write outside the
  child's private directory, reads of other processes' /proc entries (their environment,
  memory, command line) and of modeldiff's private directories (the fork servers' keys),
  every TCP connect/bind (ABI >= 4), and signals to processes outside the child (ABI >= 6).
  Applies to C extensions too. (Listing / and the hidden directories' ancestors is refused
  as a consequence: Landlock can only grant, see `_read_grants`.)
- An audit hook (PEP 578, cannot be removed): starting a process (fork, subprocess, exec,
  spawn, system) is a `SandboxViolation` that ends the load with a clear error; writes
  outside the private directory, network connections and signals to other processes are
  refused with the `OSError` the application would see anyway, and recorded. It is the
  readable error path; the kernel layers are what holds against ctypes and C extensions.
- No capabilities (when run as root).
- Patches: `os._exit`/`os.abort` raise instead of ending the process; SQLAlchemy engines and
  psycopg2 refuse to connect to a database (SQLite in the private directory stays usable).

Everything refused is recorded in `BLOCKED` with the repository file and line that tried it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys

REAL_EXIT = os._exit  # for the loader itself, once model code is done

# -- what was refused ---------------------------------------------------------------------------
BLOCKED: list[dict] = []  # {"what", "detail", "file", "line"}
_locate = None  # set by install(): frame -> (repo file, line) of the innermost repository frame


class SandboxViolation(BaseException):
    """Model code did something a model import must never do (start a process).

    A BaseException, so that an application's `except Exception:` cannot hide it."""

    def __init__(self, what: str, file: str, line: int) -> None:
        super().__init__(what)
        self.what, self.file, self.line = what, file, line
        self.module: str | None = None  # set by the importer that was running it


class HardExit(SystemExit):
    """`os._exit()` / `os.abort()` called by model code (raised instead of exiting)."""


def _where() -> tuple[str, int]:
    frame = sys._getframe(2)
    if _locate is not None:
        found = _locate(frame)
        if found:
            return found
    return "", 0


def _record(what: str, detail: str) -> tuple[str, int]:
    file, line = _where()
    if len(BLOCKED) < 200:
        BLOCKED.append({"what": what, "detail": detail[:300], "file": file, "line": line})
    return file, line


# -- Landlock -----------------------------------------------------------------------------------
_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # same number on every architecture
_PR_SET_NO_NEW_PRIVS = 38
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_WRITES_V1 = sum(1 << b for b in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))  # write, remove, make_*
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_FS_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE  # all a rule on a file may grant
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock(writable_dir: str, hidden: tuple[str, ...] = ()) -> dict:
    """Restrict this process (and everything it starts) to writing only beneath
    `writable_dir` (and /dev/null), reading everything but the directories `hidden` and
    other processes' /proc entries, with no TCP and no signals to outside processes.
    Returns what was applied; never raises."""
    if not sys.platform.startswith("linux"):
        return {"landlock": False, "reason": "not Linux"}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
        syscall.restype = ctypes.c_long
        abi = syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
        if abi < 1:
            return {"landlock": False, "reason": f"Landlock unavailable ({os.strerror(ctypes.get_errno())})"}
        grants = _read_grants(hidden)
        reads = _FS_READ_FILE | _FS_READ_DIR
        fs = _FS_WRITES_V1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
        net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
        scoped = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= 6 else 0
        attr = _RulesetAttr(fs | reads, net, scoped)
        size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
        ruleset = syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        if ruleset < 0:
            return {"landlock": False, "reason": f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}"}
        file_rights = _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0)
        rules = [(writable_dir, fs | reads, True), ("/dev/null", file_rights | (reads & _FS_READ_FILE), True)]
        rules += [(path, reads, False) for path in grants]
        try:
            for path, access, required in rules:
                try:
                    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
                except OSError:
                    if required:
                        raise
                    continue  # gone meanwhile
                try:
                    if not stat.S_ISDIR(os.fstat(fd).st_mode):
                        access &= _FS_FILE_RIGHTS
                    rule = _PathBeneath(access, fd)
                    if syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                        return {"landlock": False, "reason": f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}"}
                finally:
                    os.close(fd)
            if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                return {"landlock": False, "reason": "prctl(NO_NEW_PRIVS) failed"}
            if syscall(_SYS_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
                return {"landlock": False, "reason": f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}"}
        finally:
            os.close(ruleset)
        return {"landlock": True, "abi": int(abi), "network": bool(net), "signals": bool(scoped), "hidden": [*hidden, "/proc/<other pids>"]}
    except Exception as exc:  # noqa: BLE001 - confinement is best effort; the audit hook remains
        return {"landlock": False, "reason": f"{type(exc).__name__}: {exc}"}


def _read_grants(hidden: tuple[str, ...]) -> list[str]:
    """Landlock only grants, so "read everything but `hidden` and other processes' /proc
    entries" is a read rule for every other entry of /proc and for every sibling of
    `hidden` and of each of its ancestors (symlinks are not followed: a rule on one would
    grant its target). Processes started later have no rule: unreadable too."""
    dirs = sorted({os.path.realpath(h) for h in hidden if os.path.isdir(h)} | {"/proc"})
    dirs = [d for d in dirs if not any(d.startswith(o + os.sep) for o in dirs)]  # outermost only
    ancestors = set()
    for path in dirs:
        while path != os.path.dirname(path):
            path = os.path.dirname(path)
            ancestors.add(path)
    grants = [os.path.join("/proc", name) for name in os.listdir("/proc") if not name.isdigit()]
    grants.append(f"/proc/{os.getpid()}")
    for parent in sorted(ancestors):
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            path = os.path.join(parent, name)
            if path not in ancestors and path not in dirs:
                grants.append(path)
    return grants


# -- seccomp ------------------------------------------------------------------------------------
# Syscall numbers differ by architecture (x86-64: arch/x86/entry/syscalls/syscall_64.tbl;
# aarch64: include/uapi/asm-generic/unistd.h, which has no fork/vfork).
_SECCOMP_ARCH = {
    "x86_64": (
        0xC000003E,  # AUDIT_ARCH_X86_64
        317,  # seccomp
        56,  # clone
        {"socket": 41, "connect": 42, "accept": 43, "sendto": 44, "sendmsg": 46, "bind": 49, "listen": 50, "socketpair": 53,
         "fork": 57, "vfork": 58, "execve": 59, "ptrace": 101, "accept4": 288, "sendmmsg": 307,
         "process_vm_readv": 310, "process_vm_writev": 311, "execveat": 322,
         "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
    ),
    "aarch64": (
        0xC00000B7,  # AUDIT_ARCH_AARCH64
        277,
        220,
        {"socket": 198, "socketpair": 199, "bind": 200, "listen": 201, "accept": 202, "connect": 203, "sendto": 206, "sendmsg": 211,
         "execve": 221, "ptrace": 117, "accept4": 242, "sendmmsg": 269,
         "process_vm_readv": 270, "process_vm_writev": 271, "execveat": 281,
         "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
    ),
}
_SYS_CLONE3 = 435  # both: its flags sit in a struct seccomp cannot read; ENOSYS makes glibc use clone
_CLONE_THREAD = 0x00010000
_X32_BIT = 0x40000000
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(machine: str, sending_fds: tuple[int, ...] = ()) -> list[tuple[int, int, int, int]]:
    """The classic-BPF filter for `machine`, as (code, jt, jf, k): EPERM for sockets, new
    processes, ptrace and io_uring; ENOSYS for clone3; clone only with CLONE_THREAD; every
    call of another ABI (i386 via int 0x80, x32) EPERM. `sending_fds`: sockets opened before
    the filter (the migration replay's one database connection) that may still send."""
    arch, _, clone, denied = _SECCOMP_ARCH[machine]
    if sending_fds:
        denied = {name: nr for name, nr in denied.items() if name not in ("sendto", "sendmsg")}
    eperm, enosys, allow = "eperm", "enosys", "allow"
    body: list = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, _RET_ERRNO | errno.EPERM),
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        body.append((_JGE, eperm, 0, _X32_BIT))
    if sending_fds:
        sends = _SECCOMP_ARCH[machine][3]
        body += [(_JEQ, "sending", 0, sends["sendto"]), (_JEQ, "sending", 0, sends["sendmsg"])]
    body += [(_JEQ, eperm, 0, nr) for nr in sorted(denied.values())]
    body += [
        (_JEQ, enosys, 0, _SYS_CLONE3),
        (_JEQ, 0, allow, clone),
        (_LD_W_ABS, 0, 0, 16),  # low half of args[0], clone's flags (little endian)
        (_JSET, allow, eperm, _CLONE_THREAD),
    ]
    labels = {allow: len(body), eperm: len(body) + 1, enosys: len(body) + 2, "sending": len(body) + 3}
    body += [(_RET, 0, 0, _RET_ALLOW), (_RET, 0, 0, _RET_ERRNO | errno.EPERM), (_RET, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    if sending_fds:  # sendto/sendmsg: only on these descriptors (args[0]); jumps go forward only
        body.append((_LD_W_ABS, 0, 0, 16))
        body += [(_JEQ, len(sending_fds) - i, 0, fd) for i, fd in enumerate(sending_fds)]
        body += [(_RET, 0, 0, _RET_ERRNO | errno.EPERM), (_RET, 0, 0, _RET_ALLOW)]
    program = []
    for index, (code, jt, jf, k) in enumerate(body):
        jt, jf = (labels[j] - index - 1 if isinstance(j, str) else j for j in (jt, jf))
        program.append((code, jt, jf, k))
    return program


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> bool:
    """No capabilities (run as root, model code would keep CAP_SYS_BOOT, CAP_DAC_OVERRIDE...):
    capset with empty sets. True when none are left."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two data words
        if libc.capset(ctypes.byref(header), (_CapData * 2)()) != 0:
            return False
        with open("/proc/self/status") as status:
            return any(line.split() == ["CapEff:", "0" * 16] for line in status)
    except Exception:  # noqa: BLE001
        return False


def seccomp(sending_fds: tuple[int, ...] = ()) -> dict:
    """Install the filter on every thread of this process; what was applied, never raises."""
    import platform

    machine = platform.machine()
    if not sys.platform.startswith("linux") or machine not in _SECCOMP_ARCH:
        return {"seccomp": False, "seccomp_reason": f"no seccomp filter for {sys.platform} {machine}"}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        program = seccomp_program(machine, sending_fds)
        filters = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
        fprog = _SockFprog(len(program), filters)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return {"seccomp": False, "seccomp_reason": f"prctl(NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}"}
        # SECCOMP_SET_MODE_FILTER with SECCOMP_FILTER_FLAG_TSYNC: all threads, not just this one.
        nr = _SECCOMP_ARCH[machine][1]
        if libc.syscall(ctypes.c_long(nr), ctypes.c_uint(1), ctypes.c_uint(1), ctypes.byref(fprog)) != 0:
            return {"seccomp": False, "seccomp_reason": f"seccomp(SET_MODE_FILTER): {os.strerror(ctypes.get_errno())}"}
        return {"seccomp": True}
    except Exception as exc:  # noqa: BLE001 - reported as missing, loudly, by the parent
        return {"seccomp": False, "seccomp_reason": f"{type(exc).__name__}: {exc}"}


# -- audit hook ---------------------------------------------------------------------------------
_PROCESS_EVENTS = {
    "os.fork": "os.fork()",
    "os.forkpty": "os.forkpty()",
    "os.posix_spawn": "os.posix_spawn()",
    "os.spawn": "os.spawn*()",
    "os.system": "os.system()",
    "os.exec": "os.exec*()",
    "os.startfile": "os.startfile()",
    "subprocess.Popen": "subprocess",
    "pty.spawn": "pty.spawn()",
}
_NETWORK_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"}
_PATH_EVENTS = {  # event -> indexes of path arguments that must stay inside the private dir
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.truncate": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
    "os.chflags": (0,),
    "os.lchflags": (0,),
    "shutil.rmtree": (0,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class _Guard:
    def __init__(self, writable_dir: str) -> None:
        self.root = os.path.realpath(writable_dir)
        self.pid = os.getpid()
        self.active = True

    def allowed_path(self, path) -> bool:
        if isinstance(path, int) or path is None:
            return True  # an already-open descriptor
        try:
            text = os.fsdecode(path)
        except TypeError:
            return True
        full = os.path.realpath(os.path.join(os.getcwd(), text))
        return full == os.devnull or full == self.root or full.startswith(self.root + os.sep)

    def __call__(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and not self.allowed_path(path):
                _record("write", f"open({os.fsdecode(path)!s}, {mode or flags!r})")
                raise PermissionError(errno.EACCES, "modeldiff: model code may not write outside its private directory", os.fsdecode(path))
            return
        if event in _PATH_EVENTS:
            for index in _PATH_EVENTS[event]:
                if index < len(args) and not self.allowed_path(args[index]):
                    _record("write", f"{event}({args[index]!s})")
                    raise PermissionError(errno.EACCES, f"modeldiff: model code may not change files outside its private directory ({event})")
            return
        if event in _PROCESS_EVENTS:
            what = _PROCESS_EVENTS[event]
            detail = f"{what} {args[1]!r}" if event in ("subprocess.Popen", "os.exec") and len(args) > 1 else what
            file, line = _record("process", detail)
            raise SandboxViolation(f"model code tried to start a process ({detail[:120]})", file, line)
        if event in ("os.kill", "os.killpg"):
            pid = args[0] if args else None
            if event == "os.kill" and pid == os.getpid():
                return
            _record("signal", f"{event}{tuple(args)!r}")
            raise PermissionError(errno.EPERM, "modeldiff: model code may not signal other processes")
        if event in _NETWORK_EVENTS:
            target = args[1] if len(args) > 1 else (args[0] if args else "")
            _record("network", f"{event} {target!r}")
            raise PermissionError(errno.EACCES, "modeldiff: model code may not use the network")


def _refuse_exit(code: int = 0):
    _record("exit", f"os._exit({code!r})")
    raise HardExit(code)


def _refuse_abort():
    _record("exit", "os.abort()")
    raise HardExit("abort")


def _patch_database_drivers() -> None:
    """No database connections from model code: engines and psycopg2 refuse to connect."""

    def refuse(what: str):
        def connect(*args, **kwargs):
            _record("database", what)
            raise PermissionError(errno.EACCES, "modeldiff: model code may not connect to a database")

        return connect

    try:
        from sqlalchemy.pool import base as pool_base

        original = pool_base.Pool.connect

        def pool_connect(self):
            url = str(getattr(getattr(self, "_dialect", None), "name", ""))
            if url == "sqlite" or getattr(self, "modeldiff_shared", False):
                # files land in the private directory; the replay's engines reuse its one
                # connection (a pool that claims to and is not still meets the kernel layer)
                return original(self)
            _record("database", f"{url} engine connect")
            raise PermissionError(errno.EACCES, "modeldiff: model code may not connect to a database")

        pool_base.Pool.connect = pool_connect
    except Exception:  # noqa: BLE001 - an interpreter without SQLAlchemy fails later, clearly
        pass
    try:
        import psycopg2

        psycopg2.connect = refuse("psycopg2.connect")
        psycopg2._connect = refuse("psycopg2._connect")
    except Exception:  # noqa: BLE001
        pass


def _tolerant_flask_sqlalchemy() -> None:
    """`SQLAlchemy(app)` / `db.init_app(app)` with an app whose config we don't have must not
    lose the MetaData: the extension's models and tables exist before init_app runs."""
    try:
        from flask_sqlalchemy import extension
    except Exception:  # noqa: BLE001
        return
    original = extension.SQLAlchemy.init_app

    def init_app(self, app):
        try:
            return original(self, app)
        except Exception as exc:  # noqa: BLE001
            _record("flask-sqlalchemy", f"init_app failed and was skipped: {type(exc).__name__}: {exc}")

    extension.SQLAlchemy.init_app = init_app


def install(writable_dir: str, locate, hidden: tuple[str, ...] = (), use_seccomp: bool = True, sending_fds: tuple[int, ...] = ()) -> dict:
    """Confine this process. Call after our own helpers (the git reader) have started and
    before any repository code runs."""
    global _locate
    _locate = locate
    applied = landlock(writable_dir, hidden)
    applied["capabilities_dropped"] = drop_capabilities() if sys.platform.startswith("linux") else False
    applied.update(seccomp(sending_fds) if use_seccomp else {"seccomp": False, "seccomp_reason": "turned off (MODELDIFF_SECCOMP=0)"})
    _patch_database_drivers()
    _tolerant_flask_sqlalchemy()
    os._exit = _refuse_exit  # type: ignore[assignment]
    os.abort = _refuse_abort  # type: ignore[assignment]
    guard = _Guard(writable_dir)
    sys.addaudithook(guard)
    applied["audit_hook"] = True
    return applied
