"""`modeldiff plan [FROM] TO --database-url` (issue 15): the pre-flight against a live database.

A separate PostgreSQL server (tests/production.py: the system's binaries, else a second
embedded server) plays production. Its databases are migrated by the sample app
`liveshop`'s own alembic migrations (v1), then given rows: `near` holds rows that come close
to each constraint v2 adds without breaking it, `bad` rows that break each one. Every
pre-flight reads through a role that can read everything and write nothing.
"""

from __future__ import annotations

import json

import psycopg2
import pytest

from conftest import git, run_cli
from production import ProductionServer, fingerprint, migrate
from modeldiff.plan.live import LiveFacts, ServerFacts, TableFacts
from modeldiff.plan.estimate import Throughput
from modeldiff.preflight.run import preflight
from modeldiff.preflight.timeline import timeline
from modeldiff.replay.run import child_options, run_phase
from modeldiff.replay.setup import find_setup
from modeldiff.source.repository import Repository

pytestmark = pytest.mark.slow

NEAR = [
    "INSERT INTO users (id, email, name, status) VALUES (1, '', 'ann', 'active'), (2, 'b@x', 'Ann', 'banned'), (3, 'c@x', NULL, NULL), (4, 'd@x', NULL, 'active')",
    "INSERT INTO orders (id, user_id, code, amount) VALUES (1, 1, repeat('x', 20), 0), (2, NULL, NULL, NULL), (3, 4, 'ok', 7)",
]
BAD = [
    "INSERT INTO users (id, email, name, status) VALUES (1, NULL, 'ann', 'legacy'), (2, 'b@x', 'ann', 'active'), (3, NULL, 'cy', NULL)",
    "INSERT INTO orders (id, user_id, code, amount) VALUES (1, 999, repeat('x', 21), -1), (2, 1, 'ok', 5)",
]
# check -> (violations in `bad`, the statement's line in 0002_tighten.py)
EXPECTED = {"not-null": (2, 17), "unique": (1, 18), "type-fit": (1, 19), "check": (1, 20), "foreign-key": (1, 21), "enum-labels": (1, 25)}


@pytest.fixture(scope="module")
def shop(build_sample) -> str:
    return str(build_sample("liveshop"))


@pytest.fixture(scope="module")
def production():
    server = ProductionServer().start()
    yield server
    server.stop()


def _database(production, shop, name: str, statements: list[str], ref: str = "v1") -> str:
    """A database migrated to `ref` by the app, then `statements`; the read-only URL."""
    migrate(production, name, shop, ref)
    production.execute(name, *statements, "VACUUM ANALYZE")
    return production.read_only_role(name)


@pytest.fixture(scope="module")
def near(production, shop):
    url = _database(production, shop, "near", NEAR)
    before = fingerprint(production, "near")
    out = preflight(shop, None, "v2", url)
    assert fingerprint(production, "near") == before
    return out


@pytest.fixture(scope="module")
def bad(production, shop):
    url = _database(production, shop, "bad", BAD)
    return preflight(shop, None, "v2", url)


def _check(out: dict, kind: str) -> dict:
    (found,) = [c for c in out["checks"] if c["check"] == kind]
    return found


def test_the_reader_role_cannot_write(production, near):
    conn = psycopg2.connect(production.read_only_role("near"))
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            conn.cursor().execute("INSERT INTO users (id, email) VALUES (100, 'x')")
    finally:
        conn.close()


def test_deployed_revision_is_found_and_mapped_to_its_tag(near):
    assert near["deployed"]["revisions"] == ["0001"]
    assert near["deployed"]["from"] == "v1" and near["to"]["heads"] == ["0002"]
    assert near["notes"] == []


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_data_precheck_fails_on_violating_rows(bad, kind):
    count, line = EXPECTED[kind]
    check = _check(bad, kind)
    assert check["verdict"] == "will fail" and check["violations"] == count
    assert check["location"] == f"migrations/versions/0002_tighten.py:{line}" and check["revision"] == "0002"
    assert check["message"].startswith(f"will fail: {count} ")
    assert any(b["location"] == check["location"] and b["kind"] == f"data-{kind}" for b in bad["blocking"])


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_data_precheck_passes_a_near_miss(near, kind):
    check = _check(near, kind)
    assert check["verdict"] == "passes" and check["violations"] == 0, check


