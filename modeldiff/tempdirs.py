"""Where short-lived scratch files go.

A load writes a few hundred small files and the comparison creates a few hundred relation
files in PostgreSQL; on a disk file system creating and removing them costs tenths of a
second a run, on a memory file system (tmpfs) milliseconds. Nothing written there is
meant to outlive a run, except the embedded server's (empty between runs) tablespace.
"""

from __future__ import annotations

import os
import tempfile


def memory_dir() -> str | None:
    """A writable memory file system: $XDG_RUNTIME_DIR (per user), else /dev/shm."""
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


def scratch_base() -> str:
    """$TMPDIR when the user set it (their choice wins), else a memory file system when
    there is one, else the system default."""
    chosen = os.environ.get("TMPDIR")
    if chosen and os.path.isdir(chosen):
        return chosen
    return memory_dir() or tempfile.gettempdir()
