"""The operations that turn FROM's database into TO's, complete enough to run.

`compare_databases` gives alembic's UpgradeOps plus the changes alembic never looks at.
This adds operations for those (enum types, primary keys), decides for each column type
change whether PostgreSQL can convert the data by itself, needs a USING cast, or needs a
human (`casts.py` tries it on the embedded server), and offers each output its own "view"
of the column types:

* postgresql: the reflected types, enums with create_type=False (the migration creates
  and drops enum types explicitly, so table creation must not);
* python: the same, but a project type (Dify's StringUUID) wherever the loader child proved
  that the project's own expression for it builds an identical type;
* mysql, sqlite: the type and server default each model column has on that dialect, as
  the loader child compiled them (PostgreSQL's reflected spelling means nothing there).
"""

from __future__ import annotations

import copy
import functools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from alembic.operations import ops
from sqlalchemy import (
    CheckConstraint,
    Column,
    DefaultClause,
    ForeignKeyConstraint,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    create_engine,
    create_mock_engine,
    inspect,
    text,
)
from sqlalchemy.util import OrderedSet
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.dialects import postgresql
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

from .. import compat
from .casts import DOWNGRADE, UPGRADE, Cast, probe_casts
from ..compare.schemas import compare_databases
from ..sqltext import default_text
from ..sqltext import type_text as type_sql
from ..load import LoadedSchema
from ..compare.catalog_ops import CatalogOp
from .ops import walk_ops, AddPrimaryKeyOp, AlterEnumOp, CastAlterColumnOp, CreateEnumOp, DropEnumOp, DropPrimaryKeyOp, NoteOp
from ..db.server import EmbeddedPostgres
from ..values import Change, Diff

VIEWS = ("postgresql", "python", "mysql", "sqlite")


class ProjectType(TypeDecorator):
    """A column type the project defines (e.g. `models.types.StringUUID()`): rendered as
    the project spells it, compiled as the type PostgreSQL reflected."""

    impl = TypeEngine
    cache_ok = True

    def __init__(self, reflected, expr: str, import_: str) -> None:
        super().__init__()
        self.reflected, self.expr, self.import_ = reflected, expr, import_

    def load_dialect_impl(self, dialect):
        return self.reflected


class SQLType(UserDefinedType):
    """A type given as SQL text (what the loader compiled for MySQL or SQLite)."""

    cache_ok = True

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def get_col_spec(self, **kw) -> str:
        return self.sql

    def __repr__(self) -> str:
        return f"SQLType({self.sql!r})"


@dataclass
class _Slot:
    """A place in the ops holding a column type (and maybe its server default)."""

    holder: object  # a Column, or an AlterColumnOp
    type_attr: str
    default_attr: str | None
    side: str  # "from" or "to": whose model facts describe it
    table: str
    column: str
    reflected_type: object = None
    reflected_default: object = None
    reflected_autoincrement: object = None


@dataclass(frozen=True)
class MigrationView:
    """Both directions of a migration as one output sees them (its column types, casts
    and notes). Built once per view, from copies: views share no operation object."""

    view: str
    upgrade: ops.UpgradeOps
    downgrade: ops.DowngradeOps
    from_tables: Mapping[str, Table]  # FROM's tables in this view's types (SQLite rebuilds from them)
    to_tables: Mapping[str, Table]  # TO's, for rebuilding on the way down
    approximations: tuple[str, ...] = ()  # where this view's types only approximate the model's
    table_notes: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (side, table) -> notes


