"""A throwaway view of the file system for model code (path redirection; standard library only).

Settings modules create their data directories, write a secret key file or copy templates
at import. Refused, such a write ends the import; allowed, it would reach the user's disk.
Here it succeeds in a shadow tree inside the child's private directory
(`<private>/overlay/<absolute path>`), which is deleted with it: later reads of that path
see the shadow copy, everything else reads the real file. Appending to or updating an
existing file copies it into the shadow tree first. Only Python-level calls are redirected
(`open`, `os.*`, and through them `pathlib`, `shutil`, `tempfile`); the kernel layers of
the sandbox still refuse what C code writes outside.

Files of the ref that the import did not need yet (a logging config in a data directory
without `__init__.py`) are written into the private source tree when first opened, listed
or tested for.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SPECIAL = ("/dev/", "/proc/", "/sys/")


class Overlay:
    def __init__(self, private_dir: str, on_missing=None, record=None) -> None:
        # Paths are compared made absolute, not resolved: os.path.realpath calls os.lstat,
        # which is redirected itself. The private directory is known in both spellings.
        self.roots = {os.path.abspath(private_dir), os.path.realpath(private_dir)}
        self.upper = os.path.join(os.path.abspath(private_dir), "overlay")
        self.on_missing = on_missing  # (absolute path inside the private dir) -> None
        self.record = record  # (detail) -> None: a write that was redirected
        self.recorded: set[str] = set()
        self._fetching = False
        self.real = {name: getattr(os, name) for name in _PATCHED_OS if hasattr(os, name)}
        self.real_open = builtins.open

    # -- mapping ---------------------------------------------------------------------------
    def _full(self, path):
        if isinstance(path, int) or path is None:
            return None
        try:
            text = os.fsdecode(path)
        except TypeError:
            return None
        return os.path.abspath(text)

    def _inside(self, full: str) -> bool:
        return any(full == root or full.startswith(root + os.sep) for root in self.roots)

    def _exists(self, path: str) -> bool:
        try:
            self.real["lstat"](path)
            return True
        except OSError:
            return False

    def read_path(self, path, fetch: bool = True):
        """Where to read `path` from: its shadow copy if there is one. With `fetch`, a file
        of the ref not written yet is written first (not for lstat: os.path.realpath and
        the sandbox's own checks walk every component with it)."""
        full = self._full(path)
        if full is None:
            return path
        if self._inside(full):
            if fetch and self.on_missing is not None and not self._fetching and not self._exists(full):
                self._fetching = True  # writing the file opens it: no second fetch
                try:
                    self.on_missing(full)
                finally:
                    self._fetching = False
            return path
        shadow = self.upper + full
        return shadow if not full.startswith(_SPECIAL) and self._exists(shadow) else path

    def write_path(self, path, copy_up: bool = True, what: str = "write"):
        """Where to write `path`: outside the private directory, its shadow copy (made
        from the real file first when the write keeps its content)."""
        full = self._full(path)
        if full is None or self._inside(full) or full == os.devnull or full.startswith(_SPECIAL):
            return path
        shadow = self.upper + full
        parent = os.path.dirname(shadow)
        if not self._exists(parent):
            self.real["makedirs"](parent, exist_ok=True)
        if copy_up and not self._exists(shadow) and os.path.isfile(full):
            shutil.copy2(full, shadow)
        if full not in self.recorded and self.record is not None:
            self.recorded.add(full)
            self.record(f"{what}({full})")
        return shadow

    # -- the patched calls -------------------------------------------------------------------
    def open(self, file, mode="r", *args, **kwargs):
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            file = self.write_path(file, copy_up="w" not in mode)
        else:
            file = self.read_path(file)
        return self.real_open(file, mode, *args, **kwargs)

    def os_open(self, path, flags, *args, **kwargs):
        if flags & _WRITE_FLAGS:
            path = self.write_path(path, copy_up=not flags & os.O_TRUNC)
        else:
            path = self.read_path(path)
        return self.real["open"](path, flags, *args, **kwargs)

    def mkdir(self, path, *args, **kwargs):
        full = self._full(path)
        if full is not None and not self._inside(full) and self._exists(full) and not self._exists(self.upper + full):
            raise FileExistsError(errno.EEXIST, "File exists", os.fsdecode(path))
        return self.real["mkdir"](self.write_path(path, copy_up=False, what="mkdir"), *args, **kwargs)

    def listdir(self, path="."):
        names = set()
        found = False
        for candidate in dict.fromkeys([path, self.read_path(path)]):
            try:
                names.update(self.real["listdir"](candidate))
                found = True
            except OSError:
                continue
        if not found:
            return self.real["listdir"](path)  # the real error
        return sorted(names) if not isinstance(path, bytes) else sorted(os.fsencode(n) if isinstance(n, str) else n for n in names)

    def _reader(self, name):
        real = self.real[name]
        fetch = name not in ("lstat", "readlink")

        def call(path, *args, **kwargs):
            return real(self.read_path(path, fetch), *args, **kwargs)

        call.__name__ = name
        return call

    def _move(self, name: str, src, dst, *args, **kwargs):
        source, full = self.read_path(src), self._full(src)
        if full is not None and not self._inside(full) and source is src:
            return self.real[name](src, dst, *args, **kwargs)  # a real file outside: refused
        return self.real[name](source, self.write_path(dst, copy_up=False, what=name), *args, **kwargs)

    def rename(self, src, dst, *args, **kwargs):
        return self._move("rename", src, dst, *args, **kwargs)

    def replace(self, src, dst, *args, **kwargs):
        return self._move("replace", src, dst, *args, **kwargs)


_READERS = ("stat", "lstat", "access", "scandir", "readlink")
_CHANGERS = ("remove", "unlink", "rmdir", "chmod", "utime", "truncate")
_PATCHED_OS = ("open", "mkdir", "makedirs", "listdir", "rename", "replace", *_READERS, *_CHANGERS)


def install(private_dir: str, on_missing=None, record=None) -> Overlay:
    """Redirect this process's Python-level file system calls (after the sandbox is up)."""
    overlay = Overlay(private_dir, on_missing, record)
    builtins.open = io.open = overlay.open  # type: ignore[assignment]
    os.open = overlay.os_open  # type: ignore[assignment]
    os.mkdir = overlay.mkdir  # type: ignore[assignment]
    os.listdir = overlay.listdir  # type: ignore[assignment]
    os.rename = overlay.rename  # type: ignore[assignment]
    os.replace = overlay.replace  # type: ignore[assignment]
    for name in _READERS:
        if name in overlay.real:  # `stat` also serves os.path.exists/isdir and pathlib
            setattr(os, name, overlay._reader(name))
    for name in _CHANGERS:  # a shadow copy if there is one, else the real path (refused outside)
        if name in overlay.real:
            setattr(os, name, overlay._reader(name))
    return overlay
