"""Turn the loaded MetaData into DDL text and plain facts (runs in the loader child).

The parent never sees model objects: it gets, per table, the exact statements SQLAlchemy
would run for PostgreSQL (in SQLAlchemy's own order, FK cycles included), a fallback
CREATE TABLE without server defaults plus one `SET DEFAULT` per column (so one default that
PostgreSQL rejects costs that default, not the table), and per-column type facts that the
renderers need.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from typing import Any

from sqlalchemy import MetaData, Table, Text
from sqlalchemy import exc as sa_exc

try:
    from sqlalchemy import create_mock_engine
    from sqlalchemy.orm import registry as orm_registry
except ImportError:  # SQLAlchemy 1.3: the mock strategy, and no registry (classical mapper())
    from sqlalchemy import create_engine

    def create_mock_engine(url, executor, **kw):
        return create_engine(url, strategy="mock", executor=executor, **kw)

    class orm_registry:  # noqa: N801 - nothing is an instance of it
        pass

from sqlalchemy.types import NullType
from sqlalchemy.schema import (
    DDL,
    AddConstraint,
    CreateIndex,
    CreateTable,
    SetColumnComment,
    SetTableComment,
)

from ..sqltext import PG
from .stubs import STUB_MARKER, is_stub


def find_metadatas(module_names: list[str]) -> list[tuple[str, MetaData]]:
    """Every MetaData reachable from the repository's modules, deduplicated, labelled by the
    most direct name it has (a MetaData or Flask-SQLAlchemy `db` attribute over a registry
    or declarative base over a mapped class; then alphabetically), in a stable order."""
    found: dict[int, tuple[tuple[int, int, str], MetaData]] = {}
    order = {name: i for i, name in enumerate(module_names)}  # import order: definers first

    def add(rank: int, label: str, md: Any) -> None:
        key = (rank, order.get(label.rsplit(".", 1)[0], 0), label)
        if isinstance(md, MetaData) and (id(md) not in found or key < found[id(md)][0]):
            found[id(md)] = (key, md)

    for name in sorted(module_names):
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, value in sorted(vars(module).items(), key=lambda kv: kv[0]):
            if is_stub(value):
                continue
            label = f"{name}.{attr}"
            if isinstance(value, MetaData):
                add(0, label, value)
                continue
            if isinstance(value, orm_registry):  # imperative mapping: registry().map_imperatively
                add(1, label, value.metadata)
                continue
            metadatas = getattr(type(value), "__module__", "").startswith("flask_sqlalchemy") and getattr(
                value, "metadatas", None
            )
            if isinstance(metadatas, dict):  # Flask-SQLAlchemy 3.x: one MetaData per bind key
                for bind_key, md in sorted(metadatas.items(), key=lambda kv: str(kv[0])):
                    add(0, label if bind_key is None else f"{label}[{bind_key}]", md)
                continue
            if isinstance(value, type):
                try:
                    add(2 if value.__module__ == name else 3, label, value.__dict__.get("metadata"))
                    table = getattr(value, "__table__", None)
                except Exception:  # noqa: BLE001 - arbitrary user classes
                    continue
                if isinstance(table, Table):
                    add(4, label, table.metadata)
    # A MetaData without tables adds nothing but noise (and ambiguity for --metadata).
    return sorted(((key[2], md) for key, md in found.values() if md.tables), key=lambda lm: lm[0])


def select_metadatas(metadatas: list[tuple[str, MetaData]], wanted: list[str]) -> tuple[list[tuple[str, MetaData]], str | None]:
    """The metadatas named by `--metadata` values: a full label (`app.models.db`), its last
    part (`db`, `Base`), or a Flask-SQLAlchemy bind key (`auth` for `app.db[auth]`;
    `default` for the bind-less one). Returns (selection, error message)."""
    chosen: list[tuple[str, MetaData]] = []
    for name in wanted:
        matches = [lm for lm in metadatas if _label_matches(lm[0], name)]
        if not matches:
            known = ", ".join(f"{label} ({len(md.tables)} tables)" for label, md in metadatas) or "none"
            return [], f"--metadata {name}: no such MetaData; found: {known}"
        if len(matches) > 1:
            return [], f"--metadata {name}: ambiguous, matches {', '.join(label for label, _ in matches)}"
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen, None


def _label_matches(label: str, name: str) -> bool:
    if label == name:
        return True
    base, _, key = label.partition("[")
    key = key.rstrip("]")
    if key:
        return name == key or name == f"{base.rsplit('.', 1)[-1]}[{key}]"
    return base.rsplit(".", 1)[-1] == name or base.endswith("." + name) or (name == "default" and "[" not in label)


def _compiled(element, dialect) -> str:
    return str(element.compile(dialect=dialect)).strip()


def _table_of(ddl) -> Table | None:
    element = getattr(ddl, "element", None)
    if element is None:  # a literal DDL("...") attached to a table's after_create event
        target = getattr(ddl, "target", None)
        return target if isinstance(target, Table) else None
    if isinstance(ddl, (CreateTable, SetTableComment)):
        return element
    if isinstance(ddl, (CreateIndex, AddConstraint)):
        return element.table
    if isinstance(ddl, SetColumnComment):
        return element.table
    return None


# Dialects the SQL renderer can emit for besides PostgreSQL: each column's type and server
# default as the model would give them there (the comparison itself only sees PostgreSQL).
OTHER_DIALECTS = ("mysql", "sqlite")


def _column_facts(table: Table, dialect) -> list[dict]:
    facts = []
    for column in table.columns:
        try:
            type_sql = column.type.compile(dialect=dialect)
        except Exception as exc:  # noqa: BLE001
            type_sql = f"<{type(exc).__name__}>"
        fact = {
            "name": column.name,
            "type_sql": type_sql,
            "type_class": f"{type(column.type).__module__}.{type(column.type).__qualname__}",
            "type_repr": repr(column.type),
            "dialects": {name: _dialect_facts(column, _dialect(name)) for name in OTHER_DIALECTS},
        }
        python = _python_expression(column.type, dialect)
        if python:
            fact["python"] = python
        facts.append(fact)
    return facts


def _dialect_facts(column, dialect) -> dict:
    """Type and server default of `column` compiled for `dialect`; None where it cannot be."""
    out: dict = {"type": None, "default": None}
    try:
        out["type"] = column.type.compile(dialect=dialect)
    except Exception as exc:  # noqa: BLE001 - e.g. MySQL VARCHAR without a length, JSONB
        out["error"] = _short_error(exc)
        # The nearest type the dialect has (JSONB -> JSON): the SQL renderer may use it, saying so.
        try:
            out["generic"] = column.type.as_generic().compile(dialect=dialect)
        except Exception:  # noqa: BLE001
            pass
    if column.server_default is not None and type(column.server_default).__name__ not in ("Identity", "Computed"):
        try:
            out["default"] = dialect.ddl_compiler(dialect, None).get_column_default_string(column)
        except Exception as exc:  # noqa: BLE001
            out["default_error"] = _short_error(exc)
    return out


def _short_error(exc: Exception) -> str:
    text = str(exc).split(" (Background on this error")[0].splitlines()[0]
    text = re.sub(r"Compiler <[\w.]+ object at 0x[0-9a-f]+>", "the compiler", text)
    return text[:200]


def _python_expression(type_, dialect) -> dict | None:
    """How a migration file can spell a project-defined column type, e.g.
    `models.types.StringUUID()` with `import models as models`.

    Only offered when it is proven here, where the project's code is loaded: the repr must
    be a call with literal arguments, and calling the class with them must give a type that
    compiles to the same SQL on every dialect. (Dify's `EnumText()` repr drops its enum
    class, so it is not offered, and the renderer falls back to the plain SQL type.)
    """
    cls = type(type_)
    if cls.__module__.startswith("sqlalchemy") or "." in cls.__qualname__ or is_stub(type_):
        return None
    try:
        call = ast.parse(repr(type_), mode="eval").body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == cls.__name__):
            return None
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        if len(kwargs) != len(call.keywords):
            return None
        rebuilt = cls(*args, **kwargs)
        for name in ("postgresql", *OTHER_DIALECTS):
            d = _dialect(name)
            if _compile_or_none(rebuilt, d) != _compile_or_none(type_, d):
                return None
    except Exception:  # noqa: BLE001 - any failure just means "not offered"
        return None
    top, _, rest = cls.__module__.partition(".")
    # `import models as models` (Dify's template) works when `models.types` is reachable as
    # attributes from the top package once it is imported; otherwise import the module.
    obj = sys.modules.get(top)
    for part in [p for p in rest.split(".") if p] + [cls.__name__]:
        obj = getattr(obj, part, None)
    statement = f"import {top} as {top}" if obj is cls else f"import {cls.__module__}"
    return {"expr": f"{cls.__module__}.{repr(type_)}", "import": statement, "key": call_key(args, kwargs)}


def call_key(args, kwargs) -> str:
    """The arguments of a type's constructor call as text, to recognise the call again."""
    return repr((tuple(args), sorted(kwargs.items())))


