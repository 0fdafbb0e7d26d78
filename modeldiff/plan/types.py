"""What `ALTER COLUMN ... TYPE` does to the existing rows: rewrite or not, fail or not.

Types arrive as SQLAlchemy's PostgreSQL spelling of what the scratch database reflected
(`INTEGER`, `VARCHAR(255)`, `TIMESTAMP(3) WITH TIME ZONE`, `NUMERIC(10, 2)`, `app_status`).

PostgreSQL skips the rewrite only when the old type is binary-coercible to the new one and
the USING expression (alembic emits none, so the implicit cast) leaves the bytes alone:

* varchar(n) -> varchar(m >= n), varchar(n) -> varchar, varchar -> text, text -> varchar
* numeric(p, s) -> numeric(q >= p, s), numeric(p, s) -> numeric
* timestamp/timestamptz/time/timetz/interval precision increased or removed
* bit varying(n) -> bit varying(m >= n) or unbounded; cidr -> inet
* timestamp <-> timestamptz only on PostgreSQL >= 12 when the migrating session's TimeZone
  is UTC (the indexes on the column are still rebuilt)

Arrays are always converted element by element (text[] -> varchar[] rewrites). Everything
else, int -> bigint included, rewrites the table and all its indexes. Widening
conversions (smallint -> int -> bigint, real -> double precision, anything -> text) cannot
fail; narrowing ones (varchar(255) -> varchar(10), bigint -> int) fail on the first value
that does not fit, and conversions without an implicit cast (varchar -> integer) fail
outright unless a USING clause is added by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .hazards import TIMESTAMPTZ_UTC_COERCIBLE

_TYPE = re.compile(r"^(?P<base>[A-Za-z_\"][\w .\"]*?)\s*(?:\((?P<args>[^)]*)\))?(?P<rest>(?: WITH(?:OUT)? TIME ZONE)?)(?P<array>(?:\[\])*)$", re.I)

_ALIASES = {
    "CHARACTER VARYING": "VARCHAR",
    "CHARACTER": "CHAR",
    "BPCHAR": "CHAR",
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "INT2": "SMALLINT",
    "FLOAT": "DOUBLE PRECISION",
    "FLOAT8": "DOUBLE PRECISION",
    "FLOAT4": "REAL",
    "DECIMAL": "NUMERIC",
    "BOOL": "BOOLEAN",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "TIMETZ": "TIME WITH TIME ZONE",
}

# Widening conversions among numbers: implicit cast exists and every value fits.
_WIDENS = {
    ("SMALLINT", "INTEGER"),
    ("SMALLINT", "BIGINT"),
    ("INTEGER", "BIGINT"),
    ("SMALLINT", "NUMERIC"),
    ("INTEGER", "NUMERIC"),
    ("BIGINT", "NUMERIC"),
    ("REAL", "DOUBLE PRECISION"),
    ("SMALLINT", "DOUBLE PRECISION"),
    ("INTEGER", "DOUBLE PRECISION"),
    ("SMALLINT", "REAL"),
    ("DATE", "TIMESTAMP WITHOUT TIME ZONE"),
    ("DATE", "TIMESTAMP WITH TIME ZONE"),
    ("JSON", "JSONB"),
    ("CIDR", "INET"),
}
_STRINGS = {"VARCHAR", "TEXT"}
_KNOWN = {
    "VARCHAR", "TEXT", "CHAR", "INTEGER", "BIGINT", "SMALLINT", "NUMERIC", "REAL", "DOUBLE PRECISION",
    "BOOLEAN", "DATE", "INTERVAL", "UUID", "JSON", "JSONB", "BYTEA", "INET", "CIDR", "BIT", "BIT VARYING",
    "MONEY", "XML", "TSVECTOR", "OID",
}
_PRECISION_TYPES = {"TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE", "TIME WITHOUT TIME ZONE", "TIME WITH TIME ZONE", "INTERVAL"}


@dataclass(frozen=True)
class SqlType:
    base: str
    args: tuple[int, ...] = ()
    array: int = 0

    @property
    def length(self) -> int | None:
        return self.args[0] if self.args else None


def parse_type(text: str) -> SqlType:
    """`VARCHAR(255)` -> SqlType("VARCHAR", (255,)); unknown names (enums, domains) keep their case."""
    text = " ".join(str(text).split())
    m = _TYPE.match(text)
    if m is None:
        return SqlType(text)
    base = m.group("base").strip()
    upper = base.upper()
    rest = (m.group("rest") or "").strip().upper()
    if upper in ("TIMESTAMP", "TIME"):
        base = f"{upper} {rest or 'WITHOUT TIME ZONE'}"
    elif upper in _ALIASES or upper in _KNOWN:
        base = _ALIASES.get(upper, upper)
    args: tuple[int, ...] = ()
    if m.group("args"):
        try:
            args = tuple(int(a.strip()) for a in m.group("args").split(","))
        except ValueError:
            args = ()
    return SqlType(base, args, (m.group("array") or "").count("[]"))


@dataclass(frozen=True)
class TypeChange:
    rewrite: bool  # the table and its indexes are rewritten
    may_fail: bool  # existing values may not convert (error, or no implicit cast at all)
    reason: str
    rebuilds_indexes: bool = False  # only the indexes on the column are rebuilt (no table rewrite)


def classify_type_change(old: str, new: str, pg_version: int = 160000, timezone: str | None = None) -> TypeChange:
    a, b = parse_type(old), parse_type(new)
    if a == b:
        return TypeChange(False, False, "same type")
    if a.array != b.array:
        return TypeChange(True, True, f"{old} → {new} changes array dimensions")
    if a.array:
        # Array coercions go element by element through a new array value: always a rewrite.
        element = classify_type_change(old.replace("[]", ""), new.replace("[]", ""), pg_version, timezone)
        return TypeChange(True, element.may_fail, f"{old} → {new}: arrays are converted element by element, so the table and all its indexes are rewritten")
    if a.base == b.base:
        return _same_base(a, b, old, new)
    citext = _citext_change(a, b, old, new)
    if citext is not None:
        return citext
    if a.base in _STRINGS and b.base in _STRINGS:
        if b.base == "TEXT" or b.length is None:
            return TypeChange(False, False, f"{old} → {new} is binary-coercible (no length check)")
        return TypeChange(True, True, f"{old} → {new} adds a length limit: every value is checked and the table rewritten")
    if {a.base, b.base} == {"TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE"}:
        precision_ok = b.length is None or (a.length is not None and b.length >= a.length)
        if pg_version in TIMESTAMPTZ_UTC_COERCIBLE and precision_ok and _is_utc(timezone):
            return TypeChange(False, False, f"{old} → {new}: no rewrite on PostgreSQL ≥ 12 with TimeZone {timezone} (indexes on the column are rebuilt)", rebuilds_indexes=True)
        why = "no rewrite only on PostgreSQL ≥ 12 with the session TimeZone set to UTC"
        if timezone is not None:
            why += f" (server TimeZone is {timezone})"
        return TypeChange(True, False, f"{old} → {new} reinterprets every value: rewrite ({why})")
    if (a.base, b.base) in _WIDENS or (a.base, b.base) == ("CIDR", "INET"):
        if (a.base, b.base) == ("CIDR", "INET"):
            return TypeChange(False, False, f"{old} → {new} is binary-coercible")
        may_fail = b.base == "NUMERIC" and bool(b.args)
        return TypeChange(True, may_fail, f"{old} → {new} is not binary-coercible (different storage): the table and all its indexes are rewritten")
    if b.base in _STRINGS and b.length is None:
        return TypeChange(True, False, f"{old} → {new} converts every value to text: the table and all its indexes are rewritten")
    if b.base in _STRINGS:
        return TypeChange(True, True, f"{old} → {new} converts every value to a length-limited string: rewrite, and values longer than {b.length} fail")
    return TypeChange(True, True, f"{old} → {new} is not binary-coercible: the table and all its indexes are rewritten, and values that do not convert (or a missing implicit cast) make it fail")


def _citext_change(a: SqlType, b: SqlType, old: str, new: str) -> TypeChange | None:
    """citext's casts to and from text and varchar are WITHOUT FUNCTION (binary-coercible):
    no rewrite, but the indexes on the column change operator class and are rebuilt; a
    unique one fails on values that become equal ignoring case."""
    if b.base.upper() == "CITEXT" and a.base in _STRINGS:
        return TypeChange(False, True, f"{old} → {new} is binary-coercible: no rewrite, but the indexes on the column are rebuilt, and a unique one fails on values equal ignoring case", rebuilds_indexes=True)
    if a.base.upper() == "CITEXT" and b.base in _STRINGS and b.length is None:
        return TypeChange(False, False, f"{old} → {new} is binary-coercible: no rewrite (the indexes on the column are rebuilt)", rebuilds_indexes=True)
    return None


def _same_base(a: SqlType, b: SqlType, old: str, new: str) -> TypeChange:
    base = a.base
    if base in ("VARCHAR", "BIT VARYING"):
        if b.length is None or (a.length is not None and b.length >= a.length):
            return TypeChange(False, False, f"{old} → {new} only relaxes the length limit: binary-coercible, no rewrite")
        return TypeChange(True, True, f"{old} → {new} shortens the length limit: the table is rewritten and longer values fail")
    if base == "NUMERIC":
        if not b.args:
            return TypeChange(False, False, f"{old} → {new} removes the precision limit: no rewrite")
        if a.args and len(a.args) == len(b.args) and (a.args[1:] == b.args[1:]) and b.args[0] >= a.args[0]:
            return TypeChange(False, False, f"{old} → {new} raises the precision at the same scale: no rewrite")
        return TypeChange(True, True, f"{old} → {new} changes scale or lowers precision: rewrite, and values that no longer fit fail")
    if base in _PRECISION_TYPES:
        if b.length is None or (a.length is not None and b.length >= a.length):
            return TypeChange(False, False, f"{old} → {new} raises or removes the fractional-second precision: no rewrite")
        return TypeChange(True, False, f"{old} → {new} lowers the precision: every value is rounded, the table rewritten")
    if base == "CHAR":
        fails = a.length is None or (b.length is not None and b.length < a.length)
        return TypeChange(True, fails, f"{old} → {new}: char values are stored padded, so a length change rewrites the table")
    return TypeChange(True, True, f"{old} → {new} changes the type modifier: the table is rewritten")


def _is_utc(timezone: str | None) -> bool:
    return timezone is not None and timezone.upper() in ("UTC", "ETC/UTC", "GMT", "ETC/GMT", "UCT", "ZULU", "UNIVERSAL", "ETC/UCT", "ETC/UNIVERSAL", "ETC/ZULU", "GREENWICH", "GMT0", "ETC/GMT0")
