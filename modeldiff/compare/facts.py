"""Facts the hazard rules need that a change alone does not carry, read from the two scratch
databases of the compare stage (both are real PostgreSQL, so these are PostgreSQL's own
answers, not guesses from model source).

`collect_facts` is called by `compare.compare_databases`; the changes it returns have the
facts that one handler per change kind in `FACTS` found added to `Change.detail`:

* add_index: `definition` (pg_get_indexdef's method, keys, WHERE) when the columns alone do not say it
* add_column: `default_volatility` (immutable / stable / volatile: the strictest of every
  function the default's expression tree calls, from `pg_proc.provolatile` in the TO
  database), `identity` (always / by default), `generated` (stored / virtual) and its `expression`
* modify_nullable to NOT NULL: `not_null_check` (a valid CHECK (col IS NOT NULL) in the FROM
  database, which lets PostgreSQL >= 12 skip the scan), `has_default`
* modify_default: `nullable` (of the column, in the FROM database)
* remove_table: `references` (tables its foreign keys point at: dropping it locks them)
* modify_enum / remove_enum: `used_by` (table.column of every column of that type)
* modify_primary_key: `nullable_columns` (new key columns that are still nullable: the key's
  implicit SET NOT NULL scans them)
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..sqltext import column_list, qualified
from .catalog import index_definition, strip_parens as _strip_parens
from ..values import CATALOG_KINDS, Change, Dispatch

_FUNC_IDS = re.compile(r":(?:funcid|opfuncid) (\d+)")
_VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}
# A table's name as modeldiff writes it (`events`, `audit.events`), unquoted: pg_class c, pg_namespace n.
_NAME = "CASE WHEN n.nspname = current_schema() THEN c.relname ELSE n.nspname || '.' || c.relname END"


def _rows(conn, sql: str, params: tuple = ()):
    return conn.exec_driver_sql(sql, params).fetchall()


FACTS = Dispatch("compare.facts")
# The change alone says all the rules need.
FACTS.register(
    "add_table", "remove_column", "modify_type", "modify_comment", "modify_table_comment",
    "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk", "add_enum",
    *CATALOG_KINDS,  # read from the catalogs already (catalog.py)
)(Dispatch.nothing)


def collect_facts(old_conn, new_conn, changes: list[Change]) -> list[Change]:
    """`changes` with the facts above (SQLAlchemy connections to the FROM and TO databases)."""
    out = []
    for change in changes:
        handler = FACTS.get(change.kind)
        facts = handler(old_conn, new_conn, change) if handler is not None else None
        out.append(replace(change, detail={**change.detail, **facts}) if facts else change)
    return out


@FACTS.register("add_column")
def _add_column(old_conn, new_conn, change: Change) -> dict:
    return column_facts(new_conn, change.table, change.column)


@FACTS.register("add_index")
def _add_index(old_conn, new_conn, change: Change) -> dict | None:
    """`definition` when the index is more than its method and column names (a WHERE, an
    expression, an operator class, a sort order, INCLUDE): the runbook's CREATE INDEX needs it."""
    definition = index_definition(new_conn, change.table, change.name)
    plain = f"USING {change.detail.get('using', 'btree')} ({column_list(change.detail.get('columns'))})"
    return {"definition": definition} if definition and definition != plain else None


@FACTS.register("modify_nullable")
def _modify_nullable(old_conn, new_conn, change: Change) -> dict | None:
    if change.new is not False:
        return None
    facts: dict = {}
    check = not_null_check(old_conn, change.table, change.column)
    if check:
        facts["not_null_check"] = check
    facts["has_default"] = bool(_scalar(old_conn, _DEFAULT_SQL, (qualified(change.table), change.column))) or bool(
        _scalar(new_conn, _DEFAULT_SQL, (qualified(change.table), change.column))
    )
    return facts


@FACTS.register("modify_default")
def _modify_default(old_conn, new_conn, change: Change) -> dict | None:
    nullable = _scalar(old_conn, "SELECT NOT attnotnull FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s", (qualified(change.table), change.column))
    return {"nullable": bool(nullable)} if nullable is not None else None


@FACTS.register("remove_table")
def _remove_table(old_conn, new_conn, change: Change) -> dict | None:
    refs = [
        r[0]
        for r in _rows(
            old_conn,
            "SELECT DISTINCT " + _NAME + " FROM pg_constraint f JOIN pg_class c ON c.oid = f.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE f.contype = 'f' AND f.conrelid = to_regclass(%s) AND f.confrelid <> f.conrelid ORDER BY 1",
            (qualified(change.table),),
        )
    ]
    return {"references": refs} if refs else None


