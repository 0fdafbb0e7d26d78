"""Data pre-checks: the upgrade's statements that can fail on rows the live tables hold.

Each statement the chain sends (as replayed on the schema copy) is matched against the forms
alembic and hand-written migrations use; each match becomes one read-only count on the live
database, under the connection's statement timeout:

| statement                                   | counted on the live table                          |
|---------------------------------------------|----------------------------------------------------|
| ALTER COLUMN c SET NOT NULL                 | rows where c IS NULL                               |
| CREATE UNIQUE INDEX / ADD UNIQUE, PRIMARY KEY | key values that occur more than once             |
| ALTER COLUMN c TYPE varchar(n) / char(n)    | values longer than n                               |
| ALTER COLUMN c TYPE smallint / integer / numeric(p,s) | values out of the new range              |
| ALTER COLUMN c TYPE <enum> (a label removed) | values that are not labels of the new enum        |
| ADD CONSTRAINT ... CHECK (e)                | rows where NOT (e)                                 |
| ADD CONSTRAINT ... FOREIGN KEY              | rows whose key has no referenced row (orphans)     |

NOT VALID constraints are skipped (they do not check existing rows), and so are tables the
same upgrade creates (empty). `sample` (percent) reads a TABLESAMPLE SYSTEM of each table
instead: a count then says "at least" and scales nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..db import driver

from ..sqltext import qualified, quote

_IDENT = r'(?:"(?:[^"]|"")+"|[\w$]+)'
_NAME = rf"({_IDENT}(?:\.{_IDENT})?)"
_SET_NOT_NULL = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ALTER COLUMN ({_IDENT}) SET NOT NULL$", re.I | re.S)
_TYPE = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ALTER COLUMN ({_IDENT}) (?:SET DATA )?TYPE (.+?)(?: USING (.+))?$", re.I | re.S)
_UNIQUE_INDEX = re.compile(rf"^CREATE UNIQUE INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?{_IDENT} ON (?:ONLY )?{_NAME}(?: USING \w+)? \((.+?)\)(?: WHERE (.+))?$", re.I | re.S)
_ADD_KEY = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ADD (?:CONSTRAINT {_IDENT} )?(UNIQUE|PRIMARY KEY) \((.+?)\)$", re.I | re.S)
_ADD_CHECK = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ADD (?:CONSTRAINT {_IDENT} )?CHECK \((.+)\)( NOT VALID)?$", re.I | re.S)
_ADD_FK = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ADD (?:CONSTRAINT {_IDENT} )?FOREIGN KEY ?\((.+?)\) REFERENCES {_NAME} ?\((.+?)\)(.*)$", re.I | re.S)
_LENGTH = re.compile(r"^(?:VARCHAR|CHARACTER VARYING|CHAR|CHARACTER)\s*\((\d+)\)$", re.I)
_NUMERIC = re.compile(r"^(?:NUMERIC|DECIMAL)\s*\((\d+)\s*(?:,\s*(\d+))?\)$", re.I)
_RANGES = {"SMALLINT": (-32768, 32767), "INT2": (-32768, 32767), "INTEGER": (-2**31, 2**31 - 1), "INT": (-2**31, 2**31 - 1), "INT4": (-2**31, 2**31 - 1)}


def _unquote(name: str) -> str:
    return ".".join(p[1:-1].replace('""', '"') if p.startswith('"') else p.lower() for p in re.findall(_IDENT, name))


def _columns(text: str) -> list[str] | None:
    """A plain column list's names; None for expressions."""
    parts = [p.strip() for p in text.split(",")]
    if not all(re.fullmatch(rf"{_IDENT}(?: (?:ASC|DESC))?", p, re.I) for p in parts):
        return None
    return [_unquote(p.split(" ")[0]) for p in parts]


@dataclass
class Check:
    kind: str  # not-null | unique | type-fit | enum-labels | check | foreign-key
    table: str
    columns: list[str]
    query: str  # SELECT count(*) ... with {source} standing for the (sampled) table
    what: str  # "have NULL email": completes "N rows of users ..."
    statement: dict  # the chain's statement record (revision, location, sql)
    unit: str = "rows"


def checks_for(statements: list[dict], existing: set[str], enum_labels) -> list[Check]:
    """The checks the chain's statements need. `enum_labels(type_text)` gives a type's
    labels (after the chain) or None when it is no enum."""
    out = []
    for statement in statements:
        if statement.get("kind") != "ddl":
            continue
        sql = " ".join(statement["sql"].split())
        check = _check(sql, existing, enum_labels)
        if check is not None:
            check.statement = statement
            out.append(check)
    return out


