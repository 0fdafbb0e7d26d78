"""A readable diff grouped by table, coloured on a terminal (rich markup)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .console import escape

from ..compare import coverage
from ..plan.hazards import CATALOGUE
from ..values import KIND_ORDER, VERIFY_KINDS, Change, Diff, Dispatch

_SIGN = {"add": ("+", "green"), "remove": ("-", "red"), "modify": ("~", "yellow")}


def sign(change: Change) -> str:
    return _SIGN.get(change.kind.split("_", 1)[0], ("~", "yellow"))[0]


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "work tree"


DESCRIBE = Dispatch("render.text", KIND_ORDER + VERIFY_KINDS)


def describe(change: Change) -> str:
    """One line for one change, without the table name."""
    handler = DESCRIBE.get(change.kind)
    return (handler and handler(change)) or f"{change.kind} {change.name or ''}".strip()


def _val(value, none: str = "NULL") -> str:
    if value is None:
        return none
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(value) + ")"
    return str(value)


@DESCRIBE.register("add_table")
def _add_table(change):
    return f"new table ({len(change.detail.get('columns', []))} columns)"


@DESCRIBE.register("remove_table")
def _remove_table(change):
    return f"table dropped ({len(change.detail.get('columns', []))} columns)"


@DESCRIBE.register("add_column", "remove_column")
def _column(change):
    d = change.detail
    typ = change.new if change.kind == "add_column" else change.old
    extra = "" if d.get("nullable", True) else " NOT NULL"
    extra += f" DEFAULT {d['default']}" if d.get("default") else ""
    extra += f" GENERATED {d['identity'].upper()} AS IDENTITY" if d.get("identity") else ""
    extra += f" GENERATED ALWAYS AS ({d['expression']}) {d['generated'].upper()}" if d.get("expression") else ""
    return f"column {change.column} {typ}{extra}"


def _column_change(show):
    def describe_it(change):
        if change.column:
            return f"column {change.column}: {change.kind.removeprefix('modify_')} {show(change.old)} → {show(change.new)}"
        return None

    return describe_it


DESCRIBE.register("modify_type")(_column_change(_val))
DESCRIBE.register("modify_nullable")(_column_change(lambda v: "NULL" if v is None or v else "NOT NULL"))
DESCRIBE.register("modify_default", "modify_comment")(_column_change(lambda v: _val(v, "none")))


@DESCRIBE.register("add_index", "remove_index")
def _index(change):
    d = change.detail
    unique = "unique " if d.get("unique") else ""
    using = f" using {d['using']}" if d.get("using") else ""
    if d.get("definition"):
        return f"{unique}index {change.name} {d['definition']}"
    return f"{unique}index {change.name} ({', '.join(d.get('columns', []))}){using}"


@DESCRIBE.register("add_constraint", "remove_constraint")
def _constraint(change):
    d = change.detail
    cols = f" ({', '.join(d['columns'])})" if d.get("columns") else ""
    cond = f" CHECK ({d['condition']})" if d.get("condition") else ""
    cond += f" {d['definition']}" if d.get("definition") else ""
    return f"{d.get('type', '')} constraint {change.name}{cols}{cond}"


def _identity(value) -> str:
    return "none" if not value else f"GENERATED {value['generated'].upper()} (start {value['start']}, increment {value['increment']})"


DESCRIBE.register("modify_identity")(_column_change(_identity))
DESCRIBE.register("modify_generated")(_column_change(lambda v: "none" if v is None else f"AS ({v})"))
DESCRIBE.register("modify_collation")(_column_change(lambda v: v or "default"))


@DESCRIBE.register("add_sequence", "remove_sequence")
def _sequence(change):
    s = change.new or change.old
    owner = f", owned by {s['owned_by']}" if s.get("owned_by") else ""
    return f"sequence {change.name} ({s['type']}, start {s['start']}, increment {s['increment']}{owner})"


@DESCRIBE.register("modify_sequence")
def _modify_sequence(change):
    keys = [k for k in change.new if change.old.get(k) != change.new[k]]
    return f"sequence {change.name}: " + ", ".join(f"{k} {_val(change.old.get(k), 'none')} → {_val(change.new[k], 'none')}" for k in keys)


@DESCRIBE.register("modify_index")
def _modify_index(change):
    d = change.detail
    unique = {(False, True): "plain → unique, ", (True, False): "unique → plain, "}.get((d.get("was_unique"), d.get("unique")), "") if "was_unique" in d else ""
    return f"index {change.name}: {unique}{change.old} → {change.new}"


@DESCRIBE.register("add_function", "remove_function")
def _function(change):
    return f"function {change.name} returning {change.detail.get('returns')}"


@DESCRIBE.register("modify_function")
def _modify_function(change):
    returned = change.detail.get("returned")
    what = f"returns {returned} → {change.detail.get('returns')}" if returned else "definition changed"
    return f"function {change.name}: {what}"


def _trigger_text(change, definition: str) -> str:
    """`CREATE TRIGGER t BEFORE INSERT ON x ...` -> `BEFORE INSERT ON x ...`."""
    return definition.split(f"{change.name} ", 1)[-1] if definition.startswith("CREATE ") else definition


@DESCRIBE.register("add_trigger", "remove_trigger", "modify_trigger")
def _trigger(change):
    if change.kind == "modify_trigger":
        return f"trigger {change.name}: {_trigger_text(change, change.old)} → {_trigger_text(change, change.new)}"
    return f"trigger {change.name} {_trigger_text(change, change.new or change.old)}"


@DESCRIBE.register("modify_constraint")
def _modify_constraint(change):
    return f"{change.detail.get('type', '')} constraint {change.name}: {change.old} → {change.new}"


@DESCRIBE.register("modify_fk")
def _modify_fk(change):
    from ..compare.catalog import fk_options

    return f"foreign key {change.name} ({', '.join(change.detail.get('columns', []))}): {fk_options(change.old) or 'no actions'} → {fk_options(change.new) or 'no actions'}"


@DESCRIBE.register("add_fk", "remove_fk")
def _fk(change):
    d = change.detail
    return f"foreign key {change.name} ({', '.join(d['columns'])}) → {d['referred_table']} ({', '.join(d['referred_columns'])})"


@DESCRIBE.register("modify_primary_key")
def _primary_key(change):
    return f"primary key {_val(change.old)} → {_val(change.new)}"


@DESCRIBE.register("add_enum", "remove_enum")
def _enum(change):
    return f"enum type {change.name} ({', '.join(change.new or change.old)})"


@DESCRIBE.register("modify_enum")
def _modify_enum(change):
    return f"enum type {change.name}: ({', '.join(change.old)}) → ({', '.join(change.new)})"


@DESCRIBE.register("modify_table_comment")
def _table_comment(change):
    return f"table comment {_val(change.old, 'none')} → {_val(change.new, 'none')}"


@DESCRIBE.register("invalid_constraint")
def _invalid_constraint(change):
    return f"constraint {change.name} is NOT VALID (never validated): {change.detail.get('definition', '')}"


@DESCRIBE.register("invalid_index")
def _invalid_index(change):
    return f"index {change.name} is INVALID (left by a failed concurrent build)"


def render_text(result: Diff, hazards: Sequence[Sequence] | None = None) -> str:
    """Rich markup; print it with a rich Console (colour only on a terminal). `hazards[i]`
    (the plan stage's) are shown under change i."""
    changes = result.changes
    hazards = hazards or [()] * len(changes)
    tables = {c.table for c in changes if c.table}
    incomplete = ""
    if result.not_compared or result.stats.get("partial"):
        incomplete = f"[bold red]incomplete ({coverage.summary(result.not_compared) if result.not_compared else 'see below'}):[/] "
    lines = [
        f"[bold]{escape(result.from_ref.ref)}[/] ({_short(result.from_ref.commit)}) → "
        f"[bold]{escape(result.to_ref.ref)}[/] ({_short(result.to_ref.commit)})  "
        f"{result.dialect}: {incomplete}{len(changes)} change{'s' * (len(changes) != 1)} in {len(tables)} table{'s' * (len(tables) != 1)}"
    ]
    if "layout" in result.stats:
        lines.append(f"[dim]layout: {escape(result.stats['layout'])}[/]")
    if "stubs" in result.stats:
        lines.append(f"[dim]{escape(_stub_summary(result.stats['stubs']))}[/]")
    if result.stats.get("partial") and not result.not_compared:
        lines.append("[bold red]partial result: parts of the schema could not be loaded as the refs pin them (see warnings)[/]")
    if result.not_compared:
        lines.append(f"[bold red]{coverage.summary(result.not_compared)}, their changes left out (each reason below):[/]")
        lines += [f"  [red]{escape(line)}[/]" for line in coverage.causes(result.not_compared)]
    grouped: dict[str, list[tuple[Change, Sequence]]] = defaultdict(list)
    for change, of_change in zip(changes, hazards, strict=True):
        grouped[change.table or "(types)"].append((change, of_change))
    for table in sorted(grouped):
        lines.append("")
        lines.append(f"[bold]{escape(table)}[/]")
        for change, of_change in grouped[table]:
            mark, colour = _SIGN.get(change.kind.split("_", 1)[0], ("~", "yellow"))
            lines.append(f"  [{colour}]{mark} {escape(describe(change))}[/]")
            for hazard in of_change:
                colour = CATALOGUE[hazard.code].colour
                lines.append(f"      [{colour}]! {escape(hazard.code)}: {escape(hazard.title)}[/]")
    if not changes:
        lines.append("")
        lines.append("no schema changes")
    if result.warnings:
        merged: dict[tuple, list[str]] = defaultdict(list)
        for w in result.warnings:  # the same warning at both refs is shown once
            merged[(w.location or "", w.code, w.message)].append(w.ref or "")
        lines.append("")
        lines.append(f"[bold yellow]warnings ({len(merged)})[/]")
        for (location, code, message), refs in sorted(merged.items(), key=lambda kv: (kv[0][0] == "", kv[0])):
            where = ", ".join(sorted(set(r for r in refs if r)))
            where += f" {location}" if location else ""
            lines.append(f"  [yellow]! {escape(where)}: {escape(message)}[/] [dim]\\[{escape(code)}][/]")
    return "\n".join(lines) + "\n"


def _stub_summary(stubs: dict) -> str:
    """One line: what the loader had to replace by stubs at each ref (details: --format json)."""
    parts = []
    for side in ("from", "to"):
        report = stubs.get(side) or {}
        apps, libs, used = len(report.get("app_modules", {})), len(report.get("missing_libraries", [])), len({d["name"] for d in report.get("in_schema", [])})
        parts.append(f"{side}: {apps} app module{'s' * (apps != 1)} partly stubbed, {libs} missing librar{'ies' if libs != 1 else 'y'}, {used} stubbed name{'s' * (used != 1)} in the schema")
    return "stubs " + "; ".join(parts)
