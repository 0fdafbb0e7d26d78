"""GitHub Actions workflow commands: one annotation per finding, on the model (or
migration) line that causes it: `::error file=api/models/x.py,line=12,title=...::MD102 ...`.
critical hazards are errors, warnings warnings, plain changes notices; ignored ones are not
annotated (the summary lists them)."""

from __future__ import annotations

_COMMANDS = {"critical": "error", "warning": "warning", "note": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding) -> str:
    path, line = finding.path_line
    props = []
    if path:
        props.append(f"file={_property(path)}")
        if line:
            props.append(f"line={line}")
    props.append(f"title={_property('modeldiff ' + (finding.code or 'change'))}")
    return f"::{_COMMANDS[finding.severity]} {','.join(props)}::{_data(finding.message)}"


def render_github(findings, headline: str, incomplete: str | None = None) -> str:
    """`incomplete`: why the answer is partial, an error annotation of its own."""
    lines = [annotation(f) for f in findings if not f.ignored]
    if incomplete:
        lines.append(f"::error title=modeldiff incomplete::{_data(incomplete)}")
    lines.append(_data(headline))
    return "\n".join(lines) + "\n"
