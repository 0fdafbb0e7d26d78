"""A cache of loaded schemas and of compare results, in the user's cache directory.

A ref's schema is determined by the files its import read, so its entry is valid for any
ref at which those files have the same blob ids (and the paths the import probed and did
not find are still absent), under the same modeldiff, SQLAlchemy, Python, layout and
settings. Entries are found through a fingerprint of the models directory, then checked
file by file. A pair's compare result is keyed by the two schema entries.

Entries are a checksum line, then the JSON it sums (checked without re-encoding); writes go to a temp file and are renamed into place, so
concurrent runs never see half an entry, and a corrupt entry is detected, removed and
rebuilt. `atomic_write` is modeldiff's one way of writing a file whole or not at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, settings

if TYPE_CHECKING:
    from .source.repository import Snapshot

FORMAT = 2  # bump when the shape of an entry or of a LoadedSchema changes


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def environment_fingerprint(python: str | None) -> list:
    """What besides the files decides a load: versions of the tool and its runtime."""

    interpreter = python or sys.executable
    return [FORMAT, __version__, loader_digest(), *installed_versions(("sqlalchemy", "flask-sqlalchemy", "alembic")), interpreter, sys.version]


@functools.cache
def installed_versions(packages: tuple[str, ...], ask_metadata: bool = True) -> tuple[str, ...]:
    """Versions of installed distributions ("-" when absent), from their dist-info
    directory names: what importlib.metadata reads, without its import (a warm run's
    largest cost after the interpreter itself); `ask_metadata=False`: absent is not asked
    again (packages that are usually absent)."""
    wanted = {_dist_name(p): p for p in packages}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                dist, _, rest = name[: -len(".dist-info")].partition("-")
                if _dist_name(dist) in wanted and _dist_name(dist) not in found:
                    found[_dist_name(dist)] = rest
    if len(found) < len(wanted) and ask_metadata:  # an egg, an editable or odd install: ask importlib.metadata
        from importlib.metadata import PackageNotFoundError, version

        for key, package in wanted.items():
            if key not in found:
                try:
                    found[key] = version(package)
                except PackageNotFoundError:
                    found[key] = "-"
    return tuple(found.get(_dist_name(p), "-") for p in packages)


def _dist_name(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _code_digest(paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def loader_digest() -> str:
    """The loader's own code: what it records can change without a version bump."""
    return _code_digest((Path(__file__).parent / "load").glob("*.py"))


@functools.cache
def compare_digest() -> str:
    """The code that turns two schemas into changes (for cached pair results)."""
    here = Path(__file__).parent
    return _code_digest((here / "compare").glob("*.py"))


# The entries this process has read, in order: an answer the warm entry path (ci/warm.py)
# records is good while they are unchanged.
READ: list[Path] = []


