"""Text of a replay: revisions in the order they run, each statement with its lock, rewrite
and hazards; an incomplete answer says so on its first line."""

from __future__ import annotations

from .observed import mode_name


def render_text(report: dict) -> str:
    a, b = report["from"], report["to"]
    revisions = report["revisions"]
    statements = sum(len(r["statements"]) for r in revisions)
    transaction = "one transaction for the whole upgrade" if report["transaction"] == "one" else "one transaction per migration"
    lines = []
    error = report.get("error")
    if error:
        where = f" at {error['location']}" if error.get("location") else ""
        which = f"revision {error['revision']}" if error.get("revision") else f"{error['ref']}'s migrations"
        lines.append(f"INCOMPLETE: {which} failed{where}: {error['message']}")
    if (report.get("from_schema") or {}).get("made_by") == "models":
        lines.append(f"APPROXIMATE: {report['from_schema']['note']}")
    lines.append(
        f"modeldiff migrations: {a['ref']} ({(a['commit'] or 'work tree')[:10]}) -> {b['ref']} ({(b['commit'] or 'work tree')[:10]}): "
        f"{len(revisions)} revision{'s' * (len(revisions) != 1)}, {statements} statement{'s' * (statements != 1)}, {transaction}"
    )
    lines.append(f"migrations: {', '.join(report['migrations']['versions'])} ({report['migrations']['found_by']}); from heads {', '.join(a['heads']) or '(base)'} to {', '.join(b['heads']) or '(base)'}")
    for revision in revisions:
        lines.append("")
        status = "" if revision["status"] == "ran" else f"  [{revision['status'].upper()}]"
        lines.append(f"{revision['revision']}  {revision['message'].splitlines()[0] if revision['message'] else ''}{status}")
        lines.append(f"  {revision['file']}")
        for statement in revision["statements"]:
            if statement["kind"] == "read":
                continue
            sql = " ".join(statement["sql"].split())
            lines.append(f"  - [{statement['kind']}] {sql[:160]}{'...' if len(sql) > 160 else ''}")
            facts = [statement["location"], f"{statement['duration_ms']:.1f} ms"]
            if statement["rows"] is not None:
                facts.append(f"{statement['rows']} row(s)")
            if statement.get("error"):
                facts.append(f"FAILED: {statement['error']}")
            if statement["autocommit"]:
                facts.append("autocommit")
            scanned = [t for t in statement.get("scanned") or [] if t not in statement["rewrites"]]
            if scanned:
                facts.append(f"scans {', '.join(scanned)}")
            if statement["rewrites"]:
                facts.append(f"rewrites {', '.join(statement['rewrites'])}")
            strong = {t: m for t, m in statement["locks"].items() if m not in ("AccessShareLock", "RowShareLock")}
            if strong:
                facts.append("holds " + ", ".join(f"{t} {mode_name(m)}" for t, m in strong.items()))
            lines.append(f"      {'; '.join(f for f in facts if f)}")
            for hazard in statement["hazards"]:
                code = hazard["code"] or "data"
                lines.append(f"      {code} {hazard['title']}: {hazard['reason']}")
        if revision.get("error"):
            lines.append(f"  error: {revision['error']['message']} at {revision['error']['location'] or '?'}")
    timeline = [t for t in report.get("transactions", []) if t["locks_at_end"]]
    if timeline:
        lines.append("")
        lines.append("lock timeline (held from the statement that took them until the transaction ends):")
        for t in timeline:
            strong = {k: v for k, v in t["locks_at_end"].items() if v not in ("AccessShareLock", "RowShareLock")}
            if strong:
                lines.append(f"  transaction {t['number']} ({', '.join(t['revisions'])}; {t['statements']} statements) ends holding " + ", ".join(f"{k} {mode_name(v)}" for k, v in strong.items()))
    drift = report.get("drift")
    if drift is not None:
        lines.append("")
        if drift.get("error"):
            lines.append(f"drift: {drift['error']}")
        else:
            lines.append(f"drift ({b['ref']}'s models vs the schema its migrations produce): {len(drift['models_only'])} only in the models, {len(drift['migrations_only'])} only in the migrations")
            for sign, key in (("+", "models_only"), ("-", "migrations_only")):
                for change in drift[key]:
                    target = ".".join(x for x in (change["table"], change.get("column") or change.get("name")) if x)
                    values = f": {change['old']} -> {change['new']}" if "old" in change else ""
                    lines.append(f"  {sign} {change['kind']} {target}{values}")
    before = report.get("drift_from")
    if before is not None and not before.get("error"):
        lines.append(f"drift at {a['ref']} (its models vs its migrations): {len(before['models_only'])} only in the models, {len(before['migrations_only'])} only in the migrations (--format json lists them)")
    if report["warnings"]:
        lines.append("")
        for warning in report["warnings"]:
            where = f"{warning['location']}: " if warning.get("location") else ""
            lines.append(f"warning: {warning['ref']}: {where}{warning['message']} [{warning['code']}]")
    return "\n".join(lines) + "\n"


def render_markdown(report: dict) -> str:
    """For a pull request or a runbook: one table of statements per revision."""
    a, b = report["from"], report["to"]
    lines = []
    error = report.get("error")
    if error:
        where = f" at `{error['location']}`" if error.get("location") else ""
        lines += [f"> **INCOMPLETE**: {'revision ' + error['revision'] if error.get('revision') else error['ref']} failed{where}: {error['message']}", ""]
    if (report.get("from_schema") or {}).get("made_by") == "models":
        lines += [f"> **APPROXIMATE**: {report['from_schema']['note']}", ""]
    transaction = "one transaction for the whole upgrade" if report["transaction"] == "one" else "one transaction per migration"
    lines += [f"# Migrations {a['ref']} → {b['ref']}", "", f"{len(report['revisions'])} revisions, {transaction}.", ""]
    for revision in report["revisions"]:
        status = "" if revision["status"] == "ran" else f" ({revision['status']})"
        lines += [f"## `{revision['revision']}` {revision['message'].splitlines()[0] if revision['message'] else ''}{status}", "", f"`{revision['file']}`", ""]
        shown = [s for s in revision["statements"] if s["kind"] != "read"]
        if shown:
            lines += ["| statement | where | locks held after | rewrites | rows | hazards |", "|---|---|---|---|---|---|"]
            for s in shown:
                sql = " ".join(s["sql"].split()).replace("|", "\\|")
                locks = ", ".join(f"{t} {mode_name(m)}" for t, m in s["locks"].items() if m not in ("AccessShareLock", "RowShareLock"))
                hazards = ", ".join(h["code"] or h["name"] for h in s["hazards"])
                where = s["location"].rsplit("/", 1)[-1]
                lines.append(f"| `{sql[:120]}{'…' if len(sql) > 120 else ''}` | {where} | {locks} | {', '.join(s['rewrites'])} | {'' if s['rows'] is None else s['rows']} | {hazards} |")
            lines.append("")
    drift = report.get("drift") or {}
    if drift.get("models_only") is not None:
        lines += ["## Drift", "", f"{len(drift['models_only'])} only in {b['ref']}'s models, {len(drift['migrations_only'])} only in its migrations.", ""]
    return "\n".join(lines) + "\n"