def _compile_or_none(type_, dialect) -> str | None:
    try:
        return type_.compile(dialect=dialect)
    except Exception:  # noqa: BLE001
        return None


def _stubs_in_type(table: Table) -> list[tuple[str, str, str]]:
    """Stubs hidden inside custom column types (e.g. an enum class that sizes a column):
    (message, stub name, table.column)."""
    found = []
    for column in table.columns:
        for attr, value in sorted(vars(column.type).items()):
            if is_stub(value) or (isinstance(value, type) and getattr(value, "__modeldiff_stub__", None)):
                found.append((f"type {type(column.type).__name__} uses stubbed {_stub_name(value)} ({attr})", _stub_name(value), f"{table.key}.{column.name}"))
    return found


_STUB_NAME = re.compile(re.escape(STUB_MARKER) + r"\.([A-Za-z_][\w.]*(?:\(\))?(?:\[\])?[\w.]*)")


def _stub_name(value: Any) -> str:
    path = getattr(value, "_path", None) if not isinstance(value, type) else None
    if not isinstance(path, str):
        marker = getattr(value if isinstance(value, type) else type(value), "__modeldiff_stub__", None)
        path = marker if isinstance(marker, str) else repr(value)
    return clean_stub_name(path)


def clean_stub_name(path: str) -> str:
    """`sqlalchemy_utils.TSVectorType()()` -> `sqlalchemy_utils.TSVectorType`."""
    while path.endswith("()"):
        path = path[:-2]
    return path