def test_near_miss_database_has_no_blocking_finding(near, bad):
    assert near["blocking"] == [] and near["complete"]
    assert near["chain"]["complete"] and bad["chain"]["complete"]  # the copy holds no rows: only the live counts fail
    assert not near["drift"] and not bad["drift"]


def test_not_null_message_names_rows_table_and_column(bad):
    assert _check(bad, "not-null")["message"] == "will fail: 2 rows of users have NULL email"


def test_sampled_checks_read_a_tablesample(production, shop):
    url = _database(production, shop, "sampled", BAD)
    out = preflight(shop, "v1", "v2", url, sample=100)
    check = _check(out, "not-null")
    assert "TABLESAMPLE SYSTEM (100" in check["query"] and check["violations"] == 2
    assert check["message"] == "will fail: at least 2 rows of users have NULL email"


def test_hand_made_column_is_drift_that_blocks_the_upgrade(production, shop):
    url = _database(production, shop, "drifted", ["ALTER TABLE users ADD COLUMN phone varchar(32)"])
    out = preflight(shop, None, "v2", url)
    (column,) = [d for d in out["drift"] if d["kind"] == "add_column"]
    assert column["table"] == "users" and column["column"] == "phone" and column["affects_upgrade"]
    first = out["blocking"][0]
    assert first["kind"] == "upgrade-fails" and first["revision"] == "0002"
    assert first["location"] == "migrations/versions/0002_tighten.py:16"
    assert "already exists" in first["message"] and "drift causes this" in first["message"]
    assert out["chain_on_expected_schema"] == "runs" and not out["complete"]


@pytest.mark.parametrize("revision, says", [("0003", "which is newer than v2 (in v3): that would be a downgrade"), ("feedc0ffee00", "which no commit of this repository defines")])
def test_database_at_a_revision_not_below_to_is_refused(production, shop, revision, says):
    name = f"at_{revision}"
    url = _database(production, shop, name, [f"UPDATE alembic_version SET version_num = '{revision}'"])
    proc = run_cli("plan", shop, "v2", "--database-url", url)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"modeldiff: error: the database is at revision {revision}, {says}") and "refusing to plan an upgrade to v2" in line


HOTFIX = """\"\"\"hotfix on a maintenance branch: never merged into v2

Revision ID: 0002hotfix
Revises: 0001
\"\"\"
import sqlalchemy as sa
from alembic import op

revision = "0002hotfix"
down_revision = "0001"


def upgrade():
    op.add_column("users", sa.Column("legacy_id", sa.Integer(), nullable=True))
"""


def test_database_on_a_diverged_branch_is_refused(production, shop, tmp_path):
    """The database runs a revision of a maintenance branch that forked from v1 and was never
    merged: it is in the repository, but not below v2's heads."""
    repo = tmp_path / "shop"
    git(tmp_path, "clone", "-q", shop, str(repo))
    git(repo, "checkout", "-q", "-b", "maintenance", "v1")
    (repo / "migrations/versions/0002_hotfix.py").write_text(HOTFIX)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "hotfix")
    git(repo, "tag", "v1-hotfix")
    url = _database(production, str(repo), "at_hotfix", [], ref="v1-hotfix")
    assert production.query("at_hotfix", "SELECT version_num FROM alembic_version") == [("0002hotfix",)]
    proc = run_cli("plan", str(repo), "v2", "--database-url", url)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line == ("modeldiff: error: the database is at revision 0002hotfix, which is not an ancestor of v2's heads: "
                    "it comes from another branch (in v1-hotfix); refusing to plan an upgrade to v2")


def test_from_that_disagrees_with_the_database_is_said(production, shop, near):
    url = production.read_only_role("near")
    out = preflight(shop, "v2", "v3", url)
    assert out["notes"] == ["FROM v2 has heads 0002, but the database is at 0001: the upgrade runs from the database's revision; drift is measured against v2's schema"]
    # The chain still starts at the database's revision: 0002 and 0003 both run on the copy.
    assert [r["revision"] for r in out["chain"]["revisions"]] == ["0002", "0003"]


