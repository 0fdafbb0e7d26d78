"""A few synthetic rows in every table FROM's migrations made, so that data migrations run.

A data migration written as per-row Python (`for row in bind.execute(...)`) only sends its
INSERTs and UPDATEs when rows exist. Each table gets `ROWS` rows, parents before children:
foreign keys point at the parent's seeded rows, enums take their first label, strings are
small JSON objects (`{"seed": 1}`: distinct per row and parseable by scripts that load
them; the row number where the type is shorter), columns with a default keep it. A row the constraints refuse (a check, a unique key)
is skipped; what was seeded is reported. Runs as trusted code, before the chain.
"""

from __future__ import annotations

import re

from ..db import driver

ROWS = 3

_COLUMNS = """
SELECT c.oid, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typtype, t.typcategory, t.typname,
       a.attnotnull, a.atthasdef, a.attidentity <> '' OR a.attgenerated <> '', a.atttypid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
ORDER BY c.relname, a.attnum
"""
_FOREIGN_KEYS = """
SELECT c.conrelid, c.confrelid, p.relname,
       ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey) ORDER BY array_position(c.conkey, attnum)),
       ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = ANY(c.confkey) ORDER BY array_position(c.confkey, attnum))
FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid WHERE c.contype = 'f'
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def seed(conn) -> dict[str, int]:
    """Seed every table; {table: rows inserted}. `conn` is a db.driver connection."""
    with conn.cursor() as cur:
        cur.execute(_COLUMNS)
        columns: dict[int, list] = {}
        names: dict[int, str] = {}
        for oid, table, *column in cur.fetchall():
            names[oid] = table
            columns.setdefault(oid, []).append(column)
        cur.execute(_FOREIGN_KEYS)
        references: dict[int, dict[str, tuple]] = {}  # child oid -> column -> (parent, parent column)
        parents: dict[int, set[int]] = {oid: set() for oid in names}
        for child, parent, parent_name, child_cols, parent_cols in cur.fetchall():
            if child not in names:
                continue
            for mine, theirs in zip(child_cols, parent_cols):
                references.setdefault(child, {})[mine] = (parent_name, theirs)
            if parent != child:
                parents[child].add(parent)
        cur.execute("SELECT enumtypid, enumlabel FROM pg_enum ORDER BY enumtypid, enumsortorder")
        enums: dict[int, str] = {}
        for type_oid, label in cur.fetchall():
            enums.setdefault(type_oid, label)
    seeded: dict[str, int] = {}
    for oid in _parents_first(parents):
        seeded[names[oid]] = _seed_table(conn, names[oid], columns[oid], references.get(oid, {}), enums)
    conn.commit()
    return {k: v for k, v in sorted(seeded.items())}


def _parents_first(parents: dict[int, set[int]]) -> list[int]:
    order, placed = [], set()
    pending = sorted(parents)
    while pending:
        ready = [oid for oid in pending if parents[oid] <= placed] or pending[:1]  # a cycle: break it
        for oid in ready:
            order.append(oid)
            placed.add(oid)
        pending = [oid for oid in pending if oid not in placed]
    return order


def _seed_table(conn, table: str, columns: list, references: dict, enums: dict) -> int:
    inserted = 0
    for row in range(1, ROWS + 1):
        names, values = [], []
        for name, shown, typtype, category, typname, not_null, has_default, generated, type_oid in columns:
            if generated:
                continue
            if name in references:
                parent, parent_column = references[name]
                if parent == table and not not_null:
                    continue
                value = f"(SELECT {_ident(parent_column)} FROM {_ident(parent)} ORDER BY ctid OFFSET {(row - 1) % ROWS} LIMIT 1)"
            elif has_default:
                continue
            else:
                value = _value(row, shown, typtype, category, typname, type_oid, enums)
                if value is None:
                    if not_null:
                        break  # nothing this module can make up: no rows for this table
                    continue
            names.append(_ident(name))
            values.append(value)
        else:
            if _insert(conn, table, names, values):
                inserted += 1
            continue
        break
    return inserted


def _value(row: int, shown: str, typtype: str, category: str, typname: str, type_oid: int, enums: dict) -> str | None:
    if typtype == "e":
        label = enums.get(type_oid)
        return None if label is None else "'" + label.replace("'", "''") + "'"
    if category == "A":
        return "'{}'"
    if typname == "uuid":
        return "gen_random_uuid()"
    if typname in ("json", "jsonb"):
        return f"'{{\"seed\": {row}}}'"
    if typname == "bytea":
        return "'\\x00'::bytea"
    if category == "S":
        length = re.search(r"\((\d+)\)", shown)
        text = f'{{"seed": {row}}}' if length is None or int(length.group(1)) >= 11 else str(row)  # distinct when cut short
        return f"CAST('{text}' AS {shown})"
    if category == "N":
        return f"CAST({row} AS {shown})"
    if category == "B":
        return "true" if row % 2 else "false"
    if category == "D":
        return f"CAST(now() AS {shown})"
    if category == "I":
        return f"'127.0.0.{row}'"
    return None


def _insert(conn, table: str, names: list[str], values: list[str]) -> bool:
    sql = f"INSERT INTO {_ident(table)} ({', '.join(names)}) VALUES ({', '.join(values)})" if names else f"INSERT INTO {_ident(table)} DEFAULT VALUES"
    with conn.cursor() as cur:
        try:  # one round trip (no parameters: the simple protocol takes several statements)
            cur.execute(f"SAVEPOINT seed; {sql}; RELEASE SAVEPOINT seed")
        except driver.Error:  # a check or a unique key refused it: the row is skipped
            cur.execute("ROLLBACK TO SAVEPOINT seed")
            return False
    return True
