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
* CREATE INDEX (not CONCURRENTLY): the same index built CONCURRENTLY under the migration's
  name. With IF NOT EXISTS the vendor's statement then does nothing.
* ADD CONSTRAINT ... CHECK / FOREIGN KEY (validated, named): the same constraint added NOT
  VALID (a brief lock) and validated online (SHARE UPDATE EXCLUSIVE; a foreign key's
  referenced table: ROW SHARE).

A plain CREATE INDEX and ADD CONSTRAINT have no IF NOT EXISTS: once the pre-step has made the
object, the vendor's statement fails ("already exists"), and PostgreSQL cannot be told to
skip it. Such a step is marked `leave_out`: the operator leaves that one statement out of
the upgrade (e.g. `alembic upgrade FROM:TO --sql`, the statement deleted, the script run;
or the statement guarded in their copy of the revision).

Verification: the pre-steps run on a fresh clone of the live schema's copy; each statement to
leave out is tried there once (in a transaction rolled back) to show it now fails and why;
then the chain runs with those statements left out. Each statement is compared with the
plain replay (rewrite, scan, error), so the runbook says which statements became
catalog-only, which are left out, and which pre-step would break the upgrade.
"""

from __future__ import annotations

import re

from ..db import driver

from ..db.server import EmbeddedPostgres
from ..replay.cache import copy_database
from ..replay.run import ROLE, role_url, run_phase
from ..sqltext import quote
from .checks import _IDENT, _NAME, _SET_NOT_NULL, _TYPE, _columns, _unquote

BATCH = 10_000
_INDEX = re.compile(rf"^CREATE (UNIQUE )?INDEX (?!CONCURRENTLY )(IF NOT EXISTS )?({_IDENT}) ON (?:ONLY )?{_NAME}(?: USING \w+)? \((.+?)\)", re.I | re.S)
_CHECK = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ADD CONSTRAINT ({_IDENT}) CHECK \((.+)\)$", re.I | re.S)
_FOREIGN_KEY = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ADD CONSTRAINT ({_IDENT}) FOREIGN KEY ?\((.+?)\) REFERENCES {_NAME} ?\((.+?)\)(.*)$", re.I | re.S)


def pre_steps(statements: list[dict], existing: set[str], catalog) -> list[dict]:
    """Pre-steps for the chain's `statements` (numbered by "order", as replayed). `catalog(sql,
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
                steps.append({"for": s["order"], "kind": "expand-backfill-switch", "table": table, "leave_out": False, **step})
        elif (m := _SET_NOT_NULL.match(sql)) and _unquote(m[1]) in existing:
            table, column = _unquote(m[1]), _unquote(m[2])
            name = f"{table}_{column}_not_null"[:63]
            steps.append({"for": s["order"], "kind": "not-null-by-check", "table": table, "leave_out": False, "sql": [
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} CHECK ({quote(column)} IS NOT NULL) NOT VALID",
                f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}",
            ], "after": [f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}"], "manual": []})
        elif (step := _online_twin(sql, existing, catalog)) is not None:
            steps.append({"for": s["order"], "table": step.pop("table"), **step, "after": [], "manual": []})
    # The switches first: a switch drops the old column, and with it every index and
    # constraint the other pre-steps would have put on it.
    return sorted(steps, key=lambda step: step["kind"] != "expand-backfill-switch")


