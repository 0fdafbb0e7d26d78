"""`revision --online` (issue 5): the online forms of a revision's operations, the written
plan for type changes that rewrite a table, and their round trip on PostgreSQL.

The revision files are parsed with `ast` to see which operations sit inside
`op.get_context().autocommit_block()`. The plan's SQL is run for real on a populated copy
of FROM, with a write in the middle, before the revision itself.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_repo
from modeldiff.cli import main
from modeldiff.compare.schemas import compare_databases, materialize
from modeldiff.draft.online import OnlineOptions, make_online, render_online_plan
from modeldiff.db.server import EmbeddedPostgres
from modeldiff.pipeline import DiffRequest, prepare_migration
from modeldiff.render.migration import render_revision
from modeldiff.draft.verify import leftovers, load_revision, run_revision, stand_ins, verify_revision

SAMPLE_PAIRS = [("v0.14.2", "v0.15.3"), ("v0.15.3", "v1.0.0"), ("v0.14.2", "v1.0.0")]
DATE = datetime(2025, 2, 7, 12, 0, 0)

SYNTHETIC_V1 = '''
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Owner(Base):
    __tablename__ = "owners"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(100), nullable=True)


class Item(Base):
    __tablename__ = "items"
    id = sa.Column(sa.Integer, primary_key=True)
    owner_id = sa.Column(sa.Integer, nullable=True)
    note = sa.Column(sa.String(50), nullable=True)
    hits = sa.Column(sa.Integer, server_default=sa.text("0"), nullable=False)
    code = sa.Column(sa.String(36), nullable=True)
    labels = sa.Column(sa.ARRAY(sa.String(20)), nullable=True)
    __table_args__ = (sa.Index("items_hits_idx", "hits"),)


class Pair(Base):
    __tablename__ = "pairs"
    left = sa.Column(sa.Integer, primary_key=True)
    right = sa.Column(sa.Integer, nullable=False)
'''

# v2, on existing tables: NOT NULL, a rewriting type change of an indexed column with a
# default (int -> bigint), one that needs a USING cast (varchar -> uuid), a new index, a new
# foreign key, a new unique constraint, a wider primary key; and a new table with all of
# those, which must stay plain.
SYNTHETIC_V2 = (
    SYNTHETIC_V1.replace("note = sa.Column(sa.String(50), nullable=True)", "note = sa.Column(sa.String(50), nullable=False)")
    .replace("hits = sa.Column(sa.Integer,", "hits = sa.Column(sa.BigInteger,")
    .replace("code = sa.Column(sa.String(36), nullable=True)", "code = sa.Column(sa.Uuid, nullable=True)")
    .replace(
        "owner_id = sa.Column(sa.Integer, nullable=True)",
        'owner_id = sa.Column(sa.Integer, sa.ForeignKey("owners.id", name="items_owner_id_fkey"), nullable=True)',
    )
    .replace('(sa.Index("items_hits_idx", "hits"),)', '(sa.Index("items_hits_idx", "hits"), sa.Index("items_owner_idx", "owner_id"))')
    .replace(
        "email = sa.Column(sa.String(100), nullable=True)",
        'email = sa.Column(sa.String(100), nullable=True)\n    __table_args__ = (sa.UniqueConstraint("email", name="owners_email_key"),)',
    )
    .replace("right = sa.Column(sa.Integer, nullable=False)", "right = sa.Column(sa.Integer, primary_key=True)")
    + '''

class Tag(Base):
    __tablename__ = "tags"
    id = sa.Column(sa.Integer, primary_key=True)
    item_id = sa.Column(sa.Integer, sa.ForeignKey("items.id"), nullable=False)
    name = sa.Column(sa.String(20), nullable=False)
    __table_args__ = (sa.Index("tags_item_idx", "item_id"), sa.UniqueConstraint("item_id", "name", name="tags_item_name_key"))
'''
)

# v3: VARCHAR(20)[] -> JSON, for which PostgreSQL has no cast.
SYNTHETIC_V3 = SYNTHETIC_V2.replace("labels = sa.Column(sa.ARRAY(sa.String(20)), nullable=True)", "labels = sa.Column(sa.JSON, nullable=True)")


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> str:
    repo = tmp_path_factory.mktemp("online") / "repo"
    versions = {"v1": SYNTHETIC_V1, "v2": SYNTHETIC_V2, "v3": SYNTHETIC_V3}
    return str(make_repo(repo, {tag: {"models/__init__.py": source} for tag, source in versions.items()}))


@pytest.fixture(scope="module")
def server():
    with EmbeddedPostgres() as pg:
        yield pg


@pytest.fixture(scope="module")
def prepared(server, difylike, synthetic):
    cache = {}
    repos = {"sample": str(difylike), "synthetic": synthetic}

    def get(which: str, from_ref: str, to_ref: str):
        key = (which, from_ref, to_ref)
        if key not in cache:
            cache[key] = prepare_migration(DiffRequest(repos[which], from_ref, to_ref), server)
        return cache[key]

    return get


def online_revision(p, **options) -> str:
    options.setdefault("plan_file", "0a1b2c3d4e5f_online_plan.md")
    return render_revision(
        p.migration, message="online", rev_id="0a1b2c3d4e5f", down_revision=None, create_date=DATE, online=OnlineOptions(**options)
    )


def verify(p, source):
    return verify_revision(p.server, source, p.pair.old, p.pair.new, p.from_db, p.to_db, p.migration.todos())


def _literal(node):
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "op.f":  # op.f('name')
        node = node.args[0]
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def calls(source: str, function: str) -> list[tuple[str, list, dict, bool]]:
    """The op calls of upgrade() or downgrade() in order: (name, args, kwargs, inside an
    autocommit block)."""
    tree = ast.parse(source)
    body = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function).body
    out = []

    def visit(statements, in_block: bool) -> None:
        for statement in statements:
            if isinstance(statement, ast.With):
                block = any(ast.unparse(item.context_expr) == "op.get_context().autocommit_block()" for item in statement.items)
                visit(statement.body, in_block or block)
            elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
                call = statement.value
                name = ast.unparse(call.func).removeprefix("op.")
                kwargs = {k.arg: _literal(k.value) for k in call.keywords}
                out.append((name, [_literal(a) for a in call.args], kwargs, in_block))

    visit(body, False)
    return out


def find(call_list, name: str, first=None) -> list[tuple]:
    return [c for c in call_list if c[0] == name and (first is None or (c[1] and c[1][0] == first))]


def executed(call_list) -> list[str]:
    return [c[1][0] for c in call_list if c[0] == "execute"]


# --- the sample repository ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("from_ref,to_ref", SAMPLE_PAIRS)
def test_sample_online_revision_round_trips(prepared, from_ref, to_ref):
    p = prepared("sample", from_ref, to_ref)
    source = online_revision(p)
    outcome = verify(p, source)
    assert outcome.upgrade.error is None and outcome.upgrade.changes == [], outcome.upgrade
    assert outcome.downgrade.error is None and outcome.downgrade.changes == [], outcome.downgrade
    for function in ("upgrade", "downgrade"):
        body = calls(source, function)
        assert body[0] == ("execute", ["SET lock_timeout = '5s'"], {}, False)
        assert body[-1] == ("execute", ["RESET lock_timeout"], {}, False)
        # Every concurrent index operation is in an autocommit block, and only those are.
        for name, args, kwargs, in_block in body:
            if name in ("create_index", "drop_index"):
                assert kwargs.get("postgresql_concurrently", False) is in_block, (name, args)


def test_indexes_concurrently_on_existing_tables_only(prepared):
    source = online_revision(prepared("sample", "v0.15.3", "v1.0.0"))
    up, down = calls(source, "upgrade"), calls(source, "downgrade")
    # end_users exists: its index swap runs concurrently, the new index built before the old one goes.
    (create,) = find(up, "create_index", "end_user_session_idx")
    (drop,) = find(up, "drop_index", "end_user_session_id_idx")
    assert create[2]["postgresql_concurrently"] is True and create[3]
    assert drop[2]["postgresql_concurrently"] is True and drop[3]
    assert up.index(create) < up.index(drop)
    # ... with no lock_timeout while it waits for older transactions, and the timeout back after.
    block = up[up.index(create) - 1 : up.index(drop) + 2]
    assert executed(block) == ["SET lock_timeout = 0", "SET lock_timeout = '5s'"]
    # app_tags is created by this upgrade; tidb_auth_bindings dropped by it: plain operations.
    (new_table_index,) = find(up, "create_index", "app_tags_tenant_id_idx")
    assert "postgresql_concurrently" not in new_table_index[2] and not new_table_index[3]
    for dropped in find(up, "drop_index"):
        if dropped[2]["table_name"] == "tidb_auth_bindings":
            assert "postgresql_concurrently" not in dropped[2] and not dropped[3]
    # The downgrade creates tidb_auth_bindings again: plain there too; end_users concurrent again.
    assert all(not c[3] and "postgresql_concurrently" not in c[2] for c in find(down, "create_index") if c[1][1] == "tidb_auth_bindings")
    assert find(down, "create_index", "end_user_session_id_idx")[0][3]
    source = online_revision(prepared("sample", "v0.14.2", "v0.15.3"))
    assert all(not c[3] for c in find(calls(source, "upgrade"), "create_index"))  # only new tables' indexes
    assert "autocommit_block" not in source.split("def upgrade", 1)[1].split("def downgrade", 1)[0]


def test_not_null_on_an_existing_table_goes_through_a_validated_check(prepared):
    """The downgrade of v0.15.3 -> v1.0.0 makes messages.answer NOT NULL again."""
    source = online_revision(prepared("sample", "v0.15.3", "v1.0.0"))
    down = calls(source, "downgrade")
    start = down.index(find(down, "create_check_constraint", "messages_answer_not_null")[0])
    assert down[start] == ("create_check_constraint", ["messages_answer_not_null", "messages", "answer IS NOT NULL"], {"postgresql_not_valid": True}, False)
    assert down[start + 1] == ("execute", ["ALTER TABLE messages VALIDATE CONSTRAINT messages_answer_not_null"], {}, True)
    name, args, kwargs, in_block = down[start + 2]
    assert (name, args, kwargs["nullable"], in_block) == ("alter_column", ["messages", "answer"], False, False)
    assert down[start + 3] == ("drop_constraint", ["messages_answer_not_null", "messages"], {"type_": "check"}, False)
    # DROP NOT NULL (the upgrade) is a catalog change: unchanged.
    (relax,) = [c for c in calls(source, "upgrade") if c[0] == "alter_column" and c[1] == ["messages", "answer"]]
    assert relax[2]["nullable"] is True and not find(calls(source, "upgrade"), "create_check_constraint")


def test_type_rewrite_gets_an_online_plan_comment_and_a_plan(prepared):
    p = prepared("sample", "v0.14.2", "v0.15.3")
    source = online_revision(p)
    up = source.split("def upgrade", 1)[1].split("def downgrade", 1)[0]
    banner = re.search(r"# modeldiff: ONLINE PLAN =+\n((?:    # .*\n)+?)    # =+\n    op\.alter_column\('workflow_runs', 'total_tokens',", up)
    assert banner, up
    assert "INTEGER -> BIGINT" in banner.group(1) and "0a1b2c3d4e5f_online_plan.md (section 1, upgrade)" in " ".join(banner.group(1).split())
    assert up.count("ONLINE PLAN") == 1  # VARCHAR(255) -> VARCHAR does not rewrite
    down = source.split("def downgrade", 1)[1]
    assert down.count("ONLINE PLAN") == 2  # BIGINT -> INTEGER, and VARCHAR -> VARCHAR(255)
    # The ALTER itself is still there: the revision alone still gives TO.
    assert calls(source, "upgrade")[-2][:2] == ("alter_column", ["workflow_runs", "total_tokens"])

    online = make_online(p.migration, OnlineOptions(plan_file="x.md"))
    assert [(r.number, r.direction, r.table, r.column, r.old, r.new) for r in online.rewrites] == [
        (1, "upgrade", "workflow_runs", "total_tokens", "INTEGER", "BIGINT"),
        (2, "downgrade", "workflow_runs", "total_tokens", "BIGINT", "INTEGER"),
        (3, "downgrade", "end_users", "session_id", "VARCHAR", "VARCHAR(255)"),
    ]
    md = render_online_plan(online, revision="0a1b2c3d4e5f", ref_line="v0.14.2 -> v0.15.3")
    section = md.split("## 1. upgrade: workflow_runs.total_tokens INTEGER → BIGINT", 1)[1].split("\n## 2.", 1)[0]
    for expected in (
        "ALTER TABLE workflow_runs ADD COLUMN total_tokens_new BIGINT;",
        "CREATE TRIGGER workflow_runs_total_tokens_sync BEFORE INSERT OR UPDATE ON workflow_runs",
        "lo UUID;",  # batches walk workflow_runs' uuid primary key
        "CHECK (total_tokens_new IS NOT NULL) NOT VALID;",
        "ALTER TABLE workflow_runs RENAME COLUMN total_tokens_new TO total_tokens;",
        "ALTER TABLE workflow_runs ALTER COLUMN total_tokens SET DEFAULT 0;",
        "(lock ACCESS EXCLUSIVE, later release)",
        "ALTER TABLE workflow_runs DROP COLUMN total_tokens_old;",
    ):
        assert expected in section, expected
    # The narrowing downgrade starts with a check that every value fits.
    assert "pg_input_is_valid(total_tokens::text, 'integer')" in md.split("## 2.", 1)[1].split("## 3.", 1)[0]
    # end_users' indexes on session_id are rebuilt concurrently and swapped in.
    section3 = md.split("## 3.", 1)[1]
    assert "CREATE INDEX CONCURRENTLY end_user_session_id_idx_new ON end_users (session_id_new, type);" in section3
    assert "ALTER INDEX end_user_session_id_idx_new RENAME TO end_user_session_id_idx;" in section3


# --- a synthetic repository with every recipe -----------------------------------------------


def test_synthetic_online_revision_round_trips_with_every_recipe(prepared):
    p = prepared("synthetic", "v1", "v2")
    source = online_revision(p)
    outcome = verify(p, source)
    assert outcome.passed, (outcome.upgrade, outcome.downgrade)
    up = calls(source, "upgrade")
    # Foreign key: NOT VALID, then VALIDATE outside the transaction.
    (fk,) = find(up, "create_foreign_key", "items_owner_id_fkey")
    assert fk[2] == {"postgresql_not_valid": True} and not fk[3]
    assert up[up.index(fk) + 1] == ("execute", ["ALTER TABLE items VALIDATE CONSTRAINT items_owner_id_fkey"], {}, True)
    # Unique constraint and primary key: a unique index built concurrently, then attached.
    (unique,) = find(up, "create_index", "owners_email_key")
    assert unique[2]["unique"] is True and unique[2]["postgresql_concurrently"] is True and unique[3]
    assert "ALTER TABLE owners ADD CONSTRAINT owners_email_key UNIQUE USING INDEX owners_email_key" in executed(up)
    (pk,) = find(up, "create_index", "pairs_pkey")
    assert pk[1][2] == ["left", "right"] and pk[3]
    assert "ALTER TABLE pairs ADD CONSTRAINT pairs_pkey PRIMARY KEY USING INDEX pairs_pkey" in executed(up)
    assert not find(up, "create_unique_constraint") and not find(up, "create_primary_key")
    # NOT NULL through the CHECK recipe.
    assert [c[0] for c in up[up.index(find(up, "create_check_constraint")[0]) :][:4]] == ["create_check_constraint", "execute", "alter_column", "drop_constraint"]
    # The new table keeps its constraints inline and its index plain.
    (tags_index,) = find(up, "create_index", "tags_item_idx")
    assert not tags_index[3] and "postgresql_concurrently" not in tags_index[2]
    assert "sa.UniqueConstraint('item_id', 'name', name='tags_item_name_key'" in source
    # The downgrade narrows the primary key back, online as well.
    down = calls(source, "downgrade")
    assert find(down, "create_index", "pairs_pkey")[0][1][2] == ["left"] and find(down, "create_index", "pairs_pkey")[0][3]
    (dropped,) = find(down, "drop_index", "items_owner_idx")
    assert dropped[2]["postgresql_concurrently"] is True and dropped[3]


def test_lock_timeout_is_configurable(prepared):
    p = prepared("synthetic", "v1", "v2")
    source = online_revision(p, lock_timeout="750ms")
    assert executed(calls(source, "upgrade"))[0] == "SET lock_timeout = '750ms'"
    none = calls(online_revision(p, lock_timeout="0"), "upgrade")
    assert not [s for s in executed(none) if "lock_timeout" in s]
    with pytest.raises(ValueError):
        online_revision(p, lock_timeout="5 parsecs")


def test_verify_sees_what_an_online_revision_leaves_behind(prepared):
    """alembic compares neither CHECK constraints nor validity: the catalog comparison and verify's validity check do."""
    p = prepared("synthetic", "v1", "v2")
    source = online_revision(p)
    not_validated = source.replace("op.execute('ALTER TABLE items VALIDATE CONSTRAINT items_owner_id_fkey')", "pass", 1)
    assert not_validated != source
    outcome = verify(p, not_validated)
    assert [(c.kind, c.table, c.name) for c in outcome.upgrade.changes] == [("invalid_constraint", "items", "items_owner_id_fkey")]
    check_kept = source.replace("op.drop_constraint('items_note_not_null', 'items', type_='check')", "pass", 1)
    assert check_kept != source
    outcome = verify(p, check_kept)
    # the CHECK the revision should have dropped: dropping it is what is left to reach TO
    assert [(c.kind, c.table, c.name) for c in outcome.upgrade.changes] == [("remove_constraint", "items", "items_note_not_null")]


