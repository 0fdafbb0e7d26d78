"""The upgrade plan: every change with its statement, hazards and estimate, sorted by cost,
with a summary that answers "what will hurt, and for how long" first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ..values import Change, Diff
from .calibrate import calibrate as run_calibration
from .calibrate import load_calibration, row_width, save_calibration
from .estimate import DEFAULT_THROUGHPUT, Throughput, about, estimate_changes, format_bytes, format_duration
from .hazards import CATALOGUE, Hazard, HazardedStep
from .live import LiveDatabaseError, LiveFacts, read_live_facts
from .recipes import RenderedStep, render_recipe
from .rules import DEFAULT_PG_VERSION, PlanContext, annotate, format_pg_version, parse_pg_version
from .replayed import estimate_steps, not_made, replay_steps, tables_of_replay
from .statements import statement_for
from ..replay.values import Replay
from .types import parse_type



@dataclass(frozen=True)
class Step(HazardedStep):
    change: Change
    statement: str
    hazards: tuple[Hazard, ...] = ()

    @property
    def target(self) -> str:
        c = self.change
        if c.column:
            return f"{c.table}.{c.column}"
        if c.name and c.table:
            return f"{c.table}.{c.name}"
        if c.kind.endswith("_enum"):
            return f"type {c.name}"
        return c.table or c.name or ""

    def recipes(self) -> list[tuple[Hazard, list[RenderedStep]]]:
        out, seen = [], set()
        for h in self.hazards:
            if h.recipe and (h.recipe, tuple(sorted(h.recipe_params.items()))) not in seen:
                seen.add((h.recipe, tuple(sorted(h.recipe_params.items()))))
                out.append((h, render_recipe(h.recipe, self.change, self.statement, h.recipe_params)))
        return out

    def to_json(self) -> dict:
        out = self.change.to_json(self.hazards)
        out.setdefault("hazards", [])
        out["target"] = self.target
        out["statement"] = self.statement
        out["lock"] = {"mode": self.lock, "held": self.lock_held, "tables": self.locked_tables} if self.lock else None
        out["estimated_seconds"] = None if self.seconds is None else round(self.seconds, 3)
        out["recipes"] = [{"hazard": h.code, "recipe": h.recipe, "steps": [s.to_json() for s in steps]} for h, steps in self.recipes()]
        return out


INCOMPLETE = "incomplete: parts of the schema could not be loaded (see warnings), so changes may be missing"


@dataclass(frozen=True)
class Plan:
    """What the plan stage returns: each change of `result` as a step with its hazards,
    sorted by cost. Read-only."""

    result: Diff
    context: PlanContext
    steps: tuple[Step, ...]
    live: LiveFacts | None = None
    throughput: Throughput | None = None
    notes: tuple[str, ...] = ()
    calibration_file: str | None = None
    # Planned from the app's own migrations: `steps` are the statements they send
    # (`replayed.ReplayStep`), the models diff is drift; None: planned from the models diff.
    replay: Replay | None = None
    not_made: tuple[Change, ...] = ()  # models-diff changes no statement of the chain makes

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "not_made", tuple(self.not_made))

    @property
    def hazardous(self) -> list[Step]:
        return [s for s in self.steps if s.hazards]

    def version_line(self) -> str:
        v = format_pg_version(self.context.pg_version)
        how = {"option": "from --pg-version", "server": "the live server's version", "assumed": "assumed; pass --pg-version or --database-url"}[self.context.version_source]
        return f"PostgreSQL {v} ({how})"

    def summary(self) -> list[str]:
        """The answer first: what blocks, for how long, on which table; then the other risks."""
        lines: list[str] = []
        if self.result.not_compared:
            from ..compare import coverage

            missing = self.result.not_compared
            lines.append(f"incomplete: {coverage.summary(missing)}, so not planned: {'; '.join(coverage.causes(missing))}")
        costly = [s for s in self.steps if s.costly]
        by_table: dict[str, list[Step]] = defaultdict(list)
        for step in costly:
            for table in step.locked_tables[:1] or [step.change.table or step.change.name or "?"]:
                by_table[table].append(step)
        if self.live is not None:
            ranked = sorted(by_table.items(), key=lambda kv: -sum(s.seconds or 0 for s in kv[1]))
            for table, steps in ranked:
                total = sum(s.seconds or 0 for s in steps)
                facts = self.live.table(table)
                size = f" ({format_bytes(facts.total_bytes)})" if facts else " (not in the database)"
                n = len(steps)
                reads = sum(1 for s in steps if s.blocks_reads)
                line = f"{n} operation{'s' * (n != 1)} will block writes for a total of {about(total)} on {table}{size}"
                if reads == n == 1:
                    line += "; it blocks reads too (ACCESS EXCLUSIVE)"
                elif reads:
                    line += f"; {'all' if reads == n else reads} of them block reads too (ACCESS EXCLUSIVE)"
                lines.append(line)
        else:
            for table, steps in sorted(by_table.items()):
                kinds = sorted({_cost_words(h) for s in steps for h in s.hazards if h.cost and h.holds == "operation"})
                n = len(steps)
                lines.append(
                    f"{n} operation{'s' * (n != 1)} on {table} will block writes for as long as it takes to {' and '.join(kinds)} it "
                    f"(pass --database-url for its size and the duration)"
                )
        for group, words in _SUMMARY_GROUPS.items():
            steps = [s for s in self.steps if any(CATALOGUE[h.code].group == group for h in s.hazards)]
            if steps:
                n = len(steps)
                tables = dict.fromkeys(t for s in steps for t in s.target.split(", "))  # each once, in step order
                lines.append(f"{n} operation{'s' * (n != 1)} {words.format(s='' if n != 1 else 's')}: {', '.join(tables)}")
        brief = [s for s in self.steps if s.lock_held == "brief"]
        if brief:
            n = len(brief)
            line = f"{n} operation{'s' * (n != 1)} take{'s' * (n == 1)} a brief ACCESS EXCLUSIVE lock: run {'them' if n != 1 else 'it'} with a short lock_timeout"
            if self.live is not None and self.live.server.oldest_transaction_seconds:
                line += f" (the oldest open transaction is {format_duration(self.live.server.oldest_transaction_seconds)} old)"
            lines.append(line)
        data = [s for s in self.steps if getattr(s, "data", None)]
        if data:
            n = len(data)
            lines.append(f"{n} data statement{'s' * (n != 1)} change{'s' * (n == 1)} rows of existing tables (in production, every matching row): " + ", ".join(f"#{s.statement.position} {s.target}" for s in data))
        if not lines:
            lines.append("nothing in this upgrade locks a live table for long, deletes data or breaks the previous release")
        if self.result.stats.get("partial") and not self.result.not_compared:  # first: changes may be missing
            lines.insert(0, INCOMPLETE)
        return lines

    def to_json(self) -> dict:
        data = {
            "from": self.result.from_ref.to_json(),
            "to": self.result.to_ref.to_json(),
            "postgresql": {"version_num": self.context.pg_version, "version": format_pg_version(self.context.pg_version), "source": self.context.version_source},
            "summary": self.summary(),
            "server": self.live.server.to_json() if self.live else None,
            "tables": {name: t.to_json() for name, t in sorted(self.live.tables.items())} if self.live else None,
            "throughput": self.throughput.to_json() if self.throughput else None,
            "steps": [s.to_json() for s in self.steps],
            "notes": list(self.notes),
            "warnings": [w.to_json() for w in self.result.warnings],
        }
        if self.replay is not None:
            data.update(self._replay_json())
        else:
            data["source"] = "models"
        return data

    def _replay_json(self) -> dict:
        r = self.replay
        made = len(self.result.changes) - len(self.not_made)
        return {
            "source": "migrations",
            "complete": r.complete,
            **({"from_schema": "models", "from_schema_note": r.from_models_note} if r.from_models_note else {}),
            "error": r.error,
            "transaction": r.transaction,
            "revisions": [
                {"revision": v.revision, "down_revision": list(v.down_revision), "file": v.file, "message": v.message, "status": v.status,
                 "error": v.error, "statements": [s.position for s in v.statements if s.kind != "read"]}
                for v in r.revisions
            ],
            "drift": None if r.drift_error else {"models_only": [c.to_json() for c in r.models_only], "migrations_only": [c.to_json() for c in r.migrations_only]},
            "drift_error": r.drift_error,
            "models_diff": {"changes": len(self.result.changes), "made_by_migrations": made, "not_made": [c.to_json() for c in self.not_made]},
            "replay_warnings": [dict(w) for w in r.warnings],
        }


# One summary line per catalogue group, after the lines on locks, in this order.
_SUMMARY_GROUPS = {
    "deletes-data": "delete{s} data",
    "may-fail": "may fail on existing data",
    "breaks-old-release": "break{s} the previous release while it still runs",
    "transaction": "cannot run inside a transaction on this version",
}


def _cost_words(h: Hazard) -> str:
    return {"rewrite": "rewrite", "scan": "scan", "index": "index", "fk": "scan"}.get(h.cost, h.cost)


def tables_of(changes: Sequence[Change]) -> list[str]:
    names: set[str] = set()
    for c in changes:
        if c.table:
            names.add(c.table)
        if c.detail.get("referred_table"):
            names.add(c.detail["referred_table"])
        for used in c.detail.get("used_by", []):
            names.add(used.rsplit(".", 1)[0])
        names.update(c.detail.get("references", []))
    return sorted(names)


def make_plan(
    result: Diff,
    database_url: str | None = None,
    pg_version: str | int | None = None,
    calibrate: bool = False,
    calibrate_mb: float = 256,
    log=None,
    replay: Replay | None = None,
) -> Plan:
    """The plan of `result`: its changes' hazards (`result` itself is not touched).

    With `database_url`, sizes come from that database (read-only) and costly operations get
    estimates; with `calibrate` too, the server's throughput is measured first (the only
    write: a scratch schema, dropped afterwards) and remembered in the user cache.
    """
    log = log or (lambda message: None)
    notes: list[str] = []
    live = None
    if calibrate and not database_url:
        raise LiveDatabaseError("--calibrate needs --database-url (the server to measure)")
    if database_url:
        tables = sorted(set(tables_of(result.changes)) | set(tables_of_replay(replay) if replay is not None else ()))
        live = read_live_facts(database_url, tables)
    if pg_version is not None:
        version, source = parse_pg_version(pg_version), "option"
        if live is not None and live.server.version_num // 10000 != version // 10000:
            notes.append(f"--pg-version {format_pg_version(version)} overrides the live server's {live.server.version}")
    elif live is not None:
        version, source = live.server.version_num, "server"
    else:
        version, source = DEFAULT_PG_VERSION, "assumed"
    timezone = live.server.settings.get("TimeZone") if live is not None else None
    context = PlanContext(pg_version=version, version_source=source, timezone=timezone, live=live)
    hazards = annotate(result.changes, context)

    throughput = None
    calibration_file = None
    if live is not None:
        if calibrate:
            key, throughput = run_calibration(database_url, calibrate_mb, log, row_width(live))
            calibration_file = str(save_calibration(key, throughput))
            log(f"calibration saved to {calibration_file}")
        else:
            throughput = load_calibration(live.server.key) or DEFAULT_THROUGHPUT
        if replay is None:
            hazards = estimate_changes(result.changes, hazards, live, throughput)
            notes += _live_notes(result.changes, live)
    if replay is not None:
        steps = replay_steps(replay, result.changes, hazards, context)
        if version >= 180000:  # what the replay found running the chain as 18 has it
            notes += [f"{w.get('location') or w['ref']}: {w['message']}" for w in replay.warnings if w["code"] == "fails-on-pg18"]
        if live is not None:
            steps = estimate_steps(steps, live, throughput)
        steps.sort(key=lambda s: (-(s.seconds or 0), not s.costly, s.severity, s.statement.position))
        return Plan(result, context, steps, live, throughput, notes, calibration_file, replay, not_made(replay, result.changes))
    steps = [Step(c, statement_for(c), h) for c, h in zip(result.changes, hazards, strict=True)]
    order = {id(c): i for i, c in enumerate(result.changes)}
    steps.sort(key=lambda s: (-(s.seconds or 0), not s.costly, s.severity, order[id(s.change)]))
    return Plan(result, context, steps, live, throughput, notes, calibration_file)


def _live_notes(changes: Sequence[Change], live: LiveFacts) -> list[str]:
    notes = []
    new_tables = {c.table for c in changes if c.kind == "add_table"}
    for name in live.missing:
        if name not in new_tables:
            notes.append(f"table {name} is not in the live database (different schema or search_path?): no estimate for it")
    for c in changes:
        if c.kind == "add_table" and live.table(c.table) is not None:
            notes.append(f"table {c.table} already exists in the live database although the FROM release doesn't define it")
        if c.kind == "modify_type":
            facts = live.table(c.table)
            column = facts.columns.get(c.column) if facts else None
            if column is not None:
                actual = parse_type(column["type"])
                if actual == parse_type(c.new):
                    notes.append(f"{c.table}.{c.column} is already {column['type']} in the live database: this change may have been applied")
                elif actual != parse_type(c.old):
                    notes.append(f"{c.table}.{c.column} is {column['type']} in the live database, not {c.old} as in the FROM release")
    return notes