def _prepare(metadata: MetaData, dialect, placeholders: dict) -> list[dict]:
    """Make a MetaData compilable without hiding what was wrong: a foreign key to a table
    that does not exist (its module failed, or never existed) is dropped with a warning, and
    a column whose type is a stub (or cannot be compiled) becomes TEXT, collected in
    `placeholders` ((stub name, problem) -> ["table.column", ...]) for one warning each."""
    warnings: list[dict] = []
    for table in list(metadata.tables.values()):
        for fkc in list(table.foreign_key_constraints):
            try:
                for element in fkc.elements:
                    element.column  # noqa: B018 - resolves the target, raising if it is missing
            except (sa_exc.NoReferencedTableError, sa_exc.NoReferencedColumnError) as exc:
                table.constraints.discard(fkc)
                for element in fkc.elements:
                    element.parent.foreign_keys.discard(element)
                    table.foreign_keys.discard(element)
                warnings.append({"code": "missing-fk-target", "message": f"foreign key ({', '.join(fkc.column_keys)}) dropped: {exc}", "location": table.key})
        for column in table.columns:
            problem = stub = None
            if is_stub(column.type) or (isinstance(column.type, type) and getattr(column.type, "__modeldiff_stub__", None)):
                stub = _stub_name(column.type)
                problem = f"type is stubbed {stub}"
            else:
                try:
                    compiled = column.type.compile(dialect=dialect)
                    if STUB_MARKER in compiled:
                        stub = clean_stub_name((_STUB_NAME.findall(compiled) or [compiled])[0])
                        problem = f"type uses stubbed {stub}"
                except Exception as exc:  # noqa: BLE001 - arbitrary user types
                    if isinstance(column.type, NullType):
                        problem = "no type (a foreign key to a missing table?)"
                    else:
                        problem = f"type {type(column.type).__name__} cannot be compiled ({type(exc).__name__}: {str(exc)[:120]})"
            if problem:
                column.type = Text()
                placeholders.setdefault((stub or "", problem), []).append(f"{table.key}.{column.name}")
    return warnings