def test_online_plan_runs_with_data_and_leaves_the_revision_only_brief_locks(server, prepared):
    """Run every upgrade section of the plan on a populated FROM (25,000 rows: three
    batches), with a write after the trigger is in place; then the revision. Its ALTERs
    must find nothing to rewrite, and the result must be TO with the data intact."""
    p = prepared("synthetic", "v1", "v2")
    online = make_online(p.migration, OnlineOptions(plan_file="plan.md"))
    sections = [r for r in online.rewrites if r.direction == "upgrade"]
    assert [(r.table, r.column) for r in sections] == [("items", "hits"), ("items", "code")]
    assert all(not r.notes for r in sections)
    work, _ = materialize(server, p.pair.old)
    conn = server.connect(work)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("INSERT INTO owners (id, email) SELECT g, 'o' || g FROM generate_series(1, 10) g")
    cur.execute(
        "INSERT INTO items (id, owner_id, note, hits, code) SELECT g, 1 + g % 10, 'n', g * 3, "
        "CASE WHEN g % 2 = 0 THEN md5(g::text)::uuid::text END FROM generate_series(1, 25000) g"
    )
    for rewrite in sections:
        for step in rewrite.steps:
            if step.sql:
                cur.execute(step.sql)
            if step.key == "sync":  # the application writes while the plan runs
                late = 30000 + rewrite.number
                cur.execute(f"INSERT INTO items (id, note, hits, code) VALUES ({late}, 'late', 42, md5('{late}')::uuid::text)")
                cur.execute("UPDATE items SET hits = 7 WHERE id = 1")
    cur.execute("SELECT pg_relation_filenode('items')")
    (before,) = cur.fetchone()
    module = load_revision(online_revision(p), stand_ins(p.pair.old, p.pair.new))
    run_revision(module, server.sqlalchemy_url(work), "upgrade")
    cur.execute("SELECT pg_relation_filenode('items')")
    assert cur.fetchone() == (before,)  # no rewrite: the plan already converted both columns
    assert compare_databases(server.sqlalchemy_url(work), server.sqlalchemy_url(p.to_db))[0] == []
    assert leftovers(server, work, p.to_db) == []
    cur.execute("SELECT count(*), sum(hits), count(code) FROM items")
    assert cur.fetchone() == (25002, sum(g * 3 for g in range(2, 25001)) + 7 + 42 * 2, 12502)
    cur.execute("SELECT count(*) FROM items WHERE code IS DISTINCT FROM (CASE WHEN id % 2 = 0 OR id > 30000 THEN md5(id::text)::uuid END)")
    assert cur.fetchone() == (0,)
    conn.close()


