"""SARIF 2.1.0 for code scanning: one rule per hazard of the catalogue (with its help text),
one result per finding at its model or migration line; hazards the configuration ignores
are results with an external suppression and its reason."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
CHANGE_RULE = "schema-change"  # a change with no hazard: a note
_LEVELS = {"critical": "error", "warning": "warning", "note": "note"}


def _version() -> str:
    try:
        return version("modeldiff")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def rules() -> list[dict]:
    from ..plan.hazards import CATALOGUE

    out = []
    for code, h in sorted(CATALOGUE.items()):
        help_text = f"{h.what}\n\nWhy it hurts: {h.why}\n\nInstead: {h.fix}"
        rule = {
            "id": code,
            "name": "".join(part.capitalize() for part in h.name.split("-")),
            "shortDescription": {"text": h.title},
            "fullDescription": {"text": h.what},
            "help": {"text": help_text, "markdown": f"**{h.title}**\n\n{h.what}\n\n**Why it hurts:** {h.why}\n\n**Instead:** {h.fix}"},
            "defaultConfiguration": {"level": _LEVELS[h.severity]},
            "properties": {"tags": ["database", "migration", h.group], "precision": "high", "problem.severity": _LEVELS[h.severity]},
        }
        if h.references:
            rule["helpUri"] = h.references[0]
        out.append(rule)
    out.append(
        {
            "id": CHANGE_RULE,
            "name": "SchemaChange",
            "shortDescription": {"text": "A schema change without a known hazard"},
            "fullDescription": {"text": "The models change the database schema; modeldiff found no lock or rewrite hazard in it."},
            "help": {"text": "Review that the change is intended; `modeldiff plan` shows its SQL."},
            "defaultConfiguration": {"level": "note"},
        }
    )
    return out


def _result(finding, index: dict[str, int]) -> dict:
    rule = finding.code or CHANGE_RULE
    result = {"ruleId": rule, "ruleIndex": index[rule], "level": _LEVELS[finding.severity], "message": {"text": finding.message}}
    location: dict = {}
    path, line = finding.path_line
    if path:
        physical = {"artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"}}
        if line:
            physical["region"] = {"startLine": line}
        location["physicalLocation"] = physical
    subject = ".".join(x for x in (finding.table, finding.column) if x)
    if subject:
        location["logicalLocations"] = [{"fullyQualifiedName": subject, "kind": "member" if finding.column else "type"}]
    if location:
        result["locations"] = [location]
    key = "\0".join([rule, finding.table or "", finding.column or "", finding.message])
    result["partialFingerprints"] = {"modeldiffFinding/v1": hashlib.sha256(key.encode()).hexdigest()[:32]}
    if finding.ignored:
        result["suppressions"] = [{"kind": "external", "justification": finding.ignored}]
    return result


def render_sarif(findings, from_ref, to_ref, incomplete: str | None = None) -> str:
    """`incomplete`: why the answer is partial (the invocation then did not succeed)."""
    catalogue = rules()
    index = {rule["id"]: i for i, rule in enumerate(catalogue)}
    run = {
        "tool": {"driver": {"name": "modeldiff", "version": _version(), "informationUri": "https://pypi.org/project/modeldiff/", "rules": catalogue}},
        "automationDetails": {"id": f"modeldiff/{from_ref.ref}..{to_ref.ref}"},
        "invocations": [{"executionSuccessful": not incomplete, **({"toolExecutionNotifications": [{"level": "error", "message": {"text": incomplete}}]} if incomplete else {})}],
        "results": [_result(f, index) for f in findings],
        "properties": {"from": from_ref.to_json(), "to": to_ref.to_json()},
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2, ensure_ascii=False) + "\n"
