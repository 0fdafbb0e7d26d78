"""FROM's schema, as its own migrations build it, kept as a template database.

Replaying Dify's 115 revisions from base costs a second or more; the answer only depends
on the version scripts, the files they import, the settings and this code. So after a
replay from base, the database is copied to `mdreplay_<key>` (in the server's default
tablespace: it must survive a reboot that empties the tmpfs one) with what the phase
reported as its comment; the next replay from the same FROM clones it (`CREATE DATABASE
... TEMPLATE`) instead. The key covers the version scripts' blob ids, the settings and the
code; the files the scripts imported are checked against the ref before a copy is used.

A complete answer is kept too (`answer_key`, in modeldiff's cache): the same FROM and TO
scripts, settings, models and code give the same statements, locks and rewrites, so a
second run on a pair reads it instead of replaying (the durations are the first run's).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from ..db import driver

from ..db.server import EmbeddedPostgres, _scratch_name

PREFIX = "mdreplay_"
KEEP = 16  # templates kept; the least recently made go first
_CODE = ("replay/child.py", "load/importer.py", "load/sandbox.py", "load/stubs.py")


def key(manifest: dict[str, str], script_files: list[str], request_shape: dict) -> str:
    from importlib.metadata import version

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for relpath in _CODE:
        digest.update((root / relpath).read_bytes())
    digest.update(json.dumps([sorted((f, manifest[f]) for f in script_files), request_shape, version("alembic"), version("sqlalchemy"), sys.version], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:40]


def seeded_key(cache_key: str) -> str:
    """The key of the same schema with the synthetic rows (`seed.py`, its code in the key)
    in it."""
    seeding = (Path(__file__).resolve().parent / "seed.py").read_bytes()
    return hashlib.sha256(cache_key.encode() + b":seeded:" + seeding).hexdigest()[:40]


def template_name(cache_key: str) -> str:
    return f"{PREFIX}{cache_key}"


def lookup(server: EmbeddedPostgres, cache_key: str, manifest: dict[str, str]) -> dict | None:
    """The phase result stored with a usable template, or None."""
    conn = server.connect("postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s AND datallowconn",
                (template_name(cache_key),),
            )
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None or not row[0]:
        return None
    try:
        stored = json.loads(row[0])
    except ValueError:
        return None
    # The files the scripts imported must be the same at this ref (or still absent).
    if any(manifest.get(path) != blob for path, blob in stored.get("files_read", {}).items()):
        return None
    return stored


def clone(server: EmbeddedPostgres, cache_key: str, owner: str) -> str:
    """A new scratch database (dropped with this run) copied from the template."""
    return copy_database(server, template_name(cache_key), owner)


def copy_database(server: EmbeddedPostgres, source: str, owner: str | None = None) -> str:
    """A scratch database (dropped with this run) copied from `source` (no connection may be
    open on it)."""
    name = _scratch_name("replay")
    where = f" TABLESPACE {server.tablespace}" if server.tablespace else ""
    owned = f" OWNER {owner}" if owner else ""
    server._execute("postgres", f'CREATE DATABASE "{name}" TEMPLATE "{source}"{owned}{where}')
    server._databases.append(name)
    return name


def store(server: EmbeddedPostgres, database: str, cache_key: str, result: dict) -> None:
    """Keep `database` (no connection may be open on it) as the template for `cache_key`."""
    final = template_name(cache_key)
    staging = f"{PREFIX}new_{_scratch_name('t')}"[:63]
    stored = {k: result.get(k) for k in ("applied", "files_read", "blocked", "skipped_statements", "stubbed_modules", "stand_ins", "unused_settings", "sandbox", "load_seconds", "seconds", "cpu_seconds", "seeded")}
    stored["made"] = time.time()
    conn = server.connect("postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{staging}" TEMPLATE "{database}" TABLESPACE pg_default')
            cur.execute(f'COMMENT ON DATABASE "{staging}" IS %s', (json.dumps(stored, sort_keys=True),))
            try:
                cur.execute(f'ALTER DATABASE "{staging}" RENAME TO "{final}"')
            except driver.errors.DuplicateDatabase:  # a concurrent run kept it first
                cur.execute(f'DROP DATABASE "{staging}"')
            _prune(cur)
    except driver.Error:
        pass  # no template this time: the next run replays from base again
    finally:
        conn.close()


def _prune(cur) -> None:
    cur.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s",
        (PREFIX.replace("_", r"\_") + "%",),
    )
    made = []
    for name, comment in cur.fetchall():
        try:
            made.append((json.loads(comment or "{}").get("made", 0), name))
        except ValueError:
            made.append((0, name))
    for _, name in sorted(made)[: max(0, len(made) - KEEP)]:
        try:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        except driver.Error:
            pass  # in use by a concurrent clone: next time


_ANSWER_CODE = ("replay/child.py", "replay/run.py", "replay/seed.py", "replay/observed.py", "replay/drift.py", "load/importer.py", "load/sandbox.py", "load/stubs.py")


def answer_key(phases: list[tuple[dict[str, str], list[str]]], request_shape: dict) -> str:
    """The key of a whole answer: both refs' version scripts (blob ids), the shape of the
    request (settings, seeding, the models compared for drift) and the code."""
    from importlib.metadata import version

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for relpath in _ANSWER_CODE:
        digest.update((root / relpath).read_bytes())
    scripts = [sorted((f, manifest[f]) for f in script_files) for manifest, script_files in phases]
    digest.update(json.dumps([scripts, request_shape, version("alembic"), version("sqlalchemy"), sys.version], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:40]


def lookup_answer(cache_key: str, manifests: list[dict[str, str]]) -> dict | None:
    """A kept answer whose imported files are still the same at both refs, or None."""
    from ..cache import Cache

    stored = Cache().get("replay", cache_key)
    if stored is None:
        return None
    for manifest, files_read in zip(manifests, stored["files_read"]):
        if any(manifest.get(path) != blob for path, blob in files_read.items()):
            return None
    return stored["report"]


def store_answer(cache_key: str, report: dict, files_read: list[dict[str, str]]) -> None:
    from ..cache import Cache

    Cache().put("replay", cache_key, {"report": report, "files_read": files_read})


def reads_key(manifest: dict[str, str], script_files: list[str], import_root: str, observe: bool) -> str:
    """The key of what a phase on these scripts read from git (see `earlier_reads`)."""
    scripts = sorted((f, manifest[f]) for f in script_files)
    return hashlib.sha256(json.dumps([scripts, import_root, observe]).encode()).hexdigest()[:40]


def earlier_reads(key: str, manifest: dict[str, str]) -> list[str]:
    """The blob ids an earlier phase on the same scripts read (the app modules they import),
    still those of this ref: the child reads them from git in one round trip instead of
    one per module (Dify's chain imports ~270 files). A hint only: what it lacks is read
    when imported, what it has in excess is never used."""
    from ..cache import Cache

    kept = Cache().get("replay-reads", key) or {}
    return sorted({blob for path, blob in kept.items() if manifest.get(path) == blob})


def keep_reads(key: str, files_read: dict[str, str]) -> None:
    from ..cache import Cache

    Cache().put("replay-reads", key, dict(files_read))
