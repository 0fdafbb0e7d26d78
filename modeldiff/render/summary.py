"""A Markdown summary that fits a pull-request comment or a job summary (GitHub cuts a
comment at 65,536 characters; this stays within LIMIT): the headline, the gate's verdict,
the critical hazards in a table with where each is defined, and the rest folded in
<details> blocks (the other hazards, then the caller's details), each cut with a note
when it would not fit. The full report is a file of its own (`--report`)."""

from __future__ import annotations

LIMIT = 60_000
_TABLE_ROWS = 100
_ICONS = {"critical": "🔴", "warning": "🟠", "note": "⚪"}
_NOTE = 160  # room kept for a cut block's closing note


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _fold(title: str, lines: list[str], budget: int) -> str:
    """A <details> block of `lines`, as many as fit in `budget` characters."""
    head, tail = f"<details><summary>{title}</summary>\n\n", "\n</details>\n"
    whole = head + "\n".join(lines) + tail
    if len(whole) <= budget:
        return whole
    kept, used = [], len(head) + len(tail) + _NOTE
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            kept.append(f"\n… {len(lines) - i} more line(s) left out to fit a comment: see the full report.")
            break
        kept.append(line)
        used += len(line) + 1
    return head + "\n".join(kept) + tail


def _row(f) -> str:
    subject = ".".join(x for x in (f.table, f.column) if x)
    return f"| {_ICONS[f.severity]} | {f.code} | {_cell(subject)} | {_cell(f.what or f.message)} | {_cell(f'`{f.site}`' if f.site else '')} |"


def _line(f) -> str:
    subject = ".".join(x for x in (f.table, f.column) if x)
    return f"- {_ICONS[f.severity]} {f.code} `{subject}`: {f.what or f.message}" + (f" — `{f.site}`" if f.site else "")


def render_summary(title: str, facts: list[str], findings, details: list[tuple[str, list[str]]], report: str | None = None, limit: int = LIMIT) -> str:
    """`details`: (summary, lines) blocks, folded after the other hazards, in order."""
    head = [f"### {title}", ""]
    head += [f"- {fact}" for fact in facts]
    hazards = [f for f in findings if f.code and not f.ignored]
    critical = [f for f in hazards if f.severity == "critical"]
    table, rest = critical[:_TABLE_ROWS], critical[_TABLE_ROWS:] + [f for f in hazards if f.severity != "critical"]
    if table:
        head += ["", "| | code | table | hazard | defined at |", "|---|---|---|---|---|"]
        head += [_row(f) for f in table]
    if report:
        head += ["", f"Full report: `{report}`"]
    text = "\n".join(head) + "\n"
    blocks = [(f"Other hazards ({len(rest)})", [_line(f) for f in rest]), *details]
    blocks = [(summary, lines) for summary, lines in blocks if lines]
    # Water-filling: the smallest blocks get all they need, the largest share what is left.
    budgets, left = {}, limit - len(text) - _NOTE * (len(blocks) + 1)
    by_size = sorted(range(len(blocks)), key=lambda i: len(_fold(*blocks[i], budget=10**9)))
    for n, i in enumerate(by_size):
        need = len(_fold(*blocks[i], budget=10**9)) + _NOTE
        budgets[i] = min(need, left // (len(blocks) - n))
        left -= budgets[i]
    for i, (summary, lines) in enumerate(blocks):
        budget = budgets[i]
        if budget < 300:
            text += f"\n_{summary}: left out to fit a comment; see the full report._\n"
            continue
        text += "\n" + _fold(summary, lines, budget)
    if len(text) > limit:  # the table alone was too long: cut it, say so
        text = text[: limit - _NOTE].rsplit("\n", 1)[0] + "\n\n… cut to fit a comment; see the full report.\n"
    return text
