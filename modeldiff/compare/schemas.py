"""Stage 3, compare: two loaded schemas -> the list of changes, through real PostgreSQL.

Both refs' DDL is created in its own database of one embedded server; the TO database is
reflected into a MetaData and alembic's autogenerate compares it against the FROM database.
Both sides are therefore in PostgreSQL's own normal form (what `pg_dump -s` would show), so
alembic's type and default heuristics can be replaced by exact comparisons, which closes
its blind spots (VARCHAR(255) -> VARCHAR). Detectors for what alembic never looks at
(primary keys, PostgreSQL enum types) run on the same two databases.
"""

from __future__ import annotations

import threading
import warnings as pywarnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from sqlalchemy import Computed, Identity, MetaData, create_engine, event, inspect
from sqlalchemy.exc import SAWarning
from sqlalchemy.pool import NullPool

from .. import compat
from ..load import LoadedSchema
from ..db.server import EmbeddedPostgres
from . import coverage
from .catalog import read_catalog, reconcile
from .facts import collect_facts
from .serials import serial_hook
from .unchanged import unchanged_tables
from ..sqltext import default_text as _default_text
from ..sqltext import type_text as type_sql
from ..values import CATALOG_KINDS, Change, Diff, Dispatch, RefInfo, Warning
from .materialize import create_schema, server_failures_fail


def _compare_type(context, inspected_column, metadata_column, inspected_type, metadata_type):
    # Both sides were reflected from PostgreSQL: the compiled type is the whole truth.
    return type_sql(inspected_type) != type_sql(metadata_type)


def _compare_default(context, inspected_column, metadata_column, inspected_default, metadata_default, rendered_metadata_default):
    return _default_text(inspected_column.server_default) != _default_text(metadata_column.server_default)


def _generated_defaults_elsewhere(autogen_context, alter_column_op, schema, table, column, conn_col, metadata_col):
    """Identity and generated columns are compared from the catalog (compare/catalog.py),
    not as server defaults: alembic's comparison of them fails or warns."""
    from alembic.util import PriorityDispatchResult

    if any(isinstance(d, (Identity, Computed)) for d in (conn_col.server_default, metadata_col.server_default)):
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


@dataclass(frozen=True)
class Place:
    """Where a schema lives: a database URL and, optionally, the PostgreSQL schema that
    comes first on the connection's search_path (so it reflects as the default schema)."""

    url: str
    search_path: str | None = None

    def engine(self):
        args = {"options": f"-c search_path={self.search_path},public"} if self.search_path else {}
        return create_engine(self.url, poolclass=NullPool, connect_args=args)


def compare_schemas(old: LoadedSchema, new: LoadedSchema, server: EmbeddedPostgres | None = None) -> Diff:
    """Create both schemas in an embedded PostgreSQL and compare them."""
    with ExitStack() as stack:
        if server is None:
            server = stack.enter_context(EmbeddedPostgres())
        server.wait()
        version = server.server_version()
        with ThreadPoolExecutor(max_workers=2) as pool:
            old_place, new_place = pool.map(lambda schema: materialize_in_schema(server, schema, version), (old, new))
        return compare_places(old, new, old_place, new_place)


def compare_places(old: LoadedSchema, new: LoadedSchema, old_place, new_place) -> Diff:
    """Compare two materialized schemas: each place is (Place or Side, warnings of creating it)."""
    changes, upgrade_ops = compare_databases(old_place[0], new_place[0], unchanged_tables(old, new))
    not_compared, warnings = coverage.split([*old.warnings, *new.warnings, *old_place[1], *new_place[1]])
    changes = coverage.without(changes, not_compared)
    return Diff(
        from_ref=RefInfo(old.ref, old.commit),
        to_ref=RefInfo(new.ref, new.commit),
        dialect="postgresql",
        changes=changes,
        warnings=sorted(set(warnings), key=Warning.sort_key),
        upgrade_ops=upgrade_ops,
        not_compared=not_compared,
    )


def materialize_in_schema(server: EmbeddedPostgres, schema: LoadedSchema, version: int | None = None) -> tuple[Place, list[Warning]]:
    """`schema` created in a new PostgreSQL schema of the server's shared database, or in a
    database of its own when its tables use named schemas (two refs' `audit.events` would
    collide in one database)."""
    if any(table.get("schema") for table in schema.tables.values()):
        database, warnings = materialize(server, schema)
        return Place(server.sqlalchemy_url(database)), warnings
    with server_failures_fail():
        name = server.create_schema(schema.ref)
        conn = server.connect(search_path=name)  # as the schema's own role
        try:
            warnings = create_schema(conn, schema, version or server.server_version(), scratch_schema=name, admin_dsn=server.url(admin=True))
        finally:
            conn.close()
    return Place(server.sqlalchemy_url(role=server.owner(name)), name), warnings


