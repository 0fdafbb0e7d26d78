"""`plan` on the replay of the app's own migrations (issue 13): the steps are the statements
the upgrade sends, with what was observed, in execution order and by severity; the models
diff is drift; `--from-models` keeps the models-diff plan; a failing revision is the answer.
Also what the replay's observer records about locks and tables on partitioned and
schema-qualified tables.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from conftest import run_cli
from modeldiff.replay.child import Observer


@pytest.fixture(scope="module")
def shop(build_sample):
    return build_sample("alembicshop")


@pytest.fixture(scope="module")
def plan_v1_v2(shop) -> dict:
    proc = run_cli("plan", str(shop), "v1", "v2", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_steps_are_the_statements_the_upgrade_sends(plan_v1_v2):
    plan = plan_v1_v2
    assert plan["source"] == "migrations" and plan["complete"] and plan["transaction"] == "one"
    order = [r["revision"] for r in plan["revisions"]]
    assert sorted(order[:2]) == ["0003a", "0003b"] and order[2:] == ["0004", "0005", "0006"]
    # Most severe first: the raw-SQL type change observed rewriting orders.
    first = plan["steps"][0]
    assert first["sql"] == "ALTER TABLE orders ALTER COLUMN total TYPE bigint"
    assert first["revision"] == "0005" and first["location"] == "migrations/versions/0005_totals_and_names.py:18"
    assert first["rewrites"] == ["orders"] and [h["code"] for h in first["hazards"]] == ["MD102"]
    assert first["lock"]["mode"] == "ACCESS EXCLUSIVE" and first["lock"]["until_commit"]
    # Every statement is a step once, and each revision lists its own in execution order.
    positions = [p for r in plan["revisions"] for p in r["statements"]]
    assert positions == sorted(positions) and sorted(s["position"] for s in plan["steps"]) == positions


def test_data_statements_and_concurrent_index(plan_v1_v2):
    steps = plan_v1_v2["steps"]
    (backfill,) = [s for s in steps if s["kind"] == "data" and s["tables"] == ["customers"]]
    assert backfill["rows"] == 1 and backfill["data"].startswith("observed: 1 row(s)")
    assert any("data statement" in line for line in plan_v1_v2["summary"])
    (index,) = [s for s in steps if "CONCURRENTLY" in s["sql"]]
    assert index["autocommit"] and index["hazards"] == [] and index["lock"] is None


def test_models_diff_becomes_drift(plan_v1_v2):
    drift = plan_v1_v2["drift"]
    assert ("modify_type", "orders", "total") in {(c["kind"], c["table"], c.get("column")) for c in drift["models_only"]}
    made = plan_v1_v2["models_diff"]
    assert made["changes"] == made["made_by_migrations"] + len(made["not_made"])


def test_text_and_from_models(shop):
    text = run_cli("plan", str(shop), "v1", "v2")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].startswith("from the app's own migrations: 5 revisions")
    assert "The upgrade in execution order" in lines and "Drift" in lines
    models = run_cli("plan", str(shop), "v1", "v2", "--from-models", "--format", "json")
    assert models.returncode == 0 and json.loads(models.stdout)["source"] == "models"


def test_failing_revision_makes_the_plan_incomplete(shop, tmp_path):
    out = tmp_path / "plan.txt"
    proc = run_cli("plan", str(shop), "v2", "v3", "-o", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert proc.stdout.splitlines()[0].startswith("INCOMPLETE: revision 0007 failed at migrations/versions/0007_fails.py:17")
    assert "[FAILED]" in proc.stdout and "[NOT RUN]" in proc.stdout
    assert run_cli("plan", str(shop), "v2", "v3", "--keep-going").returncode == 0


def test_locks_and_tables_by_table_name(pg):
    """A partition's and an index's locks count for their table (no OIDs); a statement's
    tables come from schema-qualified names and from what it locked."""
    database = pg.create_database("observer")
    engine = sa.create_engine(pg.sqlalchemy_url(database), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for sql in (
            "CREATE TABLE events (id int, at date) PARTITION BY RANGE (at)",
            "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
            "CREATE INDEX events_2024_at_idx ON events_2024 (at)",
            "CREATE SCHEMA audit",
            "CREATE TABLE audit.log (id int, note text)",
            "CREATE TABLE parents (id int PRIMARY KEY)",
            "CREATE TABLE children (id int, parent_id int)",
        ):
            conn.exec_driver_sql(sql)
        conn.commit()
        observer = Observer(conn.connection.dbapi_connection, {}, {})
        event.listen(conn, "before_cursor_execute", observer.before)
        event.listen(conn, "after_cursor_execute", observer.after)
        conn.exec_driver_sql("ALTER INDEX events_2024_at_idx SET (fillfactor = 80)")
        conn.exec_driver_sql("UPDATE audit.log SET note = 'x'")
        conn.exec_driver_sql("ALTER TABLE children ADD CONSTRAINT children_parent_fkey FOREIGN KEY (parent_id) REFERENCES parents (id)")
        conn.rollback()
    index, update, fk = observer.statements
    assert index["tables"] == ["events"] and set(index["locks"]) == {"events"}
    assert update["tables"] == ["audit.log"] and update["locks"]["audit.log"] == "RowExclusiveLock"
    assert fk["tables"] == ["children", "parents"]
    assert all(isinstance(t, str) and not t.isdigit() for s in observer.statements for t in s["locks"])


def test_revision_drafts_only_what_the_chain_leaves_undone(shop, difylike, tmp_path):
    covered = run_cli("revision", str(difylike), "v0.15.3", "v1.0.0", "-o", str(tmp_path / "covered") + "/")
    assert covered.returncode == 0, covered.stderr
    assert "the draft is empty; no revision written" in covered.stderr
    assert not (tmp_path / "covered").exists() or not any((tmp_path / "covered").iterdir())
    left = run_cli("revision", str(shop), "v1", "v2", "--rev-id", "abc")
    assert left.returncode == 0, left.stderr
    assert "already run 5 revisions" in left.stderr and "the draft is only what they leave undone" in left.stderr
    assert "down_revision: Union[str, Sequence[str], None] = '0006'" in left.stdout
    # The models still say INTEGER; the chain made BIGINT: the remainder turns it back.
    assert "op.alter_column('orders', 'total'" in left.stdout
    whole = run_cli("revision", str(shop), "v1", "v2", "--rev-id", "abc", "--from-models")
    assert whole.returncode == 0 and "leave undone" not in whole.stdout and "already run" not in whole.stderr
