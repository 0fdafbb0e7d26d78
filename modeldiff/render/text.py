"""A readable diff grouped by table, coloured on a terminal (rich markup)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.markup import escape

from ..values import Change, Diff

_SIGN = {"add": ("+", "green"), "remove": ("-", "red"), "modify": ("~", "yellow")}


def sign(change: Change) -> str:
    return _SIGN.get(change.kind.split("_", 1)[0], ("~", "yellow"))[0]


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "work tree"


def describe(change: Change) -> str:
    """One line for one change, without the table name."""
    k, d = change.kind, change.detail
    if k == "add_table":
        return f"new table ({len(d.get('columns', []))} columns)"
    if k == "remove_table":
        return f"table dropped ({len(d.get('columns', []))} columns)"
    if k in ("add_column", "remove_column"):
        typ = change.new if k == "add_column" else change.old
        extra = "" if d.get("nullable", True) else " NOT NULL"
        extra += f" DEFAULT {d['default']}" if d.get("default") else ""
        return f"column {change.column} {typ}{extra}"
    if k.startswith("modify_") and change.column:
        what = k.removeprefix("modify_")
        return f"column {change.column}: {what} {_val(k, change.old)} → {_val(k, change.new)}"
    if k in ("add_index", "remove_index"):
        unique = "unique " if d.get("unique") else ""
        using = f" using {d['using']}" if d.get("using") else ""
        return f"{unique}index {change.name} ({', '.join(d.get('columns', []))}){using}"
    if k in ("add_constraint", "remove_constraint"):
        cols = f" ({', '.join(d['columns'])})" if d.get("columns") else ""
        cond = f" CHECK ({d['condition']})" if d.get("condition") else ""
        return f"{d.get('type', '')} constraint {change.name}{cols}{cond}"
    if k in ("add_fk", "remove_fk"):
        return (
            f"foreign key {change.name} ({', '.join(d['columns'])}) → "
            f"{d['referred_table']} ({', '.join(d['referred_columns'])})"
        )
    if k == "modify_primary_key":
        return f"primary key {_val(k, change.old)} → {_val(k, change.new)}"
    if k in ("add_enum", "remove_enum"):
        return f"enum type {change.name} ({', '.join(change.new or change.old)})"
    if k == "modify_enum":
        return f"enum type {change.name}: ({', '.join(change.old)}) → ({', '.join(change.new)})"
    if k == "modify_table_comment":
        return f"table comment {_val(k, change.old)} → {_val(k, change.new)}"
    if k == "invalid_constraint":
        return f"constraint {change.name} is NOT VALID (never validated): {d.get('definition', '')}"
    if k == "invalid_index":
        return f"index {change.name} is INVALID (left by a failed concurrent build)"
    return f"{k} {change.name or ''}".strip()


def _val(kind: str, value) -> str:
    if value is None:
        return "none" if kind in ("modify_default", "modify_comment", "modify_table_comment") else "NULL"
    if kind == "modify_nullable":
        return "NULL" if value else "NOT NULL"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(value) + ")"
    return str(value)


def render_text(result: Diff, hazards: Sequence[Sequence] | None = None) -> str:
    """Rich markup; print it with a rich Console (colour only on a terminal). `hazards[i]`
    (the plan stage's) are shown under change i."""
    changes = result.changes
    hazards = hazards or [()] * len(changes)
    tables = {c.table for c in changes if c.table}
    lines = [
        f"[bold]{escape(result.from_ref.ref)}[/] ({_short(result.from_ref.commit)}) → "
        f"[bold]{escape(result.to_ref.ref)}[/] ({_short(result.to_ref.commit)})  "
        f"{result.dialect}: {len(changes)} change{'s' * (len(changes) != 1)} in {len(tables)} table{'s' * (len(tables) != 1)}"
    ]
    if "layout" in result.stats:
        lines.append(f"[dim]layout: {escape(result.stats['layout'])}[/]")
    if "stubs" in result.stats:
        lines.append(f"[dim]{escape(_stub_summary(result.stats['stubs']))}[/]")
    if result.stats.get("partial"):
        lines.append("[bold red]partial result: some model modules failed to import (see warnings)[/]")
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
                lines.append(f"      [magenta]! {escape(hazard.code)}: {escape(hazard.title)}[/]")
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
