"""What the gated commands (diff, plan, migrations) do after their answer is known: the
findings with their file:line, the CI formats, the summary's details, and the exit code
of `--fail-on`."""

from __future__ import annotations

import sys

import click

from .gate import FailOn, Finding, change_findings

CI_FORMATS = ("github", "sarif", "summary")


def gate_exit(fail_on: FailOn | None, findings: list[Finding], partial: bool) -> int:
    """0 clean, 1 the gate tripped, 2 the answer is partial (it can say neither)."""
    if fail_on is None:
        return 0
    if partial:
        click.echo(f"modeldiff: --fail-on {fail_on.text}: the result is partial (--keep-going); it can pass no gate", err=True)
        return 2
    tripped = fail_on.tripped(findings)
    if tripped:
        codes = sorted({f.code or "change" for f in tripped})
        click.echo(f"modeldiff: --fail-on {fail_on.text}: tripped by {len(tripped)} finding(s) ({', '.join(codes)})", err=True)
        return 1
    return 0


def verdict(fail_on: FailOn | None, findings: list[Finding], partial: bool) -> str | None:
    if fail_on is None:
        return None
    if partial:
        return f"gate `--fail-on {fail_on.text}`: **cannot pass** (partial result)"
    tripped = fail_on.tripped(findings)
    return f"gate `--fail-on {fail_on.text}`: " + (f"**failed** ({len(tripped)} finding(s))" if tripped else "passed")


def _ref(ref) -> str:
    return f"{ref.ref} ({(ref.commit or 'work tree')[:10]})"


def change_lines(result, sites) -> list[str]:
    from ..render.text import describe, sign

    lines, table = [], object()
    for change, where in zip(result.changes, sites, strict=True):
        if change.table != table:
            table = change.table
            lines.append(f"\n**{change.table or '(types)'}**\n")
        at = " · ".join(f"{role} `{site}`" for role, site in sorted(where.items()))
        lines.append(f"- {sign(change)} {describe(change)}" + (f" — {at}" if at else ""))
    return lines


def render_ci(fmt: str, result, findings, sites, fail_on, ignored: list[str], report: str | None, command: str) -> str:
    """--format github, sarif or summary of a diff or plan."""
    partial = bool(result.stats.get("partial"))
    n, tables = len(result.changes), len({c.table for c in result.changes})
    critical = sum(1 for f in findings if f.severity == "critical" and not f.ignored)
    warning = sum(1 for f in findings if f.severity == "warning" and not f.ignored)
    headline = f"modeldiff {command}: {_ref(result.from_ref)} -> {_ref(result.to_ref)}: {n} change{'s' * (n != 1)} in {tables} table{'s' * (tables != 1)}, {critical} critical and {warning} warning hazard(s)"
    if fmt == "github":
        from ..render.github import render_github

        return render_github(findings, headline, "partial result (--keep-going): not every model loaded" if partial else None)
    if fmt == "sarif":
        from ..render.sarif import render_sarif

        return render_sarif(findings, result.from_ref, result.to_ref, "partial result (--keep-going): not every model loaded" if partial else None)
    from ..render.summary import render_summary

    facts = [f"**{n} change{'s' * (n != 1)}** in {tables} table{'s' * (tables != 1)}: {critical} critical, {warning} warning hazard(s)"]
    if partial:
        facts.insert(0, "**INCOMPLETE**: partial result (--keep-going): not every model loaded")
    if "layout" in result.stats:
        facts.append(f"layout: {result.stats['layout']}")
    gate = verdict(fail_on, findings, partial)
    if gate:
        facts.append(gate)
    details = [
        (f"All {n} changes, by table", change_lines(result, sites)),
        (f"Hazards ignored by the configuration ({len(ignored)})", [f"- {line}" for line in ignored]),
        (f"Warnings ({len(result.warnings)})", [f"- `{w.code}` {w}" for w in result.warnings]),
    ]
    title = f"modeldiff {command}: {_ref(result.from_ref)} → {_ref(result.to_ref)}"
    return render_summary(title, facts, findings, details, report)


