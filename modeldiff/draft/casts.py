"""Whether PostgreSQL can convert a column's data to its new type by itself.

Decided by trying it: each type change is applied to a scratch column in a database that is
in the state the direction starts from, inside a transaction that is rolled back. Plain
`ALTER ... TYPE` first, then `USING col::type`, then the same with the old default dropped
first (a default that cannot be cast blocks the change). What still fails has no cast at
all: a human must write the conversion, and the migration says so in a TODO.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..db import driver
from alembic.operations import ops

from ..sqltext import type_text as type_sql
from ..sqltext import quote
from .ops import walk_ops
from ..db.server import EmbeddedPostgres

UPGRADE, DOWNGRADE = "upgrade", "downgrade"


@dataclass
class Cast:
    """How one column type change runs on PostgreSQL."""

    using: str | None = None  # USING expression, when an explicit cast is needed
    drop_default: bool = False  # the old default must go first (it cannot be cast)
    todo: str | None = None  # no cast exists: a human decides


def probe_casts(server: EmbeddedPostgres, database: str, container, direction: str, enums: dict) -> dict:
    """How each type change in `container` runs, keyed (direction, table, column);
    `database` is in the state the direction starts from."""
    out = {}
    alters = [o for o in walk_ops(container) if isinstance(o, ops.AlterColumnOp) and o.modify_type is not None]
    if not alters:
        return out
    conn = server.connect(database)
    try:
        cur = conn.cursor()
        for op in alters:
            old_sql, new_sql = type_sql(op.existing_type), type_sql(op.modify_type)
            default = op.existing_server_default
            default_sql = None if default in (None, False) else str(getattr(default.arg, "text", default.arg))
            column = quote(op.column_name)
            using = f"{column}::{new_sql}"
            attempts = [
                (Cast(), default_sql, None),
                (Cast(using=using), default_sql, using),
                (Cast(using=using, drop_default=True), None, using),
            ]
            if default_sql is None:
                del attempts[2]
            for cast, with_default, using_sql in attempts:
                if _try_alter(cur, op.column_name, old_sql, new_sql, with_default, using_sql, enums):
                    out[(direction, op.table_name, op.column_name)] = cast
                    break
            else:
                out[(direction, op.table_name, op.column_name)] = Cast(
                    todo=f"PostgreSQL has no cast from {old_sql} to {new_sql}: write the conversion "
                    f"(ALTER COLUMN ... TYPE {new_sql} USING <expression>) or migrate the data another way"
                )
        cur.close()
    finally:
        conn.rollback()
        conn.close()
    return out


def _try_alter(cur, column: str, old_sql: str, new_sql: str, default_sql: str | None, using: str | None, enums: dict) -> bool:
    cur.execute("SAVEPOINT probe")
    try:
        for name, labels in enums.items():  # types the column may need that this database lacks
            cur.execute("SELECT 1 FROM pg_type WHERE typname = %s", (name,))
            if cur.fetchone() is None and name in (old_sql, new_sql, old_sql.strip('"'), new_sql.strip('"')):
                cur.execute(f"CREATE TYPE {quote(name)} AS ENUM ({', '.join(['%s'] * len(labels))})", labels)
        default = f" DEFAULT {default_sql}" if default_sql else ""
        cur.execute(f"CREATE TEMP TABLE modeldiff_probe ({quote(column)} {old_sql}{default})")
        cur.execute(f"ALTER TABLE modeldiff_probe ALTER COLUMN {quote(column)} TYPE {new_sql}" + (f" USING {using}" if using else ""))
        return True
    except driver.Error:
        return False
    finally:
        cur.execute("ROLLBACK TO SAVEPOINT probe")
