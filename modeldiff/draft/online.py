"""`modeldiff revision --online`: the migration's operations in the forms that keep the
application running, and a written plan for what no single revision can do online.

Each direction (upgrade, downgrade) is rewritten on its own, after the casts and notes of
`Migration.directions` are in place. Operations on a table that the same direction creates
or drops are left alone: the table is empty (or about to go), nothing waits on it. On the
other tables:

* CREATE INDEX / DROP INDEX -> `postgresql_concurrently=True` inside
  `op.get_context().autocommit_block()` (consecutive ones share a block; a new index is
  built before a differently named old one is dropped, so queries keep an index);
* foreign key, CHECK -> added `postgresql_not_valid=True`, then
  `ALTER TABLE ... VALIDATE CONSTRAINT` in an autocommit block (the brief lock of the ADD is
  committed before the scan starts, and the scan takes only SHARE UPDATE EXCLUSIVE);
* SET NOT NULL -> CHECK (col IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL (the valid
  CHECK proves it: no scan, PostgreSQL >= 12), drop the CHECK;
* UNIQUE constraint, PRIMARY KEY -> CREATE UNIQUE INDEX CONCURRENTLY, then
  `ADD CONSTRAINT ... USING INDEX` (brief);
* `SET lock_timeout` first (and `RESET` last), so a brief lock that would queue behind a
  long transaction, and make every later query queue behind it, fails instead. Autocommit
  blocks that build or drop indexes concurrently lift it while they wait for older
  transactions (that wait blocks nobody) and set it again after.

A column type change that rewrites the table (int -> bigint) has no online form inside one
revision: it stays a plain ALTER, under a `# modeldiff: ONLINE PLAN` comment block pointing
to a section of a Markdown plan with the expand / dual-write / batched backfill / swap /
drop steps (`plan.recipes`' change-type-expand-contract, made concrete for the column:
its primary key for batching, default, NOT NULL, indexes). Run before `alembic upgrade`,
those steps leave the column already converted, so the revision's ALTER then only takes a
brief lock (PostgreSQL skips the rewrite for an unchanged type).
"""

from __future__ import annotations

import copy
import re
import textwrap
from dataclasses import dataclass, field, replace

from alembic.autogenerate import renderers
from alembic.autogenerate.render import render_op
from alembic.operations import Operations, ops
from sqlalchemy import Column, Index, MetaData, Table
from sqlalchemy.schema import CreateIndex

from .. import compat
from .casts import DOWNGRADE, UPGRADE
from .migration import Migration, ProjectType
from .ops import AddPrimaryKeyOp
from ..plan.recipes import BATCH_ROWS, RenderedStep, batched_update, render_recipe
from ..plan.recipes import params as recipe_params
from ..plan.rules import DEFAULT_PG_VERSION
from ..plan.types import classify_type_change
from ..sqltext import PG as _PG
from ..sqltext import default_text, in_schema_of, literal, qualified, quote
from ..sqltext import type_text as type_sql
from ..values import Change

_LOCK_TIMEOUT = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$")


def check_lock_timeout(text: str) -> str:
    """PostgreSQL's spelling of a duration ('5s', '500ms', '1min', '0' = none)."""
    text = str(text).strip()
    if not _LOCK_TIMEOUT.match(text):
        raise ValueError(f"not a lock_timeout: {text!r} (e.g. 5s, 500ms, 1min; 0 for none)")
    return text


@dataclass(frozen=True)
class OnlineOptions:
    lock_timeout: str = "5s"  # "0": no lock_timeout statements at all
    plan_file: str = "online_plan.md"  # the name the ONLINE PLAN comments point to
    pg_version: int = DEFAULT_PG_VERSION  # decides which type changes rewrite

    @property
    def timeout_sql(self) -> str | None:
        value = check_lock_timeout(self.lock_timeout)
        return None if re.fullmatch(r"0+(\.0+)?\s*[a-z]*", value) else f"SET lock_timeout = '{value}'"