class GatedRun:
    """A diff's or plan's findings (with where each change is defined, when the format
    shows it) and what the configuration ignores, for the output and the gate."""

    def __init__(self, request, result, hazards, fmt: str, report: str | None = None, changes=None, guard=lambda action: action(), replayed_steps=None) -> None:
        from .gate import ignored_hazards, replayed_step_findings
        from .locate import sites_for
        from .options import current_config

        self.result, self.report = result, report
        rules = current_config().ignore
        if replayed_steps is not None:  # a plan of the app's own migrations: at their lines
            self.sites = [{} for _ in result.changes]
            self.step_sites = [{} for _ in replayed_steps]
            self.findings, self.kept, self.ignored = replayed_step_findings(replayed_steps, rules)
            return
        changes = result.changes if changes is None else changes
        by_change = {}
        if fmt in ("json", *CI_FORMATS):
            by_change = {id(c): s for c, s in zip(result.changes, guard(lambda: sites_for(request, result)))}
        self.sites = [by_change.get(id(c), {}) for c in result.changes]
        self.step_sites = [by_change.get(id(c), {}) for c in changes]  # in `changes`' order (a plan's steps)
        self.findings = change_findings(changes, hazards, self.step_sites, rules)
        self.kept, self.ignored = ignored_hazards(hazards, changes, rules)

    def render(self, fmt: str, fail_on, command: str) -> str:
        return render_ci(fmt, self.result, self.findings, self.sites, fail_on, self.ignored, self.report, command)

    def finish(self, fail_on) -> None:
        for line in self.ignored:
            click.echo(f"modeldiff: ignored by the configuration: {line}", err=True)
        code = gate_exit(fail_on, self.findings, bool(self.result.stats.get("partial")))
        if code:
            sys.exit(code)


def _replay_refs(report: dict):
    from ..values import RefInfo

    return RefInfo(report["from"]["ref"], report["from"]["commit"]), RefInfo(report["to"]["ref"], report["to"]["commit"])


def render_replay_ci(fmt: str, report: dict, fail_on, report_file: str | None) -> str:
    """--format github, sarif or summary of `modeldiff migrations`: the findings are the
    replayed statements' hazards, at the migration file's line."""
    from .gate import replay_findings
    from .options import current_config

    findings = replay_findings(report, current_config().ignore)
    old, new = _replay_refs(report)
    partial = report.get("error") is not None
    statements = sum(len(r["statements"]) for r in report["revisions"])
    headline = f"modeldiff migrations: {_ref(old)} -> {_ref(new)}: {len(report['revisions'])} revision(s), {statements} statement(s), {len(findings)} hazard(s)"
    if fmt == "github":
        from ..render.github import render_github

        return render_github(findings, headline, f"incomplete: {report['error']['message']}" if partial else None)
    if fmt == "sarif":
        from ..render.sarif import render_sarif

        return render_sarif(findings, old, new, report["error"]["message"] if partial else None)
    from ..render.summary import render_summary

    facts = [headline.split(": ", 2)[2]]
    if partial:
        facts.insert(0, f"**INCOMPLETE**: {report['error']['message']}")
    gate = verdict(fail_on, findings, partial)
    if gate:
        facts.append(gate)
    lines = [f"- `{r['revision']}` {(r['message'] or '').splitlines()[0] if r['message'] else ''} — `{r['file']}` ({len(r['statements'])} statement(s))" for r in report["revisions"]]
    ignored = [f"- {f.message}: {f.ignored}" for f in findings if f.ignored]
    details = [(f"Revisions ({len(lines)})", lines), (f"Hazards ignored by the configuration ({len(ignored)})", ignored)]
    return render_summary(f"modeldiff migrations: {_ref(old)} → {_ref(new)}", facts, findings, details, report_file)


def replay_gate(report: dict, fail_on) -> None:
    from .gate import replay_findings
    from .options import current_config

    code = gate_exit(fail_on, replay_findings(report, current_config().ignore), report.get("error") is not None)
    if code:
        sys.exit(code)
