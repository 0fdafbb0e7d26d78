"""`--fail-on`: which findings make a run exit 1, and the findings themselves (a hazard of a
change or of a replayed migration statement, with the file:line that causes it).

LEVEL is a severity of the hazard catalogue (`critical`, or `warning`: warning and
critical), `any` (any change at all, hazards or not) or `none`; CODES are hazard codes
(`MD102,MD105`); both may be mixed. Hazards the project's configuration ignores never trip."""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("none", "any", "warning", "critical")
SEVERITY_ORDER = {"note": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Finding:
    code: str | None  # a hazard code; None: a change with no hazard
    message: str
    site: str | None = None  # "path:line" of the definition (model or migration)
    table: str | None = None
    column: str | None = None
    ignored: str | None = None  # the configuration's reason, when ignored
    what: str = ""  # the message without its code and subject (for tables that show those)

    @property
    def severity(self) -> str:
        from ..plan.hazards import CATALOGUE

        return CATALOGUE[self.code].severity if self.code in CATALOGUE else "note"

    @property
    def path_line(self) -> tuple[str | None, int | None]:
        if not self.site:
            return None, None
        path, _, line = self.site.rpartition(":")
        return (path, int(line)) if line.isdigit() and path else (self.site, None)

    def sort_key(self) -> tuple:
        return (-SEVERITY_ORDER[self.severity], self.code or "~", self.table or "", self.column or "", self.message)


@dataclass(frozen=True)
class FailOn:
    level: str | None  # None, or one of LEVELS
    codes: frozenset[str]
    text: str = ""  # as given

    def tripped(self, findings: list[Finding]) -> list[Finding]:
        """The findings that make the run fail."""
        out = []
        for f in findings:
            if f.ignored:
                continue
            if f.code in self.codes or self.level == "any":
                out.append(f)
            elif self.level in ("warning", "critical") and f.code and SEVERITY_ORDER[f.severity] >= SEVERITY_ORDER[self.level]:
                out.append(f)
        return out


def parse_fail_on(text: str) -> FailOn:
    from ..plan.hazards import CATALOGUE

    level, codes = None, set()
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token.lower() in LEVELS:
            if level is not None:
                raise ValueError(f"more than one level ({level}, {token})")
            level = token.lower()
        elif token.upper() in CATALOGUE:
            codes.add(token.upper())
        else:
            raise ValueError(f"{token!r} is neither a level ({', '.join(LEVELS)}) nor a hazard code (see `modeldiff hazards`)")
    return FailOn(None if level == "none" else level, frozenset(codes), text)


def _ignored(rules, code: str, change) -> str | None:
    for rule in rules:
        if rule.matches(code, change):
            return rule.reason
    return None


def change_findings(changes, hazards, sites, rules=()) -> list[Finding]:
    """One finding per hazard of each change (one for a change without hazards)."""
    from ..render.text import describe
    from .locate import primary_site

    out = []
    for change, found, where in zip(changes, hazards, sites, strict=True):
        subject = ".".join(x for x in (change.table, change.column) if x) or change.name or "(types)"
        text = f"{subject}: {describe(change)}"
        site = primary_site(change, where)
        if not found:
            out.append(Finding(None, text, site, change.table, change.column))
        for hazard in found:
            what = f"{describe(change)}: {hazard.title} ({hazard.reason})"
            out.append(Finding(hazard.code, f"{hazard.code} {subject}: {what}", site, change.table, change.column, _ignored(rules, hazard.code, change), what))
    return sorted(out, key=Finding.sort_key)


class _Table:
    """What an ignore rule needs of a replayed statement's hazard."""

    def __init__(self, table: str | None) -> None:
        self.table, self.column = table, None


def replay_findings(report: dict, rules=()) -> list[Finding]:
    """One finding per hazard of each replayed statement, at the statement's file:line."""
    out = []
    for revision in report.get("revisions", []):
        for statement in revision["statements"]:
            for hazard in statement.get("hazards") or []:
                code = hazard.get("code")
                tables = list(statement.get("tables") or []) or [None]
                sql = " ".join(statement["sql"].split())
                what = f"{revision['revision']}: {sql[:120]}{'...' if len(sql) > 120 else ''}: {hazard['title']} ({hazard['reason']})"
                text = f"{code or 'data'} {what}"
                ignored = next((r for t in tables if code and (r := _ignored(rules, code, _Table(t)))), None)
                out.append(Finding(code, text, statement.get("location") or revision.get("file"), tables[0], None, ignored, what))
    return sorted(out, key=Finding.sort_key)


def replayed_step_findings(steps, rules=()) -> tuple[list[Finding], list[tuple], list[str]]:
    """A replayed plan's steps (statements of the app's migrations): one finding per hazard at
    the statement's file:line; the hazards kept per step; what the configuration ignored."""
    findings, kept, left_out = [], [], []
    for step in steps:
        statement = step.statement
        tables = list(statement.tables) or [None]
        sql = " ".join(statement.sql.split())
        keep = []
        for hazard in step.hazards:
            subjects = [step.changes[0]] if step.changes else [_Table(t) for t in tables]
            reason = next((r for subject in subjects if (r := _ignored(rules, hazard.code, subject))), None)
            what = f"{statement.revision}: {sql[:120]}{'...' if len(sql) > 120 else ''}: {hazard.title} ({hazard.reason})"
            findings.append(Finding(hazard.code, f"{hazard.code} {what}", statement.location, tables[0], None, reason, what))
            if reason is None:
                keep.append(hazard)
            else:
                left_out.append(f"{hazard.code} on {tables[0]}: {reason}")
        kept.append(tuple(keep))
    return sorted(findings, key=Finding.sort_key), kept, sorted(set(left_out))


def ignored_hazards(hazards, changes, rules):
    """`hazards` without those the configuration ignores, and what was left out."""
    kept, left_out = [], []
    for change, found in zip(changes, hazards, strict=True):
        keep = []
        for hazard in found:
            reason = _ignored(rules, hazard.code, change)
            if reason is None:
                keep.append(hazard)
            else:
                left_out.append(f"{hazard.code} on {'.'.join(x for x in (change.table, change.column) if x)}: {reason}")
        kept.append(tuple(keep))
    return kept, sorted(set(left_out))
