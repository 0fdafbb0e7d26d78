"""Round-trip a generated revision on the embedded PostgreSQL.

A fresh database gets FROM's schema; the revision file's `upgrade()` runs on it through
alembic (a MigrationContext bound to that database, the `op` proxy pointing at it), and the
result is compared with TO's database; then `downgrade()` runs and the result is compared
with FROM's. "Same" means `compare_databases` finds no change at all, primary keys and enum
types included, and the catalog shows nothing an online revision can leave behind that
alembic does not compare: a constraint still NOT VALID, an index left INVALID by a failed
concurrent build, a CHECK constraint the expected database lacks (a temporary NOT NULL proof).

The file is run as written, with one substitution: where it imports the project (Dify's
`import models as models` for `models.types.StringUUID()`), stand-ins take the project
types' place, each compiling to exactly the SQL the loader child compiled the real type to.
The project's code runs only in the loader child, never here.
"""

from __future__ import annotations

import re
import sys
import time
import types
from dataclasses import dataclass, field

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import UserDefinedType

from ..compare.schemas import compare_databases, materialize
from ..load import LoadedSchema
from ..load.ddl import call_key
from ..db.server import EmbeddedPostgres
from ..values import Change


@dataclass
class DirectionResult:
    direction: str
    passed: bool
    changes: list[Change] = field(default_factory=list)  # what still differs afterwards
    error: str | None = None  # the revision failed to run
    seconds: float = 0.0

    def to_json(self) -> dict:
        out = {"direction": self.direction, "passed": self.passed, "seconds": round(self.seconds, 2)}
        if self.error:
            out["error"] = self.error
        if self.changes:
            out["differences"] = [c.to_json() for c in self.changes]
        return out


@dataclass
class VerifyResult:
    upgrade: DirectionResult
    downgrade: DirectionResult
    todos: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.upgrade.passed and self.downgrade.passed


class RevisionError(Exception):
    """The revision file failed while running (the first line of the database's error)."""


def verify_revision(
    server: EmbeddedPostgres,
    source: str,
    old: LoadedSchema,
    new: LoadedSchema,
    from_db: str,
    to_db: str,
    todos: list[str] = (),
) -> VerifyResult:
    """Run `source`'s upgrade and downgrade on a copy of FROM; `from_db`/`to_db` hold the
    FROM and TO schemas to compare against."""
    module = load_revision(source, stand_ins(old, new))
    work, _ = materialize(server, old)
    upgrade = _run_and_compare(server, module, "upgrade", work, to_db)
    if not upgrade.error:
        start = work
    else:  # the database is back at FROM: try the way down from a real TO instead
        start, _ = materialize(server, new)
    downgrade = _run_and_compare(server, module, "downgrade", start, from_db)
    return VerifyResult(upgrade, downgrade, list(todos))


def _run_and_compare(server, module, direction: str, database: str, expected_db: str) -> DirectionResult:
    started = time.monotonic()
    url = server.sqlalchemy_url(database)
    try:
        run_revision(module, url, direction)
    except RevisionError as exc:
        return DirectionResult(direction, False, error=str(exc), seconds=time.monotonic() - started)
    changes, _ = compare_databases(url, server.sqlalchemy_url(expected_db))
    changes += leftovers(server, database, expected_db)
    return DirectionResult(direction, not changes, changes, seconds=time.monotonic() - started)


_CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype, c.convalidated, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = current_schema() AND c.conrelid <> 0
"""
_INVALID_INDEXES = """
SELECT i.indrelid::regclass::text, x.relname
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_namespace n ON n.oid = x.relnamespace
WHERE n.nspname = current_schema() AND NOT i.indisvalid
"""


def leftovers(server, database: str, expected_db: str) -> list[Change]:
    """What `database` has and alembic's comparison with `expected_db` does not see."""

    def rows(db: str, sql: str) -> list[tuple]:
        conn = server.connect(db)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return cur.fetchall()
        finally:
            conn.close()

    out = []
    # CHECK constraints themselves are compared with the rest (compare/catalog.py); validity is not.
    for table, name, kind, validated, definition in sorted(rows(database, _CONSTRAINTS)):
        if not validated:
            out.append(Change("invalid_constraint", table, name=name, detail={"definition": definition}))
    for table, name in sorted(rows(database, _INVALID_INDEXES)):
        out.append(Change("invalid_index", table, name=name))
    return out


def run_revision(module: types.ModuleType, url: str, direction: str) -> None:
    """Run `module.upgrade()` or `.downgrade()` against `url`, as `alembic upgrade` would:
    in one transaction, with `op` bound to this database."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            with Operations.context(context):
                with context.begin_transaction():
                    getattr(module, direction)()
    except Exception as exc:  # noqa: BLE001 - any failure of the file is the finding
        raise RevisionError(_error_line(exc)) from exc
    finally:
        engine.dispose()


def _error_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    message = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else type(exc).__name__
    statement = getattr(exc, "statement", None)
    if statement:
        message += f" [SQL: {' '.join(statement.split())[:300]}]"
    return f"{type(orig or exc).__name__}: {message}"


def load_revision(source: str, modules: dict[str, types.ModuleType]) -> types.ModuleType:
    """Execute a revision file's text as a module, its project imports served by
    `modules` (names put into sys.modules only while its imports run)."""
    module = types.ModuleType("modeldiff_revision")
    module.__file__ = "<modeldiff revision>"
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own generated file
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module


def stand_ins(*schemas: LoadedSchema) -> dict[str, types.ModuleType]:
    """Modules named like the project's, holding a stand-in class for every project type
    a revision may spell (see `ddl._python_expression`)."""
    variants: dict[tuple[str, str], dict[str, str]] = {}
    for schema in schemas:
        if schema is None:
            continue
        for table in schema.tables.values():
            for column in table.get("columns", []):
                python = column.get("python")
                if python:
                    module, name = column["type_class"].rsplit(".", 1)
                    variants.setdefault((module, name), {})[python["key"]] = column["type_sql"]
    modules: dict[str, types.ModuleType] = {}

    def module_for(name: str) -> types.ModuleType:
        if name not in modules:
            modules[name] = types.ModuleType(name)
            parent, _, leaf = name.rpartition(".")
            if parent:
                setattr(module_for(parent), leaf, modules[name])
        return modules[name]

    for (module, name), keys in variants.items():
        setattr(module_for(module), name, _stand_in(f"{module}.{name}", keys))
    return modules


def _stand_in(qualified: str, keys: dict[str, str]) -> type:
    class StandIn(UserDefinedType):
        cache_ok = True

        def __init__(self, *args, **kwargs) -> None:
            key = call_key(args, kwargs)
            if key not in keys:
                raise TypeError(f"{qualified}{key}: the loader saw no such column type")
            self.sql = keys[key]

        def get_col_spec(self, **kw) -> str:
            return self.sql

    StandIn.__name__ = StandIn.__qualname__ = re.sub(r".*\.", "", qualified)
    return StandIn
