"""A plan built on the replay of the app's own migrations, as text (rich markup) and Markdown:
the statements that will run, most severe first, then all of them in execution order, the
drift between models and migrations, and the models-diff changes no migration makes."""

from __future__ import annotations

from rich.markup import escape

from ..plan.build import Plan
from ..plan.hazards import CATALOGUE
from ..replay.observed import mode_name
from .text import describe


_LISTED = 10  # drift changes of one kind listed one by one; more are counted


def _one_line(sql: str, width: int = 160) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _observed(step) -> str:
    s = step.statement
    facts = []
    if s.rewrites:
        facts.append(f"rewrites {', '.join(s.rewrites)}")
    scanned = [t for t in s.scanned if t not in s.rewrites]
    if scanned:
        facts.append(f"scans {', '.join(scanned)}")
    if s.rows is not None:
        facts.append(f"{s.rows} row(s) on the seeded scratch database")
    if s.autocommit:
        facts.append("autocommit block")
    return "; ".join(facts) or "no rewrite, no scan"


def _lock(step) -> str:
    from .plan import _lock_text

    text = _lock_text(step)
    if step.lock and step.held_until_commit:
        text += "; held until the upgrade's single transaction commits"
    return text


def _held(statement) -> str:
    strong = {t: m for t, m in statement.locks.items() if m not in ("AccessShareLock", "RowShareLock")}
    return ", ".join(f"{t} {mode_name(m)}" for t, m in strong.items())


def header(plan: Plan) -> list[str]:
    r = plan.replay
    revisions = len(r.revisions)
    statements = sum(1 for s in r.statements if s.kind != "read")
    transaction = "one transaction for the whole upgrade" if r.transaction == "one" else "one transaction per migration"
    return [f"from the app's own migrations: {revisions} revision{'s' * (revisions != 1)}, {statements} statement{'s' * (statements != 1)} ({transaction}), replayed on PostgreSQL 18"]


def incomplete(plan: Plan) -> str | None:
    if plan.replay.error:
        return f"INCOMPLETE: {plan.replay.error}; the revisions after it did not run"
    return f"APPROXIMATE: {plan.replay.from_models_note}" if plan.replay.from_models_note else None


def text_sections(plan: Plan, estimate_text) -> list[str]:
    """The Steps, execution order, drift and models-diff sections of the text plan."""
    lines: list[str] = []
    hazardous = plan.hazardous
    if hazardous:
        lines += ["", "[bold]Steps[/] (by estimated cost)" if plan.live else "[bold]Steps[/] (most severe first)"]
    for i, step in enumerate(hazardous, 1):
        s = step.statement
        lines += ["", f"  [bold]{i}. {escape(step.target)}[/]: statement #{s.position}, revision {escape(s.revision)}, {escape(s.location)}"]
        lines += [f"     [cyan]{escape(line)}[/]" for line in _one_line(s.sql, 400).splitlines()]
        lines.append(f"     lock: {escape(_lock(step))}")
        lines.append(f"     observed: {escape(_observed(step))}")
        estimate = estimate_text(step, plan)
        if estimate:
            lines.append(f"     time: [bold]{escape(estimate)}[/]")
            lines += [f"       [dim]{escape(h.estimate.formula)}[/]" for h in step.hazards if h.estimate is not None]
        for h in step.hazards:
            lines.append(f"     [{CATALOGUE[h.code].colour}]! {escape(h.code)}: {escape(h.title)}[/]")
            lines.append(f"         [dim]{escape(h.reason)}[/]")
        if step.data:
            lines.append(f"     [magenta]! data: {escape(step.data)}[/]")
        recipes = sorted({h.recipe for h in step.hazards if h.recipe})
        if recipes:
            codes = " ".join(sorted({h.code for h in step.hazards}))
            lines.append(f"     safe recipe: {escape(', '.join(recipes))} [dim](modeldiff hazards {escape(codes)}; --format markdown shows the SQL)[/]")
    lines += ["", "[bold]The upgrade in execution order[/]"]
    numbers = {id(step.statement): i for i, step in enumerate(hazardous, 1)}
    by_position = {step.statement.position: step for step in plan.steps}
    for revision in plan.replay.revisions:
        status = "" if revision.status == "ran" else f"  [red]\\[{escape(revision.status.upper())}][/]"
        message = revision.message.splitlines()[0] if revision.message else ""
        lines.append(f"  [bold]{escape(revision.revision)}[/] {escape(message)}{status}  [dim]{escape(revision.file)}[/]")
        for statement in revision.statements:
            step = by_position.get(statement.position)
            if step is None:
                continue  # a read
            mark = f" [bold](step {numbers[id(statement)]})[/]" if id(statement) in numbers else ""
            facts = [f"line {statement.location.rsplit(':', 1)[-1]}" if statement.location else ""]
            if statement.rows is not None:
                facts.append(f"{statement.rows} row(s)")
            if statement.autocommit:
                facts.append("autocommit")
            if statement.error:
                facts.append(f"FAILED: {statement.error}")
            held = _held(statement)
            if held:
                facts.append(f"holds {held}")
            lines.append(f"    #{statement.position} [{statement.kind}] {escape(_one_line(statement.sql))}{mark}")
            lines.append(f"        [dim]{escape('; '.join(f for f in facts if f))}[/]")
        if revision.error:
            lines.append(f"    [red]error: {escape(revision.error)}[/]")
    lines += drift_lines(plan, markup=True)
    return lines


