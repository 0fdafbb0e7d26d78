"""The upgrade plan as text (rich markup), a Markdown runbook, or JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from .console import escape

from ..plan.build import Plan, Step
from ..plan.estimate import about, format_bytes
from ..plan.hazards import CATALOGUE, blocks
from ..plan.recipes import RECIPES
from .text import _short, describe


def _lock_text(step: Step) -> str:
    if not step.lock:
        return "no lock on existing tables"
    tables = ", ".join(step.locked_tables)
    if step.lock_held == "operation":
        return f"{step.lock} on {tables} for the whole operation (blocks {blocks(step.lock) or 'other DDL'})"
    return f"{step.lock} on {tables}, brief (catalog only)"


def _estimate_text(step: Step, plan: Plan) -> str | None:
    if step.seconds is not None:
        return about(step.seconds)
    if step.costly:
        return "unknown: pass --database-url" if plan.live is None else "unknown: table not found in the database"
    if step.lock_held == "brief":
        return "instant once the lock is granted"
    return None


def _header(plan: Plan) -> tuple[str, list[str]]:
    r = plan.result
    n = len(plan.steps)
    title = f"{r.from_ref.ref} ({_short(r.from_ref.commit)}) → {r.to_ref.ref} ({_short(r.to_ref.commit)})"
    facts = [f"{n} change{'s' * (n != 1)}, {len(plan.hazardous)} with hazards", plan.version_line()]
    if plan.replay is not None:
        from .replayplan import header

        facts = [*header(plan), f"{n} statement{'s' * (n != 1)}, {len(plan.hazardous)} with hazards", plan.version_line()]
    if plan.live is not None:
        s = plan.live.server
        facts.append(f"database {s.database}: sizes read {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; maintenance_work_mem {s.settings.get('maintenance_work_mem', '?')}, max_parallel_maintenance_workers {s.settings.get('max_parallel_maintenance_workers', '?')}")
    if plan.throughput is not None:
        facts.append(f"throughput: {plan.throughput.describe()}")
    return title, facts


def render_plan_text(plan: Plan) -> str:
    title, facts = _header(plan)
    lines = [f"[bold]Upgrade plan[/] {escape(title)}"]
    lines += [f"[dim]{escape(f)}[/]" for f in facts]
    lines += ["", "[bold]Summary[/]"]
    lines += [f"  • {escape(s)}" for s in plan.summary()]
    if plan.replay is not None:
        from . import replayplan

        first = replayplan.incomplete(plan)
        lines = ([f"[bold red]{escape(first)}[/]"] if first else []) + lines + replayplan.text_sections(plan, _estimate_text)
        return "\n".join(lines + _notes_text(plan)) + "\n"
    hazardous = plan.hazardous
    if hazardous:
        lines += ["", "[bold]Steps[/] (by estimated cost)" if plan.live else "[bold]Steps[/] (most severe first)"]
    for i, step in enumerate(hazardous, 1):
        lines.append("")
        lines.append(f"  [bold]{i}. {escape(step.target)}[/]: {escape(describe(step.change))}")
        for sql_line in step.statement.splitlines():
            lines.append(f"     [cyan]{escape(sql_line)}[/]")
        lines.append(f"     lock: {escape(_lock_text(step))}")
        estimate = _estimate_text(step, plan)
        if estimate:
            lines.append(f"     time: [bold]{escape(estimate)}[/]")
            for h in step.hazards:
                if h.estimate is not None:
                    lines.append(f"       [dim]{escape(h.estimate.formula)}[/]")
        for h in step.hazards:
            colour = CATALOGUE[h.code].colour
            lines.append(f"     [{colour}]! {escape(h.code)}: {escape(h.title)}[/]")
            lines.append(f"         [dim]{escape(h.reason)}[/]")
        recipes = sorted({h.recipe for h in step.hazards if h.recipe})
        if recipes:
            codes = " ".join(sorted({h.code for h in step.hazards}))
            lines.append(f"     safe recipe: {escape(', '.join(recipes))} [dim](modeldiff hazards {escape(codes)}; --format markdown shows the SQL)[/]")
    quiet = [s for s in plan.steps if not s.hazards]
    if quiet:
        lines += ["", f"[bold]No hazards[/] ({len(quiet)})"]
        for step in quiet:
            why = _quiet_reason(plan, step)
            lines.append(f"  [green]✓[/] {escape(step.target)}: {escape(describe(step.change))}{escape(why)}")
    return "\n".join(lines + _notes_text(plan)) + "\n"


def _notes_text(plan: Plan) -> list[str]:
    lines = []
    if plan.notes or plan.result.warnings:
        lines += ["", "[bold yellow]Notes[/]"]
        lines += [f"  [yellow]! {escape(n)}[/]" for n in plan.notes]
        lines += [f"  [yellow]! {escape(text)}[/] [dim]\\[{escape(code)}][/]" for text, code in _warnings(plan)]
    return lines


def _quiet_reason(plan: Plan, step: Step) -> str:
    c = step.change
    if c.kind in ("add_table", "remove_table") or not c.table:
        return ""
    if any(o.kind == "add_table" and o.table == c.table for o in plan.result.changes):
        return " (new table: empty)"
    if any(o.kind == "remove_table" and o.table == c.table for o in plan.result.changes):
        return " (goes with its table)"
    return ""


def _warnings(plan: Plan) -> list[tuple[str, str]]:
    """Warnings with the refs they occur in merged: (text, code)."""
    merged: dict[tuple, list[str]] = {}
    for w in plan.result.warnings:
        merged.setdefault((w.location or "", w.code, w.message), []).append(w.ref or "")
    out = []
    for (location, code, message), refs in sorted(merged.items()):
        where = ", ".join(sorted({r for r in refs if r})) + (f" {location}" if location else "")
        out.append((f"{where}: {message}" if where.strip() else message, code))
    return out


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_plan_markdown(plan: Plan) -> str:
    title, facts = _header(plan)
    first = None
    if plan.replay is not None:
        from . import replayplan

        first = replayplan.incomplete(plan)
    out = ([f"> **{first}**", ""] if first else []) + [f"# Upgrade runbook: {title}", ""]
    out += [f"- {f}" for f in facts]
    out += ["", "## Summary", ""]
    out += [f"- {s}" for s in plan.summary()]
    out += ["", "## Before you start", ""]
    out.append("- Take a backup (or confirm point-in-time recovery) of the database.")
    rewrites = [s for s in plan.steps if any(h.cost == "rewrite" for h in s.hazards)]
    if rewrites and plan.live is not None:
        need = max(sum((plan.live.table(t).total_bytes if plan.live.table(t) else 0) for t in s.locked_tables) for s in rewrites)
        out.append(f"- A rewrite needs free disk for a second copy of the table and its indexes: at least {format_bytes(need)} free, plus WAL.")
    elif rewrites:
        out.append("- A rewrite needs free disk for a second copy of the table and its indexes, plus WAL.")
    out.append("- Check for long-running transactions (`SELECT pid, now() - xact_start, query FROM pg_stat_activity ORDER BY 2 DESC NULLS LAST`): every lock below waits for them, and queries queue behind the wait.")
    out.append("- Run each statement with `SET lock_timeout = '2s'` and retry on timeout.")
    hazardous = [] if plan.replay is not None else plan.hazardous
    if plan.replay is not None:
        out += replayplan.markdown_sections(plan, _md)
    if hazardous:
        out += ["", "## Steps" + (" (by estimated cost)" if plan.live else " (most severe first)"), ""]
        out.append("Steps are listed by cost and severity, not in execution order: the migration runs them in its own order (tables before the indexes and keys that use them).")
    for i, step in enumerate(hazardous, 1):
        out += ["", f"### {i}. `{step.target}`: {_md(describe(step.change))}", ""]
        out += ["```sql", step.statement, "```", ""]
        out.append("| | |")
        out.append("|---|---|")
        out.append(f"| Lock | {_md(_lock_text(step))} |")
        estimate = _estimate_text(step, plan)
        if estimate:
            formulas = "; ".join(h.estimate.formula for h in step.hazards if h.estimate is not None)
            out.append(f"| Estimated time | {_md(estimate)}{' (' + _md(formulas) + ')' if formulas else ''} |")
        if plan.live is not None:
            for t in step.locked_tables:
                facts = plan.live.table(t)
                if facts is not None:
                    rows = f"{facts.reltuples:,.0f} rows" if facts.reltuples >= 0 else "rows unknown"
                    out.append(f"| `{t}` | {format_bytes(facts.total_bytes)} total: table {format_bytes(facts.table_bytes)}, {len(facts.indexes)} indexes {format_bytes(facts.indexes_bytes)}, {rows} |")
        out += ["", "Hazards:", ""]
        for h in step.hazards:
            out.append(f"- **{h.code}** {_md(h.title)}: {_md(h.reason)}")
        for h, rendered in step.recipes():
            recipe = RECIPES[h.recipe]
            out += ["", f"Safe recipe for {h.code}, *{recipe.title}* (`{recipe.id}`):", ""]
            for n, rs in enumerate(rendered, 1):
                flags = []
                if rs.lock:
                    flags.append(rs.lock)
                if rs.autocommit:
                    flags.append("outside a transaction")
                if rs.batched:
                    flags.append("in batches")
                if rs.release != 1:
                    flags.append(f"release {rs.release}")
                note = f" ({'; '.join(flags)})" if flags else ""
                out.append(f"{n}. {_md(rs.note)}{note}")
                if rs.sql:
                    out += ["", "   ```sql", *("   " + line for line in rs.sql.splitlines()), "   ```"]
            if recipe.notes:
                out += ["", f"   {recipe.notes}"]
    quiet = [s for s in plan.steps if not s.hazards] if plan.replay is None else []
    if quiet:
        out += ["", "## Changes without hazards", ""]
        out += [f"- `{s.target}`: {_md(describe(s.change))}" for s in quiet]
    if plan.notes or plan.result.warnings:
        out += ["", "## Notes", ""]
        out += [f"- {_md(n)}" for n in plan.notes]
        out += [f"- {_md(text)} [{code}]" for text, code in _warnings(plan)]
    out += ["", "Hazard codes are documented by `modeldiff hazards CODE`."]
    return "\n".join(out) + "\n"


def render_plan_json(plan: Plan, sites=None) -> str:
    """`sites[i]`: where step i's change is defined at each ref (its `defined`)."""
    data = plan.to_json()
    for step, where in zip(data["steps"], sites or ()):
        if where:
            step["defined"] = dict(sorted(where.items()))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
