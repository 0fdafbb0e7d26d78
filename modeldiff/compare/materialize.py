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
from contextlib import contextmanager

from ..db import driver

from ..db.server import server_failure
from ..db.standins import MARK, uuid_function
from ..load import LoadedSchema
from ..sqltext import qualified
from ..values import Warning
from . import extensions

# Functions that real deployments get from an extension or a migration, which the embedded
# PostgreSQL lacks (it bundles no uuid-ossp; uuidv7() is built in from 18). Volatility matters to the plan stage (volatile defaults rewrite).
KNOWN_FUNCTIONS = {
    "uuid_generate_v4": uuid_function("uuid_generate_v4"),
    "uuid_generate_v1": uuid_function("uuid_generate_v1"),
    "uuidv7": "CREATE FUNCTION uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()'",
}
_MISSING_FUNCTION = re.compile(r'function (?:public\.)?"?(\w+)"?\(([\w ,\[\]]*)\) does not exist')


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
                cur.execute(f"COMMENT ON FUNCTION public.{name}() IS '{MARK}'")
                cur.execute("RELEASE SAVEPOINT shim")
            except driver.Error:  # a concurrent run created it first
                cur.execute("ROLLBACK TO SAVEPOINT shim")


# Locks one transaction may take (see SERVER_SETTINGS in db/server.py): PostgreSQL's lock
# table is shared by every session, so a schema is created in batches of tables that stay
# well under it, each committed (and its locks released) before the next.
LOCK_BUDGET = 1500


@contextmanager
def server_failures_fail():
    """A server that fails (killed, out of resources) while a ref is created fails the ref
    with a DatabaseFailure (one line), whatever call met it."""
    try:
        yield
    except driver.Error as exc:
        failure = server_failure(exc)
        if failure is None:
            raise
        raise failure from exc


def create_schema(
    conn,
    schema: LoadedSchema,
    server_version: int,
    scratch_schema: str | None = None,
    admin_dsn: str | None = None,
    only: frozenset[str] | None = None,
    by_table: dict | None = None,
    preamble: bool = True,
) -> list[Warning]:
    """Run a schema's DDL on `conn`: a connection (db.driver) whose search_path starts with
    the empty `scratch_schema`, or to an empty database (`scratch_schema` None). The shims
    and extensions are made on a connection to `admin_dsn` (the superuser's, when `conn` is
    the scratch role's: the DDL is the repository's and runs with no privilege).

    `only`: create just these tables (and the foreign keys of cycles among them);
    `preamble` False: the schema's types and sequences are there already (see partial.py).
    `by_table`, when given, receives each created table's own warnings (key -> list).

    Every table that is not there in full afterwards is a `not-compared` warning located at
    it (see coverage.py), never only a line among the warnings."""
    admin = driver.connect(admin_dsn) if admin_dsn else conn
    try:
        with admin.cursor() as cur:
            install_shims(cur, server_version)
        admin.commit()  # at once: a concurrent run creating the same shim must not wait for our DDL
    finally:
        if admin is not conn:
            admin.close()
    cur = conn.cursor()
    creation = _Creation(cur, schema.ref, extensions.Extensions(conn, admin_dsn))
    if preamble:
        creation.statements(schema.preamble)
        conn.commit()
    tables = [(k, t) for k, t in sorted(schema.tables.items(), key=lambda kv: kv[1]["order"]) if "create" in t and (only is None or k in only)]
    for batch in _batches(tables):
        creation.tables(batch)
        conn.commit()
    postamble = schema.postamble if only is None else [sql for sql in schema.postamble if _altered(sql) in only]
    for start in range(0, len(postamble), 200):  # foreign keys of cycles: 2-3 locks each
        creation.statements(postamble[start : start + 200])
        conn.commit()
    missing = creation.missing([k for k, _ in tables])
    warnings = creation.warnings + missing + creation.needs.warnings(schema.ref)
    warnings += extensions.used(cur, scratch_schema and [scratch_schema], schema.ref)
    conn.commit()
    cur.close()
    if by_table is not None:
        for key, _ in tables:
            by_table[key] = list(creation.of_table.get(key, ()))
        for warning in missing:
            by_table.setdefault(warning.location, []).append(warning)
    return warnings


