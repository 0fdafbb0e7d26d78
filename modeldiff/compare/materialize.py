"""Create a loaded schema in a scratch PostgreSQL database, the way the app would.

Each table is created in its own savepoint, so one statement PostgreSQL rejects costs that
statement, not the run: a rejected table is retried without server defaults and then
each default is set on its own (Dify's `server_default=text("CREATING")` loses only that
default, with a warning). A statement rejected for a type, operator class or function an
extension provides gets that extension created and is tried again (see extensions.py).
Functions the defaults call that this server lacks are shimmed:
uuid-ossp's and Dify's `uuidv7()` faithfully (same name and volatility), anything else by a
placeholder of the column's type, with a warning.
"""

from __future__ import annotations

import re

import psycopg2

from ..load import LoadedSchema
from ..values import Warning
from . import extensions

# Functions that real deployments get from an extension or a migration, which the embedded
# PostgreSQL lacks (it bundles no uuid-ossp; uuidv7() is built in from 18). Volatility matters to the plan stage (volatile defaults rewrite).
KNOWN_FUNCTIONS = {
    "uuid_generate_v4": "CREATE FUNCTION uuid_generate_v4() RETURNS uuid LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()'",
    "uuid_generate_v1": "CREATE FUNCTION uuid_generate_v1() RETURNS uuid LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()'",
    "uuidv7": "CREATE FUNCTION uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()'",
}
_MISSING_FUNCTION = re.compile(r'function (?:public\.)?"?(\w+)"?\(\) does not exist')


def install_shims(cur, server_version: int) -> None:
    """The known functions, in `public`, unless already there (idempotent)."""
    for name, sql in KNOWN_FUNCTIONS.items():
        if name == "uuidv7" and server_version >= 180000:
            continue  # built in from PostgreSQL 18
        cur.execute("SELECT 1 FROM pg_proc WHERE proname = %s AND pronamespace = 'public'::regnamespace", (name,))
        if cur.fetchone() is None:
            cur.execute("SAVEPOINT shim")
            try:
                cur.execute(sql.replace("CREATE FUNCTION ", "CREATE FUNCTION public.", 1))
                cur.execute("RELEASE SAVEPOINT shim")
            except psycopg2.Error:  # a concurrent run created it first
                cur.execute("ROLLBACK TO SAVEPOINT shim")


def create_schema(conn, schema: LoadedSchema, server_version: int, scratch_schema: str | None = None) -> list[Warning]:
    """Run a schema's DDL on `conn`: a psycopg2 connection whose search_path starts with
    the empty `scratch_schema`, or to an empty database (`scratch_schema` None)."""
    cur = conn.cursor()
    install_shims(cur, server_version)
    conn.commit()  # at once: a concurrent run creating the same shim must not wait for our DDL
    needs = extensions.Extensions(conn)
    tables = [t for _, t in sorted(schema.tables.items(), key=lambda kv: kv[1]["order"]) if "create" in t]
    # Fast path: everything in one round trip. Only if PostgreSQL rejects something do we
    # go statement by statement to find out what and keep the rest.
    batch = [*schema.preamble, *(s for t in tables for s in [t["create"], *t["statements"]]), *schema.postamble]
    warnings = [] if not batch or _attempt_quietly(cur, ";\n".join(batch), needs) else _create_carefully(cur, schema, needs)
    conn.commit()
    warnings += needs.warnings(schema.ref) + extensions.used(cur, scratch_schema and [scratch_schema], schema.ref)
    cur.close()
    return warnings


def _message(exc: psycopg2.Error) -> str:
    """The first line of a PostgreSQL error, without its `ERROR:`."""
    return (exc.pgerror or str(exc)).strip().splitlines()[0].removeprefix("ERROR:").strip()


def _create_carefully(cur, schema: LoadedSchema, needs: extensions.Extensions) -> list[Warning]:
    warnings: list[Warning] = []
    ref = schema.ref

    def attempt(sql: str, what: str, column_type: str | None = None) -> bool:
        for _ in range(4):  # each retry may shim one more missing function or extension
            message = _try(cur, sql)
            if message is None:
                return True
            missing = _MISSING_FUNCTION.search(message)
            if missing and column_type and _shim(cur, missing.group(1), column_type):
                warnings.append(
                    Warning("placeholder-function", f"function {missing.group(1)}() does not exist here; a placeholder returning {column_type} stands in for it", ref)
                )
                continue
            if needs.provide(message, what):
                continue
            warnings.append(Warning("rejected-ddl", f"{what}: PostgreSQL rejected it: {message}", ref))
            return False
        return False

    for sql in schema.preamble:
        attempt(sql, "statement")
    for key, table in sorted(schema.tables.items(), key=lambda kv: kv[1]["order"]):
        if "create" not in table:
            continue
        # The table and its indexes in one round trip; most tables are fine.
        if _attempt_quietly(cur, ";\n".join([table["create"], *table["statements"]]), needs):
            continue
        if not _create_table(cur, table, key, ref, warnings, attempt, needs):
            continue
        for sql in table["statements"]:
            attempt(sql, f"table {key}: {sql.split(' ON ')[0]}")
    for sql in schema.postamble:
        attempt(sql, "statement")
    return warnings


def _try(cur, sql: str) -> str | None:
    """Run `sql` in a savepoint: None, or PostgreSQL's error message (and nothing done)."""
    cur.execute("SAVEPOINT s")
    try:
        cur.execute(sql)
        cur.execute("RELEASE SAVEPOINT s")
        return None
    except psycopg2.Error as exc:
        cur.execute("ROLLBACK TO SAVEPOINT s")
        return _message(exc)


def _attempt_quietly(cur, sql: str, needs: extensions.Extensions) -> bool:
    """Run `sql`, creating the extensions it turns out to need; False (and nothing done)
    if PostgreSQL rejects it for another reason."""
    while (message := _try(cur, sql)) is not None:
        if not needs.provide(message):
            return False
    return True


def _create_table(cur, table: dict, key: str, ref: str, warnings: list[Warning], attempt, needs: extensions.Extensions) -> bool:
    if _attempt_quietly(cur, table["create"], needs):
        return True
    # Without server defaults, then each default on its own.
    if not attempt(table["create_plain"], f"table {key}"):
        return False
    for default in table["defaults"]:
        ok = attempt(default["sql"], f"{key}.{default['column']} server default", default["type_sql"])
        if not ok:
            last = warnings.pop()
            expression = default["sql"].split(" SET DEFAULT ", 1)[1]
            warnings.append(
                Warning(
                    "invalid-default",
                    f"{key}.{default['column']}: server default {expression} is rejected by PostgreSQL "
                    f"({last.message.split(': PostgreSQL rejected it: ')[-1]}); compared without it",
                    ref,
                )
            )
    return True


def _shim(cur, name: str, column_type: str) -> bool:
    if name in KNOWN_FUNCTIONS:
        return False  # already there: the error is something else
    cur.execute("SAVEPOINT f")
    try:
        cur.execute(f'CREATE FUNCTION "{name}"() RETURNS {column_type} LANGUAGE sql VOLATILE AS $$ SELECT NULL::{column_type} $$')
        cur.execute("RELEASE SAVEPOINT f")
        return True
    except psycopg2.Error:
        cur.execute("ROLLBACK TO SAVEPOINT f")
        return False
