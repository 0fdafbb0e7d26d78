"""Which revision the live database runs, and which ref of the repository that is.

The revision is read from the app's version table (alembic's `alembic_version`, or the
`version_table` / `version_table_schema` its env.py passes to `context.configure`), through
the read-only connection. It must be in TO's history (every revision there leads to one of
TO's heads); otherwise it is a newer release's (the upgrade would be a downgrade), another
branch's, or unknown, and the plan stops with one line saying which.

FROM, when omitted, is the newest tag reachable from TO whose migration heads are exactly
the database's revisions. FROM, when given, is checked against the database: a difference is
reported (the database's revision decides what the upgrade runs).
"""

from __future__ import annotations

import re

from ..db import driver

from ..draft.chain import History, read_history
from ..replay.setup import AlembicSetup
from ..source.refs import version_key
from ..source.repository import Repository, Snapshot
from ..sqltext import qualified

MAX_TAGS_TRIED = 60  # tags older than TO tried for FROM, newest first


class DeployedError(Exception):
    """The live database's revision cannot be upgraded to TO: one line saying why."""


class NotMigrated(DeployedError):
    """The database has no alembic revision at all (no version table, or an empty one)."""


_VERSION_TABLE = re.compile(rb"version_table\s*=\s*['\"]([\w.]+)['\"]")
_VERSION_SCHEMA = re.compile(rb"version_table_schema\s*=\s*['\"](\w+)['\"]")


def version_table(snapshot: Snapshot, setup: AlembicSetup) -> str:
    """The (schema-qualified) name of the version table the app's env.py configures."""
    env = f"{setup.script_location}/env.py" if setup.script_location else "env.py"
    source = snapshot.read(env) if snapshot.exists(env) else b""
    table = _VERSION_TABLE.search(source)
    schema = _VERSION_SCHEMA.search(source)
    name = table.group(1).decode() if table else "alembic_version"
    return f"{schema.group(1).decode()}.{name}" if schema else name


def read_revisions(conn, table: str) -> tuple[str, ...]:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified(table),))
        if not cur.fetchone()[0]:
            raise NotMigrated(f"the database has no {table} table: it was never migrated with alembic (or the app keeps its version elsewhere)")
        try:
            cur.execute(f"SELECT version_num FROM {qualified(table)} ORDER BY 1")
        except driver.Error as exc:
            raise DeployedError(f"reading {table}: {str(exc).strip().splitlines()[0]}") from None
        revisions = tuple(r[0] for r in cur.fetchall())
    if not revisions:
        raise NotMigrated(f"{table} is empty: the database is at no revision")
    return revisions


def history_of(snapshot: Snapshot, setup: AlembicSetup) -> History:
    merged = History(",".join(setup.versions), {}, {})
    for path in setup.versions:
        found = read_history(snapshot, path)
        if found is not None:
            merged.revisions.update(found.revisions)
            merged.files.update(found.files)
    return merged


def check_upgradable(repository: Repository, to: Snapshot, setup: AlembicSetup, revisions: tuple[str, ...]) -> None:
    """Raise DeployedError unless every deployed revision is in TO's history."""
    known = history_of(to, setup).revisions
    for revision in revisions:
        if revision in known:
            continue
        where = _where_defined(repository, to, setup, revision)
        raise DeployedError(f"the database is at revision {revision}, {where}; refusing to plan an upgrade to {to.ref}")


def _where_defined(repository: Repository, to: Snapshot, setup: AlembicSetup, revision: str) -> str:
    commits = repository.git("log", "--all", "--format=%H", "-S", revision, "--", *setup.versions).split()
    if not commits:
        return f"which no commit of this repository defines (a hand-made or foreign revision)"
    added = commits[-1]
    try:
        repository.git("merge-base", "--is-ancestor", to.commit, added)
        newer = True
    except Exception:  # noqa: BLE001 - git's exit 1: not an ancestor
        newer = False
    tags = [t for t in repository.git("tag", "--contains", added).split() if t]
    named = f" (in {min(tags, key=version_key)})" if tags else ""
    if newer:
        return f"which is newer than {to.ref}{named}: that would be a downgrade"
    return f"which is not an ancestor of {to.ref}'s heads: it comes from another branch{named}"


def infer_from(repository: Repository, to: Snapshot, setup_of, revisions: tuple[str, ...]) -> Snapshot | None:
    """The newest tag reachable from TO whose heads are exactly `revisions`, else None.
    `setup_of(snapshot)` finds the migrations at a ref."""
    wanted = sorted(revisions)
    tags = [t for t in repository.git("tag", "--merged", to.commit).split() if t]
    for tag in sorted(tags, key=version_key, reverse=True)[:MAX_TAGS_TRIED]:
        snapshot = repository.snapshot(tag)
        setup = setup_of(snapshot)
        if setup is not None and history_of(snapshot, setup).heads == wanted:
            return snapshot
    return None


def heads_of(snapshot: Snapshot, setup: AlembicSetup) -> list[str]:
    return history_of(snapshot, setup).heads
