"""Where short-lived scratch files go.

A load writes a few hundred small files and the comparison creates a few hundred relation
files in PostgreSQL; on a disk file system creating and removing them costs tenths of a
second a run, on a memory file system (tmpfs) milliseconds. Nothing written there is
meant to outlive a run, except the embedded server's (empty between runs) tablespace.
"""

from __future__ import annotations

import os
import tempfile


def memory_dir(min_free: int = 256 * 2**20) -> str | None:
    """A writable memory file system with `min_free` bytes to spare: $XDG_RUNTIME_DIR (per
    user), else /dev/shm. (A container's /dev/shm may be as small as 64 MB.)"""
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            try:
                stat = os.statvfs(candidate)
            except OSError:
                continue
            if stat.f_bavail * stat.f_frsize >= min_free:
                return candidate
    return None


def scratch_base() -> str:
    """$TMPDIR when the user set it (their choice wins), else a memory file system when
    there is one, else the system default."""
    chosen = os.environ.get("TMPDIR")
    if chosen and os.path.isdir(chosen):
        return chosen
    return memory_dir() or tempfile.gettempdir()
