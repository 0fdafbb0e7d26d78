"""Hazards from what a replayed statement was seen to do, not from rules about its text.

A rewrite is a rewrite because the table's relfilenode changed; a lock is the mode
`pg_locks` showed this backend holding after the statement. Only tables that existed before
the chain count (a table the upgrade itself creates is empty and unseen by the app).
"""

from __future__ import annotations

import re

from ..plan.hazards import CATALOGUE

_MODE_NAMES = {
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ShareLock": "SHARE",
    "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "RowExclusiveLock": "ROW EXCLUSIVE",
    "RowShareLock": "ROW SHARE",
    "AccessShareLock": "ACCESS SHARE",
}
_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.I)
_FOREIGN_KEY = re.compile(r"\bFOREIGN\s+KEY\b", re.I)
_DROPS = re.compile(r"^\s*(DROP\s+TABLE|TRUNCATE)\b|\bDROP\s+COLUMN\b", re.I)


def mode_name(mode: str) -> str:
    """`AccessExclusiveLock` -> `ACCESS EXCLUSIVE` (as the plan and the docs write it)."""
    return _MODE_NAMES.get(mode, mode)


def hazards_of(statement: dict, existing: set[str]) -> list[dict]:
    locks = {t: m for t, m in (statement.get("locks") or {}).items() if t in existing}
    mine = [t for t in statement.get("tables") or [] if t in existing]
    held = "until the end of the upgrade's transaction" if statement.get("transaction") is not None else "for the statement"
    out = []
    rewritten = [t for t in statement.get("rewrites") or [] if t in existing]
    if rewritten:
        out.append(_hazard("table-rewrite", f"observed: {', '.join(rewritten)} rewritten (relfilenode changed)", rewritten, locks, held))
    sql = statement["sql"]
    if statement.get("kind") == "ddl" and not rewritten:
        strict = [t for t in mine if locks.get(t) == "AccessExclusiveLock"]
        scanned = [t for t in statement.get("scanned") or [] if t in existing]
        if _CREATE_INDEX.match(sql) and "CONCURRENTLY" not in sql.upper():
            built = [t for t in mine if locks.get(t) in ("ShareLock", "AccessExclusiveLock")]
            if built:
                out.append(_hazard("index-build-blocks-writes", f"observed: index built on existing {', '.join(built)} without CONCURRENTLY", built, locks, held))
        elif _FOREIGN_KEY.search(sql) and scanned:
            out.append(_hazard("foreign-key-validation", f"observed: {', '.join(scanned)} scanned to validate the foreign key", mine, locks, held))
        elif [t for t in scanned if t in strict]:
            read = [t for t in scanned if t in strict]
            out.append(_hazard("scan-under-access-exclusive", f"observed: {', '.join(read)} scanned under ACCESS EXCLUSIVE (no rewrite)", read, locks, held))
        elif strict:
            out.append(_hazard("brief-access-exclusive", f"observed: ACCESS EXCLUSIVE on existing {', '.join(strict)}, no rewrite, no scan", strict, locks, held))
        dropped = [t for t in mine if _DROPS.search(sql) and _names(sql, t)]  # not a table only locked (a referenced one)
        if dropped:
            out.append(_hazard("deletes-data", f"drops data of existing {', '.join(dropped)}", dropped, locks, held))
    if statement.get("kind") == "data" and mine:
        rows = statement.get("rows")
        out.append({
            "code": None,
            "name": "data-statement",
            "title": "Changes rows of an existing table",
            "reason": f"observed: {rows if rows is not None else '?'} row(s) on the scratch database; in production it touches every matching row",
            "lock": {"tables": mine, "mode": mode_name(max((locks.get(t, "") for t in mine), key=_strength) or "RowExclusiveLock"), "held": held},
        })
    return out


def _names(sql: str, table: str) -> bool:
    return re.search(rf'(?<![\w$]){re.escape(table.rsplit(".", 1)[-1])}(?![\w$])', sql, re.I) is not None


def _strength(mode: str) -> int:
    order = list(_MODE_NAMES)
    return len(order) - order.index(mode) if mode in order else 0


_CODES = {hazard.name: code for code, hazard in CATALOGUE.items()}


def _hazard(name: str, reason: str, tables: list[str], locks: dict, held: str) -> dict:
    strongest = max((locks.get(t, "") for t in tables), key=_strength)
    code = _CODES[name]
    return {
        "code": code,
        "name": name,
        "title": CATALOGUE[code].title,
        "reason": reason,
        "lock": {"tables": sorted(tables), "mode": mode_name(strongest) if strongest else None, "held": held},
    }