def materialize(server: EmbeddedPostgres, schema: LoadedSchema) -> tuple[str, list[Warning]]:
    """A new database of `server` holding `schema`; its name and the warnings (for work that
    needs a whole database, such as running alembic migrations)."""
    with server_failures_fail():
        database = server.create_database(schema.ref)
        conn = server.connect(database)  # as the database's own role
        try:
            warnings = create_schema(conn, schema, server.server_version(), admin_dsn=server.url(database, admin=True))
        finally:
            conn.close()
    return database, warnings


class Side:
    """One materialized schema, read for the roles it plays in comparisons: as TO, a
    MetaData (alembic's target); as FROM, an inspector whose alembic caches are filled; in
    both, its primary keys, enum types and catalog. Only the tables a pair differs in are
    reflected (see unchanged.py), when the pair is compared; the catalog is read as soon as
    the ref is created, while the other ref may still load. Holds one connection until
    `close()`. Thread-safe: it may be prepared in the background."""

    def __init__(self, place: str | Place) -> None:
        self.place = place if isinstance(place, Place) else Place(place)
        self.engine = self.place.engine()
        self.connection = self.engine.connect()
        self._lock = threading.Lock()
        # Tables in named schemas too (`__table_args__ = {"schema": ...}`). A ref with them
        # has a database of its own; one in a scratch schema of the shared database has
        # none, and the other runs' scratch schemas are not ours to compare.
        self.schemas = [] if self.place.search_path else _user_schemas(self.connection)
        self.refresh()

    def refresh(self) -> None:
        """Read again what tables were added to since (compare/partial.py)."""
        with self._lock:
            self.inspector = inspect(self.connection)
            self.primary_keys = {schema: _primary_keys(self.inspector, schema) for schema in [None, *self.schemas]}
            self.enums = {e["name"]: e["labels"] for e in self.inspector.get_enums()}
            self._target: MetaData | None = None
            self._source_ready = False
            self._catalog = None

    def prepare(self, roles: tuple[str, ...] = ()) -> "Side":
        self.catalog()  # both roles compare it: read it while the other ref may still load
        return self

    def as_target(self, skip: frozenset[str] = frozenset()) -> MetaData:
        """The schema reflected into a MetaData, through the column hook alembic reflects
        the FROM side with (e.g. SERIAL columns lose their nextval() default on both
        sides; serials.py batches its query). The `skip` tables (see unchanged.py) are
        left out, unless a foreign key of another names them."""
        with self._lock:
            if self._target is None:
                self._target = MetaData()
                event.listen(self._target, "column_reflect", serial_hook(self.connection))
            for schema in [None, *self.schemas]:
                names = [n for n in self.inspector.get_table_names(schema=schema) if _key(schema, n) not in skip]
                if skip:  # in the same batch, the tables their foreign keys name (else one by one)
                    names = _with_referred(self.inspector, schema, names)
                missing = [n for n in names if _key(schema, n) not in self._target.tables]
                if missing:
                    self._target.reflect(self.connection, schema=schema, only=missing)
            return self._target

    def catalog(self):
        """What compare/catalog.py compares, read once."""
        with self._lock:
            if self._catalog is None:
                self._catalog = read_catalog(self.connection, self.schemas)
            return self._catalog

    def as_source(self, skip: frozenset[str] = frozenset()):
        """The inspector alembic reads this side through, with its caches filled (but for
        the `skip` tables)."""
        with self._lock:
            if not self._source_ready:
                _fill_alembic_caches(self.inspector, [None, *self.schemas], skip)
                self._source_ready = True
            return self.inspector

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


def _fill_alembic_caches(inspector, schemas: list[str | None], skip: frozenset[str] = frozenset()) -> None:
    """What alembic's table comparison reads first, fetched now (batched, one query per
    kind). Alembic keeps it in the inspector's info_cache and finds it there later."""
    if compat.InspectorConv is None:  # another alembic: it fetches the same itself, later
        return
    for schema in schemas:
        names = inspector.get_table_names(schema=schema)
        compat.InspectorConv(inspector).pre_cache_tables(schema, [n for n in names if _key(schema, n) not in skip], set(names))


