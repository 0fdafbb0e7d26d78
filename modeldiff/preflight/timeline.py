"""The cost timeline: each statement of the upgrade costed on the live tables, with its locks.

What a statement does is what the replay on the schema copy observed (the copy has the live
catalog, so a rewrite there is a rewrite here); how long it takes comes from the live sizes
and the throughputs (`plan/estimate.py`, calibrated or default):

* a table rewrite: the rewrite model (copy + every index rebuilt);
* CREATE INDEX (not CONCURRENTLY) on an existing table: heap scan + index written;
* ADD FOREIGN KEY (validated): both tables scanned;
* another statement that scanned an existing table (SET NOT NULL, a CHECK): heap scan;
* a data statement: the rows the live planner expects it to touch (EXPLAIN, which runs
  nothing) × the table's bytes per row, at the rewrite rate;
* anything else: catalog only (zero; its real risk is waiting for the lock).

The range is the estimate divided and multiplied by the throughputs' spread: ×3 uncalibrated,
and for a calibration the ratio of its fastest to its slowest rewrite, at least 1.5.

Locks: a lock a statement takes is held until its transaction commits. With one transaction
for the whole upgrade (alembic's default, Dify's) that is the end of the upgrade, so a brief
lock taken early blocks its table for everything that follows.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..plan.estimate import Throughput, foreign_key, index_build, rewrite, scan
from ..plan.hazards import Estimate
from ..plan.live import LiveFacts
from .checks import _IDENT, _NAME, _columns, _unquote

BLOCKS_WRITES = {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}
BLOCKS_READS = {"AccessExclusiveLock"}
_CREATE_INDEX = re.compile(rf"^CREATE (?:UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?(?:{_IDENT} )?ON (?:ONLY )?{_NAME}(?: USING \w+)? \((.+?)\)", re.I | re.S)
_ADD_FK = re.compile(rf"^ALTER TABLE (?:ONLY )?{_NAME} ADD (?:CONSTRAINT {_IDENT} )?FOREIGN KEY ?\(.+?\) REFERENCES {_NAME}(.*)$", re.I | re.S)


def spread(tp: Throughput) -> float:
    rates = (tp.detail or {}).get("rewrite_bytes_per_second") or []
    if tp.source != "calibrated" or len(rates) < 2:
        return 3.0
    return max(1.5, max(rates) / max(min(rates), 1))


def cost(statement: dict, live: LiveFacts, tp: Throughput, existing: set[str], rows_of: Callable[[str], float | None]) -> Estimate:
    sql = " ".join(statement["sql"].split())
    tables = [live.table(t) for t in statement.get("rewrites") or [] if t in existing]
    if any(tables):
        parts = [rewrite(t, tp) for t in tables if t is not None]
        return Estimate(sum(p.seconds for p in parts), " + ".join(p.formula for p in parts))
    if (m := _CREATE_INDEX.match(sql)) and not m[1] and _unquote(m[2]) in existing and live.table(_unquote(m[2])):
        return index_build(live.table(_unquote(m[2])), _columns(m[3]) or [], tp)
    if (m := _ADD_FK.match(sql)) and "NOT VALID" not in m[3].upper() and _unquote(m[1]) in existing and live.table(_unquote(m[1])):
        return foreign_key(live.table(_unquote(m[1])), live.table(_unquote(m[2])), tp)
    scanned = [live.table(t) for t in statement.get("scanned") or [] if t in existing and live.table(t)]
    if scanned and statement.get("kind") != "data":
        parts = [scan(t, tp) for t in scanned]
        return Estimate(sum(p.seconds for p in parts), " + ".join(p.formula for p in parts))
    if statement.get("kind") == "data" and not statement.get("parameters"):
        touched = [t for t in statement.get("tables") or [] if t in existing and live.table(t)]
        rows = rows_of(statement["sql"])
        if touched and rows:
            facts = live.table(touched[0])
            per_row = facts.table_bytes / max(facts.rows, 1)
            return Estimate(rows * per_row / tp.rewrite, f"{rows:,.0f} rows (live planner's estimate) × {per_row:.0f} bytes at the rewrite rate")
        if touched:
            return Estimate(0.0, "no rows expected by the live planner")
    return Estimate(0.0, "catalog only")


def timeline(revisions: list[dict], live: LiveFacts, tp: Throughput, existing: set[str], rows_of, transaction_mode: str) -> dict:
    factor = spread(tp)
    entries = []
    clock = 0.0
    for revision in revisions:
        for statement in revision["statements"]:
            estimate = cost(statement, live, tp, existing, rows_of)
            entries.append({
                "order": len(entries) + 1,
                "revision": revision["revision"],
                "location": statement.get("location"),
                "sql": statement["sql"],
                "kind": statement.get("kind"),
                "transaction": statement.get("transaction"),
                "start_seconds": round(clock, 3),
                "seconds": round(estimate.seconds, 3),
                "range_seconds": [round(estimate.seconds / factor, 3), round(estimate.seconds * factor, 3)],
                "formula": estimate.formula,
                "locks": {t: m for t, m in (statement.get("locks") or {}).items() if t in existing},
                "rewrites": [t for t in statement.get("rewrites") or [] if t in existing],
                **({"error": statement["error"]} if statement.get("error") else {}),
            })
            clock += estimate.seconds
    tables = _lock_spans(entries)
    return {
        "total_seconds": round(clock, 3),
        "range_seconds": [round(clock / factor, 3), round(clock * factor, 3)],
        "spread": round(factor, 2),
        "transaction_mode": transaction_mode,
        "statements": entries,
        "costliest": [e["order"] for e in sorted(entries, key=lambda e: (-e["seconds"], e["order"])) if e["seconds"] > 0],
        "tables": {name: {**span, "range_unwritable_seconds": [round(span["unwritable_seconds"] / factor, 3), round(span["unwritable_seconds"] * factor, 3)],
                          "range_unreadable_seconds": [round(span["unreadable_seconds"] / factor, 3), round(span["unreadable_seconds"] * factor, 3)],
                          "bytes": live.table(name).total_bytes if live.table(name) else None}
                   for name, span in sorted(tables.items())},
    }


def _lock_spans(entries: list[dict]) -> dict[str, dict]:
    """Per table: how long it cannot be written / read, from the first statement of each
    transaction that locks it to that transaction's end (an autocommit statement: its own end)."""
    ends: dict[int, float] = {}
    for e in entries:
        if e["transaction"] is not None:
            ends[e["transaction"]] = e["start_seconds"] + e["seconds"]
    first: dict[tuple, dict[str, float]] = {}  # (transaction or statement, table) -> {"writes": start, "reads": start}
    spans: dict[str, dict] = {}
    for e in entries:
        unit = ("t", e["transaction"]) if e["transaction"] is not None else ("s", e["order"])
        end = ends[e["transaction"]] if e["transaction"] is not None else e["start_seconds"] + e["seconds"]
        for table, mode in e["locks"].items():
            seen = first.setdefault((unit, table), {})
            span = spans.setdefault(table, {"unwritable_seconds": 0.0, "unreadable_seconds": 0.0, "strongest": mode, "first_locked_by": e["order"], "held_until_commit_of": []})
            if mode in BLOCKS_WRITES and "writes" not in seen:
                seen["writes"] = e["start_seconds"]
                span["unwritable_seconds"] += end - e["start_seconds"]
            if mode in BLOCKS_READS and "reads" not in seen:
                seen["reads"] = e["start_seconds"]
                span["unreadable_seconds"] += end - e["start_seconds"]
            if _strength(mode) > _strength(span["strongest"]):
                span["strongest"] = mode
            if unit[0] == "t" and unit[1] not in span["held_until_commit_of"]:
                span["held_until_commit_of"].append(unit[1])
    for span in spans.values():
        span["unwritable_seconds"] = round(span["unwritable_seconds"], 3)
        span["unreadable_seconds"] = round(span["unreadable_seconds"], 3)
    return spans


_ORDER = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]


def _strength(mode: str) -> int:
    return _ORDER.index(mode) if mode in _ORDER else -1