def schema_ddl(metadatas: list[tuple[str, MetaData]], dialect_name: str = "postgresql") -> dict:
    """DDL per table for all metadatas; table keys must be unique across them."""
    tables: dict[str, dict] = {}
    preamble: list[str] = []
    postamble: list[str] = []
    warnings: list[dict] = []

    schemas = sorted({t.schema for _, md in metadatas for t in md.tables.values() if t.schema})
    # Tables in a named schema (`__table_args__ = {"schema": ...}`) need it to exist first.
    preamble += [f"CREATE SCHEMA IF NOT EXISTS {_dialect(dialect_name).identifier_preparer.quote_schema(name)}" for name in schemas]
    placeholders: dict[tuple[str, str], list[str]] = {}
    for label, metadata in metadatas:
        dialect = _dialect(dialect_name)
        warnings += _prepare(metadata, dialect, placeholders)
        captured: list = []

        def executor(sql, *multiparams, **params):
            captured.append(sql)

        mock = create_mock_engine(f"{dialect_name}://", executor)
        try:
            metadata.create_all(mock, checkfirst=False)
        except Exception as exc:  # noqa: BLE001 - e.g. a foreign key to a table that is not there
            warnings.append({"code": "metadata-ddl", "message": f"{label}: cannot generate DDL: {type(exc).__name__}: {exc}"})
            continue

        created_tables = False
        for ddl in captured:
            table = _table_of(ddl)
            created_tables = created_tables or isinstance(ddl, CreateTable)
            try:
                sql = _compiled(ddl, dialect)
            except Exception as exc:  # noqa: BLE001
                where = table.key if table is not None else label
                warnings.append({"code": "ddl-compile", "message": f"{where}: cannot compile {type(ddl).__name__}: {exc}"})
                continue
            if table is None:
                # A MetaData's DDL("...") after a CREATE TABLE is its after_create (a trigger
                # on the tables): run after them; the rest (types, functions) before.
                after = created_tables and isinstance(ddl, DDL) and isinstance(getattr(ddl, "target", None), MetaData)
                (postamble if after else preamble).append(sql)
                continue
            if isinstance(ddl, AddConstraint):
                postamble.append(sql)
                continue
            entry = tables.get(table.key)
            if entry is None:
                entry = tables[table.key] = {
                    "order": len(tables),  # creation order: foreign key targets first
                    "name": table.name,
                    "schema": table.schema,
                    "metadata": label,
                    "statements": [],
                    "_table": table,
                }
            elif entry["_table"] is not table:
                warnings.append({"code": "duplicate-table", "message": f"table {table.key} is defined in {entry['metadata']} and {label}; keeping the first"})
                continue
            if isinstance(ddl, CreateTable):
                entry["create"] = sql
                entry["create_plain"], entry["defaults"] = _without_server_defaults(ddl, table, dialect, sql)
            else:
                entry["statements"].append(sql)

    for key, entry in tables.items():
        table = entry.pop("_table")
        entry["statements"].sort()  # SQLAlchemy walks Table.indexes, a set: make it stable
        entry["columns"] = _column_facts(table, _dialect(dialect_name))
        for message, stub, where in _stubs_in_type(table):
            warnings.append({"code": "stub-in-type", "message": message, "stub": stub, "location": where})
        text = "\n".join([entry.get("create", "")] + entry["statements"])
        for stub in sorted({clean_stub_name(s) for s in _STUB_NAME.findall(text)}):
            warnings.append({"code": "stub-in-ddl", "message": f"stubbed {stub} reached the DDL", "stub": stub, "location": key})
    for (stub, problem), columns in sorted(placeholders.items()):
        columns = sorted(columns)
        shown = ", ".join(columns[:6]) + (f" and {len(columns) - 6} more" if len(columns) > 6 else "")
        warning = {
            "code": "stub-type" if stub else "placeholder-type",
            "message": f"{problem}: {len(columns)} column{'s' * (len(columns) != 1)} created as TEXT, so changes of their type are not seen ({shown})",
            "locations": columns,
        }
        if stub:
            warning["stub"] = stub
        warnings.append(warning)
    return {"tables": tables, "preamble": preamble, "postamble": postamble, "warnings": warnings}


@functools.lru_cache(maxsize=None)
def _dialect(name: str):
    if name == "postgresql":
        return PG  # renders literals as a server with standard_conforming_strings on reads them
    # "named": the DDL text is printed, never run with parameters, so `%` is not doubled
    return create_mock_engine(f"{name}://", lambda *a, **k: None, paramstyle="named").dialect


def _without_default(lines: list[str], start: str, clause: str) -> list[str] | None:
    """`lines` of a CREATE TABLE with `clause` taken out of the one column line that begins
    with `start`; None when that is not exactly one line holding the clause."""
    found = [i for i, line in enumerate(lines) if line.startswith(start)]
    if len(found) != 1 or lines[found[0]].count(clause) != 1:
        return None
    out = list(lines)
    out[found[0]] = out[found[0]].replace(clause, "", 1)
    return out


def _without_server_defaults(ddl: CreateTable, table: Table, dialect, create: str | None = None) -> tuple[str, list[dict]]:
    """CREATE TABLE with no server defaults, and the defaults as separate statements.
    `create`: the statement compiled with its defaults, which loses them as text when each
    is found once on its column's line (compiling a table again is half the DDL's time)."""
    saved = {}
    defaults = []
    lines = create.split("\n") if create is not None else None
    compiler = dialect.ddl_compiler(dialect, None)
    preparer = dialect.identifier_preparer
    for column in table.columns:
        default = column.server_default
        if default is None or type(default).__name__ in ("Identity", "Computed"):
            continue
        try:
            default_sql = compiler.get_column_default_string(column)
        except Exception:  # noqa: BLE001
            continue
        if default_sql is None:
            continue
        saved[column] = default
        lines = lines and _without_default(lines, f"\t{preparer.format_column(column)} ", f" DEFAULT {default_sql}")
        defaults.append(
            {
                "column": column.name,
                "type_sql": column.type.compile(dialect=dialect),
                "sql": f"ALTER TABLE {preparer.format_table(table)} ALTER COLUMN "
                f"{preparer.format_column(column)} SET DEFAULT {default_sql}",
            }
        )
    if lines:
        return "\n".join(lines), defaults
    for column in saved:
        column.server_default = None
    try:
        plain = _compiled(ddl, dialect)
    finally:
        for column, default in saved.items():
            column.server_default = default
    return plain, defaults