@dataclass(frozen=True, eq=False)
class Migration:
    """The drafting stage's migration between two databases: alembic's operations in
    PostgreSQL's reflected types, completed and probed (casts), fixed once `build_migration`
    returns. Outputs read it through `view()`, which builds each view from copies once."""

    upgrade_ops: ops.UpgradeOps
    changes: tuple[Change, ...]
    old: LoadedSchema | None
    new: LoadedSchema
    from_tables: Mapping[str, Table]  # FROM's tables as reflected (SQLite rebuilds tables from them)
    to_tables: Mapping[str, Table]  # TO's, for rebuilding on the way down
    casts: Mapping[tuple[str, str, str], Cast] = field(default_factory=dict)
    slots: tuple[_Slot, ...] = ()
    _views: dict[str, MigrationView] = field(default_factory=dict, init=False, repr=False)  # built on first use
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def todos(self) -> list[str]:
        """What a human must decide, as `table.column: text`, upgrade direction first."""
        out = []
        for direction in (UPGRADE, DOWNGRADE):
            for (d, table, column), cast in sorted(self.casts.items()):
                if d == direction and cast.todo:
                    out.append(f"{direction}: {table}.{column}: {cast.todo}")
        for op in walk_ops(self.upgrade_ops):
            if isinstance(op, AlterEnumOp) and not op.appends_only:
                out.append(f"upgrade: enum {op.name}: loses {', '.join(op.removed()) or 'its label order'}")
            if isinstance(op, AlterEnumOp) and not op.reverse().appends_only:
                out.append(f"downgrade: enum {op.name}: loses {', '.join(op.reverse().removed()) or 'its label order'}")
        return out

    def directions(self, view: str) -> tuple[ops.UpgradeOps, ops.DowngradeOps]:
        """Upgrade and downgrade ops with `view`'s column types, casts and notes."""
        built = self.view(view)
        return built.upgrade, built.downgrade

    def view(self, view: str) -> MigrationView:
        """`view`'s form of the migration, built on first use."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}")
        with self._lock:
            if view not in self._views:
                self._views[view] = self._build_view(view)
            return self._views[view]

    def _typed(self, view: str):
        """Copies of the operations (and, for MySQL/SQLite, of the tables) in `view`'s
        column types, with its notes. The PostgreSQL view is the migration as built."""
        if view == "postgresql":
            return self.upgrade_ops, self.from_tables, self.to_tables, [], {}
        memo: dict = {}
        upgrade_ops, slots = copy.deepcopy((self.upgrade_ops, self.slots), memo)
        tables = (self.from_tables, self.to_tables)
        if view != "python":  # the python view's tables are PostgreSQL's (set at build)
            tables = copy.deepcopy(tables, memo)
        notes = _apply_view(self, view, slots, *tables)
        table_notes = _apply_view_to_tables(self, view, *tables) if view != "python" else {}
        return upgrade_ops, *tables, notes, table_notes

    def _build_view(self, view: str) -> MigrationView:
        upgrade_ops, from_tables, to_tables, notes, table_notes = self._typed(view)
        upgrade = ops.UpgradeOps(ops=list(upgrade_ops.ops))
        downgrade = upgrade.reverse()
        if view in ("postgresql", "python"):
            upgrade = ops.UpgradeOps(ops=self._annotate(upgrade.ops, UPGRADE))
            downgrade = ops.DowngradeOps(ops=self._annotate(downgrade.ops, DOWNGRADE))
        else:
            # Enum types are part of the column type on these dialects: no type to create
            # or drop, and a label change is a change of each using column's type.
            converted = []
            for op in upgrade_ops.ops:
                if isinstance(op, AlterEnumOp):
                    converted += self._enum_as_column_types(op, view, from_tables)
                elif not isinstance(op, (CreateEnumOp, DropEnumOp, CatalogOp)):  # CatalogOp: PostgreSQL's SQL
                    converted.append(op)
            upgrade = ops.UpgradeOps(ops=converted)
            downgrade = upgrade.reverse()
        return MigrationView(
            view,
            upgrade,
            downgrade,
            MappingProxyType(from_tables),
            MappingProxyType(to_tables),
            tuple(sorted(set(notes))),
            MappingProxyType({key: tuple(value) for key, value in table_notes.items()}),
        )

    def _enum_as_column_types(self, op: AlterEnumOp, view: str, from_tables: Mapping[str, Table]) -> list:
        out = []
        for table, column, _default in op.columns:
            before = from_tables[table].c[column]  # already in `view`'s types
            fact = (self._fact("to", table, column) or {}).get("dialects", {}).get(view, {})
            if not fact.get("type") or fact["type"] == before.type.compile(dialect=_dialect(view)):
                continue  # dropped by TO, or its type there does not change
            alter = ops.AlterColumnOp(
                table,
                column,
                existing_type=before.type,
                existing_nullable=before.nullable,
                existing_server_default=before.server_default,
                modify_type=SQLType(fact["type"]),
            )
            out.append(ops.ModifyTableOps(table, [alter]))
        return out

    def _fact(self, side: str, table: str, column: str) -> dict | None:
        schema = self.old if side == "from" else self.new
        if schema is None:
            return None
        entry = schema.tables.get(table)
        if entry is None:
            return None
        return next((c for c in entry.get("columns", []) if c["name"] == column), None)

    def _dialect_column(self, view, slot: _Slot, fact, reflected, default, notes):
        """Type and server default for MySQL/SQLite, from the model as compiled there."""
        where = f"{slot.table}.{slot.column}"
        facts = (fact or {}).get("dialects", {}).get(view)
        if facts is None:
            notes.append(f"{where}: no {view} facts for this column; PostgreSQL's type is used")
            return _generic(reflected), default
        sql = facts.get("type")
        if sql is None and facts.get("generic"):
            sql = facts["generic"]
            notes.append(f"{where}: {facts.get('error', 'no such type')}; {sql} used")
        if sql is None and view == "mysql" and "VARCHAR requires a length" in (facts.get("error") or ""):
            sql = "TEXT"
            notes.append(f"{where}: VARCHAR without a length does not exist in MySQL; TEXT used")
        if sql is None:
            # Nothing the model offers compiles here (e.g. PostgreSQL ARRAY): arrays are
            # JSON documents on MySQL, and SQLite stores anything in a TEXT column.
            sql = "JSON" if view == "mysql" and isinstance(reflected, postgresql.ARRAY) else "TEXT"
            notes.append(f"{where}: no {view} type for {type_sql(reflected)} ({facts.get('error')}); {sql} used")
        if slot.default_attr is None or default is False:
            return SQLType(sql), default
        if default is None:
            return SQLType(sql), None
        model_default = facts.get("default")
        return SQLType(sql), (text(_portable_default(model_default)) if model_default else None)

    # -- per-direction annotations ---------------------------------------------------------

    def _annotate(self, op_list: list, direction: str) -> list:
        out = []
        for op in op_list:
            if isinstance(op, ops.ModifyTableOps):
                out.append(ops.ModifyTableOps(op.table_name, self._annotate(op.ops, direction), schema=op.schema))
            elif isinstance(op, ops.AlterColumnOp) and op.modify_type is not None:
                out += self._cast_ops(op, direction)
            else:
                out.append(op)
        return out

    def _cast_ops(self, op: ops.AlterColumnOp, direction: str) -> list:
        cast = self.casts.get((direction, op.table_name, op.column_name))
        if cast is None or (cast.using is None and cast.todo is None):
            return [op]
        if cast.todo:
            return [NoteOp(f"{op.table_name}.{op.column_name}: {cast.todo}"), op]
        out: list = []
        kw = dict(
            schema=op.schema,
            existing_type=op.existing_type,
            existing_nullable=op.existing_nullable,
            existing_comment=op.existing_comment,
            modify_nullable=op.modify_nullable,
            modify_comment=op.modify_comment,
            modify_type=op.modify_type,
        )
        default_after = op.modify_server_default if op.modify_server_default is not False else op.existing_server_default
        note = f"{op.table_name}.{op.column_name}: {type_sql(_plain(op.existing_type))} -> {type_sql(_plain(op.modify_type))} needs an explicit cast; rows whose value does not convert make it fail"
        out.append(NoteOp(note, todo=False))
        if cast.drop_default:
            out.append(ops.AlterColumnOp(op.table_name, op.column_name, schema=op.schema, existing_type=op.existing_type, existing_server_default=op.existing_server_default, modify_server_default=None))
            out.append(CastAlterColumnOp(op.table_name, op.column_name, existing_server_default=None, postgresql_using=cast.using, **kw))
            if default_after is not None:
                out.append(ops.AlterColumnOp(op.table_name, op.column_name, schema=op.schema, existing_type=op.modify_type, existing_server_default=None, modify_server_default=default_after))
        else:
            out.append(
                CastAlterColumnOp(
                    op.table_name,
                    op.column_name,
                    existing_server_default=op.existing_server_default,
                    modify_server_default=op.modify_server_default,
                    postgresql_using=cast.using,
                    **kw,
                )
            )
        return out


# -- views: set on copies (or, for PostgreSQL's, while building) --------------------------


def _apply_view(migration: Migration, view: str, slots: list[_Slot], from_tables, to_tables) -> list[str]:
    """Set `view`'s column types and defaults on the holders of `slots`; its notes."""
    notes: list[str] = []
    for slot in slots:
        reflected = slot.reflected_type
        fact = migration._fact(slot.side, slot.table, slot.column)
        default = slot.reflected_default
        if view in ("postgresql", "python"):
            new_type = _no_create_type(reflected)
            if view == "python" and fact and fact.get("python") and not isinstance(reflected, postgresql.ENUM):
                new_type = ProjectType(new_type, fact["python"]["expr"], fact["python"]["import"])
        else:
            new_type, default = migration._dialect_column(view, slot, fact, reflected, default, notes)
        setattr(slot.holder, slot.type_attr, new_type)
        if isinstance(slot.holder, Column):
            _set_autoincrement(slot, view)
        if slot.default_attr:
            setattr(slot.holder, slot.default_attr, _for_holder(slot.holder, default))
    return notes


