"""Migration operations alembic lacks, with how each renders (Python) and runs (SQL/online).

Alembic never creates, alters or drops PostgreSQL enum types and cannot attach a note for a
human to an operation. These small ops fill that in. Their Python rendering uses only what
a stock alembic revision file has at hand (`op`, `sa`, `postgresql`), never these classes,
so a generated file runs wherever alembic does.
"""

from __future__ import annotations

from alembic.autogenerate import renderers
from alembic.operations import Operations, ops
from sqlalchemy.dialects import postgresql

from .. import compat
from ..compare.catalog_ops import CatalogOp
from ..sqltext import literal as _literal
from ..sqltext import quote, text_clause_safe

_POSTGRESQL_IMPORT = "from sqlalchemy.dialects import postgresql"


def walk_ops(container):
    """Every operation of an alembic op container, nested containers flattened."""
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            yield from walk_ops(op)
        else:
            yield op


def _enum_expr(name: str, labels: list[str]) -> str:
    return f"postgresql.ENUM({', '.join(repr(label) for label in labels)}, name={name!r})"


class CreateEnumOp(ops.MigrateOperation):
    """CREATE TYPE ... AS ENUM, before any column uses it."""

    def __init__(self, name: str, labels: list[str]) -> None:
        self.name, self.labels = name, list(labels)

    def reverse(self):
        return DropEnumOp(self.name, self.labels)

    def to_diff_tuple(self):
        return ("add_enum", self.name, self.labels)


class DropEnumOp(ops.MigrateOperation):
    """DROP TYPE, after the last column using it is gone."""

    def __init__(self, name: str, labels: list[str]) -> None:
        self.name, self.labels = name, list(labels)

    def reverse(self):
        return CreateEnumOp(self.name, self.labels)

    def to_diff_tuple(self):
        return ("remove_enum", self.name, self.labels)


class AlterEnumOp(ops.MigrateOperation):
    """An enum type's labels change.

    Appending labels is `ALTER TYPE ... ADD VALUE` (outside the transaction: a value added
    inside one cannot be used before it commits). Anything else (a label removed or moved)
    rebuilds the type: rename the old one, create the new one, convert each column through
    text, drop the old one. `columns` are (table, column, default SQL or None) of the
    columns that use the type when this op runs.
    """

    def __init__(self, name: str, old: list[str], new: list[str], columns: list[tuple[str, str, str | None]]) -> None:
        self.name, self.old, self.new, self.columns = name, list(old), list(new), list(columns)

    def reverse(self):
        return AlterEnumOp(self.name, self.new, self.old, self.columns)

    def to_diff_tuple(self):
        return ("modify_enum", self.name, self.old, self.new)

    @property
    def appends_only(self) -> bool:
        it = iter(self.new)
        return all(label in it for label in self.old)  # old is an ordered subsequence of new

    def statements(self) -> list[str]:
        """The SQL, in order; ADD VALUE statements are marked by `appends_only`."""
        name = quote(self.name)
        if self.appends_only:
            out = []
            for index, label in enumerate(self.new):
                if label in self.old:
                    continue
                following = next((x for x in self.new[index + 1:] if x in self.old), None)
                where = f" BEFORE {_literal(following)}" if following is not None else ""
                out.append(f"ALTER TYPE {name} ADD VALUE {_literal(label)}{where}")
            return out
        old_name = quote(self.name + "__modeldiff_old")
        out = [f"ALTER TYPE {name} RENAME TO {old_name}", f"CREATE TYPE {name} AS ENUM ({', '.join(map(_literal, self.new))})"]
        for table, column, default in self.columns:
            target = f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)}"
            if default is not None:
                out.append(f"{target} DROP DEFAULT")
            out.append(f"{target} TYPE {name} USING {quote(column)}::text::{name}")
            if default is not None:
                out.append(f"{target} SET DEFAULT {default}")
        out.append(f"DROP TYPE {old_name}")
        return out

    def removed(self) -> list[str]:
        return [label for label in self.old if label not in self.new]


class NoteOp(ops.MigrateOperation):
    """A comment for the human reading the migration (`# TODO(modeldiff): ...`)."""

    def __init__(self, text: str, todo: bool = True) -> None:
        self.text, self.todo = text, todo

    @property
    def prefix(self) -> str:
        return "TODO(modeldiff)" if self.todo else "modeldiff"

    def reverse(self):
        return self

    def to_diff_tuple(self):
        return ("note", self.text)


class CastAlterColumnOp(ops.AlterColumnOp):
    """alter_column with `postgresql_using`, which alembic's renderer leaves out."""