def _facts(name: str, heap: int, rows: float, columns: dict) -> TableFacts:
    return TableFacts(name, heap, heap, 0, heap, rows, [], [], columns)


def test_one_transaction_holds_an_early_brief_lock_until_the_final_commit(near):
    """users is only touched by cheap statements at the start, but in one transaction its
    ACCESS EXCLUSIVE lock lasts through the 1 GB rewrite of orders at the end."""
    live = LiveFacts(ServerFacts(150000, "15", "k", "near"), {
        "users": _facts("users", 1 << 20, 10_000, {}),
        "orders": _facts("orders", 1 << 30, 10_000_000, {}),
    })
    tp = Throughput(rewrite=100 << 20, scan=200 << 20, index=50 << 20)
    revisions = near["chain"]["revisions"]
    one = timeline(revisions, live, tp, {"users", "orders"}, lambda sql: None, "one")
    users, orders = one["tables"]["users"], one["tables"]["orders"]
    first_users = next(s for s in one["statements"] if "users" in s["locks"])
    assert first_users["order"] == 1 and first_users["seconds"] == 0  # ADD COLUMN: catalog only
    assert users["unreadable_seconds"] == pytest.approx(one["total_seconds"]) and one["total_seconds"] > 20
    assert users["held_until_commit_of"] == [1]
    # The same statements each committed on their own (each holding only the locks on the
    # tables it names): users is blocked only while its own statements run, not during
    # orders' rewrites.
    alone = [{**r, "statements": [{**s, "transaction": None, "locks": {t: m for t, m in s["locks"].items() if t in s["tables"]}} for s in r["statements"]]} for r in revisions]
    each = timeline(alone, live, tp, {"users", "orders"}, lambda sql: None, "per-statement")
    assert each["tables"]["users"]["unreadable_seconds"] < one["tables"]["users"]["unreadable_seconds"] / 5
    assert orders["unreadable_seconds"] == pytest.approx(one["total_seconds"] - next(s for s in one["statements"] if "orders" in s["locks"])["start_seconds"])


