"""Golden outputs: what modeldiff prints for the sample repositories, byte for byte.

diff (text, JSON, SQL in each dialect and back down), plan (text, JSON, Markdown), history
(Markdown, JSON) and revision files (plain and --online) for sample_repos/, compared with
tests/golden/. A refactor that changes one byte of them fails here and shows the lines; when
the change is meant, rewrite the files and let the commit show what changed:

    MODELDIFF_UPDATE_GOLDEN=1 scripts/test tests/test_golden.py

The samples' commits have fixed authors and dates (sample_repos/build.py), revisions get a
fixed id and create date, and no output names a temp path or a time, so a golden file is
the same on every machine and every run.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import build_samples
from modeldiff.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("MODELDIFF_UPDATE_GOLDEN") == "1"
REVISION = ("--rev-id", "0123456789ab", "--create-date", "2025-01-01T00:00:00")
DIFY_PAIRS = [("v0.14.2", "v0.15.3"), ("v0.15.3", "v1.0.0")]
OTHER_PAIRS = [("flaskbinds", "v1.0", "v1.1"), ("typed20", "v1", "v2"), ("classical", "r1", "r2"), ("fragile", "v1", "v4"), ("catalogshop", "v1.0", "v1.1")]


def _cases() -> dict[str, tuple[str, ...]]:
    """Golden file (relative to tests/golden/) -> the command line that prints it ({repo}: the
    sample named by the file's directory). A name ending in / is a directory written by -o.
    Every pair gets diff text/JSON/SQL and a plan; the difylike pairs get every format."""
    cases: dict[str, tuple[str, ...]] = {}
    for a, b in DIFY_PAIRS:
        pair = f"difylike/{a}_{b}"
        cases[f"{pair}/plan.txt"] = ("plan", "{repo}", a, b)
        cases[f"{pair}/plan.json"] = ("plan", "{repo}", a, b, "--format", "json")
        cases[f"{pair}/plan.pg10.json"] = ("plan", "{repo}", a, b, "--format", "json", "--pg-version", "10")
        cases[f"{pair}/revision.py"] = ("revision", "{repo}", a, b, *REVISION, "--from-models")
    richest = "difylike/v0.15.3_v1.0.0"  # every change kind of the sample
    for dialect in ("mysql", "sqlite"):
        cases[f"{richest}/diff.{dialect}.sql"] = ("diff", "{repo}", "v0.15.3", "v1.0.0", "--format", "sql", "--dialect", dialect)
    cases[f"{richest}/diff.postgresql.downgrade.sql"] = ("diff", "{repo}", "v0.15.3", "v1.0.0", "--format", "sql", "--downgrade")
    rewrite = "difylike/v0.14.2_v0.15.3"  # INTEGER -> BIGINT: the online form writes a plan file
    cases[f"{rewrite}/revision-online/"] = ("revision", "{repo}", "v0.14.2", "v0.15.3", *REVISION, "--from-models", "--online", "-o", "{out}")
    # What the app's own migrations v0.14.2 -> v0.15.3 leave undone (its chain is replayed).
    cases[f"{rewrite}/revision-remainder.py"] = ("revision", "{repo}", "v0.14.2", "v0.15.3", *REVISION)
    cases["difylike/history.md"] = ("history", "{repo}", "--tags", "v*", "--format", "markdown")
    cases["difylike/history.json"] = ("history", "{repo}", "--tags", "v*", "--format", "json")
    cases["difylike/history.txt"] = ("history", "{repo}", "--tags", "v*")
    for name, a, b in [("difylike", *pair) for pair in DIFY_PAIRS] + OTHER_PAIRS:
        pair = f"{name}/{a}_{b}"
        cases[f"{pair}/diff.txt"] = ("diff", "{repo}", a, b)
        cases[f"{pair}/diff.json"] = ("diff", "{repo}", a, b, "--format", "json")
        cases[f"{pair}/diff.postgresql.sql"] = ("diff", "{repo}", a, b, "--format", "sql")
        cases[f"{pair}/plan.md"] = ("plan", "{repo}", a, b, "--format", "markdown")
    cases["catalogshop/v1.0_v1.1/revision.py"] = ("revision", "{repo}", "v1.0", "v1.1", *REVISION)
    return cases


CASES = _cases()
# SQL and revisions take a second comparison (and a round trip for --online): several seconds each.
SLOW = {name for name, args in CASES.items() if args[0] == "revision" or "sql" in args}


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, Path]:
    return build_samples(tmp_path_factory.mktemp("golden-samples"), ["difylike", *(name for name, *_ in OTHER_PAIRS)])


@pytest.fixture
def plain_terminal(monkeypatch):
    """Nothing in the environment may colour or re-wrap the output (rich reads these)."""
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "MODELDIFF_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def _run(args: tuple[str, ...], repo: Path, out: Path) -> dict[str, bytes]:
    """The files the command line produces: its stdout, or the directory it wrote."""
    argv = [arg.replace("{repo}", str(repo)).replace("{out}", f"{out}/") for arg in args]
    out.mkdir()
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert result.exit_code == 0, (argv, result.stderr)
    if "{out}" not in args:
        return {"": result.stdout_bytes}
    assert result.stdout_bytes == b""
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def _compare(name: str, actual: bytes, expected_path: Path) -> str | None:
    if not expected_path.exists():
        return f"{name}: no golden file (write it: MODELDIFF_UPDATE_GOLDEN=1 scripts/test tests/test_golden.py)"
    expected = expected_path.read_bytes()
    if actual == expected:
        return None
    lines = difflib.unified_diff(
        expected.decode(errors="replace").splitlines(keepends=True),
        actual.decode(errors="replace").splitlines(keepends=True),
        f"golden/{name}",
        "now",
    )
    return f"{name} differs from its golden file:\n" + "".join(lines)


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in sorted(CASES)])
def test_output_matches_its_golden_file(name, samples, tmp_path, plain_terminal):
    sample = name.split("/", 1)[0]
    produced = _run(CASES[name], samples[sample], tmp_path / "out")
    target = GOLDEN / name
    if UPDATE:
        if name.endswith("/"):
            if target.exists():
                for old in target.iterdir():
                    old.unlink()
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        for file, content in produced.items():
            (target / file if file else target).write_bytes(content)
    if name.endswith("/") and target.is_dir():
        assert sorted(p.name for p in target.iterdir()) == sorted(produced), f"{name}: other files than the golden ones"
    problems = [_compare(name + file, content, target / file if file else target) for file, content in produced.items()]
    problems = [p for p in problems if p]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_every_golden_file_belongs_to_a_case():
    """A golden file no case writes any more would silently stop being checked."""
    owned = {GOLDEN / name for name in CASES}
    stale = sorted(
        str(path.relative_to(GOLDEN))
        for path in GOLDEN.rglob("*")
        if path.is_file() and path not in owned and path.parent not in owned
    )
    if UPDATE:
        for name in stale:
            (GOLDEN / name).unlink()
        stale = []
    assert stale == [], "golden files no case writes (remove them, or MODELDIFF_UPDATE_GOLDEN=1 does)"
