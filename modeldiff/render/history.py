"""History of a schema across releases: the changes of every consecutive pair, and a
timeline per table (which releases changed it, and how)."""

from __future__ import annotations

import json
from collections import defaultdict

from .console import escape

from ..compare import coverage
from .text import describe, sign


def _timeline(pairs) -> dict[str, list[tuple[str, str]]]:
    timeline: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for _old, new, result in pairs:
        for change in result.changes:
            timeline[change.table or "(types)"].append((new.snapshot.ref, f"{sign(change)} {describe(change)}"))
    return dict(sorted(timeline.items()))


def history_json(refs, pairs, hazards=None) -> str:
    """`hazards[i]`: the plan stage's hazards of pair i's changes, shown in them."""
    hazards = hazards or [None] * len(pairs)
    data = {
        "refs": [{"ref": r.snapshot.ref, "commit": r.snapshot.commit, "tables": len(r.schema.tables)} for r in refs],
        "pairs": [result.to_json(of_pair) for (_old, _new, result), of_pair in zip(pairs, hazards, strict=True)],
        "timeline": {table: [{"ref": ref, "change": text} for ref, text in items] for table, items in _timeline(pairs).items()},
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def history_text(refs, pairs, hazards=None) -> str:
    missing = [n for *_, result in pairs for n in result.not_compared]
    incomplete = f"[bold red]incomplete ({coverage.summary(missing)}):[/] " if missing else ""
    lines = [f"[bold]schema history[/]: {incomplete}{len(refs)} refs, {len(pairs)} upgrades, {sum(len(p[2].changes) for p in pairs)} changes"]
    for old, new, result in pairs:
        tables = len({c.table for c in result.changes})
        lines.append(
            f"  {escape(old.snapshot.ref)} → {escape(new.snapshot.ref)}: {len(result.changes)} changes in {tables} tables"
            f" ({len(old.schema.tables)} → {len(new.schema.tables)} tables)"
        )
        lines += [f"    [red]{escape(line)}[/]" for line in coverage.causes(result.not_compared)]
    lines.append("")
    lines.append("[bold]timeline by table[/]")
    for table, items in _timeline(pairs).items():
        lines.append(f"[bold]{escape(table)}[/]")
        for ref, text in items:
            lines.append(f"  {escape(ref)}: {escape(text)}")
    return "\n".join(lines) + "\n"


def history_markdown(refs, pairs, hazards=None) -> str:
    out = ["# Schema history", ""]
    out += ["| from | to | changes | tables before → after |", "|---|---|---:|---|"]
    for old, new, result in pairs:
        out.append(f"| {old.snapshot.ref} | {new.snapshot.ref} | {len(result.changes)} | {len(old.schema.tables)} → {len(new.schema.tables)} |")
    out += ["", "## Changes by release", ""]
    for old, new, result in pairs:
        if not result.changes:
            continue
        out.append(f"### {old.snapshot.ref} → {new.snapshot.ref}")
        out.append("")
        for change in result.changes:
            out.append(f"- `{change.table or '(types)'}`: {sign(change)} {describe(change)}")
        out.append("")
    out += ["## Timeline by table", ""]
    for table, items in _timeline(pairs).items():
        out.append(f"- **{table}**: " + "; ".join(f"{ref}: {text}" for ref, text in items))
    return "\n".join(out) + "\n"