def test_cli_plan_without_from_prints_the_preflight_first(production, shop, bad):
    url = production.read_only_role("bad")
    proc = run_cli("plan", shop, "v2", "--database-url", url, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["preflight"]["deployed"]["from"] == "v1"
    assert [b["kind"] for b in data["preflight"]["blocking"]] == [f"data-{k}" for k in ("not-null", "unique", "type-fit", "check", "foreign-key", "enum-labels")]
    text = run_cli("plan", shop, "v2", "--database-url", url)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("pre-flight BLOCKED: the upgrade will fail: v1 (deployed revision 0001) → v2")
    assert "will fail: 2 rows of users have NULL email" in text.stdout


def test_runbook_pre_steps_make_the_costly_statements_catalog_only(near):
    runbook = near["runbook"]
    kinds = {(s["kind"], s["table"]) for s in runbook["steps"]}
    assert ("not-null-by-check", "users") in kinds and ("expand-backfill-switch", "orders") in kinds
    check = runbook["verification"]
    assert check["pre_steps_failed"] is None and check["chain_error"] is None
    effect = {" ".join(s["sql"].split()): (s["before"], s["after"]) for s in check["statements"]}
    assert effect["ALTER TABLE users ALTER COLUMN email SET NOT NULL"] == ("scan", "catalog only")
    assert effect["ALTER TABLE orders ALTER COLUMN code TYPE VARCHAR(20)"] == ("rewrite", "catalog only")
    # amount already bigint: no rewrite; the CHECK (amount >= 0) the chain added just before
    # depends on the column, and PostgreSQL re-checks it: a scan instead of a copy.
    assert effect["ALTER TABLE orders ALTER COLUMN amount TYPE BIGINT"] == ("rewrite", "scan")
    # No pre-step for the enum's USING conversion: it still rewrites users.
    assert effect["ALTER TABLE users ALTER COLUMN status TYPE user_status USING status::text::user_status"] == ("rewrite", "rewrite")


# statement -> (pre-step kind, what the vendor's statement does as is once the pre-step ran)
LEFT_OUT = {
    "CREATE UNIQUE INDEX users_name_key ON users (name)": ("index-concurrently", 'fails: relation "users_name_key" already exists'),
    "ALTER TABLE orders ADD CONSTRAINT orders_amount_nonnegative CHECK (amount >= 0)": ("check-not-valid", 'fails: constraint "orders_amount_nonnegative" for relation "orders" already exists'),
    "ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY(user_id) REFERENCES users (id)": ("foreign-key-not-valid", 'fails: constraint "orders_user_id_fkey" for relation "orders" already exists'),
}


@pytest.mark.parametrize("sql", sorted(LEFT_OUT))
def test_runbook_builds_index_check_and_foreign_key_online_and_leaves_the_vendors_statement_out(near, sql):
    """A plain CREATE INDEX and ADD CONSTRAINT have no IF NOT EXISTS: after the online pre-step
    the vendor's statement fails (shown by trying it on the replayed copy), so the runbook
    leaves it out, and the chain then runs to the end on the copy."""
    kind, as_is = LEFT_OUT[sql]
    runbook = near["runbook"]
    (order,) = [s["order"] for s in near["timeline"]["statements"] if " ".join(s["sql"].split()) == sql]
    (step,) = [s for s in runbook["steps"] if s["for"] == order]
    assert step["kind"] == kind and step["leave_out"] is True
    assert "CONCURRENTLY" in step["sql"][0] if kind == "index-concurrently" else (step["sql"][0].endswith(" NOT VALID") and "VALIDATE CONSTRAINT" in step["sql"][1])
    (verified,) = [s for s in runbook["verification"]["statements"] if s["order"] == order]
    assert (verified["before"], verified["after"], verified["as_is"]) == ("scan", "left out", as_is)
    assert runbook["verification"]["chain_error"] is None


def test_runbook_markdown_says_which_statements_to_leave_out(near):
    from modeldiff.preflight.render import render_markdown

    md = render_markdown(near)
    assert md.count("then leave statement ") == len(LEFT_OUT)
    assert "statement 3 `CREATE UNIQUE INDEX users_name_key ON users (name)`: scan → left out (as is, after the pre-steps, it fails: relation \"users_name_key\" already exists)" in md


def test_runbook_switch_keeps_the_constraints_on_the_column_it_replaces(near):
    """The expand/switch of orders.amount drops the old column, and with it the CHECK a
    pre-step made on it: the switches run first, so the CHECK is made on the new column."""
    kinds = [s["kind"] for s in near["runbook"]["steps"]]
    assert kinds.index("check-not-valid") > max(i for i, k in enumerate(kinds) if k == "expand-backfill-switch")


def test_runbook_pre_steps_run_on_the_live_rows(production, shop, near):
    """The pre-steps' SQL, run for real on a copy of the production database with rows,
    leaves the columns the migration wants and the rows intact; the vendor's upgrade then
    passes on it."""
    production.execute("postgres", "CREATE DATABASE near_steps TEMPLATE near")
    conn = psycopg2.connect(production.url("near_steps"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for step in near["runbook"]["steps"]:
                for sql in step["sql"]:
                    cur.execute(sql)
            cur.execute("SELECT id, amount, code FROM orders ORDER BY id")
            assert cur.fetchall() == [(1, 0, "x" * 20), (2, None, None), (3, 7, "ok")]
            cur.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname IN ('amount', 'code') ORDER BY attname")
            assert cur.fetchall() == [("bigint",), ("character varying(20)",)]
    finally:
        conn.close()
    # Then the vendor's upgrade, with the statements the runbook says to leave out left out.
    snapshot = Repository(shop).snapshot("v2")
    setup = find_setup(snapshot)
    left_out = tuple(s["sql"] for s in near["timeline"]["statements"] if s["order"] in {step["for"] for step in near["runbook"]["steps"] if step["leave_out"]})
    url = production.url("near_steps").replace("postgresql://", "postgresql+psycopg2://")
    upgrade = run_phase(snapshot, setup, url, observe=False, options=child_options(dict(setup.settings), 300, None, {}), leave_out=left_out)
    assert upgrade.error is None and len(left_out) == 3
    assert production.query("near_steps", "SELECT version_num FROM alembic_version") == [("0002",)]
    assert production.query("near_steps", "SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype IN ('c', 'f') ORDER BY 1") == [
        ("orders_amount_nonnegative", "c", True), ("orders_user_id_fkey", "f", True)]
    assert production.query("near_steps", "SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = 'users_name_key'::regclass") == [(True, True)]


def test_a_data_statement_is_costed_from_the_rows_the_live_planner_expects(near):
    (update,) = [s for s in near["timeline"]["statements"] if s["kind"] == "data"]
    assert update["sql"] == "UPDATE orders SET note = 'migrated' WHERE note IS NULL"
    assert update["formula"].startswith("3 rows (live planner's estimate) × ")
    assert update["seconds"] > 0 and update["locks"]["orders"] == "AccessExclusiveLock"


def test_switch_re_adds_a_check_the_live_column_has(production, shop):
    """A CHECK on orders.code made by hand in production goes with the old column when the
    switch drops it: the swap adds it again NOT VALID, validated after; run for real on the
    production rows, the constraint is there, validated."""
    url = _database(production, shop, "code_check", [*NEAR, "ALTER TABLE orders ADD CONSTRAINT orders_code_not_blank CHECK (code <> '')"])
    out = preflight(shop, None, "v2", url)
    (switch,) = [s for s in out["runbook"]["steps"] if s["kind"] == "expand-backfill-switch" and "code__md_new" in s["sql"][0]]
    assert "ALTER TABLE orders ADD CONSTRAINT orders_code_not_blank CHECK (((code)::text <> ''::text)) NOT VALID" in switch["sql"]
    assert switch["sql"][-1] == "ALTER TABLE orders VALIDATE CONSTRAINT orders_code_not_blank"
    assert out["runbook"]["verification"]["pre_steps_failed"] is None and out["runbook"]["verification"]["chain_error"] is None
    production.execute("code_check", *(sql for step in out["runbook"]["steps"] for sql in step["sql"]))
    assert production.query("code_check", "SELECT convalidated, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'orders_code_not_blank'") == [
        (True, "CHECK (((code)::text <> ''::text))")]


def test_a_version_table_of_the_apps_own_is_read_and_replayed(production, shop, tmp_path):
    """env.py keeps the revision in `shop_version`: the pre-flight reads it there, the chain
    replays from it on the copy, and the table is no drift."""
    repo = tmp_path / "shop"
    git(tmp_path, "clone", "-q", shop, str(repo))
    env = repo / "migrations/env.py"
    env.write_text(env.read_text().replace("target_metadata=Base.metadata)", 'target_metadata=Base.metadata, version_table="shop_version")'))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "own version table")
    git(repo, "tag", "v3.1")
    url = _database(production, str(repo), "own_version", [*NEAR, "ALTER TABLE alembic_version RENAME TO shop_version"])
    out = preflight(str(repo), None, "v3.1", url)
    assert out["deployed"]["version_table"] == "shop_version" and out["deployed"]["revisions"] == ["0001"] and out["deployed"]["from"] == "v1"
    assert [r["revision"] for r in out["chain"]["revisions"]] == ["0002", "0003"] and out["chain"]["error"] is None
    assert out["drift"] == [] and out["blocking"] == []


def test_a_database_never_migrated_with_alembic(production, shop):
    """No version table: without FROM, one line and exit 2; with FROM, the plan rests on the
    models alone and says first that the pre-flight did not run."""
    url = _database(production, shop, "unmigrated", ["DROP TABLE alembic_version"])
    proc = run_cli("plan", shop, "v2", "--database-url", url)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["modeldiff: error: the database has no alembic_version table: it was never migrated with alembic (or the app keeps its version elsewhere)"]
    given = run_cli("plan", shop, "v1", "v2", "--database-url", url)
    assert given.returncode == 0, given.stderr
    assert given.stdout.splitlines()[0] == "pre-flight not run: the database has no alembic_version table: it was never migrated with alembic (or the app keeps its version elsewhere)"
