"""Online pre-steps that make the vendor's upgrade cheap, verified by replay.

For each costly statement of the chain on a table that exists:

* a type change that rewrites (`ALTER COLUMN c TYPE x`): expand / backfill / switch. A new
  column of the new type kept in sync by a trigger, backfilled in committed batches, its
  indexes built CONCURRENTLY, NOT NULL proven by a validated CHECK, then one short swap
  transaction (drop the old column, rename the new one and its indexes). The vendor's ALTER
  then finds the column already of that type: PostgreSQL skips the rewrite.
* SET NOT NULL that scans: a CHECK (c IS NOT NULL) added NOT VALID and validated online
  (SHARE UPDATE EXCLUSIVE: reads and writes go on); SET NOT NULL then uses it and does not
  scan (PostgreSQL 12+). The check is left for the DBA to drop after the upgrade.
* CREATE INDEX IF NOT EXISTS (not CONCURRENTLY): the same index built CONCURRENTLY under the
  migration's name (without IF NOT EXISTS the migration would fail on it).

Verification: the pre-steps run on a fresh clone of the live schema's copy, then the chain;
each statement is compared with the plain replay (rewrite, scan, error), so the runbook says
which statements became catalog-only, and which pre-step would break the upgrade.
"""

from __future__ import annotations

import re

from ..db import driver

from ..db.server import EmbeddedPostgres
from ..replay.cache import copy_database
from ..replay.run import ROLE, role_url, run_phase
from ..sqltext import quote
from .checks import _SET_NOT_NULL, _TYPE, _unquote
from .timeline import _CREATE_INDEX

BATCH = 10_000