def _apply_view_to_tables(migration: Migration, view: str, from_tables, to_tables) -> dict[tuple[str, str], list[str]]:
    """Set `view`'s column types on the tables; notes per (side, table): they matter only
    where SQLite rebuilds that table."""
    table_notes: dict[tuple[str, str], list[str]] = {}
    for side, tables in (("from", from_tables), ("to", to_tables)):
        for table in tables.values():
            notes = table_notes.setdefault((side, table.name), [])
            for column in table.columns:
                slot = column.info.setdefault("modeldiff", _Slot(column, "type", "server_default", side, table.name, column.name, column.type, column.server_default))
                fact = migration._fact(side, table.name, column.name)
                _set_autoincrement(slot, view)
                if view in ("postgresql", "python"):
                    column.type, column.server_default = _no_create_type(slot.reflected_type), slot.reflected_default
                else:
                    column.type, default = migration._dialect_column(view, slot, fact, slot.reflected_type, slot.reflected_default, notes)
                    column.server_default = _for_holder(column, default)
    return table_notes


def _set_autoincrement(slot: _Slot, view: str) -> None:
    """PostgreSQL reflects SERIAL columns as autoincrement=True; elsewhere "auto" lets the
    dialect decide (SQLite refuses True on a composite primary key)."""
    column = slot.holder
    if slot.reflected_autoincrement is None:
        slot.reflected_autoincrement = column.autoincrement
    reflected = slot.reflected_autoincrement
    column.autoincrement = "auto" if view in ("mysql", "sqlite") and reflected is True else reflected