def _online_twin(sql: str, existing: set[str], catalog) -> dict | None:
    """The same index or constraint made online before the upgrade, when what it reads exists
    then (a column the chain adds first cannot be indexed beforehand)."""
    if (m := _INDEX.match(sql)) and _unquote(m[4]) in existing:
        columns = _columns(m[5])
        if _resolves(catalog, f"SELECT {', '.join(quote(c) for c in columns) if columns else m[5]} FROM {m[4]} LIMIT 0"):
            return {"kind": "index-concurrently", "table": _unquote(m[4]), "leave_out": not m[2],
                    "sql": [re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", sql, count=1, flags=re.I)]}
    elif (m := _CHECK.match(sql)) and _unquote(m[1]) in existing and _resolves(catalog, f"SELECT 1 FROM {m[1]} WHERE NOT ({m[3]}) LIMIT 0"):
        return {"kind": "check-not-valid", "table": _unquote(m[1]), "leave_out": True,
                "sql": [f"{sql} NOT VALID", f"ALTER TABLE {m[1]} VALIDATE CONSTRAINT {m[2]}"]}
    elif (m := _FOREIGN_KEY.match(sql)) and "NOT VALID" not in m[6].upper() and {_unquote(m[1]), _unquote(m[4])} <= existing \
            and _resolves(catalog, f"SELECT {_listed('t', m[3])}, {_listed('r', m[5])} FROM {m[1]} t, {m[4]} r LIMIT 0"):
        return {"kind": "foreign-key-not-valid", "table": _unquote(m[1]), "leave_out": True,
                "sql": [f"{sql} NOT VALID", f"ALTER TABLE {m[1]} VALIDATE CONSTRAINT {m[2]}"]}
    return None


def _listed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{quote(c)}" for c in _columns(columns) or ["?"])


def _resolves(catalog, query: str) -> bool:
    """Whether `query` (naming the columns a pre-step reads) runs on the schema before the upgrade."""
    try:
        catalog(query, None)
    except driver.Error:
        return False
    return True


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
    # CHECKs and foreign keys on the column go with it when it is dropped: added again on
    # the new column at the swap (NOT VALID: a brief lock), validated online after it.
    constraints = catalog(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('c', 'f') "
        "AND (SELECT attnum FROM pg_attribute WHERE attrelid = conrelid AND attname = %s) = ANY(conkey) ORDER BY 1", (table, column))
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
    swap += [f"ALTER TABLE {t} ADD CONSTRAINT {quote(name)} {definition} NOT VALID" for name, definition in constraints]
    swap.append("COMMIT")
    validate = [f"ALTER TABLE {t} VALIDATE CONSTRAINT {quote(name)}" for name, _ in constraints]
    return {"sql": sql + swap + validate, "after": [], "manual": manual}


def verify(server: EmbeddedPostgres, pristine: str, steps: list[dict], plain: list[dict], existing: set[str], to, to_setup, options) -> dict:
    """Run `steps` on a clone of the schema copy `pristine`, try each statement they leave out,
    then run the chain without those; compare each statement with the plain replay's (`plain`:
    the chain's statements, numbered, in order)."""
    clone = copy_database(server, pristine, ROLE)
    conn = driver.connect(role_url(server, clone))
    conn.autocommit = True
    failed = None
    by_order = {s["order"]: s for s in plain}
    left_out = {step["for"]: by_order[step["for"]]["sql"] for step in steps if step.get("leave_out")}
    tried = {}
    try:
        with conn.cursor() as cur:
            for step in steps:
                for sql in step["sql"]:
                    try:
                        cur.execute(sql)
                    except driver.Error as exc:
                        failed = {"step": step["kind"], "sql": sql, "error": _first_line(exc)}
                        raise
        tried = {order: _try(conn, sql) for order, sql in left_out.items()}
    except driver.Error:
        return {"pre_steps_failed": failed, "statements": []}
    finally:
        conn.close()
    chain = run_phase(to, to_setup, role_url(server, clone), observe=True, options=options, leave_out=tuple(left_out.values()))
    after = [s for s in chain.result.get("statements", []) if s.get("kind") != "read"]
    effects = []
    position = 0
    for before in plain:  # aligned by SQL text: the pre-steps may change what scripts read
        found = next((i for i in range(position, len(after)) if after[i]["sql"].strip() == before["sql"].strip()), None)
        now = after[found] if found is not None else {"error": "not run"}
        position = found + 1 if found is not None else position
        effect = {"order": before["order"], "sql": before["sql"], "before": _effect(before, existing), "after": _effect(now, existing), "error": now.get("error")}
        if before["order"] in left_out:
            effect.update(after="left out", error=None, as_is=tried[before["order"]])
        effects.append(effect)
    return {"pre_steps_failed": None, "chain_error": chain.error, "statements": effects}


def _try(conn, sql: str) -> str:
    """What a statement does now, in a transaction rolled back: its error's first line, or
    that it runs."""
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        return "runs"
    except driver.Error as exc:
        return "fails: " + _first_line(exc)
    finally:
        conn.rollback()
        conn.autocommit = True


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


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