def _produce_migrations(context, target: MetaData, inspector):
    """alembic's produce_migrations(), reading the FROM side through `inspector` (whose
    caches a Side filled) instead of a fresh one."""
    if compat.populate_migration_script is None:  # another alembic: its public entry point
        return produce_migrations(context, target)
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations import ops

    autogen = AutogenContext(context, metadata=target)
    compat.compare_first(autogen, _generated_defaults_elsewhere)
    compat.set_inspector(autogen, inspector)
    script = ops.MigrationScript(rev_id=None, upgrade_ops=ops.UpgradeOps([]), downgrade_ops=ops.DowngradeOps([]))
    compat.populate_migration_script(autogen, script)
    return script


def compare_databases(old: str | Place | Side, new: str | Place | Side, unchanged: frozenset[str] = frozenset()):
    """Changes that turn the schema at `old` into the one at `new` (database URLs, Places
    or prepared Sides), sorted, and alembic's UpgradeOps for them. Alembic leaves out the
    `unchanged` tables (see unchanged.py)."""
    with ExitStack() as stack:
        sides = []
        for place in (old, new):
            if not isinstance(place, Side):
                place = Side(place)
                stack.callback(place.close)
            sides.append(place)
        return compare_sides(*sides, unchanged)


def compare_sides(old: Side, new: Side, unchanged: frozenset[str] = frozenset()):
    schemas = sorted(set(old.schemas) | set(new.schemas))
    target, source = new.as_target(unchanged), old.as_source(unchanged)
    context = MigrationContext.configure(
        old.connection,
        opts={
            "compare_type": _compare_type,
            "compare_server_default": _compare_default,
            "target_metadata": target,
            "include_schemas": bool(schemas),
            "include_name": lambda name, type_, parents: (type_ != "schema" or name is None or name in schemas)
            and not (type_ == "table" and _key(parents.get("schema_name"), name) in unchanged),
            "include_object": lambda obj, name, type_, reflected, other: not (type_ == "table" and _key(obj.schema, name) in unchanged),
        },
    )
    context.impl.autogen_column_reflect = serial_hook(old.connection)  # alembic's, batched
    with pywarnings.catch_warnings():
        # Tables with mutually dependent foreign keys (users <-> teams) are normal;
        # alembic only sorts them for rendering. Not the user's concern here.
        pywarnings.filterwarnings("ignore", message="Cannot correctly sort tables", category=SAWarning)
        script = _produce_migrations(context, target, source)
    changes = changes_from_ops(script.upgrade_ops)
    for schema in [None, *schemas]:
        changes += primary_key_changes(old.primary_keys.get(schema, {}), new.primary_keys.get(schema, {}), schema)
    changes += enum_changes(old.enums, new.enums)
    changes = reconcile(old.connection, old.catalog(), new.catalog(), changes, script.upgrade_ops)
    changes = collect_facts(old.connection, new.connection, changes)
    return sorted(changes, key=Change.sort_key), script.upgrade_ops


def _with_referred(inspector, schema: str | None, names: list[str]) -> list[str]:
    """`names` and every table of `schema` their foreign keys lead to, directly or not."""
    referred = {key[1]: {fk["referred_table"] for fk in fks if fk["referred_schema"] in (None, schema)} for key, fks in inspector.get_multi_foreign_keys(schema=schema).items()}
    found, todo = set(names), list(names)
    while todo:
        for name in referred.get(todo.pop(), ()):
            if name not in found:
                found.add(name)
                todo.append(name)
    return sorted(found)


