"""Tables left out of a comparison, never silently.

Creating a ref's schema (materialize.py) ends with one `not-compared` warning per table
PostgreSQL did not create in full. Such a table is missing from that ref's database, so
alembic would report it (and its indexes, keys...) as added or dropped: its changes are
left out at both refs, and the result lists it instead, with PostgreSQL's reason and, for a
table whose foreign keys point at a rejected one, that root cause.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..values import Change, NotCompared, Warning

CODE = "not-compared"
_DEPENDS = re.compile(r"^depends on (\S+), not created$")


def split(warnings: list[Warning]) -> tuple[list[NotCompared], list[Warning]]:
    """The tables not compared (sorted), and the other warnings."""
    reasons = {(w.ref, w.location): w.message for w in warnings if w.code == CODE}
    out = []
    for (ref, table), reason in reasons.items():
        cause, seen = None, {table}
        while (depends := _DEPENDS.match(reasons.get((ref, cause or table), ""))) and depends.group(1) not in seen:
            cause = depends.group(1)  # the root of a chain of dependents
            seen.add(cause)
        out.append(NotCompared(table, ref, reason, cause))
    return sorted(out, key=NotCompared.sort_key), [w for w in warnings if w.code != CODE]


def without(changes: list[Change], not_compared: list[NotCompared]) -> list[Change]:
    """`changes` but those of tables not compared (at either ref), and of the functions
    their triggers call (created by the same DDL, so missing with the table)."""
    tables = {n.table for n in not_compared}
    return [c for c in changes if c.table not in tables and not tables & set(c.detail.get("trigger_tables", ()))]


def causes(not_compared) -> list[str]:
    """One line per root cause, for people: `ref: reason: tables → N dependent tables`."""
    roots: dict[tuple[str, str], list[str]] = defaultdict(list)
    dependents: dict[tuple[str, str], int] = defaultdict(int)
    reason_of = {(n.ref, n.table): n.reason for n in not_compared}
    for n in not_compared:
        if n.cause is None:
            roots[(n.ref, n.reason)].append(n.table)
        else:
            dependents[(n.ref, reason_of.get((n.ref, n.cause), n.reason))] += 1
    lines = []
    for (ref, reason), tables in sorted(roots.items()):
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        more = dependents.pop((ref, reason), 0)
        lines.append(f"{ref}: {shown}: {reason}" + (f" → {more} dependent table{'s' * (more != 1)} not compared" if more else ""))
    for (ref, reason), count in sorted(dependents.items()):  # a cycle of dependents, no root
        lines.append(f"{ref}: {count} tables: {reason}")
    return lines


def summary(not_compared) -> str:
    """`N tables not compared`, counting a table missing at both refs once."""
    count = len({n.table for n in not_compared})
    return f"{count} table{'s' * (count != 1)} not compared"