@functools.lru_cache(maxsize=None)
def _dialect(name: str):
    return create_mock_engine(f"{name}://", lambda *a, **k: None).dialect


def _for_holder(holder, default):
    """A Column's server default must be a DefaultClause (alembic copies columns)."""
    if isinstance(holder, Column) and isinstance(default, TextClause):
        return DefaultClause(default)
    return default


def _plain(type_):
    return type_.reflected if isinstance(type_, ProjectType) else type_


def _no_create_type(type_):
    """Enum columns never create or drop their type: the explicit enum ops do."""
    if isinstance(type_, postgresql.ENUM) and type_.create_type:
        return postgresql.ENUM(*type_.enums, name=type_.name, schema=type_.schema, create_type=False)
    return type_


def _generic(type_):
    try:
        return type_.as_generic()
    except NotImplementedError:
        return type_


_PG_CAST = re.compile(r"('(?:[^']|'')*')::[a-z][a-z0-9_ ]*(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*", re.I)


def _portable_default(sql: str) -> str:
    """Drop PostgreSQL's `::type` casts from literals (`'normal'::character varying`), which
    other dialects cannot parse; what remains is the literal the model meant."""
    sql = _PG_CAST.sub(r"\1", sql)
    return re.sub(r"^CURRENT_TIMESTAMP\(\d\)$", "CURRENT_TIMESTAMP", sql.strip(), flags=re.I)


