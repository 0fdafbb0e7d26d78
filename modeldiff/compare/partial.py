"""A ref created in the scratch database only where it differs from a ref created before.

The refs of a pair, or neighbours in a history, share most tables word for word (Dify
0.14.2 -> 0.15.3: 67 of 72; a synthetic app of 2,000 tables with 20 changed). Such a table
gives the same catalog entries and the same warnings at both refs (see unchanged.py), and
the comparison never reads it. So the ref created second (against its "base") creates only
the tables whose statements differ, the tables whose foreign keys point at those (whether
PostgreSQL takes the keys is decided anew), and the tables all of these point at; every
other table takes the base's warnings, told for this ref. Before a pair is compared each
ref gets the differing tables it still lacks (`Materialized.ensure`: a ref of a history is
compared with both neighbours).

Only a "clean" base is used: every warning of creating it belongs to one table and no table
was rejected (so no table's outcome depended on another's absence). A partial creation that
rejects a table or names another table's index or constraint is redone in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..db.server import DATABASE
from ..load import LoadedSchema
from ..values import Warning
from .materialize import ALTERED_TABLE, create_schema, server_failures_fail
from .schemas import Place
from .unchanged import unchanged_tables

_REFERENCES = re.compile(r' REFERENCES ((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)')
# Names PostgreSQL keeps once per schema that a table's statements give explicitly.
_NAMED = re.compile(r'(?:CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?|CONSTRAINT )((?:"[^"]+"|\w+))')


# A ref that creates more tables gets a database of its own rather than a schema: dropping
# a schema walks every object (2,000 tables: 13 s on a busy machine), a database goes whole
# (1.6 s), and creating one costs a fixed ~0.2 s.
DATABASE_FROM = 300


@dataclass
class Materialized:
    """A ref created in a scratch schema or database of `server` (`where`: (database,
    schema or None); None: created by other means, nothing to add), and what creating each
    of its tables warned."""

    schema: LoadedSchema
    created: set[str]
    by_table: dict[str, list[Warning]]  # every table of the ref -> the warnings of creating it
    other: list[Warning] = field(default_factory=list)  # of no one table (statements, extensions)
    clean: bool = False
    server: object = None
    where: tuple | None = None

    @classmethod
    def whole(cls, schema: LoadedSchema, warnings: list[Warning]) -> "Materialized":
        """A ref created in full by other means: its warnings as they are, never a base."""
        return cls(schema, set(_creatable(schema)), {}, list(warnings))

    def place(self) -> Place:
        database, name = self.where
        if name is None:
            return Place(self.server.sqlalchemy_url(database))
        return Place(self.server.sqlalchemy_url(role=self.server.owner(name)), name)

    def warnings(self) -> list[Warning]:
        return [w for ws in self.by_table.values() for w in ws] + self.other

    def ensure(self, keys) -> bool:
        """Create the tables of `keys` this ref has and lacks (and what they point at);
        True if any was created."""
        missing = (set(keys) & set(_creatable(self.schema))) - self.created
        if not missing or self.where is None:
            return False
        only = _with_targets(self.schema, missing) - self.created
        by_table: dict = {}
        _create(self.server, self.where, self.schema, only, by_table, preamble=False)
        self.created |= only
        self.by_table.update({k: v for k, v in by_table.items() if k in only})
        return True


def materialize(server, schema: LoadedSchema, base: Materialized | None, version: int) -> Materialized:
    """`schema` in a new scratch schema (or database) of `server`: in full, or where it
    differs from `base` (a ref of the same run, created before)."""
    only = _needed(schema, base)
    while True:
        with server_failures_fail():
            if len(_creatable(schema) if only is None else only) > DATABASE_FROM:
                where = (server.create_database(schema.ref), None)
            else:
                where = (DATABASE, server.create_schema(schema.ref))
        by_table: dict = {}
        warnings = _create(server, where, schema, only, by_table, version=version)
        attributed = {w for ws in by_table.values() for w in ws}
        other = list(dict.fromkeys(w for w in warnings if w not in attributed))
        rejected = any(w.code == "not-compared" for w in warnings)
        if only is None or not rejected:
            break
        only = None  # a table depends on the absence of another: in full, afresh
    created = set(only) if only is not None else set(_creatable(schema))
    if only is not None:
        for key in set(_creatable(schema)) - created:
            by_table[key] = [replace(w, ref=schema.ref) for w in base.by_table.get(key, ())]
    clean = not rejected and not other
    return Materialized(schema, created, by_table, other, clean, server, where)


def _create(server, where: tuple, schema: LoadedSchema, only, by_table: dict, preamble: bool = True, version: int | None = None) -> list[Warning]:
    database, name = where
    with server_failures_fail():
        conn = server.connect(database, search_path=name)  # as the schema's (or database's) own role
    try:
        with server_failures_fail():
            return create_schema(
                conn, schema, version or server.server_version(), scratch_schema=name, admin_dsn=server.url(database, admin=True), only=only, by_table=by_table, preamble=preamble
            )
    finally:
        conn.close()


def _creatable(schema: LoadedSchema) -> list[str]:
    return [k for k, t in schema.tables.items() if "create" in t]


def _targets(schema: LoadedSchema) -> dict[str, set[str]]:
    """Each table -> the tables its foreign keys point at (in its CREATE TABLE, or in a
    foreign key of a cycle added afterwards)."""
    found = {k: {m.replace('"', "") for m in _REFERENCES.findall(t["create"])} for k, t in schema.tables.items() if "create" in t}
    for sql in schema.postamble:
        altered = ALTERED_TABLE.match(sql)
        key = altered.group(1).replace('"', "") if altered else None
        if key in found:
            found[key] |= {m.replace('"', "") for m in _REFERENCES.findall(sql)}
    return found


def _with_targets(schema: LoadedSchema, keys: set[str]) -> set[str]:
    targets = _targets(schema)
    found, todo = set(keys), list(keys)
    while todo:
        for target in targets.get(todo.pop(), ()):
            if target in targets and target not in found:
                found.add(target)
                todo.append(target)
    return found


def _needed(schema: LoadedSchema, base: Materialized | None) -> set[str] | None:
    """The tables to create at `schema` given `base` (None: all of them)."""
    if base is None or not base.clean or any(t.get("schema") for t in schema.tables.values()):
        return None
    same = unchanged_tables(base.schema, schema)
    if not same:
        return None  # statements of no table differ: every table may differ
    creatable = set(_creatable(schema))
    differ = creatable - same
    targets = _targets(schema)
    referrers = {k for k in creatable if targets[k] & differ}
    only = _with_targets(schema, differ | referrers)
    if _names(schema, only) & _names(schema, creatable - only):
        return None  # an index or constraint name used twice: which table gets it depends on order
    return only


def _names(schema: LoadedSchema, keys: set[str]) -> set[str]:
    return {m.replace('"', "") for k in keys for sql in [schema.tables[k]["create"], *schema.tables[k]["statements"]] for m in _NAMED.findall(sql)}
