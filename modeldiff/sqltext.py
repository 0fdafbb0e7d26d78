"""The SQL text modeldiff prints, for PostgreSQL: identifiers, names in named schemas, string
literals, types and defaults. One implementation, so the runbook, the recipes, the online
plan and the drafted operations quote alike (and PostgreSQL accepts what they print).

Names travel through modeldiff as text, a table in a named schema as `schema.table` (see
`compare.schemas`); `qualified` turns that into `schema.table` quoted per part.
"""

from __future__ import annotations

import functools
import re


@functools.cache
def postgresql_dialect():
    """SQLAlchemy's PostgreSQL dialect, made on first use (a diff served from the cache
    quotes nothing and imports no SQLAlchemy). The server's standard_conforming_strings is
    on (the default since PostgreSQL 9.1). Its paramstyle is "named": the text it compiles is
    run without parameters or read by a person, so a `%` stays one `%` (pyformat, the
    driver's, would double it in every literal and text() clause)."""
    from sqlalchemy.dialects import postgresql

    from . import compat

    return compat.standard_conforming_strings(postgresql.dialect(paramstyle="named"))


def __getattr__(name: str):
    if name == "PG":
        return postgresql_dialect()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def quote(identifier: str) -> str:
    """One identifier, double-quoted when PostgreSQL needs it: SQLAlchemy's preparer knows
    every reserved word (`grant`, `only`, `user`...), capitals and odd characters."""
    return postgresql_dialect().identifier_preparer.quote(identifier)


def qualified(name: str) -> str:
    """A table as modeldiff names it (`events`, `audit.events`), each part quoted."""
    schema, dot, table = name.partition(".")
    return f"{quote(schema)}.{quote(table)}" if dot else quote(name)


def in_schema_of(table: str, name: str) -> str:
    """`name` (an index, a sequence) in the schema of `table`: DROP INDEX, ALTER INDEX and
    the like find a named schema's index only when it is qualified."""
    schema, dot, _ = table.partition(".")
    return f"{quote(schema)}.{quote(name)}" if dot else quote(name)


def bare(table: str) -> str:
    """The table's name without its schema (unquoted), for names derived from it."""
    return table.rpartition(".")[2]


def column_list(names) -> str:
    return ", ".join(quote(n) for n in names or [] if n)


def literal(value) -> str:
    """A string constant. Only quotes are doubled: with standard_conforming_strings on, a
    backslash is literal. (Not SQLAlchemy's literal renderer: for a DBAPI with the pyformat
    paramstyle it also doubles %, which is right in a statement sent with parameters and
    wrong in text a person runs.)"""
    return "'" + str(value).replace("'", "''") + "'"


def type_text(type_) -> str:
    """A SQLAlchemy type as PostgreSQL DDL spells it."""
    return type_.compile(dialect=postgresql_dialect())


def default_text(default) -> str | None:
    """A server default (reflected `DefaultClause`, `text()` or a plain string) as SQL."""
    if default is None:
        return None
    arg = getattr(default, "arg", default)
    return str(getattr(arg, "text", arg))


# What SQLAlchemy's text() takes for a bind parameter (TextClause._bind_params_regex).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def text_clause_safe(sql: str) -> str:
    """SQL for `op.execute(...)`, which wraps it in text(): a `:name` in it (`'HH24:MI'` in a
    function's body) escaped, so that it is not taken for a bind parameter."""
    return _BIND.sub(r"\\:\1", sql)
