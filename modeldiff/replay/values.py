"""What a replay found, as frozen values for the stages built on it (the plan, the live
pre-flight): `Replay.from_report(report)` reads the JSON answer of `run.replay`.

Locks are PostgreSQL's mode names as `pg_locks` shows them (`AccessExclusiveLock`), per
table name (an index's or a partition's lock counts for its table); `mode_name` spells
them as the plan does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..values import Change


@dataclass(frozen=True)
class ObservedHazard:
    """A hazard seen on the scratch database: `code` is a catalogue code (None for a data
    statement on an existing table, which the catalogue has no code for)."""

    code: str | None
    name: str
    reason: str
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    position: int  # 1-based, in the order the upgrade sends it
    revision: str
    sql: str
    kind: str  # ddl, data, read, other
    location: str  # file:line in the version script
    tables: tuple[str, ...]
    locks: Mapping[str, str]  # table -> strongest mode held after it (until its transaction ends)
    rewrites: tuple[str, ...] = ()
    scanned: tuple[str, ...] = ()
    rows: int | None = None
    duration_ms: float = 0.0
    transaction: int | None = None  # None: in an autocommit block
    autocommit: bool = False
    error: str | None = None
    hazards: tuple[ObservedHazard, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "locks", MappingProxyType(dict(self.locks)))

    @property
    def concurrently(self) -> bool:
        return "CONCURRENTLY" in self.sql.upper()


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: tuple[str, ...]
    file: str
    message: str
    status: str  # ran, failed, not run
    statements: tuple[Statement, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Replay:
    from_ref: str
    to_ref: str
    from_heads: tuple[str, ...]
    to_heads: tuple[str, ...]
    transaction: str  # "one" (the whole upgrade) or "per-migration"
    revisions: tuple[Revision, ...]
    existing_tables: frozenset[str]  # tables FROM's schema had before the chain
    error: str | None = None  # the chain (or FROM's replay) failed: the rest did not run
    models_only: tuple[Change, ...] = ()  # drift at TO: the models declare it, no migration makes it
    migrations_only: tuple[Change, ...] = ()  # drift at TO: migrations made it, the models lack it
    drift_error: str | None = None
    warnings: tuple[Mapping, ...] = field(default=())
    from_models_note: str | None = None  # FROM's schema stood in for by FROM's models (fallback.py)

    @property
    def complete(self) -> bool:
        return self.error is None

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(s for r in self.revisions for s in r.statements)

    @classmethod
    def from_report(cls, report: dict) -> "Replay":
        position = 0
        revisions = []
        for r in report["revisions"]:
            statements = []
            for s in r["statements"]:
                position += 1
                statements.append(Statement(
                    position, r["revision"], s["sql"], s["kind"], s["location"], tuple(s["tables"] or ()), s["locks"] or {},
                    tuple(s.get("rewrites") or ()), tuple(s.get("scanned") or ()), s.get("rows"), s.get("duration_ms") or 0.0,
                    s.get("transaction"), bool(s.get("autocommit")), s.get("error"),
                    tuple(ObservedHazard(h["code"], h["name"], h["reason"], tuple(h["lock"]["tables"])) for h in s.get("hazards") or ()),
                ))
            down = r.get("down_revision")
            revisions.append(Revision(
                r["revision"], tuple(down) if isinstance(down, list) else ((down,) if down else ()), r["file"], r.get("message") or "",
                r["status"], tuple(statements), (r.get("error") or {}).get("message"),
            ))
        error = report.get("error")
        drift = report.get("drift") or {}
        return cls(
            report["from"]["ref"], report["to"]["ref"], tuple(report["from"]["heads"]), tuple(report["to"]["heads"]),
            report["transaction"], tuple(revisions), frozenset(report.get("existing_tables") or ()),
            _error_text(error) if error else None,
            tuple(_change(c) for c in drift.get("models_only") or ()),
            tuple(_change(c) for c in drift.get("migrations_only") or ()),
            drift.get("error") if drift else "not computed",
            tuple(MappingProxyType(dict(w)) for w in report.get("warnings") or ()),
            (report.get("from_schema") or {}).get("note"),
        )


def _change(data: dict) -> Change:
    return Change(data["kind"], data["table"], data.get("column"), data.get("name"), data.get("old"), data.get("new"), data.get("detail", {}))


def _error_text(error: dict) -> str:
    which = f"revision {error['revision']}" if error.get("revision") else f"{error.get('ref')}'s migrations"
    where = f" at {error['location']}" if error.get("location") else ""
    return f"{which} failed{where}: {error['message']}"