def _altered(sql: str) -> str | None:
    """The table key an `ALTER TABLE` statement alters (None for other statements)."""
    altered = ALTERED_TABLE.match(sql)
    return altered.group(1).replace('"', "") if altered else None


def _locks(table: dict) -> int:
    """At least as many locks as creating `table` takes (a lock per object and mode): the
    table, its TOAST table and index, its sequences, each index (and the table again, in
    another mode), each table its foreign keys name. Measured: 18 for a table of 10 columns
    with a serial key, a unique key, a foreign key and 2 indexes; this says 20."""
    create = table["create"]
    return 6 + 3 * len(table["statements"]) + 2 * sum(create.count(word) for word in ("SERIAL", "PRIMARY KEY", "UNIQUE", " REFERENCES "))


def _batches(tables: list[tuple[str, dict]]):
    batch, locks = [], 0
    for key, table in tables:
        cost = _locks(table)
        if batch and locks + cost > LOCK_BUDGET:
            yield batch
            batch, locks = [], 0
        batch.append((key, table))
        locks += cost
    if batch:
        yield batch


def _message(exc: Exception) -> str:
    """The first line of a PostgreSQL error, without its `ERROR:`."""
    return driver.message(exc)


# The table an `ALTER TABLE` statement alters (group 1, quoted as written).
ALTERED_TABLE = re.compile(r'^ALTER TABLE (?:ONLY )?((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)')
_MISSING_RELATION = re.compile(r'relation "([^"]+)" does not exist')


class _Creation:
    """One schema being created: what PostgreSQL rejected, per table."""

    def __init__(self, cur, ref: str, needs: extensions.Extensions) -> None:
        self.cur, self.ref, self.needs = cur, ref, needs
        self.warnings: list[Warning] = []
        self.rejected: dict[str, str] = {}  # table -> why it is not there (in full)
        self.of_table: dict[str, list[Warning]] = {}  # the warnings of creating each table

    def statements(self, statements: list[str]) -> None:
        """Statements outside any table's CREATE (schemas, types, foreign keys of cycles):
        in one round trip, or one by one when PostgreSQL rejects something."""
        if not statements or _attempt_quietly(self.cur, ";\n".join(statements), self.needs):
            return
        for sql in statements:
            if (message := self.attempt(sql, "statement")) is None:
                continue
            altered = ALTERED_TABLE.match(sql)
            if altered:  # a foreign key of a cycle: its table is not there in full
                self.rejected.setdefault(altered.group(1).replace('"', ""), f"{sql.split(' FOREIGN KEY')[0]}: {message}")
            else:
                self.warnings.append(Warning("rejected-ddl", f"statement: PostgreSQL rejected it: {message}", self.ref))

    def tables(self, batch: list[tuple[str, dict]]) -> None:
        """A batch of tables with their indexes: in one round trip when PostgreSQL takes it
        all (most of the time), else table by table to find out what and keep the rest."""
        sql = ";\n".join(s for _, t in batch for s in [t["create"], *t["statements"]])
        if _attempt_quietly(self.cur, sql, self.needs):
            return
        for key, table in batch:
            if _attempt_quietly(self.cur, ";\n".join([table["create"], *table["statements"]]), self.needs):
                continue
            before = len(self.warnings)
            message = self._create_table(table, key)
            self.of_table[key] = self.warnings[before:]
            if message is not None:
                self._reject(key, message)
                continue
            for sql in table["statements"]:
                what = sql.split(" ON ")[0].splitlines()[0]  # a DDL event's function: its first line
                if (message := self.attempt(sql, f"table {key}: {what}")) is not None:
                    self.rejected.setdefault(key, f"{what}: {message}")

    def _reject(self, key: str, message: str) -> None:
        missing = _MISSING_RELATION.search(message)
        if missing and missing.group(1) in self.rejected:
            message = f"depends on {missing.group(1)}, not created"
        self.rejected[key] = message

    def missing(self, keys: list[str]) -> list[Warning]:
        """A `not-compared` warning for each table of `keys` that PostgreSQL does not have,
        or has without something PostgreSQL rejected."""
        self.cur.execute("SELECT k FROM unnest(%s::text[]) k WHERE to_regclass(k) IS NULL", ([qualified(k) for k in keys],))
        absent = {row[0] for row in self.cur.fetchall()}
        for key in keys:
            if qualified(key) in absent:
                self.rejected.setdefault(key, "not created")
        return [Warning("not-compared", reason, self.ref, key) for key, reason in sorted(self.rejected.items())]

    def attempt(self, sql: str, what: str, column_type: str | None = None) -> str | None:
        """Run `sql` (`what` it is, for messages): None, or why PostgreSQL rejects it."""
        for _ in range(4):  # each retry may shim one more missing function or extension
            message = _try(self.cur, sql)
            if message is None:
                return None
            if self.needs.provide(message, what):  # an extension's function: the extension
                continue
            missing = _MISSING_FUNCTION.search(message)
            in_index = sql.lstrip().upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))
            if missing and (column_type or in_index) and (shimmed := _shim(self.cur, missing.group(1), missing.group(2), column_type)):
                self.warnings.append(Warning("placeholder-function", f"function {shimmed} does not exist here (migrations may create it); a placeholder stands in for it", self.ref))
                continue
            break
        return message

    def _create_table(self, table: dict, key: str) -> str | None:
        """Create `table` (None), or say why PostgreSQL rejects it."""
        if _attempt_quietly(self.cur, table["create"], self.needs):
            return None
        # Without server defaults, then each default on its own.
        if (message := self.attempt(table["create_plain"], f"table {key}")) is not None:
            return message
        for default in table["defaults"]:
            if (message := self.attempt(default["sql"], f"{key}.{default['column']} server default", default["type_sql"])) is not None:
                expression = default["sql"].split(" SET DEFAULT ", 1)[1]
                self.warnings.append(
                    Warning("invalid-default", f"{key}.{default['column']}: server default {expression} is rejected by PostgreSQL ({message}); compared without it", self.ref)
                )
        return None


