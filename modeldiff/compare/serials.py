"""SERIAL columns recognised in one catalog query per database, not one per column.

Alembic's PostgreSQL column hook (`autogen_column_reflect`) drops the `nextval()` default
of an integer column whose sequence the column owns, as SERIAL creates it, and asks the
catalog once for each such column: 2,000 round trips for 1,000 tables on two sides. This
hook makes the same decision from one query of every owned sequence of the database.
"""

from __future__ import annotations

import re

from sqlalchemy.dialects.postgresql import BIGINT, INTEGER

_NEXTVAL = re.compile(r"nextval\('(.+?)'::regclass\)")
# alembic's own query, for all sequences at once: sequence (as a regclass prints under the
# connection's search_path, as it does in the default) -> the column it is owned by.
_OWNED = """
SELECT c.oid::regclass::text, a.attname
  FROM pg_class c
  JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class t ON t.oid = d.refobjid
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
 WHERE c.relkind = 'S'
"""


def serial_hook(connection):
    """A `column_reflect` listener (inspector, table, column_info) for tables reflected
    through `connection` (a SQLAlchemy connection); the owned sequences are read once, at
    the first column that needs them."""
    owned: dict[str, str] | None = None

    def hook(inspector, table, column_info) -> None:
        nonlocal owned
        default = column_info.get("default")
        if not default or not isinstance(column_info["type"], (INTEGER, BIGINT)):
            return
        sequence = _NEXTVAL.match(default)
        if sequence is None:
            return
        if owned is None:
            owned = dict(connection.exec_driver_sql(_OWNED).fetchall())
        if owned.get(sequence.group(1)) == column_info["name"]:
            del column_info["default"]  # a SERIAL: its default is the type's doing

    return hook