def _check(sql: str, existing: set[str], enum_labels) -> Check | None:
    if m := _SET_NOT_NULL.match(sql):
        table, column = _unquote(m[1]), _unquote(m[2])
        if table in existing:
            return Check("not-null", table, [column], f"SELECT count(*) FROM {{source}} WHERE {quote(column)} IS NULL", f"have NULL {column}", {})
    elif (m := _UNIQUE_INDEX.match(sql)) or (m := _ADD_KEY.match(sql)):
        table = _unquote(m[1])
        columns = _columns(m[3] if m.re is _ADD_KEY else m[2])
        where = m[3] if m.re is _UNIQUE_INDEX and m.lastindex >= 3 and m[3] else None
        if table in existing and columns:
            keys = ", ".join(quote(c) for c in columns)
            nulls = " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns)
            condition = f"{nulls} AND ({where})" if where else nulls
            return Check("unique", table, columns, f"SELECT count(*) FROM (SELECT 1 FROM {{source}} WHERE {condition} GROUP BY {keys} HAVING count(*) > 1) d",
                         f"occur more than once ({', '.join(columns)})", {}, unit="key values")
    elif m := _TYPE.match(sql):
        table, column, type_text = _unquote(m[1]), _unquote(m[2]), m[3].strip()
        if table not in existing:
            return None
        col = quote(column)
        if length := _LENGTH.match(type_text):
            n = int(length[1])
            return Check("type-fit", table, [column], f"SELECT count(*) FROM {{source}} WHERE length({col}::text) > {n}", f"have {column} longer than {n} characters (new type {type_text})", {})
        if type_text.upper() in _RANGES:
            lo, hi = _RANGES[type_text.upper()]
            return Check("type-fit", table, [column], f"SELECT count(*) FROM {{source}} WHERE {col}::numeric NOT BETWEEN {lo} AND {hi}", f"have {column} outside the range of {type_text}", {})
        if numeric := _NUMERIC.match(type_text):
            digits = int(numeric[1]) - int(numeric[2] or 0)
            return Check("type-fit", table, [column], f"SELECT count(*) FROM {{source}} WHERE abs({col}::numeric) >= 1e{digits}", f"have {column} too large for {type_text}", {})
        labels = enum_labels(type_text)
        if labels is not None:
            listed = ", ".join("'" + label.replace("'", "''") + "'" for label in labels)
            return Check("enum-labels", table, [column], f"SELECT count(*) FROM {{source}} WHERE {col}::text NOT IN ({listed})", f"have a {column} value that is no label of {type_text}", {})
    elif m := _ADD_CHECK.match(sql):
        table = _unquote(m[1])
        if table in existing and not m[3]:
            return Check("check", table, [], f"SELECT count(*) FROM {{source}} WHERE NOT ({m[2]})", f"violate CHECK ({m[2]})", {})
    elif m := _ADD_FK.match(sql):
        table, referred = _unquote(m[1]), _unquote(m[3])
        mine, theirs = _columns(m[2]), _columns(m[4])
        if table in existing and referred in existing and mine and theirs and "NOT VALID" not in m[5].upper():
            present = " AND ".join(f"t.{quote(c)} IS NOT NULL" for c in mine)
            match = " AND ".join(f"r.{quote(b)} = t.{quote(a)}" for a, b in zip(mine, theirs))
            return Check("foreign-key", table, mine, f"SELECT count(*) FROM {{source}} t WHERE {present} AND NOT EXISTS (SELECT 1 FROM {qualified(referred)} r WHERE {match})",
                         f"have {', '.join(mine)} with no row in {referred} (orphans)", {})
    return None


def run_checks(conn, checks: list[Check], sample: float | None) -> list[dict]:
    """Each check counted on the live database (read-only, under its statement timeout)."""
    out = []
    for check in checks:
        source = qualified(check.table) + (f" TABLESAMPLE SYSTEM ({sample})" if sample else "")
        entry = {
            "check": check.kind, "table": check.table, "columns": check.columns,
            "revision": check.statement.get("revision"), "location": check.statement.get("location"), "sql": check.statement.get("sql"),
            "query": check.query.format(source=source), "sample_percent": sample,
        }
        try:
            with conn.cursor() as cur:
                cur.execute(entry["query"])
                count = int(cur.fetchone()[0])
        except driver.Error as exc:
            conn.rollback() if not conn.autocommit else None
            reason = "took longer than the statement timeout (use --sample)" if isinstance(exc, driver.errors.QueryCanceled) else str(exc).strip().splitlines()[0]
            entry.update(verdict="not checked", violations=None, message=f"not checked: {check.table}: {reason}")
            out.append(entry)
            continue
        at_least = "at least " if sample and count else ""
        if count:
            unit = check.unit if count != 1 else check.unit.removesuffix("s")
            what = check.what if count != 1 else re.sub(r"^(have|occur|violate)\b", lambda m: {"have": "has", "occur": "occurs", "violate": "violates"}[m[1]], check.what)
            entry.update(verdict="will fail", violations=count, message=f"will fail: {at_least}{count:,} {unit} of {check.table} {what}")
        else:
            scope = f" in a {sample:g}% sample" if sample else ""
            entry.update(verdict="passes", violations=0, message=f"passes: no {check.unit} of {check.table} {check.what}{scope}")
        out.append(entry)
    return out