class AddPrimaryKeyOp(ops.CreatePrimaryKeyOp):
    """create_primary_key, which alembic's renderer refuses (NotImplementedError)."""

    def reverse(self):
        return compat.with_reverse(DropPrimaryKeyOp, self.constraint_name, self.table_name, type_="primary", schema=self.schema, reverse=self)


class DropPrimaryKeyOp(ops.DropConstraintOp):
    """drop_constraint(type_="primary") whose reverse is the primary key it dropped
    (alembic's reverses into a generic AddConstraintOp, which it cannot render)."""

    def reverse(self):
        return compat.stored_reverse(self)


# --- Python rendering -----------------------------------------------------------------


@renderers.dispatch_for(CreateEnumOp)
def _render_create_enum(autogen_context, op: CreateEnumOp) -> str:
    autogen_context.imports.add(_POSTGRESQL_IMPORT)
    return f"{_enum_expr(op.name, op.labels)}.create(op.get_bind())"


@renderers.dispatch_for(DropEnumOp)
def _render_drop_enum(autogen_context, op: DropEnumOp) -> str:
    autogen_context.imports.add(_POSTGRESQL_IMPORT)
    return f"{_enum_expr(op.name, op.labels)}.drop(op.get_bind())"


@renderers.dispatch_for(AlterEnumOp)
def _render_alter_enum(autogen_context, op: AlterEnumOp) -> list[str]:
    lines = []
    if op.appends_only:
        # alembic's printer indents after the colon and dedents at the blank line.
        lines.append("with op.get_context().autocommit_block():")
        lines += [f"op.execute({sql!r})" for sql in op.statements()]
        lines.append("")
        return lines
    lines.append(
        f"# TODO(modeldiff): enum {op.name} loses {', '.join(op.removed()) or 'its label order'}; rows holding a "
        "removed label make the conversion below fail: decide what they become first."
    )
    lines += [f"op.execute({sql!r})" for sql in op.statements()]
    return lines


@renderers.dispatch_for(CatalogOp)
def _render_catalog(autogen_context, op: CatalogOp) -> list[str]:
    return [f"op.execute({text_clause_safe(sql)!r})" for sql in op.upgrade]


@renderers.dispatch_for(NoteOp)
def _render_note(autogen_context, op: NoteOp) -> list[str]:
    return [f"# {op.prefix}: {line}" for line in op.text.splitlines()]


@renderers.dispatch_for(CastAlterColumnOp)
def _render_cast_alter(autogen_context, op: CastAlterColumnOp) -> str:
    text = compat.render_alter_column(autogen_context, op)
    assert text.endswith(")")
    return text[:-1] + f",\n{' ' * 11}postgresql_using={op.kw['postgresql_using']!r})"


@renderers.dispatch_for(AddPrimaryKeyOp)
def _render_add_pk(autogen_context, op: AddPrimaryKeyOp) -> str:
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"op.create_primary_key({op.constraint_name!r}, {op.table_name!r}, {list(op.columns)!r}{schema})"


# --- Running them (online, and offline into SQL text) -----------------------------------


def _is_postgresql(operations) -> bool:
    return operations.get_context().dialect.name == "postgresql"


@Operations.implementation_for(CreateEnumOp)
def _create_enum(operations, op: CreateEnumOp) -> None:
    if _is_postgresql(operations):  # other dialects spell enums inside the column type
        postgresql.ENUM(*op.labels, name=op.name).create(operations.get_bind())


@Operations.implementation_for(DropEnumOp)
def _drop_enum(operations, op: DropEnumOp) -> None:
    if _is_postgresql(operations):
        postgresql.ENUM(*op.labels, name=op.name).drop(operations.get_bind())


@Operations.implementation_for(AlterEnumOp)
def _alter_enum(operations, op: AlterEnumOp) -> None:
    if not _is_postgresql(operations):
        return
    if op.appends_only:
        with operations.get_context().autocommit_block():
            for sql in op.statements():
                operations.execute(sql)
        return
    _note(operations, f"TODO(modeldiff): enum {op.name} loses {', '.join(op.removed()) or 'its label order'}; decide what rows holding them become")
    for sql in op.statements():
        operations.execute(sql)


@Operations.implementation_for(CatalogOp)
def _run_catalog(operations, op: CatalogOp) -> None:
    if _is_postgresql(operations):  # PostgreSQL's own SQL, from its catalog
        for sql in op.upgrade:
            operations.execute(text_clause_safe(sql))


@Operations.implementation_for(NoteOp)
def _run_note(operations, op: NoteOp) -> None:
    _note(operations, f"{op.prefix}: {op.text}")


def _note(operations, text: str) -> None:
    context = operations.get_context()
    if context.as_sql:  # online there is nobody to read it
        for line in text.splitlines():
            context.impl.static_output(f"-- {line}")