def pre_steps(statements: list[dict], existing: set[str], catalog) -> list[dict]:
    """Pre-steps for the chain's `statements` (timeline entries, in order). `catalog(sql,
    args)` queries the copy of the live schema."""
    steps = []
    done = set()
    for s in statements:
        sql = " ".join(s["sql"].split())
        if s.get("rewrites") and (m := _TYPE.match(sql)) and not m[4]:
            table, column = _unquote(m[1]), _unquote(m[2])
            if table in existing and (table, column) not in done:
                done.add((table, column))
                step = _expand_switch(table, column, m[3].strip(), catalog)
                steps.append({"for": s["order"], "kind": "expand-backfill-switch", "table": table, **step})
        elif (m := _SET_NOT_NULL.match(sql)) and _unquote(m[1]) in existing:
            table, column = _unquote(m[1]), _unquote(m[2])
            name = f"{table}_{column}_not_null"[:63]
            steps.append({"for": s["order"], "kind": "not-null-by-check", "table": table, "sql": [
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} CHECK ({quote(column)} IS NOT NULL) NOT VALID",
                f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}",
            ], "after": [f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}"], "manual": []})
        elif (m := _CREATE_INDEX.match(sql)) and not m[1] and _unquote(m[2]) in existing and "IF NOT EXISTS" in sql.upper():
            # Without IF NOT EXISTS the migration would fail on an index built beforehand.
            steps.append({"for": s["order"], "kind": "index-concurrently", "table": _unquote(m[2]),
                          "sql": [re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", sql, count=1)], "after": [], "manual": []})
    return steps


def _expand_switch(table: str, column: str, new_type: str, catalog) -> dict:
    t, c = quote(table), quote(column)
    new = f"{column}__md_new"[:63]
    n = quote(new)
    function = quote(f"{table}_{column}__md_sync"[:63])
    (default, not_null), = catalog(
        "SELECT pg_get_expr(d.adbin, d.adrelid), a.attnotnull FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = %s::regclass AND a.attname = %s", (table, column))
    indexes = catalog(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary OR i.indisunique AND EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = %s::regclass AND a.attname = %s ORDER BY 1", (table, column))
    manual = [f"index {name} backs a constraint: move it by hand" for name, _, constraint in indexes if constraint]
    sql = [
        f"ALTER TABLE {t} ADD COLUMN {n} {new_type}",
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.{n} := NEW.{c}; RETURN NEW; END $$",
        f"CREATE TRIGGER {function} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {function}()",
        # Outside a transaction: each batch commits (PostgreSQL 11+ allows COMMIT in DO).
        f"DO $$ DECLARE n bigint; BEGIN LOOP UPDATE {t} SET {n} = {c} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {t} WHERE {n} IS DISTINCT FROM {c}::{new_type} LIMIT {BATCH})); "
        f"GET DIAGNOSTICS n = ROW_COUNT; COMMIT; EXIT WHEN n = 0; END LOOP; END $$",
    ]
    renames = []
    for name, definition, constraint in indexes:
        if constraint:
            continue
        temporary = f"{name}__md_new"[:63]
        built = re.sub(rf"^CREATE (UNIQUE )?INDEX {re.escape(quote(name))} ON", lambda m: f"CREATE {m[1] or ''}INDEX CONCURRENTLY {quote(temporary)} ON", definition, count=1)
        sql.append(re.sub(rf"(?<=[(, ]){re.escape(c)}(?=[,) ])", n, built))
        renames.append(f"ALTER INDEX {quote(temporary)} RENAME TO {quote(name)}")
    if not_null:
        check = quote(f"{table}_{new}_not_null"[:63])
        sql += [f"ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({n} IS NOT NULL) NOT VALID", f"ALTER TABLE {t} VALIDATE CONSTRAINT {check}"]
    swap = ["BEGIN", "SET LOCAL lock_timeout = '5s'", f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE", f"DROP TRIGGER {function} ON {t}", f"DROP FUNCTION {function}()",
            f"ALTER TABLE {t} DROP COLUMN {c}", f"ALTER TABLE {t} RENAME COLUMN {n} TO {c}", *renames]
    if default is not None:
        swap.append(f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {default}")
    if not_null:
        swap += [f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL", f"ALTER TABLE {t} DROP CONSTRAINT {check}"]
    swap.append("COMMIT")
    return {"sql": sql + swap, "after": [], "manual": manual}


def verify(server: EmbeddedPostgres, pristine: str, steps: list[dict], plain: list[dict], existing: set[str], to, to_setup, options) -> dict:
    """Run `steps` on a clone of the schema copy `pristine`, then the chain; compare each
    statement with the plain replay's (`plain`: timeline entries, in order)."""
    clone = copy_database(server, pristine, ROLE)
    conn = driver.connect(role_url(server, clone))
    conn.autocommit = True
    failed = None
    try:
        with conn.cursor() as cur:
            for step in steps:
                for sql in step["sql"]:
                    try:
                        cur.execute(sql)
                    except driver.Error as exc:
                        failed = {"step": step["kind"], "sql": sql, "error": str(exc).strip().splitlines()[0]}
                        raise
    except driver.Error:
        return {"pre_steps_failed": failed, "statements": []}
    finally:
        conn.close()
    chain = run_phase(to, to_setup, role_url(server, clone), observe=True, options=options)
    after = [s for s in chain.result.get("statements", []) if s.get("kind") != "read"]
    effects = []
    position = 0
    for before in plain:  # aligned by SQL text: the pre-steps may change what scripts read
        found = next((i for i in range(position, len(after)) if after[i]["sql"].strip() == before["sql"].strip()), None)
        now = after[found] if found is not None else {"error": "not run"}
        position = found + 1 if found is not None else position
        effects.append({"order": before["order"], "sql": before["sql"], "before": _effect(before, existing), "after": _effect(now, existing), "error": now.get("error")})
    return {"pre_steps_failed": None, "chain_error": chain.error, "statements": effects}


def _effect(statement: dict, existing: set[str]) -> str:
    """What a statement did to the tables that exist before the upgrade (work on the tables
    the chain creates is on empty tables: free)."""
    if statement.get("error"):
        return "fails"
    if set(statement.get("rewrites") or []) & existing:
        return "rewrite"
    if set(statement.get("scanned") or []) & existing:
        return "scan"
    return "catalog only"
