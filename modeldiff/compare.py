"""Stage 3, compare: two loaded schemas -> the list of changes, through real PostgreSQL.

Both refs' DDL is created in its own database of one embedded server; the TO database is
reflected into a MetaData and alembic's autogenerate compares it against the FROM database.
Both sides are therefore in PostgreSQL's own normal form (what `pg_dump -s` would show), so
alembic's type and default heuristics can be replaced by exact comparisons, which closes
its blind spots (VARCHAR(255) -> VARCHAR). Detectors for what alembic never looks at
(primary keys, PostgreSQL enum types) run on the same two databases.
"""

from __future__ import annotations

import warnings as pywarnings
from contextlib import ExitStack

from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SAWarning
from sqlalchemy.pool import NullPool

from .load import LoadedSchema
from .pg import EmbeddedPostgres
from .result import Change, DiffResult, RefInfo, Warning
from .scratch import create_schema

_PG = postgresql.dialect()


def type_sql(type_) -> str:
    return type_.compile(dialect=_PG)


def _compare_type(context, inspected_column, metadata_column, inspected_type, metadata_type):
    # Both sides were reflected from PostgreSQL: the compiled type is the whole truth.
    return type_sql(inspected_type) != type_sql(metadata_type)


def _default_text(default) -> str | None:
    if default is None:
        return None
    arg = getattr(default, "arg", default)
    return str(getattr(arg, "text", arg))


def _compare_default(context, inspected_column, metadata_column, inspected_default, metadata_default, rendered_metadata_default):
    return _default_text(inspected_column.server_default) != _default_text(metadata_column.server_default)


def compare_schemas(old: LoadedSchema, new: LoadedSchema, server: EmbeddedPostgres | None = None) -> DiffResult:
    """Create both schemas in an embedded PostgreSQL and compare them."""
    with ExitStack() as stack:
        if server is None:
            server = stack.enter_context(EmbeddedPostgres())
        warnings: list[Warning] = [*old.warnings, *new.warnings]
        urls = []
        for schema in (old, new):
            database, created = materialize(server, schema)
            warnings += created
            urls.append(server.sqlalchemy_url(database))
        changes, upgrade_ops = compare_databases(urls[0], urls[1])
    return DiffResult(
        from_ref=RefInfo(old.ref, old.commit),
        to_ref=RefInfo(new.ref, new.commit),
        dialect="postgresql",
        changes=changes,
        warnings=sorted(set(warnings), key=Warning.sort_key),
        upgrade_ops=upgrade_ops,
    )


def materialize(server: EmbeddedPostgres, schema: LoadedSchema) -> tuple[str, list[Warning]]:
    """A new database of `server` holding `schema`; its name and the warnings."""
    database = server.create_database(schema.ref)
    conn = server.connect(database)
    try:
        warnings = create_schema(conn, schema, server.server_version())
    finally:
        conn.close()
    return database, warnings


def compare_databases(old_url: str, new_url: str):
    """Changes that turn the database at `old_url` into the one at `new_url`, sorted, and
    alembic's UpgradeOps for them."""
    old_engine = create_engine(old_url, poolclass=NullPool)
    new_engine = create_engine(new_url, poolclass=NullPool)
    try:
        with old_engine.connect() as old_conn, new_engine.connect() as new_conn:
            # Reflect the TO side through alembic's own column hook, as it reflects the FROM
            # side (e.g. SERIAL columns lose their nextval() default on both sides).
            impl = MigrationContext.configure(new_conn).impl
            target = MetaData()
            event.listen(target, "column_reflect", impl.autogen_column_reflect)
            # Tables in named schemas too (`__table_args__ = {"schema": ...}`), on both sides.
            schemas = sorted(set(_user_schemas(old_conn)) | set(_user_schemas(new_conn)))
            target.reflect(new_conn)
            for schema in schemas:
                target.reflect(new_conn, schema=schema)
            context = MigrationContext.configure(
                old_conn,
                opts={
                    "compare_type": _compare_type,
                    "compare_server_default": _compare_default,
                    "target_metadata": target,
                    "include_schemas": bool(schemas),
                    "include_name": _include_name,
                },
            )
            with pywarnings.catch_warnings():
                # Tables with mutually dependent foreign keys (users <-> teams) are normal;
                # alembic only sorts them for rendering. Not the user's concern here.
                pywarnings.filterwarnings("ignore", message="Cannot correctly sort tables", category=SAWarning)
                script = produce_migrations(context, target)
            changes = changes_from_ops(script.upgrade_ops)
            changes += primary_key_changes(inspect(old_conn), inspect(new_conn))
            for schema in schemas:
                changes += primary_key_changes(inspect(old_conn), inspect(new_conn), schema)
            changes += enum_changes(inspect(old_conn), inspect(new_conn))
    finally:
        old_engine.dispose()
        new_engine.dispose()
    return sorted(changes, key=Change.sort_key), script.upgrade_ops