@dataclass
class Rewrite:
    """A type change that rewrites a table, and the steps that avoid it."""

    number: int  # section of the plan
    direction: str
    table: str
    column: str
    old: str
    new: str
    reason: str
    steps: list[RenderedStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the steps do not cover


@dataclass(frozen=True)
class OnlineMigration:
    """Both directions of a migration in their online forms (built from copies: the
    migration's own operations are not touched), and the type changes that need a plan."""

    upgrade: ops.UpgradeOps
    downgrade: ops.DowngradeOps
    rewrites: tuple[Rewrite, ...]
    options: OnlineOptions


# --- operations ---------------------------------------------------------------------------


class AutocommitBlockOp(ops.MigrateOperation):
    """`with op.get_context().autocommit_block():` around `ops` (built per direction, so
    it has no reverse)."""

    def __init__(self, ops_: list) -> None:
        self.ops = list(ops_)

    def to_diff_tuple(self):
        return ("autocommit_block", [o.to_diff_tuple() for o in self.ops if hasattr(o, "to_diff_tuple")])


class OnlinePlanNoteOp(ops.MigrateOperation):
    """The comment block above an ALTER that rewrites a table: where its online plan is."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)

    def to_diff_tuple(self):
        return ("online_plan", self.lines)


@renderers.dispatch_for(AutocommitBlockOp)
def _render_autocommit_block(autogen_context, op: AutocommitBlockOp) -> list[str]:
    lines = ["with op.get_context().autocommit_block():"]
    for inner in op.ops:
        # The printer indents a rendered op's first line; its continuation lines follow.
        lines += [text.replace("\n", "\n    ") for text in render_op(autogen_context, inner)]
    lines.append("")  # alembic's printer dedents at a blank line
    return lines


@renderers.dispatch_for(OnlinePlanNoteOp)
def _render_online_plan_note(autogen_context, op: OnlinePlanNoteOp) -> list[str]:
    rule = "# " + "=" * 86
    return ["# modeldiff: ONLINE PLAN " + "=" * 62, *(f"# {line}" for line in op.lines), rule]


@Operations.implementation_for(AutocommitBlockOp)
def _run_autocommit_block(operations, op: AutocommitBlockOp) -> None:
    with operations.get_context().autocommit_block():
        for inner in op.ops:
            operations.invoke(inner)


@Operations.implementation_for(OnlinePlanNoteOp)
def _run_online_plan_note(operations, op: OnlinePlanNoteOp) -> None:
    context = operations.get_context()
    if context.as_sql:
        for line in ["modeldiff: ONLINE PLAN", *op.lines]:
            context.impl.static_output(f"-- {line}")


# --- the transformation ----------------------------------------------------------------------


def make_online(migration: Migration, options: OnlineOptions | None = None) -> OnlineMigration:
    """Both directions of `migration` (python view, as the revision file renders them) in
    their online forms, and the type changes that need a plan of their own."""
    options = options or OnlineOptions()
    upgrade, downgrade = migration.directions("python")
    rewrites: list[Rewrite] = []
    up = _Direction(migration, options, UPGRADE, upgrade.ops, rewrites).run()
    down = _Direction(migration, options, DOWNGRADE, downgrade.ops, rewrites).run()
    return OnlineMigration(ops.UpgradeOps(ops=up), ops.DowngradeOps(ops=down), tuple(rewrites), options)


def _sql(text: str) -> ops.ExecuteSQLOp:
    return ops.ExecuteSQLOp(text)


def _name(name) -> str | None:
    return None if name is None else str(name)


def _plain(type_):
    return type_.reflected if isinstance(type_, ProjectType) else type_


def _table_of(op) -> str | None:
    if isinstance(op, ops.CreateForeignKeyOp):
        return op.source_table
    return getattr(op, "table_name", None)


class _Direction:
    def __init__(self, migration: Migration, options: OnlineOptions, direction: str, op_list: list, rewrites: list[Rewrite]) -> None:
        self.migration, self.options, self.direction = migration, options, direction
        self.op_list, self.rewrites = op_list, rewrites
        leaves = list(_leaves(op_list))
        self.created = {o.table_name for o in leaves if isinstance(o, ops.CreateTableOp)}
        self.dropped = {o.table_name for o in leaves if isinstance(o, ops.DropTableOp)}
        # The tables as this direction finds them, and as it leaves them.
        self.start = migration.from_tables if direction == UPGRADE else migration.to_tables
        self.target = migration.to_tables if direction == UPGRADE else migration.from_tables

    def run(self) -> list:
        body = self._list(self.op_list)
        timeout = self.options.timeout_sql
        if body and timeout:
            body = [_sql(timeout), *body, _sql("RESET lock_timeout")]
        return body

    # Concurrent index builds wait for every older transaction: that wait blocks nobody,
    # and a lock_timeout would only abort it and leave an INVALID index behind.
    def _concurrent_block(self, inner: list) -> AutocommitBlockOp:
        timeout = self.options.timeout_sql
        if timeout:
            inner = [_sql("SET lock_timeout = 0"), *inner, _sql(timeout)]
        return AutocommitBlockOp(inner)

    def _list(self, op_list: list) -> list:
        out: list = []
        group: list = []

        def flush() -> None:
            if group:
                out.append(self._concurrent_block(_creates_first(group)))
                group.clear()

        for op in op_list:
            if isinstance(op, ops.ModifyTableOps):
                flush()
                inner = self._list(op.ops)
                out.append(ops.ModifyTableOps(op.table_name, inner, schema=op.schema))
                continue
            table = _table_of(op)
            if table is None or table in self.created or table in self.dropped:
                flush()
                out.append(op)
            elif isinstance(op, ops.CreateIndexOp):
                group.append(_concurrent_create(op))
            elif isinstance(op, ops.DropIndexOp):
                group.append(_concurrent_drop(op))
            else:
                flush()
                out += self._one(op)
        flush()
        return out

    def _one(self, op) -> list:
        if isinstance(op, ops.CreateForeignKeyOp) and op.constraint_name is not None:
            added = copy.copy(op)
            added.kw = {**op.kw, "postgresql_not_valid": True}
            return [added, self._validate(op.source_table, op.constraint_name, op.kw.get("source_schema"))]
        if isinstance(op, ops.CreateCheckConstraintOp) and op.constraint_name is not None:
            added = copy.copy(op)
            added.kw = {**op.kw, "postgresql_not_valid": True}
            return [added, self._validate(op.table_name, op.constraint_name, op.schema)]
        if isinstance(op, ops.CreateUniqueConstraintOp) and op.constraint_name is not None:
            return self._using_index(op.table_name, _name(op.constraint_name), list(op.columns), "UNIQUE", op.kw, op.schema)
        if isinstance(op, AddPrimaryKeyOp):
            name = _name(op.constraint_name) or f"{op.table_name}_pkey"
            return self._using_index(op.table_name, name, list(op.columns), "PRIMARY KEY", {}, op.schema)
        if isinstance(op, ops.AlterColumnOp):
            return self._alter(op)
        return [op]

    def _validate(self, table: str, name, schema: str | None = None) -> AutocommitBlockOp:
        return AutocommitBlockOp([_sql(f"ALTER TABLE {qualified(f'{schema}.{table}' if schema else table)} VALIDATE CONSTRAINT {quote(_name(name))}")])

    def _using_index(self, table: str, name: str, columns: list[str], kind: str, kw: dict, schema: str | None = None) -> list:
        index_kw = {"postgresql_concurrently": True}
        for option in ("postgresql_nulls_not_distinct", "postgresql_include"):
            if kw.get(option):
                index_kw[option] = kw[option]
        build = ops.CreateIndexOp(name, table, columns, schema=schema, unique=True, **index_kw)
        attach = f"ALTER TABLE {qualified(f'{schema}.{table}' if schema else table)} ADD CONSTRAINT {quote(name)} {kind} USING INDEX {quote(name)}"
        if kw.get("deferrable"):
            attach += " DEFERRABLE"
        if kw.get("initially"):
            attach += f" INITIALLY {kw['initially']}"
        return [self._concurrent_block([build]), _sql(attach)]

    def _alter(self, op: ops.AlterColumnOp) -> list:
        out: list = []
        if op.modify_type is not None:
            out += self._rewrite_note(op)
        if op.modify_nullable is False and op.existing_nullable is not False:
            rest = copy.copy(op)
            rest.kw = dict(op.kw)
            rest.modify_nullable = None
            rest.existing_nullable = True
            if _changes_anything(rest):
                out.append(rest)
            out += self._not_null(op)
        else:
            out.append(op)
        return out

    def _not_null(self, op: ops.AlterColumnOp) -> list:
        """CHECK (col IS NOT NULL) NOT VALID -> VALIDATE -> SET NOT NULL -> drop the CHECK."""
        table, column = op.table_name, op.column_name
        check = f"{table}_{column}_not_null"[:63]
        type_ = op.modify_type if op.modify_type is not None else op.existing_type
        default = op.modify_server_default if op.modify_server_default is not False else op.existing_server_default
        return [
            ops.CreateCheckConstraintOp(check, table, f"{quote(column)} IS NOT NULL", schema=op.schema, postgresql_not_valid=True),
            self._validate(table, check, op.schema),
            ops.AlterColumnOp(
                table,
                column,
                schema=op.schema,
                existing_type=type_,
                existing_server_default=default,
                existing_nullable=True,
                modify_nullable=False,
            ),
            ops.DropConstraintOp(check, table, type_="check", schema=op.schema),
        ]

    # -- type changes that rewrite the table -------------------------------------------------

    def _rewrite_note(self, op: ops.AlterColumnOp) -> list:
        old, new = type_sql(_plain(op.existing_type)), type_sql(_plain(op.modify_type))
        verdict = classify_type_change(old, new, self.options.pg_version)
        if not verdict.rewrite:
            return []
        rewrite = _plan_rewrite(self, op, old, new, verdict)
        self.rewrites.append(rewrite)
        section = f"section {rewrite.number}"
        text = (
            f"{op.table_name}.{op.column_name}: {old} -> {new} rewrites {op.table_name} and all of its indexes under "
            "an ACCESS EXCLUSIVE lock: reads and writes wait for the whole copy. On a large table, first run the "
            f"expand / backfill / switch steps in {self.options.plan_file} ({section}, {self.direction}) while the "
            f"application runs. This ALTER then finds the column already {new} and takes only a brief lock. "
            "They are not in this file: they take hours and end in a later release."
        )
        return [OnlinePlanNoteOp(textwrap.wrap(text, 86))]


def _leaves(op_list):
    for op in op_list:
        if isinstance(op, ops.ModifyTableOps):
            yield from _leaves(op.ops)
        else:
            yield op


def _changes_anything(op: ops.AlterColumnOp) -> bool:
    return (
        op.modify_type is not None
        or op.modify_server_default is not False
        or op.modify_comment is not False
        or op.modify_name is not None
        or op.modify_nullable is not None
    )


def _concurrent_create(op: ops.CreateIndexOp) -> ops.CreateIndexOp:
    new = copy.copy(op)
    new.kw = {**op.kw, "postgresql_concurrently": True}
    return new


def _concurrent_drop(op: ops.DropIndexOp) -> ops.DropIndexOp:
    new = copy.copy(op)
    new.kw = {**op.kw, "postgresql_concurrently": True}
    return new


def _creates_first(group: list) -> list:
    """New indexes before dropped ones, unless a drop frees the name a create needs."""
    dropped = {_name(o.index_name) for o in group if isinstance(o, ops.DropIndexOp)}
    early = [o for o in group if isinstance(o, ops.CreateIndexOp) and _name(o.index_name) not in dropped]
    return early + [o for o in group if o not in early]


# --- the written plan for a rewriting type change --------------------------------------------


def _plan_rewrite(d: _Direction, op: ops.AlterColumnOp, old: str, new: str, verdict) -> Rewrite:
    table, column = op.table_name, op.column_name
    rewrite = Rewrite(len(d.rewrites) + 1, d.direction, table, column, old, new, verdict.reason)
    name = f"{op.schema}.{table}" if op.schema else table  # as changes name it; sqltext qualifies it
    change = Change("modify_type", name, column=column, old=old, new=new)
    start, target = d.start.get(table), d.target.get(table)
    q, qt = quote(column), qualified(name)
    tmp, old_copy = quote(f"{column}_new"), quote(f"{column}_old")
    cast = d.migration.casts.get((d.direction, table, column))
    explicit = cast is not None and cast.using is not None
    params = {
        "set_value": f"{q}::{new}" if explicit else q,
        "new_value": f"NEW.{q}::{new}" if explicit else f"NEW.{q}",
    }
    if cast is not None and cast.todo:
        # Placeholders that do not parse: a trigger that compiled but failed at run time
        # would make the application's writes fail.
        rewrite.notes.append(f"PostgreSQL has no cast from {old} to {new}: replace <convert ...> in the trigger and the backfill with the conversion.")
        params = {"set_value": f"<convert {column}>", "new_value": f"<convert NEW.{column}>"}
    pk = list(start.primary_key.columns) if start is not None else []
    if len(pk) == 1 and pk[0].name != column:
        params["pk"] = quote(pk[0].name)
    steps = {s.key: s for s in render_recipe("change-type-expand-contract", change, extra=params)}
    out: list[RenderedStep] = []
    if verdict.may_fail:
        out += [replace(s, note=s.note + "; every value must convert, or the backfill fails") for s in render_recipe("precheck-type", change)]
    sync_step = steps["sync"]
    if verdict.may_fail:
        sync_step = replace(sync_step, note=sync_step.note + f"; from now on a write whose value does not convert to {new} fails, as it will after the upgrade")
    out += [steps["add"], sync_step]
    # Batches: walk the primary key in ranges of BATCH_ROWS keys, each its own transaction.
    if len(pk) == 1 and pk[0].name != column:
        out.append(replace(steps["backfill"], sql=batched_update(qt, quote(pk[0].name), type_sql(pk[0].type), f"{tmp} = {params['set_value']}", f"{tmp} IS DISTINCT FROM {params['set_value']}"),
                           note=f"batches of {BATCH_ROWS} rows along the primary key {pk[0].name}, each committed on its own (run it in autocommit mode, not inside BEGIN); add pg_sleep between batches if replicas lag"))
    else:
        why = "it is part of the primary key" if any(c.name == column for c in pk) else "the table has no single-column primary key"
        rewrite.notes.append(f"The backfill is not generated in batches: {why}. Batch the UPDATE by hand (e.g. by ctid ranges).")
        out.append(replace(steps["backfill"], sql=f"UPDATE {qt} SET {tmp} = {params['set_value']} WHERE {tmp} IS DISTINCT FROM {params['set_value']};"))
    builds, swaps = _index_steps(rewrite, start, table, column)
    if builds:
        out.append(replace(steps["indexes"], sql="\n".join(builds), lock="SHARE UPDATE EXCLUSIVE", note="reads and writes continue; one build at a time; the swap puts them in the old indexes' place"))
    target_column = target.c[column] if target is not None and column in target.c else None
    start_column = start.c[column] if start is not None and column in start.c else None
    not_null = target_column is not None and not target_column.nullable
    check = None
    if not_null:
        # not-null-via-check on the new column: ADD CONSTRAINT ... NOT VALID, then VALIDATE.
        new_column = Change("modify_nullable", name, column=f"{column}_new")
        add_check, _backfill, validate, *_ = render_recipe("not-null-via-check", new_column)
        out += [add_check, validate]
        check = recipe_params(new_column)["check_name"]
    swap = ["BEGIN;"]
    if d.options.timeout_sql:
        swap.append(d.options.timeout_sql.replace("SET ", "SET LOCAL ", 1) + ";")
    sync = recipe_params(change)["sync"]
    swap += [f"DROP TRIGGER {sync} ON {qt};", f"DROP FUNCTION {sync}();"]
    if start_column is not None and start_column.server_default is not None:
        swap.append(f"ALTER TABLE {qt} ALTER COLUMN {q} DROP DEFAULT;")
    if start_column is not None and not start_column.nullable:
        swap.append(f"ALTER TABLE {qt} ALTER COLUMN {q} DROP NOT NULL;  -- nothing writes the old column any more")
    swap += [f"ALTER TABLE {qt} RENAME COLUMN {q} TO {old_copy};", f"ALTER TABLE {qt} RENAME COLUMN {tmp} TO {q};"]
    default = default_text(target_column.server_default) if target_column is not None else None
    if default is not None:
        swap.append(f"ALTER TABLE {qt} ALTER COLUMN {q} SET DEFAULT {default};")
        sequence = re.match(r"nextval\('([^']+)'(::regclass)?\)", default)
        if sequence:
            swap.append(f"ALTER SEQUENCE {sequence.group(1)} OWNED BY {qt}.{q};  -- else dropping {column}_old drops it")
    if not_null:
        swap += [f"ALTER TABLE {qt} ALTER COLUMN {q} SET NOT NULL;  -- the valid CHECK proves it: no scan", f"ALTER TABLE {qt} DROP CONSTRAINT {check};"]
    comment = getattr(target_column, "comment", None)
    if comment:
        swap.append(f"COMMENT ON COLUMN {qt}.{q} IS {literal(comment)};")
    swap += swaps
    swap.append("COMMIT;")
    out.append(replace(steps["swap"], sql="\n".join(swap), note="brief (catalog only); retry if the lock_timeout expires. The application keeps reading and writing the column by its name"))
    out.append(steps["drop"])
    rewrite.steps = out
    return rewrite


def _index_steps(rewrite: Rewrite, start: Table | None, table: str, column: str) -> tuple[list[str], list[str]]:
    """CREATE INDEX CONCURRENTLY on the new column for each plain index on the old one,
    and the swap's statements that put them in the old ones' place."""
    builds: list[str] = []
    swaps: list[str] = []
    if start is None:
        return builds, swaps
    for index in sorted(start.indexes, key=lambda i: i.name or ""):
        names = [getattr(e, "name", None) for e in index.expressions]
        if column not in names and not any(column in str(e) for e in index.expressions if getattr(e, "name", None) is None):
            continue
        options = {k: v for k, v in index.dialect_kwargs.items() if v not in (None, [], {}, False)}
        if None in names or set(options) - {"postgresql_using", "postgresql_include"}:
            rewrite.notes.append(f"Index {index.name} has expressions or options on {column}: rebuild it on {column}_new by hand before the swap.")
            continue
        meta = MetaData()
        columns = [Column(c.name) for c in start.columns] + [Column(f"{column}_new")]  # names are all CREATE INDEX needs
        shadow = Table(table, meta, *columns)
        key = [shadow.c[f"{column}_new" if n == column else n] for n in names]
        new_name = f"{index.name}_new"[:63]
        build = Index(new_name, *key, unique=bool(index.unique), postgresql_concurrently=True, **options)
        compat.set_parent(build, shadow)
        builds.append(str(CreateIndex(build).compile(dialect=_PG)).strip() + ";")
        where = f"{start.schema}.{table}" if start.schema else table  # the old index is in the table's schema
        swaps += [f"DROP INDEX {in_schema_of(where, index.name)};", f"ALTER INDEX {in_schema_of(where, new_name)} RENAME TO {quote(index.name)};"]
    for constraint in sorted(start.constraints, key=lambda c: c.name or ""):
        kind = type(constraint).__name__.replace("Constraint", "").lower()
        if kind in ("unique", "foreignkey", "primarykey") and column in [c.name for c in constraint.columns]:
            what = {"foreignkey": "foreign key", "primarykey": "primary key"}.get(kind, kind)
            rewrite.notes.append(
                f"{column} is part of the {what} {constraint.name}: move it to the new column in the swap by hand "
                "(unique/primary key: CREATE UNIQUE INDEX CONCURRENTLY on the new column, then ADD CONSTRAINT ... USING INDEX; "
                "foreign key: ADD ... NOT VALID, then VALIDATE; a primary key's referencing columns need the same conversion)."
            )
    for other in _referencing(rewrite, start, column):
        rewrite.notes.append(other)
    return builds, swaps


def _referencing(rewrite: Rewrite, start: Table, column: str) -> list[str]:
    out = []
    for table in start.metadata.tables.values():
        for fk in table.foreign_key_constraints:
            for element in fk.elements:
                if element.column.table is start and element.column.name == column:
                    out.append(f"{table.name}.{element.parent.name} references {start.name}.{column} ({fk.name}): convert it too, or the types differ.")
    return sorted(set(out))


# --- Markdown ------------------------------------------------------------------------------


def render_online_plan(online: OnlineMigration, *, revision: str, ref_line: str) -> str:
    """The plan document: one section per rewriting type change, steps in order."""
    timeout = check_lock_timeout(online.options.lock_timeout)
    out = [
        f"# Online plan for revision {revision}",
        "",
        f"Generated by modeldiff (`revision --online`) for {ref_line}.",
        "",
        "The revision runs each change below as one `ALTER TABLE ... ALTER COLUMN ... TYPE`, which copies the",
        "whole table and rebuilds all its indexes while holding an ACCESS EXCLUSIVE lock: every read and write",
        "of the table waits until it is done. On a large table, run the steps of the change's section first,",
        "with the application running. They leave the column already converted, so when `alembic upgrade`",
        "runs the revision, its ALTER finds nothing to convert and holds its lock only for a moment.",
        "",
        "How to run the steps:",
        "",
        "- in `psql` (or any client) in autocommit mode, never inside an explicit `BEGIN`: the backfill",
        "  commits after each batch and `CREATE INDEX CONCURRENTLY` cannot run in a transaction;",
        f"- before each brief step, `SET lock_timeout = '{timeout}';`, and retry the step if it times out:",
        "  waiting for the lock would make every later query on the table queue behind it;",
        "- steps marked *later release* wait until no running release reads the old column.",
        "",
    ]
    for rewrite in online.rewrites:
        out += [
            f"## {rewrite.number}. {rewrite.direction}: {rewrite.table}.{rewrite.column} {rewrite.old} → {rewrite.new}",
            "",
            rewrite.reason[0].upper() + rewrite.reason[1:] + ".",
            "",
        ]
        for note in rewrite.notes:
            out += [f"> **By hand:** {note}", ""]
        for i, step in enumerate(rewrite.steps, 1):
            flags = [f"lock {step.lock}" if step.lock else "no lock"]
            if step.autocommit:
                flags.append("outside a transaction")
            if step.batched:
                flags.append("in batches")
            if step.release != 1:
                flags.append("later release")
            out += [f"**Step {i}** ({', '.join(flags)}): {step.note}", ""]
            if step.sql:
                out += ["```sql", step.sql, "```", ""]
        then = "alembic upgrade" if rewrite.direction == UPGRADE else "alembic downgrade"
        out += [
            f"Then `{then}`: the revision's ALTER of {rewrite.table}.{rewrite.column} finds it already {rewrite.new}.",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def revision_notes(online: OnlineMigration) -> list[str]:
    """Lines for the revision's docstring."""
    timeout = online.options.timeout_sql
    lines = [
        "Online form (modeldiff --online): indexes built and dropped CONCURRENTLY, constraints added",
        "NOT VALID and validated separately, NOT NULL proven by a validated CHECK"
        + (f", lock_timeout {online.options.lock_timeout}." if timeout else "."),
        "Each autocommit block commits what ran before it: after a failure, resume by hand.",
    ]
    if online.rewrites:
        lines.append(f"Type changes that rewrite a table: see {online.options.plan_file} (ONLINE PLAN comments below).")
    return lines


__all__ = [
    "AutocommitBlockOp",
    "OnlineMigration",
    "OnlineOptions",
    "OnlinePlanNoteOp",
    "Rewrite",
    "check_lock_timeout",
    "make_online",
    "render_online_plan",
    "revision_notes",
]
