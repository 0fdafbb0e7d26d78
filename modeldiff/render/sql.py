"""The migration as SQL text for one dialect, written by alembic's offline mode.

The same operations as the revision file are run against an `as_sql` MigrationContext
(what `alembic upgrade --sql` does), so statements come out in the order the revision
would run them (enum types before the columns that use them, and so on).

SQLite cannot alter a column, a primary key or a constraint in place. Tables with such
changes are rebuilt the way alembic's batch mode does it (create a copy, copy the rows,
drop, rename); offline, batch mode needs the table's current shape, which is FROM's table
as reflected (TO's on the way down), with the types each model column has on SQLite.
"""

from __future__ import annotations

import io

from alembic.migration import MigrationContext
from alembic.operations import Operations, ops

from .. import compat
from ..draft.migration import Migration

from . import SQL_DIALECTS as DIALECTS
# What SQLite can do to an existing table without rebuilding it.
_SQLITE_IN_PLACE = (ops.CreateIndexOp, ops.DropIndexOp, ops.AddColumnOp)


def render_sql(migration: Migration, dialect: str, direction: str = "upgrade", header: str | None = None) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; one of {', '.join(DIALECTS)}")
    view = migration.view(dialect)
    container = view.upgrade if direction == "upgrade" else view.downgrade
    buf = io.StringIO()
    # "named": the script is run as text, so a `%` in a literal stays one `%` (pyformat doubles it)
    context = MigrationContext.configure(dialect_name=dialect, dialect_opts={"paramstyle": "named"}, opts={"as_sql": True, "output_buffer": buf})
    if dialect == "postgresql":  # offline, SQLAlchemy would double each backslash of a literal (a comment)
        compat.standard_conforming_strings(context.dialect)
    operations = Operations(context)
    for line in (header or "").splitlines():
        buf.write(f"-- {line}\n".replace("-- \n", "--\n"))
    for note in view.approximations:
        buf.write(f"-- modeldiff: {note}\n")
    if header or view.approximations:
        buf.write("\n")
    with context.begin_transaction():
        for op in container.ops:
            if isinstance(op, ops.ModifyTableOps):
                side = "from" if direction == "upgrade" else "to"
                tables = view.from_tables if side == "from" else view.to_tables
                notes = view.table_notes.get((side, op.table_name), ())
                _modify_table(operations, op, dialect, tables, notes)
            else:
                operations.invoke(op)
    return buf.getvalue()


def _modify_table(operations: Operations, container: ops.ModifyTableOps, dialect: str, tables: dict, notes: list[str]) -> None:
    inner = list(container.ops)
    if dialect != "sqlite" or all(_sqlite_in_place(op) for op in inner):
        for op in inner:
            operations.invoke(op)
        return
    table = tables.get(container.table_name)  # its shape before this migration
    if table is None:  # created by this migration, so no rebuild needed
        for op in inner:
            operations.invoke(op)
        return
    for note in notes:
        operations.get_context().impl.static_output(f"-- modeldiff: rebuilt table {note}")
    with operations.batch_alter_table(container.table_name, schema=container.schema, copy_from=table, recreate="always") as batch:
        for op in inner:
            batch.invoke(op)


def _sqlite_in_place(op) -> bool:
    """ADD COLUMN works in place unless the column is NOT NULL without a constant default
    (SQLite refuses both); everything else in the list is plain CREATE/DROP INDEX."""
    if isinstance(op, ops.AddColumnOp):
        column = op.column
        default = column.server_default
        constant = default is not None and "(" not in str(getattr(default.arg, "text", default.arg))
        return column.nullable or constant
    return isinstance(op, _SQLITE_IN_PLACE)