def _try(cur, sql: str) -> str | None:
    """Run `sql` in a savepoint: None, or PostgreSQL's error message (and nothing done)."""
    cur.execute("SAVEPOINT s")
    try:
        cur.execute(sql)
        cur.execute("RELEASE SAVEPOINT s")
        return None
    except driver.Error as exc:
        failure = server_failure(exc)
        if failure is not None:  # not the statement's fault: never a warning, never cached
            raise failure from exc
        cur.execute("ROLLBACK TO SAVEPOINT s")
        return _message(exc)


def _attempt_quietly(cur, sql: str, needs: extensions.Extensions) -> bool:
    """Run `sql`, creating the extensions it turns out to need; False (and nothing done)
    if PostgreSQL rejects it for another reason."""
    while (message := _try(cur, sql)) is not None:
        if not needs.provide(message):
            return False
    return True


def _shim(cur, name: str, arguments: str, column_type: str | None) -> str | None:
    """A placeholder for a function the models use but only migrations create, by name and
    argument types (as PostgreSQL names them): returning the column's type in a default
    (VOLATILE, as an unknown function is), else (an index expression) IMMUTABLE, returning
    its first argument's type or text. Its signature, or None (none could be made)."""
    if name in KNOWN_FUNCTIONS:
        return None  # already there: the error is something else
    types = [("text" if t.strip() == "unknown" else t.strip()) for t in arguments.split(",") if t.strip()]
    returns = column_type or (types[0] if types else "text")
    signature = f'"{name}"({", ".join(types)})'
    cur.execute("SAVEPOINT f")
    try:
        volatility = "VOLATILE" if column_type else "IMMUTABLE"
        cur.execute(f"CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE sql {volatility} AS $$ SELECT NULL::{returns} $$")
        # marked, so that the catalog comparison does not take it for the schema's own
        cur.execute(f"COMMENT ON FUNCTION {signature} IS '{MARK}'")
        cur.execute("RELEASE SAVEPOINT f")
        return f"{name}({', '.join(types)}) returning {returns}"
    except driver.Error:
        cur.execute("ROLLBACK TO SAVEPOINT f")
        return None
