"""Stage 3, compare: two loaded schemas -> the list of changes, through real PostgreSQL.

Both refs' DDL is created in its own database of one embedded server; the TO database is
reflected into a MetaData and alembic's autogenerate compares it against the FROM database.
Both sides are therefore in PostgreSQL's own normal form (what `pg_dump -s` would show), so
alembic's type and default heuristics can be replaced by exact comparisons, which closes
its blind spots (VARCHAR(255) -> VARCHAR). Detectors for what alembic never looks at
(primary keys, PostgreSQL enum types) run on the same two databases.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import warnings as pywarnings
from contextlib import ExitStack
from dataclasses import dataclass

from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SAWarning
from sqlalchemy.pool import NullPool

from .load import LoadedSchema
from .pg import EmbeddedPostgres
from .plan.facts import collect_facts
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


@dataclass(frozen=True)
class Place:
    """Where a schema lives: a database URL and, optionally, the PostgreSQL schema that
    comes first on the connection's search_path (so it reflects as the default schema)."""

    url: str
    search_path: str | None = None

    def engine(self):
        args = {"options": f"-c search_path={self.search_path},public"} if self.search_path else {}
        return create_engine(self.url, poolclass=NullPool, connect_args=args)


def compare_schemas(old: LoadedSchema, new: LoadedSchema, server: EmbeddedPostgres | None = None) -> DiffResult:
    """Create both schemas in an embedded PostgreSQL and compare them."""
    with ExitStack() as stack:
        if server is None:
            server = stack.enter_context(EmbeddedPostgres())
        server.wait()
        version = server.server_version()
        with ThreadPoolExecutor(max_workers=2) as pool:
            old_place, new_place = pool.map(lambda schema: materialize_in_schema(server, schema, version), (old, new))
        return compare_places(old, new, old_place, new_place)


def compare_places(old: LoadedSchema, new: LoadedSchema, old_place, new_place) -> DiffResult:
    """Compare two materialized schemas: each place is (Place, warnings of creating it)."""
    changes, upgrade_ops = compare_databases(old_place[0], new_place[0])
    warnings = [*old.warnings, *new.warnings, *old_place[1], *new_place[1]]
    return DiffResult(
        from_ref=RefInfo(old.ref, old.commit),
        to_ref=RefInfo(new.ref, new.commit),
        dialect="postgresql",
        changes=changes,
        warnings=sorted(set(warnings), key=Warning.sort_key),
        upgrade_ops=upgrade_ops,
    )


def materialize_in_schema(server: EmbeddedPostgres, schema: LoadedSchema, version: int | None = None) -> tuple[Place, list[Warning]]:
    """`schema` created in a new PostgreSQL schema of the server's shared database, or in a
    database of its own when its tables use named schemas (two refs' `audit.events` would
    collide in one database)."""
    if any(table.get("schema") for table in schema.tables.values()):
        database, warnings = materialize(server, schema)
        return Place(server.sqlalchemy_url(database)), warnings
    name = server.create_schema(schema.ref)
    conn = server.connect(search_path=name)
    try:
        warnings = create_schema(conn, schema, version or server.server_version())
    finally:
        conn.close()
    return Place(server.sqlalchemy_url(), name), warnings


def materialize(server: EmbeddedPostgres, schema: LoadedSchema) -> tuple[str, list[Warning]]:
    """A new database of `server` holding `schema`; its name and the warnings (for work that
    needs a whole database, such as running alembic migrations)."""
    database = server.create_database(schema.ref)
    conn = server.connect(database)
    try:
        warnings = create_schema(conn, schema, server.server_version())
    finally:
        conn.close()
    return database, warnings


def compare_databases(old: str | Place, new: str | Place):
    """Changes that turn the schema at `old` into the one at `new` (database URLs or
    Places), sorted, and alembic's UpgradeOps for them."""
    old_engine = (old if isinstance(old, Place) else Place(old)).engine()
    new_engine = (new if isinstance(new, Place) else Place(new)).engine()
    try:
        with old_engine.connect() as old_conn, new_engine.connect() as new_conn:
            # Reflect the TO side through alembic's own column hook, as it reflects the FROM
            # side (e.g. SERIAL columns lose their nextval() default on both sides).
            impl = MigrationContext.configure(new_conn).impl
            target = MetaData()
            event.listen(target, "column_reflect", impl.autogen_column_reflect)
            # Tables in named schemas too (`__table_args__ = {"schema": ...}`), on both sides.
            # Such refs have a database of their own; a ref in a scratch schema of the shared
            # database has none, and the other runs' scratch schemas are not ours to compare.
            places = [p if isinstance(p, Place) else Place(p) for p in (old, new)]
            schemas = sorted({s for place, conn in zip(places, (old_conn, new_conn)) if not place.search_path for s in _user_schemas(conn)})
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
                    "include_name": lambda name, type_, parents: type_ != "schema" or name is None or name in schemas,
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
            collect_facts(old_conn, new_conn, changes)
    finally:
        old_engine.dispose()
        new_engine.dispose()
    return sorted(changes, key=Change.sort_key), script.upgrade_ops


def _user_schemas(conn) -> list[str]:
    """Schemas other than the default one and PostgreSQL's own."""
    insp = inspect(conn)
    default = insp.default_schema_name
    return [s for s in insp.get_schema_names() if s != default and s != "information_schema" and not s.startswith("pg_")]


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
    """Alembic never compares primary keys. (Batched reflection: one query per side.)"""
    a = {key[1]: pk for key, pk in old.get_multi_pk_constraint(schema=schema).items()}
    b = {key[1]: pk for key, pk in new.get_multi_pk_constraint(schema=schema).items()}
    changes = []
    for table in sorted(set(a) & set(b)):
        old_pk, new_pk = a[table], b[table]
        same_columns = old_pk["constrained_columns"] == new_pk["constrained_columns"]
        if not same_columns or (old_pk.get("name") != new_pk.get("name") and old_pk["constrained_columns"]):
            changes.append(
                Change(
                    "modify_primary_key",
                    f"{schema}.{table}" if schema else table,
                    name=new_pk.get("name") or old_pk.get("name"),
                    old=old_pk["constrained_columns"] or None,
                    new=new_pk["constrained_columns"] or None,
                    detail={"old_name": old_pk.get("name"), "new_name": new_pk.get("name")},
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