# --- building --------------------------------------------------------------------------


def build_migration(
    server: EmbeddedPostgres,
    from_db: str,
    to_db: str,
    old: LoadedSchema | None,
    new: LoadedSchema,
    diff: Diff | None = None,
) -> Migration:
    """The migration from database `from_db` to `to_db` of `server` (FROM may be empty:
    `old` None), from the loaded schemas' facts and the compare stage's `diff` of the two
    (compared here when not given). `diff` is not changed: its operations are copied."""
    from_url, to_url = server.sqlalchemy_url(from_db), server.sqlalchemy_url(to_db)
    if diff is None or diff.upgrade_ops is None:
        changes, upgrade_ops = compare_databases(from_url, to_url)
    else:
        changes, upgrade_ops = list(diff.changes), copy.deepcopy(diff.upgrade_ops)
    from_meta, to_meta = _reflect(from_url), _reflect(to_url)
    from_enums, to_enums = _enums(from_url), _enums(to_url)
    _add_enum_ops(upgrade_ops, changes, from_meta)
    _add_primary_key_ops(upgrade_ops, changes, from_meta, to_url)
    for op in walk_ops(upgrade_ops):
        # Reflection says "no autoincrement" for every altered column; alembic only uses it
        # on MySQL and warns about it elsewhere. A real autoincrement (True) is kept.
        if isinstance(op, ops.AlterColumnOp) and op.kw.get("autoincrement") is False:
            del op.kw["autoincrement"]
    _stable_order(upgrade_ops, from_meta, to_meta)
    migration = Migration(upgrade_ops, tuple(changes), old, new, dict(from_meta.tables), dict(to_meta.tables), slots=tuple(_slots(upgrade_ops)))
    # The operations and tables as built are the PostgreSQL view (and the tables the python
    # view's too); other views work on copies.
    _apply_view(migration, "postgresql", migration.slots, migration.from_tables, migration.to_tables)
    _apply_view_to_tables(migration, "postgresql", migration.from_tables, migration.to_tables)
    up = ops.UpgradeOps(ops=list(upgrade_ops.ops))
    enums = {**to_enums, **from_enums}
    casts = {**probe_casts(server, from_db, up, UPGRADE, enums), **probe_casts(server, to_db, up.reverse(), DOWNGRADE, {**from_enums, **to_enums})}
    migration = replace(migration, casts=MappingProxyType(casts))
    return migration


def _constraint_key(constraint) -> tuple:
    kinds = (PrimaryKeyConstraint, ForeignKeyConstraint, UniqueConstraint, CheckConstraint)
    kind = next((i for i, k in enumerate(kinds) if isinstance(constraint, k)), len(kinds))
    columns = [c.name for c in getattr(constraint, "columns", [])]
    return (kind, constraint.name or "", columns, str(getattr(constraint, "sqltext", "")))


def _stable_order(upgrade_ops: ops.UpgradeOps, *metas: MetaData) -> None:
    """Constraints and indexes live in sets, whose order changes from run to run; SQL
    built from them (CREATE TABLE, SQLite's table rebuilds) would too. Fix one order."""
    for meta in metas:
        for table in meta.tables.values():
            table.constraints = OrderedSet(sorted(table.constraints, key=_constraint_key))
            table.indexes = OrderedSet(sorted(table.indexes, key=lambda i: i.name or ""))
    creates = [op for op in upgrade_ops.ops if isinstance(op, ops.CreateTableOp)]
    creates += [compat.stored_reverse(op) for op in upgrade_ops.ops if isinstance(op, ops.DropTableOp) and compat.stored_reverse(op) is not None]
    for op in creates:
        columns = [c for c in op.columns if isinstance(c, Column)]
        others = sorted((c for c in op.columns if not isinstance(c, Column)), key=_constraint_key)
        op.columns = columns + others


def _reflect(url: str) -> MetaData:
    engine = create_engine(url, poolclass=NullPool)
    try:
        meta = MetaData()
        with engine.connect() as conn:
            meta.reflect(conn)
        return meta
    finally:
        engine.dispose()


