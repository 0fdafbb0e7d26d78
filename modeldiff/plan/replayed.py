"""Plan steps from a replay: the statements the app's own migrations send, with hazards.

Locking hazards (MD1xx) are the observed ones: a rewrite because the relfilenode changed, a
scan because the table's scan count moved, a lock because `pg_locks` showed it. The other
groups of the catalogue (data loss, may fail, breaks the previous release, transaction)
come from the rules, through the models-diff changes a statement makes (`makes`). On a
target PostgreSQL older than 12, where locking differs from the embedded 18 the replay ran
on (any default rewrites before 11; a CHECK proves NOT NULL from 12), a lock hazard the
rules give and the replay did not see is added, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..replay.values import Replay, Statement
from ..values import Change
from .estimate import Throughput, estimate_hazard
from .hazards import CATALOGUE, Hazard, HazardedStep
from .recipes import RenderedStep, render_recipe
from .rules import PlanContext

_OBSERVED_LOCKS_DIFFER = 120000  # below PostgreSQL 12 the rules' lock findings are added

# What a statement that makes a change of this kind says (besides its table, column or name).
_VERBS = {
    "add_table": r"\bCREATE\s+TABLE\b",
    "remove_table": r"\bDROP\s+TABLE\b",
    "add_enum": r"\bCREATE\s+TYPE\b",
    "remove_enum": r"\bDROP\s+TYPE\b",
    "modify_enum": r"\bALTER\s+TYPE\b|\bCREATE\s+TYPE\b",
    "add_column": r"\bADD\s+(COLUMN\b|(?!CONSTRAINT\b|PRIMARY\b|UNIQUE\b|FOREIGN\b|CHECK\b)\w)",
    "remove_column": r"\bDROP\s+COLUMN\b",
    "modify_type": r"\bTYPE\b",
    "modify_nullable": r"\b(SET|DROP)\s+NOT\s+NULL\b",
    "modify_default": r"\b(SET|DROP)\s+DEFAULT\b",
    "modify_comment": r"\bCOMMENT\s+ON\s+COLUMN\b",
    "modify_table_comment": r"\bCOMMENT\s+ON\s+TABLE\b",
    "modify_primary_key": r"\bPRIMARY\s+KEY\b",
    "add_index": r"\bCREATE\s+(UNIQUE\s+)?INDEX\b",
    "remove_index": r"\bDROP\s+INDEX\b",
    "add_constraint": r"\bADD\s+CONSTRAINT\b|\bUNIQUE\b|\bCHECK\b",
    "remove_constraint": r"\bDROP\s+CONSTRAINT\b",
    "add_fk": r"\bFOREIGN\s+KEY\b|\bREFERENCES\b",
    "remove_fk": r"\bDROP\s+CONSTRAINT\b",
}
_VERB_RE = {kind: re.compile(pattern, re.I) for kind, pattern in _VERBS.items()}


def _named(sql: str, name: str | None) -> bool:
    return bool(name) and re.search(rf'(?<![\w$]){re.escape(name.rsplit(".", 1)[-1])}(?![\w$])', sql, re.I) is not None


def makes(statement: Statement, change: Change) -> bool:
    """Whether `statement` makes `change` of the models diff (its verb, on its table, naming
    its column, index or constraint)."""
    verb = _VERB_RE.get(change.kind)
    if verb is None or statement.kind != "ddl" or statement.error or not verb.search(statement.sql):
        return False
    if change.kind.endswith("_enum"):
        return _named(statement.sql, change.name)
    if change.table not in statement.tables:
        return False
    if change.column:
        return _named(statement.sql, change.column)
    if change.name and change.kind not in ("add_table", "remove_table"):
        return _named(statement.sql, change.name) or change.kind in ("add_fk", "modify_primary_key")
    return True


@dataclass(frozen=True)
class ReplayStep(HazardedStep):
    """One statement of the upgrade, with its hazards and the models-diff changes it makes."""

    statement: Statement
    hazards: tuple[Hazard, ...] = ()
    changes: tuple[Change, ...] = ()
    data: str | None = None  # a data statement on an existing table: what it touched
    held_until_commit: bool = False  # one transaction for the whole upgrade: its locks stay

    @property
    def target(self) -> str:
        s = self.statement
        return ", ".join(s.tables) or (self.changes[0].name if self.changes else "") or s.sql.split(None, 2)[0]

    @property
    def sql(self) -> str:
        return self.statement.sql

    def recipes(self) -> list[tuple[Hazard, list[RenderedStep]]]:
        """Safe recipes of the hazards a models-diff change of this statement gave a recipe."""
        out, seen = [], set()
        change = self.changes[0] if self.changes else None
        for h in self.hazards:
            key = (h.recipe, tuple(sorted(h.recipe_params.items())))
            if h.recipe and change is not None and key not in seen:
                seen.add(key)
                out.append((h, render_recipe(h.recipe, change, self.statement.sql, h.recipe_params)))
        return out

    def to_json(self) -> dict:
        s = self.statement
        return {
            "position": s.position,
            "revision": s.revision,
            "location": s.location,
            "sql": s.sql,
            "kind": s.kind,
            "tables": list(s.tables),
            "locks": dict(s.locks),
            "rewrites": list(s.rewrites),
            "scanned": list(s.scanned),
            "rows": s.rows,
            "transaction": s.transaction,
            "autocommit": s.autocommit,
            "error": s.error,
            "target": self.target,
            "hazards": [h.to_json() for h in self.hazards],
            "data": self.data,
            "lock": {"mode": self.lock, "held": self.lock_held, "tables": self.locked_tables, "until_commit": self.held_until_commit} if self.lock else None,
            "estimated_seconds": None if self.seconds is None else round(self.seconds, 3),
            "makes": [c.to_json() for c in self.changes],
            "recipes": [{"hazard": h.code, "recipe": h.recipe, "steps": [r.to_json() for r in steps]} for h, steps in self.recipes()],
        }


def replay_steps(replay: Replay, changes: Sequence[Change], rules: Sequence[Sequence[Hazard]], context: PlanContext) -> list[ReplayStep]:
    """Every statement the upgrade sends (reads aside), in execution order."""
    out = []
    for statement in replay.statements:
        if statement.kind == "read":
            continue
        made = [i for i, c in enumerate(changes) if makes(statement, c)]
        hazards: list[Hazard] = []
        data = None
        by_rule = [h for i in made for h in rules[i]]
        for seen in statement.hazards:
            if seen.code is None:
                data = seen.reason
                continue
            entry = CATALOGUE[seen.code]
            rule = next((h for h in by_rule if h.code == seen.code), None)
            hazards.append(Hazard(
                seen.code, seen.reason, entry.lock, seen.tables, entry.holds, entry.cost,
                rule.recipe if rule else None, rule.recipe_params if rule else {},
            ))
        for h in by_rule:
            if any(x.code == h.code for x in hazards):
                continue
            group = CATALOGUE[h.code].group
            if group == "lock" and context.pg_version >= _OBSERVED_LOCKS_DIFFER:
                continue  # the replay saw what it locks
            if group == "transaction" and statement.autocommit:
                continue
            reason = h.reason if group != "lock" else f"not observed on the embedded PostgreSQL 18, but on {context.pg_version // 10000}: {h.reason}"
            hazards.append(replace(h, reason=reason))
        if any(h.holds == "operation" for h in hazards):  # not brief after all, on that version
            hazards = [h for h in hazards if h.holds != "brief"]
        until_commit = replay.transaction == "one" and statement.transaction is not None
        out.append(ReplayStep(statement, tuple(hazards), tuple(changes[i] for i in made), data, until_commit))
    return out


def estimate_steps(steps: Sequence[ReplayStep], live, throughput: Throughput) -> list[ReplayStep]:
    out = []
    for step in steps:
        change = step.changes[0] if step.changes else Change("statement", step.locked_tables[0] if step.locked_tables else None)
        out.append(replace(step, hazards=tuple(replace(h, estimate=estimate_hazard(h, change, live, throughput)) for h in step.hazards)))
    return out


def tables_of_replay(replay: Replay) -> list[str]:
    return sorted({t for s in replay.statements for t in s.tables if t in replay.existing_tables})


def not_made(replay: Replay, changes: Sequence[Change]) -> list[Change]:
    """The models-diff changes no statement of the chain makes."""
    statements = [s for s in replay.statements if s.kind == "ddl"]
    return [c for c in changes if not any(makes(s, c) for s in statements)]
