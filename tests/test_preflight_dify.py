"""Issue 15's acceptance run: a "production" Dify database at 0.14.2 on a separate PostgreSQL
server, built by Dify's own migrations (the real clone at /work/dify/dify when present, else
the sample `difylike`, whose migrations follow the same revisions: d7999dfa4aae at 0.14.2,
then a91b476a53de's total_tokens rewrite), 500,000 rows in workflow_runs and an index made by
hand. `plan REPO 0.15.3 --database-url ... --calibrate` must find the deployed revision, show
the hand-made index as drift and put the total_tokens rewrite first; then the real upgrade
runs on that database, and its measured time must be within 2x of the estimate.

The machine's load moves both sides: the calibration is the last step of the plan and the
upgrade follows it at once (after a CHECKPOINT: the calibration's WAL is flushed before the
upgrade, as an operator's quiet server would have it), so both see the same load.
DIFY_CLONE names another Dify clone (a path without one: the sample).

Serial: the comparison of an estimate with a measured time wants the machine to itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from production import ProductionServer, fill_table, fingerprint, migrate
from modeldiff.plan.calibrate import cache_file
from modeldiff.replay.run import child_options, run_phase
from modeldiff.replay.setup import find_setup
from modeldiff.source.repository import Repository

pytestmark = [pytest.mark.slow, pytest.mark.serial]

DIFY = Path(os.environ.get("DIFY_CLONE", "/work/dify/dify"))
ROWS = 500_000
HAND_INDEX = "workflow_runs_created_at_by_hand"


@pytest.fixture(scope="module")
def dify(build_sample) -> tuple[str, str, str]:
    """(repo, FROM tag, TO tag)."""
    if (DIFY / ".git").exists() and {"0.14.2", "0.15.3"} <= set(Repository(str(DIFY)).tags()):
        return str(DIFY), "0.14.2", "0.15.3"
    return str(build_sample("difylike")), "v0.14.2", "v0.15.3"


@pytest.fixture(scope="module")
def production(dify):
    repo, from_tag, _ = dify
    server = ProductionServer().start()
    try:
        migrate(server, "dify", repo, from_tag)
        fill_table(server, "dify", "workflow_runs", ROWS)
        server.execute("dify", f"CREATE INDEX {HAND_INDEX} ON workflow_runs (created_at)", "ANALYZE workflow_runs")
        yield server
    finally:
        server.stop()


def _plan(repo: str, to_tag: str, url: str, *extra: str) -> dict:
    proc = run_cli("plan", repo, to_tag, "--database-url", url, "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["preflight"]


def _check_answer(checked: dict, from_tag: str) -> dict:
    assert checked["deployed"]["revisions"] == ["d7999dfa4aae"] and checked["deployed"]["from"] == from_tag
    (index,) = [d for d in checked["drift"] if d.get("name") == HAND_INDEX]
    assert index["kind"] == "add_index" and index["table"] == "workflow_runs" and index["affects_upgrade"]
    timeline = checked["timeline"]
    first = timeline["statements"][timeline["costliest"][0] - 1]
    assert first["sql"] == "ALTER TABLE workflow_runs ALTER COLUMN total_tokens TYPE BIGINT" and first["revision"] == "a91b476a53de"
    assert first["rewrites"] == ["workflow_runs"] and first["locks"]["workflow_runs"] == "AccessExclusiveLock"
    assert timeline["transaction_mode"] == "one" and checked["blocking"] == []
    assert timeline["tables"]["workflow_runs"]["unreadable_seconds"] >= first["seconds"] > 0
    assert checked["tables"]["workflow_runs"]["rows_estimate"] >= ROWS * 0.9
    return first


def test_plan_on_production_then_the_real_upgrade(production, dify, capsys):
    repo, from_tag, to_tag = dify
    # Read-only: a role that cannot write, and nothing in the database changed.
    before = fingerprint(production, "dify")
    checked = _plan(repo, to_tag, production.read_only_role("dify"))
    assert fingerprint(production, "dify") == before
    assert checked["throughput"]["source"] == "default"
    first = _check_answer(checked, from_tag)
    # The runbook's expand/backfill/switch, replayed before the chain, leaves the vendor's
    # ALTER nothing to rewrite.
    (verified,) = [s for s in checked["runbook"]["verification"]["statements"] if s["sql"] == first["sql"]]
    assert (verified["before"], verified["after"]) == ("rewrite", "catalog only")

    calibrated = _plan(repo, to_tag, production.url("dify"), "--calibrate", "--calibrate-size", "128")
    assert calibrated["throughput"]["source"] == "calibrated" and calibrated["throughput"]["calibration"]["rounds"] == 5
    first = _check_answer(calibrated, from_tag)
    assert calibrated["throughput"] in json.loads(cache_file().read_text()).values()  # remembered per server
    # The real upgrade, by the app's own migrations, on the production database.
    snapshot = Repository(repo).snapshot(to_tag)
    setup = find_setup(snapshot)
    url = production.url("dify").replace("postgresql://", "postgresql+psycopg2://")
    production.execute("dify", "CHECKPOINT")
    upgrade = run_phase(snapshot, setup, url, observe=True, options=child_options(dict(setup.settings), 900, None, {}))
    assert upgrade.error is None, upgrade.error
    (measured,) = [s["duration_ms"] / 1000 for s in upgrade.result["statements"] if s["sql"] == first["sql"]]
    ratio = measured / first["seconds"]
    with capsys.disabled():
        print(f"\n[issue 15] workflow_runs ({ROWS:,} rows, {checked['tables']['workflow_runs']['total_bytes'] / 2**20:.0f} MB): "
              f"total_tokens rewrite estimated {first['seconds']:.2f} s (range {first['range_seconds'][0]:.2f}-{first['range_seconds'][1]:.2f} s), "
              f"measured {measured:.2f} s, ratio {ratio:.2f}; whole upgrade estimated {calibrated['timeline']['total_seconds']:.2f} s, measured {upgrade.result['seconds']:.2f} s; "
              f"{repo} {from_tag}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    assert 0.5 <= ratio <= 2.0
    assert production.query("dify", "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'workflow_runs'::regclass AND attname = 'total_tokens'") == [("bigint",)]
