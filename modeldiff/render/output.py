"""`-o PATH`: checked before any work, written the way the user means it.

A symlink is written through (its target is what the user named), a device or FIFO is
written directly (`-o /dev/null`, `-o >(...)`), a regular file is replaced atomically with
its mode kept (a new one gets what `open()` would give, 0666 less the umask). A directory,
a socket, a missing or unwritable directory are errors said in one line before the run
starts, not after it as an internal error. No temporary file outlives a write.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class OutputError(ValueError):
    """A target that cannot be written (one line: what and why)."""


def check_target(output: str, directory_ok: bool = False) -> None:
    """Raise OutputError unless `output` ("-": stdout) can be written; `directory_ok`: an
    existing directory, or a path ending in '/', is a place to write into (revision)."""
    if output in ("", "-"):
        return
    where = f"-o {output}"
    if directory_ok and output.endswith(("/", os.sep)):
        _check_directory(Path(output), where, may_create=True)
        return
    path = Path(os.path.realpath(output))  # through symlinks: their target is written
    try:
        found = path.stat()
    except FileNotFoundError:
        _check_directory(path.parent, where)
        return
    except OSError as exc:
        raise OutputError(f"{where}: {exc.strerror}") from None
    if stat.S_ISDIR(found.st_mode):
        if directory_ok:
            _check_directory(path, where)
            return
        raise OutputError(f"{where}: is a directory")
    if stat.S_ISREG(found.st_mode) or stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode):
        if not os.access(path, os.W_OK):
            raise OutputError(f"{where}: not writable")
        return
    raise OutputError(f"{where}: not a file, device or FIFO")


def _check_directory(directory: Path, where: str, may_create: bool = False) -> None:
    directory = Path(os.path.realpath(directory))
    existing = directory
    while may_create and not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the part that exists must let us create the rest
    if not existing.is_dir():
        raise OutputError(f"{where}: directory {directory} does not exist")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{where}: directory {existing} is not writable")


def write_target(output: str, text: str) -> None:
    """Write `text` to `output` (see the module's docstring)."""
    path = Path(os.path.realpath(output))
    try:
        found = path.stat()
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISREG(found.st_mode):
        with open(path, "w", encoding="utf-8") as handle:  # a device or FIFO: as is
            handle.write(text)
        return
    if found is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    else:
        mode = stat.S_IMODE(found.st_mode)
    if not os.access(path.parent, os.W_OK | os.X_OK):
        # A writable file in a directory we may not create in: in place, not atomically.
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    from ..cache import atomic_write

    atomic_write(path, text, mode)