@FACTS.register("modify_enum", "remove_enum")
def _enum_users(old_conn, new_conn, change: Change) -> dict | None:
    used = [
        r[0]
        for r in _rows(
            old_conn,
            "SELECT c.relname || '.' || a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_type t ON t.oid = a.atttypid OR t.typarray = a.atttypid "
            # Only this connection's own schema: compare keeps each ref in a schema of one database.
            "WHERE t.typname = %s AND t.typtype = 'e' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
            "AND c.relnamespace = current_schema()::regnamespace AND t.typnamespace = current_schema()::regnamespace ORDER BY 1",
            (change.name,),
        )
    ]
    return {"used_by": used} if used else None


@FACTS.register("modify_primary_key")
def _modify_primary_key(old_conn, new_conn, change: Change) -> dict | None:
    if not change.new:
        return None
    nullable = [
        r[0]
        for r in _rows(
            old_conn,
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = ANY(%s) AND NOT attnotnull ORDER BY attnum",
            (qualified(change.table), list(change.new)),
        )
    ]
    return {"nullable_columns": nullable} if nullable else None


_DEFAULT_SQL = (
    "SELECT 1 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
    "WHERE d.adrelid = to_regclass(%s) AND a.attname = %s"
)


def _scalar(conn, sql: str, params: tuple):
    row = conn.exec_driver_sql(sql, params).first()
    return row[0] if row else None


def column_facts(conn, table: str, column: str) -> dict:
    row = conn.exec_driver_sql(
        "SELECT a.attidentity, a.attgenerated, d.adbin::text, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s",
        (qualified(table), column),
    ).first()
    if row is None:
        return {}
    identity, generated, tree, expression = row
    facts: dict = {}
    if identity:
        facts["identity"] = "always" if identity == "a" else "by default"
    if generated:
        facts["generated"] = "stored" if generated == "s" else "virtual"
        facts["expression"] = expression
    elif tree:
        facts["default_volatility"] = expression_volatility(conn, tree)
    return facts


def expression_volatility(conn, tree: str) -> str:
    """The strictest volatility of the functions and operators a stored expression calls.

    `tree` is a pg_node_tree as text (`pg_attrdef.adbin::text`): FuncExpr nodes carry
    `:funcid`, OpExpr-like nodes `:opfuncid`; NextValueExpr is nextval() itself.
    SQLValueFunction (CURRENT_TIMESTAMP...) is stable and has no function id.
    """
    if "{NEXTVALUEEXPR" in tree:
        return "volatile"
    oids = sorted({int(x) for x in _FUNC_IDS.findall(tree)} - {0})
    if not oids:
        return "stable" if "{SQLVALUEFUNCTION" in tree else "immutable"
    # 'i' < 's' < 'v': the maximum is the strictest.
    worst = _scalar(conn, "SELECT max(provolatile::text) FROM pg_proc WHERE oid = ANY(%s)", (oids,))
    if "{SQLVALUEFUNCTION" in tree and (worst or "i") < "s":
        worst = "s"
    return _VOLATILITY.get(worst or "i", "volatile")


def not_null_check(conn, table: str, column: str) -> str | None:
    """A valid CHECK constraint that, on its own, proves `column IS NOT NULL`.

    Conservative: the constraint must be exactly `CHECK ((col IS NOT NULL))` or have it as a
    top-level AND term. PostgreSQL's prover accepts more; we never claim a skip it would not do.
    """
    rows = _rows(
        conn,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'c' AND convalidated ORDER BY conname",
        (qualified(table),),
    )
    return check_proving_not_null(rows, column)


def check_proving_not_null(rows, column: str) -> str | None:
    ident = re.escape(column) + "|" + re.escape('"' + column.replace('"', '""') + '"')
    term = re.compile(r"\(?(?:" + ident + r") IS NOT NULL\)?")
    for name, definition in rows:
        body = definition.strip()
        if not body.upper().startswith("CHECK "):
            continue
        body = body[6:].strip()
        if " NO INHERIT" in body.upper():
            body = body[: body.upper().index(" NO INHERIT")]
        body = _strip_parens(body)
        if _split(body, " OR ") != [body]:
            continue
        terms = _split(body, " AND ")
        if any(term.fullmatch(_strip_parens(t)) for t in terms):
            return name
    return None


def _split(text: str, word: str) -> list[str]:
    """`text` split on `word` (e.g. " AND ") where it is outside parentheses."""
    terms, depth, start, upper = [], 0, 0, text.upper()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and upper.startswith(word, i):
            terms.append(text[start:i])
            start = i + len(word)
            i += len(word) - 1
        i += 1
    terms.append(text[start:])
    return terms
