"""Tables whose DDL is the same at both refs, which the comparison can leave to PostgreSQL.

The same statements run on the same server give the same catalog entries, so a table whose
CREATE TABLE, indexes, comments and foreign keys of cycles are word for word the same at
both refs cannot differ there; alembic need not reflect and compare it (at 2,000 tables,
most of the comparison's time). The statements outside any table (types, schemas,
functions of DDL events) must be the same too, or no table is skipped: they can change
what a table's unchanged text means. Enum types and primary keys are compared apart, for
every table.
"""

from __future__ import annotations

from ..load import LoadedSchema
from .materialize import ALTERED_TABLE


def _by_table(schema: LoadedSchema) -> tuple[dict[str, tuple], list[str]]:
    """Each table's statements, and the statements of no table."""
    tables = {key: (t.get("create"), tuple(t["statements"])) for key, t in schema.tables.items()}
    loose = list(schema.preamble)
    for sql in schema.postamble:
        altered = ALTERED_TABLE.match(sql)
        key = altered.group(1).replace('"', "") if altered else None
        if key in tables:
            tables[key] += (sql,)
        else:
            loose.append(sql)
    return tables, loose


def unchanged_tables(old: LoadedSchema, new: LoadedSchema) -> frozenset[str]:
    """Keys of the tables both refs create with the very same statements."""
    (a, a_loose), (b, b_loose) = _by_table(old), _by_table(new)
    if a_loose != b_loose:
        return frozenset()
    return frozenset(key for key in a.keys() & b.keys() if a[key] == b[key] and a[key][0] is not None)