def _key(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _user_schemas(conn) -> list[str]:
    """Schemas other than the default one and PostgreSQL's own."""
    insp = inspect(conn)
    default = insp.default_schema_name
    return [s for s in insp.get_schema_names() if s != default and s != "information_schema" and not s.startswith("pg_")]


def _qualified(table) -> str:
    return f"{table.schema}.{table.name}" if getattr(table, "schema", None) else table.name


# Our kind for each change alembic reports (one Change per alembic diff), built by the
# handler registered for it; the primary key and enum kinds come from our own detectors.
FROM_ALEMBIC = Dispatch("compare.schemas")
FROM_ALEMBIC.register("modify_primary_key", "add_enum", "remove_enum", "modify_enum")(Dispatch.nothing)  # see primary_key_changes, enum_changes
FROM_ALEMBIC.register(*CATALOG_KINDS)(Dispatch.nothing)  # see catalog.py
_ALEMBIC_KIND = {"add_table_comment": "modify_table_comment", "remove_table_comment": "modify_table_comment"}


def changes_from_ops(upgrade_ops) -> list[Change]:
    changes = []
    for diff in upgrade_ops.as_diffs():
        for one in diff if isinstance(diff, list) else [diff]:  # column modifications come grouped
            builder = FROM_ALEMBIC.get(_ALEMBIC_KIND.get(one[0], one[0]))
            if builder is None or builder is Dispatch.nothing:
                changes.append(Change(one[0], None, detail={"alembic": repr(one)}))
            else:
                changes.append(builder(one))
    return changes


def _column_change(diff, old, new, detail: dict) -> Change:
    kind, schema, table, column = diff[:4]
    return Change(kind, f"{schema}.{table}" if schema else table, column=column, old=old, new=new, detail=detail)


@FROM_ALEMBIC.register("modify_type")
def _modify_type(diff) -> Change:
    return _column_change(diff, type_sql(diff[5]), type_sql(diff[6]), {})


def _with_type(existing: dict) -> dict:
    return {"type": type_sql(existing["existing_type"])} if existing.get("existing_type") is not None else {}


@FROM_ALEMBIC.register("modify_default")
def _modify_default(diff) -> Change:
    return _column_change(diff, _default_text(diff[5]), _default_text(diff[6]), _with_type(diff[4]))


@FROM_ALEMBIC.register("modify_nullable", "modify_comment")
def _modify_as_is(diff) -> Change:
    return _column_change(diff, diff[5], diff[6], _with_type(diff[4]))


def _columns(constraint) -> list[str]:
    return [c.name for c in constraint.columns]


@FROM_ALEMBIC.register("add_table", "remove_table")
def _table(diff) -> Change:
    table = diff[1]
    return Change(diff[0], _qualified(table), detail={"columns": [c.name for c in table.columns]})


@FROM_ALEMBIC.register("add_column", "remove_column")
def _column(diff) -> Change:
    kind, schema, table, column = diff
    table = f"{schema}.{table}" if schema else table
    facts = {"nullable": column.nullable}
    if column.server_default is not None and not isinstance(column.server_default, (Identity, Computed)):  # those: compare/facts.py
        facts["default"] = _default_text(column.server_default)
    typ = type_sql(column.type)
    return Change(kind, table, column=column.name, old=typ if kind == "remove_column" else None, new=typ if kind == "add_column" else None, detail=facts)


@FROM_ALEMBIC.register("add_index", "remove_index")
def _index(diff) -> Change:
    index = diff[1]
    columns = [getattr(e, "name", None) or str(e) for e in index.expressions]
    detail = {"columns": columns, "unique": bool(index.unique)}
    using = index.dialect_options["postgresql"].get("using")
    if using and using != "btree":  # GIN, GiST...: another build cost, another statement
        detail["using"] = using
    return Change(diff[0], _qualified(index.table), name=index.name, detail=detail)


@FROM_ALEMBIC.register("add_constraint", "remove_constraint")
def _constraint(diff) -> Change:
    constraint = diff[1]
    detail = {"type": type(constraint).__name__.replace("Constraint", "").lower()}
    if hasattr(constraint, "columns") and len(constraint.columns):
        detail["columns"] = _columns(constraint)
    if hasattr(constraint, "sqltext"):
        detail["condition"] = str(constraint.sqltext)
    return Change(diff[0], _qualified(constraint.table), name=constraint.name, detail=detail)


@FROM_ALEMBIC.register("add_fk", "remove_fk")
def _fk(diff) -> Change:
    fk = diff[1]
    return Change(
        diff[0],
        _qualified(fk.table),
        name=fk.name,
        detail={
            "columns": list(fk.column_keys),
            "referred_table": _qualified(fk.referred_table),
            "referred_columns": [e.column.name for e in fk.elements],
        },
    )


@FROM_ALEMBIC.register("modify_table_comment")
def _table_comment(diff) -> Change:  # alembic: add_table_comment / remove_table_comment
    table = diff[1]
    old = diff[2] if diff[0] == "add_table_comment" and len(diff) > 2 else None
    return Change("modify_table_comment", _qualified(table), old=old, new=table.comment)


def _primary_keys(inspector, schema: str | None) -> dict:
    """Table name -> reflected primary key (batched: one query)."""
    return {key[1]: pk for key, pk in inspector.get_multi_pk_constraint(schema=schema).items()}


def primary_key_changes(a: dict, b: dict, schema: str | None = None) -> list[Change]:
    """Alembic never compares primary keys. `a`, `b`: table name -> reflected key."""
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


def enum_changes(a: dict, b: dict) -> list[Change]:
    """PostgreSQL enum types (name -> labels): created, dropped, or their values changed."""
    changes = []
    for name in sorted(set(a) | set(b)):
        if name not in a:
            changes.append(Change("add_enum", None, name=name, new=b[name]))
        elif name not in b:
            changes.append(Change("remove_enum", None, name=name, old=a[name]))
        elif a[name] != b[name]:
            changes.append(Change("modify_enum", None, name=name, old=a[name], new=b[name]))
    return changes