def test_a_plan_without_a_cast_cannot_be_run_blindly(server, prepared):
    """No cast from VARCHAR(20)[] to JSON: the trigger must not compile (a trigger that
    failed at run time would fail the application's writes)."""
    p = prepared("synthetic", "v2", "v3")
    (rewrite, _back) = make_online(p.migration).rewrites
    assert (rewrite.table, rewrite.column, rewrite.old, rewrite.new) == ("items", "labels", "VARCHAR(20)[]", "JSON")
    assert any("no cast" in note for note in rewrite.notes)
    sync = next(s for s in rewrite.steps if s.key == "sync")
    assert "NEW.labels_new := <convert NEW.labels>;" in sync.sql
    work, _ = materialize(server, p.pair.old)
    conn = server.connect(work)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute(next(s for s in rewrite.steps if s.key == "add").sql)
        with pytest.raises(Exception, match="syntax error"):
            cur.execute(sync.sql)
    finally:
        conn.close()


# --- the command line -------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_revision_online_writes_the_revision_and_its_plan(difylike, tmp_path):
    out = tmp_path / "versions"
    args = ["revision", str(difylike), "v0.14.2", "v0.15.3", "-o", f"{out}/", "--rev-id", "feedc0ffee00", "--create-date", "2025-02-07T12:00:00", "--from-models"]
    result = CliRunner().invoke(main, [*args, "--online", "--lock-timeout", "3s", "--verify"])
    assert result.exit_code == 0, result.output
    assert "revision (online form) run on PostgreSQL" in result.output and "downgrade pass" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["feedc0ffee00_online_plan.md", "feedc0ffee00_upgrade_to_v0_15_3.py"]
    revision = (out / "feedc0ffee00_upgrade_to_v0_15_3.py").read_text()
    assert "op.execute(\"SET lock_timeout = '3s'\")" in revision and "feedc0ffee00_online_plan.md" in revision
    plan = (out / "feedc0ffee00_online_plan.md").read_text()
    assert plan.startswith("# Online plan for revision feedc0ffee00") and "SET LOCAL lock_timeout = '3s';" in plan
    # --plan-file elsewhere; the revision names it.
    elsewhere = tmp_path / "runbook.md"
    result = CliRunner().invoke(main, [*args, "--online", "--plan-file", str(elsewhere)])
    assert result.exit_code == 0, result.output
    assert elsewhere.read_text().startswith("# Online plan") and "runbook.md" in (out / "feedc0ffee00_upgrade_to_v0_15_3.py").read_text()
    # No type change that rewrites: no plan file; --plan-file needs --online.
    quiet = tmp_path / "quiet"
    result = CliRunner().invoke(main, ["revision", str(difylike), "v0.15.3", "v1.0.0", "-o", f"{quiet}/", "--rev-id", "abcabcabcabc", "--online", "--from-models"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in quiet.iterdir()] == ["abcabcabcabc_upgrade_to_v1_0_0.py"]
    wrong = CliRunner().invoke(main, [*args, "--plan-file", "x.md"])
    assert wrong.exit_code == 2 and "--online only" in wrong.output


@pytest.mark.slow
def test_cli_verify_online(synthetic):
    result = CliRunner().invoke(main, ["verify", synthetic, "v1", "v2", "--online"])
    assert result.exit_code == 0, result.output
    assert "revision (online form) run on PostgreSQL" in result.output and "upgrade   pass" in result.output
    bad = CliRunner().invoke(main, ["verify", synthetic, "v1", "v2", "--online", "--lock-timeout", "soon"])
    assert bad.exit_code == 2 and "not a lock_timeout" in bad.output