def drift_lines(plan: Plan, markup: bool) -> list[str]:
    r, result = plan.replay, plan.result
    bold = (lambda t: f"[bold]{t}[/]") if markup else (lambda t: f"## {t}")
    esc = escape if markup else (lambda t: t)
    lines = ["", bold("Drift")]
    if not markup:
        lines.append("")
    if r.drift_error:
        lines.append(f"  {esc(f'not computed: {r.drift_error}')}")
    else:
        lines.append(f"  {esc(f'{result.to_ref.ref} models vs the schema its migrations produce: {len(r.models_only)} only in the models (no migration makes them), {len(r.migrations_only)} only in the migrations')}")
        for sign, changes in (("+", r.models_only), ("-", r.migrations_only)):
            kinds: dict[str, list] = {}
            for change in changes:
                kinds.setdefault(change.kind, []).append(change)
            for kind, same in kinds.items():
                if len(same) > _LISTED:  # e.g. Dify's ~100 CURRENT_TIMESTAMP(0) defaults: counted
                    tables = sorted({c.table or "" for c in same})
                    some = ", ".join(tables[:3])
                    lines.append(f"  {sign} {esc(f'{len(same)} × {kind} on {len(tables)} tables ({some}, ...; --format json lists them)')}")
                    continue
                for change in same:
                    lines.append(f"  {sign} {esc(change.table or '')}: {esc(describe(change))}" if change.table else f"  {sign} {esc(describe(change))}")
    n, gone = len(result.changes), len(plan.not_made)
    lines.append(f"  {esc(f'models diff {result.from_ref.ref} → {result.to_ref.ref}: {n} change(s), {n - gone} made by the statements above, {gone} by none (not run by this upgrade; --from-models plans them)')}")
    return lines


def markdown_sections(plan: Plan, md) -> list[str]:
    out: list[str] = []
    hazardous = plan.hazardous
    if hazardous:
        out += ["", "## Steps" + (" (by estimated cost)" if plan.live else " (most severe first)"), ""]
        out.append("Listed by cost and severity; the upgrade runs them in the order of the next section.")
    for i, step in enumerate(hazardous, 1):
        s = step.statement
        out += ["", f"### {i}. `{step.target}`: statement #{s.position} (revision `{s.revision}`, `{s.location}`)", ""]
        out += ["```sql", s.sql, "```", "", "| | |", "|---|---|", f"| Lock | {md(_lock(step))} |", f"| Observed | {md(_observed(step))} |"]
        out += ["", "Hazards:", ""]
        out += [f"- **{h.code}** {md(h.title)}: {md(h.reason)}" for h in step.hazards]
        if step.data:
            out.append(f"- **data** {md(step.data)}")
        for h, rendered in step.recipes():
            out += ["", f"Safe recipe for {h.code} (`{h.recipe}`):", ""]
            for n, rs in enumerate(rendered, 1):
                out.append(f"{n}. {md(rs.note)}")
                if rs.sql:
                    out += ["", "   ```sql", *("   " + line for line in rs.sql.splitlines()), "   ```"]
    out += ["", "## The upgrade in execution order", ""]
    for revision in plan.replay.revisions:
        status = "" if revision.status == "ran" else f" **{revision.status.upper()}**"
        out += ["", f"### `{revision.revision}` {md(revision.message.splitlines()[0] if revision.message else '')}{status}", "", f"`{revision.file}`", ""]
        shown = [s for s in revision.statements if s.kind != "read"]
        if shown:
            out += ["| # | statement | line | locks held after | rewrites | rows |", "|---|---|---|---|---|---|"]
            for s in shown:
                out.append(f"| {s.position} | `{md(_one_line(s.sql, 120))}` | {s.location.rsplit(':', 1)[-1]} | {md(_held(s))} | {', '.join(s.rewrites)} | {'' if s.rows is None else s.rows} |")
        if revision.error:
            out += ["", f"Error: {md(revision.error)}"]
    out += [line.replace("  ", "", 1) if line.startswith("  ") else line for line in drift_lines(plan, markup=False)]
    return out