class Cache:
    def __init__(self, root: Path | None = None, enabled: bool = True) -> None:
        self.root = (root or settings.cache_dir()) / "entries"
        self.enabled = enabled

    # -- raw entries --------------------------------------------------------------------
    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str, parse=json.loads):
        """An entry, or None (absent, or corrupt: removed, rebuilt by the caller). `parse`
        None: whether it is there and sound, without parsing it (bool)."""
        if not self.enabled:
            return None
        path = self._path(kind, key)
        try:
            checksum, _, body = path.read_bytes().partition(b"\n")
            if checksum.decode() != hashlib.sha256(body).hexdigest():
                raise ValueError("checksum mismatch")
            value = parse(body) if parse else True
            READ.append(path)
            return value
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, OSError):
            path.unlink(missing_ok=True)  # corrupt: rebuilt by the caller
            return None

    def put(self, kind: str, key: str, payload) -> None:
        """Store an entry; best effort: `cache clear` removing the directory under a running
        run costs that run its entry, never its answer."""
        if not self.enabled:
            return
        path = self._path(kind, key)
        body = json.dumps(payload)  # key order kept: output is byte-identical
        text = hashlib.sha256(body.encode()).hexdigest() + "\n" + body
        for _ in range(3):  # again if the directory went between mkdir and write
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, text)
                return
            except (FileNotFoundError, FileExistsError, OSError):
                continue

    def clear(self) -> int:
        import shutil

        count = sum(1 for _ in self.root.rglob("*.json")) if self.root.exists() else 0
        shutil.rmtree(self.root, ignore_errors=True)
        return count

    # -- schemas ------------------------------------------------------------------------
    def schema_index_key(self, snapshot: Snapshot, listing: dict[str, str], models_path: str, context: list) -> str:
        prefix = models_path.strip("/")
        models = {p: b for p, b in listing.items() if p == prefix or p.startswith(prefix + "/")}
        return _digest("index", context, sorted(snapshot.blob_ids(models).items()))

    def find_schema(self, snapshot: Snapshot, listing: dict[str, str], models_path: str, context: list):
        """(entry key, schema JSON) of a load valid for `snapshot`, or (None, None)."""
        index = self.get("index", self.schema_index_key(snapshot, listing, models_path, context)) or []
        dirs = _dirs(listing)
        for key in index:
            entry = self.get("schema", key)
            if entry is None:
                continue
            paths = entry["files_read"]
            current = snapshot.blob_ids({p: listing[p] for p in paths if p in listing})
            if current != paths:
                continue
            if any(f"{base}.py" in listing or f"{base}/__init__.py" in listing or base in dirs for base in entry.get("absent", [])):
                continue
            return key, entry
        return None, None

    def commit_key(self, snapshot: Snapshot, models_path: str, context: list) -> str | None:
        """A commit never changes, so the schema entry found valid for it once is valid for
        it always (under the same context): remembered by commit, a later run finds it
        without listing the commit's files."""
        return _digest("commit", context, snapshot.commit, models_path) if snapshot.commit else None

    def schema_key_by_commit(self, snapshot: Snapshot, models_path: str, context: list) -> str | None:
        """The key of the schema entry remembered for `snapshot`'s commit, when that entry
        is there: read it only if needed (`get("schema", key)`; a warm diff of 2,000 tables
        needs its summary alone, see `summary`)."""
        commit_key = self.commit_key(snapshot, models_path, context)
        key = self.get("commit", commit_key) if commit_key else None
        return key if key and self._path("summary", key).exists() and self.get("schema", key, parse=None) else None

    def remember_commit(self, snapshot: Snapshot, models_path: str, context: list, key: str) -> None:
        commit_key = self.commit_key(snapshot, models_path, context)
        if commit_key:
            self.put("commit", commit_key, key)

    def store_schema(self, snapshot: Snapshot, listing: dict[str, str], models_path: str, context: list, schema_json: dict, summary: dict | None = None) -> str:
        key = _digest("schema", context, sorted(schema_json["files_read"].items()), schema_json.get("absent", []))
        self.put("schema", key, schema_json)
        if summary is not None:
            self.put("summary", key, summary)
        index_key = self.schema_index_key(snapshot, listing, models_path, context)
        index = [k for k in (self.get("index", index_key) or []) if k != key]
        self.put("index", index_key, [key, *index][:8])
        return key

    # -- compare results ----------------------------------------------------------------
    def pair_key(self, old_key: str, new_key: str) -> str:
        return _digest("pair", FORMAT, compare_digest(), old_key, new_key)


def atomic_write(path: Path, text: str, mode: int | None = None) -> None:
    """`text` into `path`, whole or not at all: a temp file beside it, renamed into place
    (readers never see half a file; a failure, Ctrl-C included, leaves what was there and
    no temp file). `mode`: the file's permissions (mkstemp's 0600 otherwise)."""
    import tempfile

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OSError(f"{path}: no such directory {str(parent)!r}")
    _sweep_dead_temps(parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.{os.getpid()}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            if settings.kill_at() == "write":  # fault tests: killed with the temp file written
                import signal

                handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sweep_dead_temps(parent: Path, name: str) -> None:
    """The temp files of `name` that killed runs (SIGKILL: no exit path ran) left beside it:
    `.NAME.PID.xxxx` of a pid that no longer runs."""
    prefix = f".{name}."
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(prefix) :].partition(".")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # a live run's, being written
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.getuid():
                os.unlink(entry.path)
        except OSError:
            pass


def _dirs(listing: dict[str, str]) -> set[str]:
    dirs = set()
    for path in listing:
        parent = path.rpartition("/")[0]
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = parent.rpartition("/")[0]
    return dirs


__all__ = ["Cache", "environment_fingerprint"]
