"""The pre-flight as text (a terminal) or Markdown (a DBA's runbook): summary first."""

from __future__ import annotations

from ..plan.estimate import format_bytes, format_duration

_MODES = {"one": "one transaction: every lock is held until the final commit", "per-migration": "one transaction per migration: a lock is held until its migration commits"}


def _span(seconds: float, rng: list[float]) -> str:
    if seconds < 1 and rng[1] < 1:
        return "under a second"
    return f"about {format_duration(seconds)} ({format_duration(rng[0])} – {format_duration(rng[1])})"


def _short(sql: str, width: int = 110) -> str:
    line = " ".join(sql.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def lines(out: dict, markdown: bool = False) -> list[str]:
    if "skipped" in out:
        return [f"pre-flight not run: {out['skipped']}"]
    dep, to, tl = out["deployed"], out["to"], out["timeline"]
    bullet = "- " if markdown else "  "
    code = (lambda s: f"`{s}`") if markdown else (lambda s: s)
    head = (lambda s: f"\n## {s}\n") if markdown else (lambda s: f"{s}:")
    status = "BLOCKED: the upgrade will fail" if out["blocking"] else ("INCOMPLETE" if not out["complete"] else "ready")
    title = f"pre-flight {status}: {dep['from']} (deployed revision {', '.join(dep['revisions'])}) → {to['ref']} on {out['server']['database']} (PostgreSQL {out['server']['version']})"
    text = [f"# {title}" if markdown else title]
    statements = tl["statements"]
    text.append(head("summary"))
    transactions = len({s["transaction"] for s in statements if s["transaction"] is not None})
    text.append(f"{bullet}total: {_span(tl['total_seconds'], tl['range_seconds'])}, {len(statements)} statements in {transactions} transaction(s) ({_MODES.get(tl['transaction_mode'], tl['transaction_mode'])})")
    for name, span in tl["tables"].items():
        size = f" ({format_bytes(span['bytes'])})" if span.get("bytes") else ""
        if span["unreadable_seconds"] > 0:
            text.append(f"{bullet}{code(name)}{size}: unreadable and unwritable for {_span(span['unreadable_seconds'], span['range_unreadable_seconds'])}")
        elif span["unwritable_seconds"] > 0:
            text.append(f"{bullet}{code(name)}{size}: unwritable for {_span(span['unwritable_seconds'], span['range_unwritable_seconds'])}")
        else:
            text.append(f"{bullet}{code(name)}{size}: locked ({span['strongest']}) until commit, catalog only")
    for note in out["notes"]:
        text.append(f"{bullet}note: {note}")
    text.append(head("blocking findings"))
    if not out["blocking"]:
        text.append(f"{bullet}none: the chain ran on a copy of the live schema and every data pre-check passed")
    for finding in out["blocking"]:
        text.append(f"{bullet}{finding['message']} — revision {finding['revision']} at {code(finding['location'] or '?')}")
        if finding.get("sql"):
            text.append(f"{'  ' if markdown else '    '}{code(_short(finding['sql']))}")
    text.append(head("data pre-checks"))
    if not out["checks"]:
        text.append(f"{bullet}none needed: no statement can fail on existing rows")
    for check in out["checks"]:
        text.append(f"{bullet}{check['message']} ({check['revision']} {code(check['location'])})")
    drift = out["drift"]
    text.append(head(f"drift: the live schema against {dep['from']}'s migrations"))
    if not drift:
        text.append(f"{bullet}none")
    for d in drift:
        if "error" in d:
            text.append(f"{bullet}not computed: {d['error']}")
            continue
        mark = " (a table the upgrade touches)" if d.get("affects_upgrade") else ""
        text.append(f"{bullet}{code(d['table'])}: {d['text']}{mark}")
    text.append(head("costliest statements"))
    by_order = {s["order"]: s for s in statements}
    if not tl["costliest"]:
        text.append(f"{bullet}none: every statement changes the catalog only")
    for rank, order in enumerate(tl["costliest"][:10], 1):
        s = by_order[order]
        locks = ", ".join(f"{m} on {t}" for t, m in s["locks"].items()) or "no lock on an existing table"
        text.append(f"{bullet}{rank}. {_span(s['seconds'], s['range_seconds'])}: {code(_short(s['sql'], 90))} ({s['revision']} {code(s['location'])})")
        text.append(f"{'  ' if markdown else '     '}{s['formula']}; holds {locks}")
    text.append(head("timeline"))
    for s in statements:
        failed = f"  FAILED on the copy: {s['error']}" if s.get("error") else ""
        text.append(f"{bullet}{format_duration(s['start_seconds']) if s['start_seconds'] >= 1 else '0 s'} +{format_duration(s['seconds']) if s['seconds'] >= 1 else '< 1 s'} [tx {s['transaction'] or 'autocommit'}] {code(_short(s['sql'], 80))}{failed}")
    text += _runbook(out.get("runbook"), markdown, bullet, code, head)
    text.append(f"\nthroughput: rewrite {out['throughput']['rewrite_bytes_per_second'] / 2**20:.0f} MB/s, scan {out['throughput']['scan_bytes_per_second'] / 2**20:.0f} MB/s, index {out['throughput']['index_bytes_per_second'] / 2**20:.0f} MB/s ({out['throughput']['source']}; range ×/÷{tl['spread']:g})")
    for warning in out["chain"].get("warnings", []):
        text.append(f"warning: {warning['message']}")
    return text


def render_text(out: dict) -> str:
    return "\n".join(lines(out)) + "\n"


def render_markdown(out: dict) -> str:
    return "\n".join(lines(out, markdown=True)) + "\n"


_STEP_TITLES = {
    "expand-backfill-switch": "expand, backfill, switch (a new column of the new type, synced by a trigger; one short swap transaction)",
    "not-null-by-check": "NOT NULL proven by a CHECK validated online (SET NOT NULL then does not scan)",
    "index-concurrently": "the index built CONCURRENTLY under the migration's name",
    "check-not-valid": "the CHECK added NOT VALID (a brief lock), then validated online (reads and writes go on)",
    "foreign-key-not-valid": "the foreign key added NOT VALID (a brief lock), then validated online (reads and writes go on)",
}


def _runbook(runbook: dict | None, markdown: bool, bullet: str, code, head) -> list[str]:
    if not runbook or not runbook["steps"]:
        return []
    text = [head("runbook: online pre-steps before the upgrade, verified by replay")]
    for number, step in enumerate(runbook["steps"], 1):
        text.append(f"{bullet}{number}. for statement {step['for']} on {code(step['table'])}: {_STEP_TITLES[step['kind']]}")
        if markdown:
            text += ["", "```sql", *(f"{sql};" for sql in step["sql"]), "```", ""]
            if step["after"]:
                text += ["  after the upgrade:", "", "```sql", *(f"{sql};" for sql in step["after"]), "```", ""]
        for manual in step["manual"]:
            text.append(f"{'  ' if markdown else '     '}by hand: {manual}")
        if step.get("leave_out"):
            text.append(f"{'  ' if markdown else '     '}then leave statement {step['for']} out of the upgrade: it has no IF NOT EXISTS and would fail on what this step made "
                        "(e.g. `alembic upgrade FROM:TO --sql`, delete that statement, run the script)")
    check = runbook["verification"]
    if check is None:
        return text
    if check["pre_steps_failed"]:
        failed = check["pre_steps_failed"]
        text.append(f"{bullet}verification: the pre-steps fail on the schema copy ({failed['step']}: {failed['error']}): {code(_short(failed['sql']))}")
        return text
    changed = [s for s in check["statements"] if s["before"] != s["after"] or s["before"] != "catalog only"]
    text.append(f"{bullet}verification (the pre-steps, then the vendor's chain, on a copy of the live schema):" + (" the chain fails" if check["chain_error"] else ""))
    for s in changed:
        verdict = "FAILS: " + (s["error"] or "") if s["after"] == "fails" else f"{s['before']} → {s['after']}"
        if s.get("as_is"):
            verdict += f" (as is, after the pre-steps, it {s['as_is']})"
        text.append(f"{'  ' if markdown else '     '}{'- ' if markdown else ''}statement {s['order']} {code(_short(s['sql'], 80))}: {verdict}")
    if not markdown:
        text.append("     (--format markdown prints the pre-steps' SQL)")
    return text
