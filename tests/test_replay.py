"""`modeldiff migrations` (issue 13): the app's own alembic chain replayed and observed.

The sample `alembicshop` (sample_repos/alembicshop) is a plain alembic app whose env.py needs
the whole app (never run): v1 -> v2 has a branch and its merge, raw `op.execute` SQL (a type
change that rewrites `orders`), a per-row Python data migration, a config branch and a
CONCURRENTLY index in an autocommit block; v3 adds a revision that fails; v4 one that tries
to leave the sandbox; v5 switches env.py to one transaction per migration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_repo, run_cli
from modeldiff.db.server import shared_server
from modeldiff.db.tempdirs import scratch_base
from modeldiff.replay.child import kind_of
from modeldiff.replay.run import migrations
from modeldiff.replay.setup import find_setup
from modeldiff.source.repository import Repository


@pytest.fixture(scope="module", autouse=True)
def one_server():
    """The shared server, held for the whole module: each replay attaches to it instead of
    starting and stopping one of its own."""
    with shared_server() as server:
        yield server


@pytest.fixture(scope="module")
def shop(build_sample) -> Path:
    return build_sample("alembicshop")


@pytest.fixture(scope="module")
def v1_v2(shop) -> dict:
    return migrations(str(shop), "v1", "v2")


def _statements(report: dict, revision: str) -> list[dict]:
    return next(r for r in report["revisions"] if r["revision"] == revision)["statements"]


def test_chain_runs_branches_before_their_merge(v1_v2):
    order = [r["revision"] for r in v1_v2["revisions"]]
    assert sorted(order[:2]) == ["0003a", "0003b"]
    assert order[2:] == ["0004", "0005", "0006"]
    assert v1_v2["from"]["heads"] == ["0002"] and v1_v2["to"]["heads"] == ["0006"]
    assert all(r["status"] == "ran" for r in v1_v2["revisions"])
    merge = next(r for r in v1_v2["revisions"] if r["revision"] == "0004")
    assert merge["down_revision"] == ["0003a", "0003b"] and merge["statements"] == []
    assert v1_v2["complete"] and v1_v2["error"] is None


def test_one_transaction_accumulates_locks_until_commit(v1_v2):
    assert v1_v2["transaction"] == "one"
    phone = _statements(v1_v2, "0003b")[0]
    rewrite = _statements(v1_v2, "0005")[0]
    assert phone["transaction"] == rewrite["transaction"] is not None
    # The lock 0003b took on customers is still held when 0005 rewrites orders.
    assert rewrite["locks"]["customers"] == "AccessExclusiveLock"
    assert rewrite["locks"]["orders"] == "AccessExclusiveLock"


def test_raw_sql_rewrite_is_observed(v1_v2):
    alter, status = _statements(v1_v2, "0005")[:2]
    assert alter["sql"] == "ALTER TABLE orders ALTER COLUMN total TYPE bigint"
    assert alter["kind"] == "ddl" and alter["rewrites"] == ["orders"]
    assert alter["location"] == "migrations/versions/0005_totals_and_names.py:18"
    assert [h["code"] for h in alter["hazards"]] == ["MD102"]
    # The 2 orders of the init migration; seeded rows fill every column, status included.
    assert status["kind"] == "data" and status["rows"] == 2 and status["tables"] == ["orders"]
    # Adding a nullable column changes the catalog only: no rewrite.
    assert _statements(v1_v2, "0003a")[0]["rewrites"] == []


def test_not_null_scans_under_access_exclusive(v1_v2):
    (not_null,) = [s for s in _statements(v1_v2, "0005") if "SET NOT NULL" in s["sql"]]
    assert not_null["scanned"] == ["orders"] and not_null["rewrites"] == []
    assert [h["code"] for h in not_null["hazards"]] == ["MD103"]


def test_per_row_python_data_migration_runs_on_seeded_rows(v1_v2):
    assert v1_v2["seeded"] == {"customers": 3, "orders": 3}
    updates = [s for s in _statements(v1_v2, "0005") if s["kind"] == "data" and s["tables"] == ["customers"]]
    # One row per customer without a name: bob (from the init migration) and none of the
    # seeded ones (they have names), so exactly one UPDATE.
    assert len(updates) == 1
    assert updates[0]["rows"] == 1 and updates[0]["location"] == "migrations/versions/0005_totals_and_names.py:26"
    assert "bob" in updates[0]["parameters"]
    assert updates[0]["hazards"][0]["name"] == "data-statement"


def test_concurrent_index_runs_in_autocommit(v1_v2):
    (index,) = [s for s in _statements(v1_v2, "0006") if s["kind"] == "ddl"]
    assert index["sql"].startswith("CREATE INDEX CONCURRENTLY customers_name_idx")
    assert index["autocommit"] and index["transaction"] is None and index["locks"] == {}


def test_config_values_scripts_branch_on(shop, v1_v2):
    def indexes(report):
        return [s["sql"] for s in _statements(report, "0005") if s["sql"].startswith("CREATE INDEX")]

    assert indexes(v1_v2) == []
    with_pg = migrations(str(shop), "v1", "v2", settings={"shop.config.settings.DB_TYPE": "postgresql"})
    assert indexes(with_pg) == ["CREATE INDEX customers_email_lower_idx ON customers (lower(email))"]


def test_one_transaction_per_migration(shop):
    report = migrations(str(shop), "v4", "v5")
    assert report["transaction"] == "per-migration"
    paid, vip = _statements(report, "0008")[0], _statements(report, "0009")[0]
    assert paid["transaction"] != vip["transaction"]
    assert "orders" not in vip["locks"]  # released at the end of 0008
    # Only the chain's scripts are loaded; the 8 the database already has are stand-ins.
    assert report["timing"]["chain_scripts_loaded"] == 2


def test_failing_revision_is_the_answer(shop, tmp_path):
    out = tmp_path / "report.json"
    proc = run_cli("migrations", str(shop), "v2", "v3", "--format", "json", "-o", str(out))
    text = run_cli("migrations", str(shop), "v2", "v3", "--keep-going")
    assert proc.returncode == 2
    assert not out.exists()  # no partial file
    report = json.loads(proc.stdout)
    assert not report["complete"]
    failed, after = report["revisions"]
    assert failed["status"] == "failed" and after["status"] == "not run"
    assert failed["error"]["location"] == "migrations/versions/0007_fails.py:17"
    assert 'relation "invoices" does not exist' in failed["error"]["message"]
    assert "0007_fails.py:17" in proc.stderr.splitlines()[-1]
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].startswith("INCOMPLETE: revision 0007 failed at migrations/versions/0007_fails.py:17")


def test_scripts_reach_only_their_scratch_database(shop, tmp_path):
    report = migrations(str(shop), "v2", "v4")
    outcomes = {}
    for statement in _statements(report, "0007e"):
        if statement["sql"].startswith("INSERT INTO escape_log"):
            outcomes[statement["parameters"].split("'what': '")[1].split("'")[0]] = statement["parameters"]
    assert set(outcomes) == {"write", "tcp", "database", "program"}
    assert not any("'done'" in p for p in outcomes.values())
    codes = {w["code"] for w in report["warnings"] if w["ref"] == "v4"}
    assert {"blocked-write", "blocked-network", "blocked-database"} <= codes
    program = [s for s in _statements(report, "0007e") if "TO PROGRAM" in s["sql"]]
    assert program[0]["error"].startswith("InsufficientPrivilege")  # the replay's role is no superuser
    assert not (Path(scratch_base()) / "escaped.txt").exists()


def test_setup_detection(shop, difylike):
    repo = Repository(str(shop))
    v4, v5 = find_setup(repo.snapshot("v4")), find_setup(repo.snapshot("v5"))
    assert v4.script_location == "migrations" and v4.versions == ("migrations/versions",)
    assert v4.import_root == "" and v4.found_by == "alembic.ini"
    assert (v4.transaction, v5.transaction) == ("one", "per-migration")
    dify = find_setup(Repository(str(difylike)).snapshot("v0.15.3"))
    assert dify.versions == ("api/migrations/versions",) and dify.import_root == "api"
    assert dict(dify.settings) == {"configs.dify_config.DB_TYPE": "postgresql"}


@pytest.mark.parametrize(
    "sql, kind",
    [
        ("ALTER TABLE t ADD COLUMN c int", "ddl"),
        ("  -- note\nUPDATE t SET c = 1", "data"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "data"),
        ("SELECT 1", "read"),
        ("SAVEPOINT s", "other"),
    ],
)
def test_statement_kinds(sql, kind):
    assert kind_of(sql) == kind


def test_drift_between_models_and_migrations(v1_v2):
    drift = v1_v2["drift"]
    models_only = {(c["kind"], c["table"], c.get("column")) for c in drift["models_only"]}
    migrations_only = {(c["kind"], c["table"], c.get("column") or c.get("name")) for c in drift["migrations_only"]}
    # The models still say INTEGER and nullable; the migrations made BIGINT and NOT NULL.
    assert ("modify_type", "orders", "total") in models_only
    assert ("modify_nullable", "orders", "status") in models_only
    # Columns and indexes the migrations made that v2's models never declared.
    assert {("remove_column", "customers", "phone"), ("remove_column", "orders", "note"), ("remove_index", "customers", "customers_name_idx")} <= migrations_only
    assert not any(c["table"] == "alembic_version" for c in drift["models_only"] + drift["migrations_only"])
    # At FROM: v1's models lack the index its migration 0002 makes.
    assert [(c["kind"], c["name"]) for c in v1_v2["drift_from"]["migrations_only"]] == [("remove_index", "orders_status_idx")]
    assert v1_v2["drift_from"]["models_only"] == []


def test_lock_timeline(v1_v2):
    (first, *rest) = v1_v2["transactions"]
    assert first["revisions"] == [r["revision"] for r in v1_v2["revisions"]][:2] + ["0005"]
    assert first["locks_at_end"] == {"customers": "AccessExclusiveLock", "orders": "AccessExclusiveLock"}


def test_renderings(v1_v2):
    from modeldiff.replay.render import render_markdown, render_text

    text = render_text(v1_v2)
    assert text.startswith("modeldiff migrations: v1 (")
    assert "rewrites orders; holds customers ACCESS EXCLUSIVE, orders ACCESS EXCLUSIVE" in text
    markdown = render_markdown(v1_v2)
    assert "| `ALTER TABLE orders ALTER COLUMN total TYPE bigint` | 0005_totals_and_names.py:18 |" in markdown


def test_same_statements_as_alembics_own_upgrade(shop, tmp_path, monkeypatch, pg):
    """alembic's `command.upgrade` on the same scripts (extracted at each ref, trusted here:
    they are our sample's) sends the DDL and data statements the replay reports, in order."""
    import subprocess
    import sys

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from modeldiff.replay.run import child_options, replay

    def extract(ref: str) -> Path:
        target = tmp_path / ref
        target.mkdir()
        archive = subprocess.run(["git", "-C", str(shop), "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        env = target / "plain_env"
        env.mkdir()
        # env.py of the cookbook: the connection is handed in; the app's own env needs Flask.
        (env / "env.py").write_text(
            "from alembic import context\n"
            "connection = context.config.attributes['connection']\n"
            "context.configure(connection=connection, target_metadata=None)\n"
            "with context.begin_transaction():\n"
            "    context.run_migrations()\n"
        )
        return target

    settings = tmp_path / "settings.cfg"
    settings.write_text("")
    monkeypatch.setenv("SHOP_SETTINGS", str(settings))  # the app's package needs its config
    server = pg  # a private server: the commands of other tests may stop the shared one
    database = server.create_database("alembic")
    engine = sa.create_engine(server.sqlalchemy_url(database), poolclass=sa.pool.NullPool)
    sent: list[str] = []
    for ref in ("v1", "v2"):
        root = extract(ref)
        config = Config()
        config.set_main_option("script_location", str(root / "plain_env"))
        config.set_main_option("version_locations", str(root / "migrations" / "versions"))
        monkeypatch.setattr(sys, "path", [str(root), *sys.path])
        for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
            monkeypatch.delitem(sys.modules, name)
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            if ref == "v2":
                sa.event.listen(connection, "before_cursor_execute", lambda c, cur, statement, *a: sent.append(statement.strip()))
            command.upgrade(config, "heads")
            connection.commit()
    engine.dispose()
    repository = Repository(str(shop))
    a, b = repository.snapshot("v1"), repository.snapshot("v2")
    report = replay(a, b, find_setup(a), find_setup(b), server, child_options({}, 120, None, {}), seed_rows=False, with_drift=False)

    def changing(statements):
        return [s for s in statements if kind_of(s) in ("ddl", "data") and "alembic_version" not in s]

    replayed = [s["sql"] for r in report["revisions"] for s in r["statements"]]
    assert changing(replayed) == changing(sent)
    assert len(changing(sent)) == 7  # 2 columns, the rewrite, 2 updates, SET NOT NULL, the index


def test_seed_respects_constraints(pg):
    from modeldiff.replay.seed import seed

    database = pg.create_database("seed")
    conn = pg.connect(database)
    with conn.cursor() as cur:
        cur.execute(
            """
            CREATE TYPE mood AS ENUM ('happy', 'sad');
            CREATE TABLE teams (id serial PRIMARY KEY, name varchar(8) NOT NULL UNIQUE, parent_id int REFERENCES teams (id));
            CREATE TABLE people (
                id uuid PRIMARY KEY, team_id int NOT NULL REFERENCES teams (id), mood mood NOT NULL,
                age int NOT NULL CHECK (age < 3), settings jsonb NOT NULL, born timestamptz NOT NULL, active boolean
            );
            CREATE TABLE shapes (id serial PRIMARY KEY, at point NOT NULL);
            """
        )
    conn.commit()
    seeded = seed(conn)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM people WHERE team_id IN (SELECT id FROM teams) AND mood = 'happy'")
        linked = cur.fetchone()[0]
        cur.execute("SELECT DISTINCT settings::text FROM people ORDER BY 1")
        settings = [row[0] for row in cur.fetchall()]
    conn.close()
    # CHECK (age < 3) refuses the third row; a point cannot be made up: no shapes.
    assert seeded == {"people": 2, "shapes": 0, "teams": 3}
    assert linked == 2
    assert settings == ['{"seed": 1}', '{"seed": 2}']


def test_a_migration_with_import_side_effects_and_its_own_engine_replays(tmp_path):
    """Settings that create their data directories when imported (as many apps' do, and
    their migrations import them): the replay runs them in a throwaway copy, as the loader
    does, instead of failing the revision; nothing reaches the real path."""
    data = tmp_path / "appdata"  # outside the child's private directory
    env = "from alembic import context\n\ndef run():\n    pass\n"
    # ...and asks its own engine, made from the alembic config, what exists (mealie's first
    # revision): the replay's session, which sees what this upgrade created so far.
    migration = (
        'import os\nimport sqlalchemy as sa\nfrom alembic import op\nfrom sqlalchemy import engine_from_config\n\nimport app.settings\n\n'
        'revision = "{rev}"\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def _exists(table):\n    config = op.get_context().config\n"
        "    engine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.')\n"
        "    with engine.connect() as conn:\n        return sa.inspect(conn).has_table(table)\n\n\n"
        "def upgrade():\n    op.create_table('extras', sa.Column('id', sa.Integer(), primary_key=True))\n"
        "    if _exists('extras') and _exists('items'):\n        op.add_column(\"items\", sa.Column(\"{col}\", sa.Integer()))\n\n\ndef downgrade():\n    pass\n"
    )
    repo = make_repo(tmp_path / "repo", {
        "v1": {
            "alembic.ini": "[alembic]\nscript_location = migrations\n",
            "migrations/env.py": env,
            "app/__init__.py": "",
            "app/settings.py": f"import os\nDATA = {str(data)!r}\nos.makedirs(os.path.join(DATA, 'uploads'), exist_ok=True)\nwith open(os.path.join(DATA, 'secret.key'), 'w') as f:\n    f.write('k')\n",
            "migrations/versions/0001_init.py": 'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "0001"\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    op.create_table("items", sa.Column("id", sa.Integer(), primary_key=True))\n\n\ndef downgrade():\n    pass\n',
        },
        "v2": {"migrations/versions/0002_more.py": migration.format(rev="0002", down='"0001"', col="n")},
    })
    report = migrations(str(repo), "v1", "v2")
    assert report["complete"], report.get("error")
    created, added = [s for s in _statements(report, "0002") if s["kind"] == "ddl"]
    assert created["sql"].startswith("CREATE TABLE extras") and added["sql"].startswith("ALTER TABLE items ADD COLUMN n INTEGER")
    assert report["revisions"][-1]["status"] != "failed"
    assert "blocked-contained" in {w["code"] for w in report["warnings"]}
    assert not data.exists()  # the write happened in the throwaway copy only


def test_a_migration_that_fails_on_postgresql_18_is_a_finding_when_the_target_is_18(build_sample):
    """uuidshop v2 defines its own uuidv7() and comments on it by bare name, as Dify does: fine
    on servers before 18 (the replay hides 18's own uuidv4/uuidv7 to behave like them), an
    ambiguous name on 18. Told the target is 18, the replay runs the chain as 18 has it and
    reports where it fails; the plan shows it."""
    repo = str(build_sample("uuidshop"))
    older = migrations(repo, "v1", "v2", with_drift=False)
    assert older["complete"] and "pg18" not in older
    assert "fails-on-pg18" not in {w["code"] for w in older["warnings"]}
    assert "pg18" not in migrations(repo, "v1", "v2", with_drift=False, target_version=170004)
    on18 = migrations(repo, "v1", "v2", with_drift=False, target_version=180000)
    assert on18["complete"]  # what older servers run is unchanged
    assert [s["sql"] for s in _statements(on18, "0002")] == [s["sql"] for s in _statements(older, "0002")]
    failed = on18["pg18"]["fails"]
    assert on18["pg18"]["names"] == ["uuidv7"]
    assert failed["revision"] == "0002" and failed["location"] == "migrations/versions/0002_uuidv7_function.py:23"
    assert failed["sql"] == "COMMENT ON FUNCTION uuidv7 IS 'time-ordered uuid'" and "is not unique" in failed["message"]
    warning = next(w for w in on18["warnings"] if w["code"] == "fails-on-pg18")
    assert warning["location"] == failed["location"] and "revision 0002 fails" in warning["message"]
    plan = run_cli("plan", repo, "v1", "v2", "--pg-version", "18", "--format", "json")
    assert plan.returncode == 0, plan.stderr
    notes = json.loads(plan.stdout)["notes"]
    assert any("revision 0002 fails" in n and "is not unique" in n for n in notes)
    plan16 = run_cli("plan", repo, "v1", "v2", "--pg-version", "16", "--format", "json")
    assert not any("fails" in n for n in json.loads(plan16.stdout)["notes"])


def test_default_spellings_of_one_value_are_no_drift(tmp_path):
    """`now()` and `CURRENT_TIMESTAMP` (the transaction's start, in both) are one default, as
    the server evaluates them; `CURRENT_TIMESTAMP(0)` is another on a timestamp column (it
    is rounded to the second) but the same on a timestamp(0) one; a volatile default
    (`clock_timestamp()`) is never evaluated: a change. What migrations spell one way and
    models another (Dify's remainder draft) is no drift when it is one value."""
    from conftest import diff_json

    model = (
        "import sqlalchemy as sa\nfrom sqlalchemy.orm import declarative_base\nBase = declarative_base()\n"
        "class T(Base):\n    __tablename__ = 't'\n    id = sa.Column(sa.Integer, primary_key=True)\n"
        "    a = sa.Column(sa.DateTime, server_default=sa.text('{a}'))\n"
        "    b = sa.Column(sa.DateTime, server_default=sa.text('{b}'))\n"
        "    c = sa.Column(sa.dialects.postgresql.TIMESTAMP(precision=0), server_default=sa.text('{c}'))\n"
        "    d = sa.Column(sa.DateTime, server_default=sa.text('{d}'))\n"
    )
    old = model.format(a="now()", b="CURRENT_TIMESTAMP(0)", c="CURRENT_TIMESTAMP(0)", d="now()")
    new = model.format(a="CURRENT_TIMESTAMP", b="CURRENT_TIMESTAMP", c="LOCALTIMESTAMP", d="clock_timestamp()")
    repo = make_repo(tmp_path / "r", {"a": {"m/models.py": old}, "b": {"m/models.py": new}})
    found = [(c["kind"], c["column"], c["old"], c["new"]) for c in diff_json(str(repo), "a", "b")["changes"]]
    assert found == [("modify_default", "b", "CURRENT_TIMESTAMP(0)", "CURRENT_TIMESTAMP"), ("modify_default", "d", "now()", "clock_timestamp()")]


def test_a_second_replay_clones_from_s_seeded_schema_and_answers_the_same(shop):
    """FROM's migrated schema is kept twice, without and with the synthetic rows; a second
    replay of the chain (not its kept answer: keep_database) clones the seeded one and
    observes the same statements, rows and locks."""
    from modeldiff.replay.run import child_options, replay

    repository = Repository(str(shop))
    a, b = repository.snapshot("v1"), repository.snapshot("v2")
    setups = find_setup(a), find_setup(b)
    with shared_server() as server:
        runs = [replay(a, b, *setups, server, child_options({}, 300, None, {}), with_drift=False, keep_database=True) for _ in range(2)]
    assert runs[1]["timing"]["from_cached"] and runs[1]["timing"]["seed_cached"] and runs[1]["timing"]["from_replay_seconds"] == 0.0
    assert runs[0]["seeded"] == runs[1]["seeded"] and runs[0]["seeded"]["orders"] == 3

    def observed(report):
        return [(s["sql"], s["rows"], s["rewrites"], s["locks"]) for r in report["revisions"] for s in r["statements"]]

    assert observed(runs[0]) == observed(runs[1])
    assert [s["rows"] for s in _statements(runs[1], "0005") if s["kind"] == "data"][0] == 2  # the init migration's 2 orders