def _enums(url: str) -> dict[str, list[str]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {e["name"]: e["labels"] for e in inspect(conn).get_enums()}
    finally:
        engine.dispose()


def _add_enum_ops(upgrade_ops: ops.UpgradeOps, changes: list[Change], from_meta: MetaData) -> None:
    """Created enums first, dropped enums last, label changes first (see AlterEnumOp)."""
    first, last = [], []
    for change in changes:
        if change.kind == "add_enum":
            first.append(CreateEnumOp(change.name, change.new))
        elif change.kind == "remove_enum":
            last.append(DropEnumOp(change.name, change.old))
        elif change.kind == "modify_enum":
            columns = [
                (table.name, column.name, default_text(column.server_default))
                for table in from_meta.sorted_tables
                for column in table.columns
                if isinstance(column.type, postgresql.ENUM) and column.type.name == change.name
            ]
            first.append(AlterEnumOp(change.name, change.old, change.new, columns))
    upgrade_ops.ops[:0] = first
    upgrade_ops.ops.extend(last)




def _add_primary_key_ops(upgrade_ops: ops.UpgradeOps, changes: list[Change], from_meta: MetaData, to_url: str) -> None:
    """Drop the old primary key before the table's other changes, add the new one after
    them (its columns may be added, or made NOT NULL, in between)."""
    for change in changes:
        if change.kind != "modify_primary_key":
            continue
        table = change.table
        modify = next((o for o in upgrade_ops.ops if isinstance(o, ops.ModifyTableOps) and o.table_name == table), None)
        if modify is None:
            modify = ops.ModifyTableOps(table, [])
            upgrade_ops.ops.append(modify)
        old_name, new_name = change.detail.get("old_name"), change.detail.get("new_name")
        create_new = AddPrimaryKeyOp(new_name, table, change.new) if change.new else None
        if change.old:
            recreate_old = AddPrimaryKeyOp(old_name, table, change.old)
            modify.ops.insert(0, compat.with_reverse(DropPrimaryKeyOp, old_name, table, type_="primary", reverse=recreate_old))
        if create_new is not None:
            modify.ops.append(create_new)


def _slots(upgrade_ops: ops.UpgradeOps) -> list[_Slot]:
    slots: list[_Slot] = []

    def column_slot(column, side: str, table: str) -> None:
        slots.append(_Slot(column, "type", "server_default", side, table, column.name, column.type, column.server_default))

    for op in upgrade_ops.ops:
        if isinstance(op, ops.CreateTableOp):
            for column in op.columns:
                if hasattr(column, "type") and hasattr(column, "server_default"):
                    column_slot(column, "to", op.table_name)
        elif isinstance(op, ops.DropTableOp) and compat.stored_reverse(op) is not None:
            for column in compat.stored_reverse(op).columns:
                if hasattr(column, "type") and hasattr(column, "server_default"):
                    column_slot(column, "from", op.table_name)
        elif isinstance(op, ops.ModifyTableOps):
            for inner in op.ops:
                if isinstance(inner, ops.AddColumnOp):
                    column_slot(inner.column, "to", inner.table_name)
                elif isinstance(inner, ops.DropColumnOp) and compat.stored_reverse(inner) is not None:
                    column_slot(compat.stored_reverse(inner).column, "from", inner.table_name)
                elif isinstance(inner, ops.AlterColumnOp):
                    t, c = inner.table_name, inner.column_name
                    if inner.existing_type is not None:
                        slots.append(_Slot(inner, "existing_type", "existing_server_default", "from", t, c, inner.existing_type, inner.existing_server_default))
                    if inner.modify_type is not None:
                        has_default = inner.modify_server_default is not False
                        slots.append(_Slot(inner, "modify_type", "modify_server_default" if has_default else None, "to", t, c, inner.modify_type, inner.modify_server_default))
                    elif inner.modify_server_default is not False:
                        # The default changes, the type does not: TO's facts still apply.
                        slots.append(_Slot(inner, "_modeldiff_type", "modify_server_default", "to", t, c, inner.existing_type, inner.modify_server_default))
    return slots