def _user_schemas(conn) -> list[str]:
    """Schemas other than the default one and PostgreSQL's own."""
    insp = inspect(conn)
    default = insp.default_schema_name
    return [s for s in insp.get_schema_names() if s != default and s != "information_schema" and not s.startswith("pg_")]


def _include_name(name, type_, parent_names) -> bool:
    if type_ == "schema":
        return name is None or (name != "information_schema" and not name.startswith("pg_"))
    return True


def _qualified(table) -> str:
    return f"{table.schema}.{table.name}" if getattr(table, "schema", None) else table.name


def changes_from_ops(upgrade_ops) -> list[Change]:
    changes = []
    for diff in upgrade_ops.as_diffs():
        if isinstance(diff, list):  # column modifications come grouped
            for kind, schema, table, column, existing, old, new in diff:
                changes.append(_modify(kind, f"{schema}.{table}" if schema else table, column, existing, old, new))
        else:
            changes.append(_structural(diff))
    return changes


def _modify(kind, table, column, existing, old, new) -> Change:
    if kind == "modify_type":
        old, new = type_sql(old), type_sql(new)
    elif kind == "modify_default":
        old, new = _default_text(old), _default_text(new)
    detail = {}
    if kind != "modify_type" and existing.get("existing_type") is not None:
        detail["type"] = type_sql(existing["existing_type"])
    return Change(kind, table, column=column, old=old, new=new, detail=detail)


def _columns(constraint) -> list[str]:
    return [c.name for c in constraint.columns]


def _structural(diff) -> Change:
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        table = diff[1]
        return Change(kind, _qualified(table), detail={"columns": [c.name for c in table.columns]})
    if kind in ("add_column", "remove_column"):
        _, schema, table, column = diff
        table = f"{schema}.{table}" if schema else table
        facts = {"nullable": column.nullable}
        if column.server_default is not None:
            facts["default"] = _default_text(column.server_default)
        typ = type_sql(column.type)
        return Change(kind, table, column=column.name, old=typ if kind == "remove_column" else None, new=typ if kind == "add_column" else None, detail=facts)
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        columns = [getattr(e, "name", None) or str(e) for e in index.expressions]
        return Change(kind, _qualified(index.table), name=index.name, detail={"columns": columns, "unique": bool(index.unique)})
    if kind in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        detail = {"type": type(constraint).__name__.replace("Constraint", "").lower()}
        if hasattr(constraint, "columns") and len(constraint.columns):
            detail["columns"] = _columns(constraint)
        if hasattr(constraint, "sqltext"):
            detail["condition"] = str(constraint.sqltext)
        return Change(kind, _qualified(constraint.table), name=constraint.name, detail=detail)
    if kind in ("add_fk", "remove_fk"):
        fk = diff[1]
        return Change(
            kind,
            _qualified(fk.table),
            name=fk.name,
            detail={
                "columns": list(fk.column_keys),
                "referred_table": _qualified(fk.referred_table),
                "referred_columns": [e.column.name for e in fk.elements],
            },
        )
    if kind in ("add_table_comment", "remove_table_comment"):
        table = diff[1]
        old = diff[2] if kind == "add_table_comment" and len(diff) > 2 else None
        return Change("modify_table_comment", _qualified(table), old=old, new=table.comment)
    return Change(kind, None, detail={"alembic": repr(diff)})


def primary_key_changes(old, new, schema: str | None = None) -> list[Change]:
    """Alembic never compares primary keys."""
    changes = []
    for table in sorted(set(old.get_table_names(schema=schema)) & set(new.get_table_names(schema=schema))):
        a, b = old.get_pk_constraint(table, schema=schema), new.get_pk_constraint(table, schema=schema)
        if a["constrained_columns"] != b["constrained_columns"] or (a.get("name") != b.get("name") and a["constrained_columns"]):
            changes.append(
                Change(
                    "modify_primary_key",
                    f"{schema}.{table}" if schema else table,
                    name=b.get("name") or a.get("name"),
                    old=a["constrained_columns"] or None,
                    new=b["constrained_columns"] or None,
                    detail={"old_name": a.get("name"), "new_name": b.get("name")},
                )
            )
    return changes


def enum_changes(old, new) -> list[Change]:
    """PostgreSQL enum types: created, dropped, or their values changed."""
    a = {e["name"]: e["labels"] for e in old.get_enums()}
    b = {e["name"]: e["labels"] for e in new.get_enums()}
    changes = []
    for name in sorted(set(a) | set(b)):
        if name not in a:
            changes.append(Change("add_enum", None, name=name, new=b[name]))
        elif name not in b:
            changes.append(Change("remove_enum", None, name=name, old=a[name]))
        elif a[name] != b[name]:
            changes.append(Change("modify_enum", None, name=name, old=a[name], new=b[name]))
    return changes
