"""Issue 5: the upgrade plan. What will lock, rewrite or break, and how long it will take.

* unit tests: every hazard code has a case that triggers it and a near miss that must not;
* type verdicts checked against a real PostgreSQL (does the relfilenode change?);
* end to end through the real pipeline: a small two-commit repository exercising the facts
  the compare stage collects (default volatility, CHECK proofs), and the difylike sample
  v0.14.2 -> v0.15.3 against a "production" database with millions of rows, whose estimate
  is compared with the real ALTER's duration.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from modeldiff.cli import main
from modeldiff.compare.schemas import materialize
from modeldiff.db.server import EmbeddedPostgres
from modeldiff.pipeline import DiffRequest, diff, load_refs, open_session
from modeldiff.plan import CATALOGUE, PlanContext, annotate, make_plan, parse_pg_version
from modeldiff.plan.calibrate import cache_file, load_calibration
from modeldiff.plan.estimate import DEFAULT_THROUGHPUT, format_duration
from modeldiff.compare.facts import check_proving_not_null
from modeldiff.plan.live import IndexFacts, LiveFacts, ServerFacts, TableFacts, read_live_facts
from modeldiff.plan.recipes import RECIPES, render_recipe
from modeldiff.plan.types import classify_type_change
from modeldiff.render.hazards import explain
from modeldiff.render.plan import render_plan_markdown, render_plan_text
from modeldiff.values import Change

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_RUNS_ROWS = 2_500_000


def plan_hazards(*changes: Change, pg: int | str = 16, **context):
    """The hazards of each change (annotated together), by position."""
    return annotate(list(changes), PlanContext(pg_version=parse_pg_version(pg), **context))


def plan_codes(*changes: Change, pg: int | str = 16, **context) -> list[list[str]]:
    return [[h.code for h in of_change] for of_change in plan_hazards(*changes, pg=pg, **context)]


def new_table(name: str) -> Change:
    return Change("add_table", name, detail={"columns": ["id"]})


# --------------------------------------------------------------------------- catalogue


def test_catalogue_codes_are_stable_and_documented():
    assert list(CATALOGUE) == [
        "MD101", "MD102", "MD103", "MD104", "MD105", "MD106", "MD107", "MD108", "MD109",
        "MD201", "MD202", "MD203", "MD204", "MD205",
        "MD301", "MD302", "MD303", "MD304",
    ]  # fmt: skip
    names = [h.name for h in CATALOGUE.values()]
    assert len(set(names)) == len(names)
    for hazard in CATALOGUE.values():
        doc = explain(hazard.code)
        assert doc.startswith(f"{hazard.code} {hazard.name}: {hazard.title}")
        for part in ("What it does:", "Why it hurts:", "Safe recipe:"):
            assert part in doc


def test_every_recipe_referenced_by_a_rule_exists_and_renders():
    change = Change("modify_type", "workflow_runs", column="total_tokens", old="INTEGER", new="BIGINT")
    ((hazard,),) = annotate([change])
    assert hazard.recipe == "change-type-expand-contract"
    steps = render_recipe(hazard.recipe, change)
    sql = "\n".join(s.sql for s in steps if s.sql)
    assert "ALTER TABLE workflow_runs ADD COLUMN total_tokens_new BIGINT;" in sql
    assert not re.search(r"\{[a-z_]+\}", sql)  # every placeholder filled
    assert any(s.batched for s in steps) and any(s.release == 2 for s in steps)
    for recipe in RECIPES.values():
        assert recipe.steps and recipe.title


# --------------------------------------------------------------------------- rules: MD1xx


def test_md101_brief_lock_for_binary_coercible_type_change():
    change = Change("modify_type", "end_users", column="session_id", old="VARCHAR(255)", new="VARCHAR")
    assert plan_codes(change) == [["MD101"]]
    h = plan_hazards(change)[0][0]
    assert (h.lock, h.holds, h.cost) == ("ACCESS EXCLUSIVE", "brief", None)
    assert "no rewrite" in h.reason


def test_md101_near_miss_new_table_and_comment():
    on_new = Change("modify_type", "t", column="c", old="VARCHAR(255)", new="VARCHAR")
    comment = Change("modify_comment", "u", column="c", old=None, new="hello")
    assert plan_codes(new_table("t"), on_new, comment) == [[], [], []]


@pytest.mark.parametrize(
    "old,new",
    [("INTEGER", "BIGINT"), ("SMALLINT", "INTEGER"), ("VARCHAR(255)", "VARCHAR(10)"), ("JSON", "JSONB"), ("TEXT[]", "VARCHAR[]")],
)
def test_md102_rewrite_for_non_coercible_type_change(old, new):
    change = Change("modify_type", "t", column="c", old=old, new=new)
    assert "MD102" in plan_codes(change)[0]
    h = plan_hazards(change)[0][0]
    assert (h.lock, h.holds, h.cost) == ("ACCESS EXCLUSIVE", "operation", "rewrite")


@pytest.mark.parametrize("old,new", [("VARCHAR(255)", "VARCHAR(300)"), ("VARCHAR(255)", "VARCHAR"), ("VARCHAR", "TEXT"), ("NUMERIC(10, 2)", "NUMERIC(12, 2)"), ("TIMESTAMP(3) WITHOUT TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE")])
def test_md102_near_miss_widening_without_rewrite(old, new):
    assert plan_codes(Change("modify_type", "t", column="c", old=old, new=new)) == [["MD101"]]


def test_md102_volatile_default_rewrites_stable_does_not():
    volatile = Change("add_column", "t", column="u", new="UUID", detail={"nullable": True, "default": "gen_random_uuid()", "default_volatility": "volatile"})
    stable = Change("add_column", "t", column="at", new="TIMESTAMP WITH TIME ZONE", detail={"nullable": True, "default": "now()", "default_volatility": "stable"})
    assert plan_codes(volatile, stable) == [["MD102"], ["MD101"]]
    assert plan_hazards(volatile, stable)[0][0].recipe == "add-column-backfill"


def test_md102_pg_version_changes_the_verdict_for_constant_defaults():
    add = Change("add_column", "t", column="n", new="INTEGER", detail={"nullable": False, "default": "0", "default_volatility": "immutable"})
    assert plan_codes(add, pg=10) == [["MD102"]]
    assert "before PostgreSQL 11" in plan_hazards(add, pg=10)[0][0].reason
    assert plan_codes(add, pg=11) == [["MD101"]]


def test_md102_identity_and_stored_generated_columns_rewrite():
    identity = Change("add_column", "t", column="n", new="INTEGER", detail={"nullable": False, "identity": "always"})
    generated = Change("add_column", "t", column="g", new="INTEGER", detail={"nullable": True, "generated": "stored"})
    assert plan_codes(identity, generated) == [["MD102"], ["MD102"]]


def test_md103_set_not_null_scans_unless_a_check_proves_it():
    plain = Change("modify_nullable", "t", column="c", old=True, new=False, detail={"has_default": True})
    proven = Change("modify_nullable", "u", column="c", old=True, new=False, detail={"has_default": True, "not_null_check": "c_nn"})
    assert plan_codes(plain, proven) == [["MD103", "MD203"], ["MD101"]]
    assert "CHECK c_nn" in plan_hazards(plain, proven)[1][0].reason
    # The proof is only used from PostgreSQL 12 on.
    assert plan_codes(proven, pg="11.9") == [["MD103"]]


def test_md103_live_database_check_overrides_scratch_facts():
    change = Change("modify_nullable", "t", column="c", old=True, new=False, detail={"has_default": True})
    live = _live({"t": _table("t", checks=[("t_c_not_null", "CHECK ((c IS NOT NULL))")])})
    assert plan_codes(change, live=live) == [["MD101"]]
    assert "in the live database" in plan_hazards(change, live=live)[0][0].reason


def test_md103_check_constraint_added_unless_new_table():
    check = Change("add_constraint", "t", name="ck", detail={"type": "check", "condition": "n > 0"})
    on_new = Change("add_constraint", "n", name="ck", detail={"type": "check", "condition": "n > 0"})
    assert plan_codes(check, new_table("n"), on_new) == [["MD103", "MD205"], [], []]


def test_md104_index_build_on_existing_table_only():
    existing = Change("add_index", "t", name="ix", detail={"columns": ["a"], "unique": False})
    fresh = Change("add_index", "n", name="ix2", detail={"columns": ["a"], "unique": False})
    assert plan_codes(existing, new_table("n"), fresh) == [["MD104"], [], []]
    h = plan_hazards(existing, new_table("n"), fresh)[0][0]
    assert (h.lock, h.holds, h.recipe) == ("SHARE", "operation", "create-index-concurrently")


def test_md104_index_rename_is_detected():
    dropped = Change("remove_index", "end_users", name="old_idx", detail={"columns": ["session_id", "type"], "unique": False})
    added = Change("add_index", "end_users", name="new_idx", detail={"columns": ["session_id", "type"], "unique": False})
    assert plan_codes(dropped, added) == [["MD101"], ["MD104"]]
    (h,) = plan_hazards(dropped, added)[1]
    assert h.recipe == "rename-index"
    (step,) = render_recipe("rename-index", added, extra=h.recipe_params)
    assert step.sql == "ALTER INDEX old_idx RENAME TO new_idx;"


def test_md105_unique_constraint_builds_under_access_exclusive():
    unique = Change("add_constraint", "t", name="uq", detail={"type": "unique", "columns": ["a"]})
    on_new = Change("add_constraint", "n", name="uq", detail={"type": "unique", "columns": ["a"]})
    index = Change("add_index", "t", name="ix", detail={"columns": ["a"], "unique": False})
    assert plan_codes(unique, new_table("n"), on_new, index) == [["MD105", "MD204"], [], [], ["MD104"]]


def test_md105_primary_key_change_with_nullable_column_also_scans():
    pk = Change("modify_primary_key", "t", name="t_pkey", old=["id"], new=["id", "v"], detail={"nullable_columns": ["v"]})
    dropped = Change("modify_primary_key", "u", name="u_pkey", old=["id"], new=None)
    assert plan_codes(pk, dropped) == [["MD105", "MD103", "MD203", "MD204"], ["MD101"]]


def test_md106_foreign_key_locks_both_tables():
    fk = Change("add_fk", "messages", name="fk", detail={"columns": ["conv_id"], "referred_table": "conversations", "referred_columns": ["id"]})
    fresh = Change("add_fk", "n", name="fk2", detail={"columns": ["conv_id"], "referred_table": "conversations", "referred_columns": ["id"]})
    assert plan_codes(fk, new_table("n"), fresh) == [["MD106", "MD205"], [], []]
    h = plan_hazards(fk, new_table("n"), fresh)[0][0]
    assert h.tables == ("messages", "conversations")
    assert h.lock == "SHARE ROW EXCLUSIVE"


def test_md107_enum_add_value_in_transaction_only_before_pg12():
    change = Change("modify_enum", None, name="status", old=["a", "b"], new=["a", "b", "c"], detail={"used_by": ["t.s"]})
    assert plan_codes(change, pg="11.5") == [["MD107"]]
    assert plan_codes(change, pg=12) == [[]]


# --------------------------------------------------------------------------- rules: MD2xx, MD3xx


def test_md201_md301_drop_column_and_table():
    col = Change("remove_column", "conversations", column="read_account_id", old="UUID", detail={"nullable": True})
    table = Change("remove_table", "tidb", detail={"columns": ["id"], "references": ["tenants"]})
    idx = Change("remove_index", "tidb", name="tidb_idx", detail={"columns": ["id"]})
    added = Change("add_column", "conversations", column="x", new="INTEGER", detail={"nullable": True})
    assert plan_codes(col, table, idx, added) == [["MD101", "MD201", "MD301"], ["MD101", "MD201", "MD301"], [], ["MD101"]]
    assert plan_hazards(col, table, idx, added)[1][0].tables == ("tidb", "tenants")


def test_md202_narrowing_may_fail_widening_not():
    narrow = Change("modify_type", "t", column="c", old="BIGINT", new="INTEGER")
    wide = Change("modify_type", "t", column="d", old="INTEGER", new="BIGINT")
    cast = Change("modify_type", "t", column="e", old="VARCHAR(20)", new="INTEGER")
    assert plan_codes(narrow, wide, cast) == [["MD102", "MD202"], ["MD102"], ["MD102", "MD202"]]


def test_md203_md303_new_not_null_column_without_default():
    required = Change("add_column", "t", column="c", new="INTEGER", detail={"nullable": False})
    defaulted = Change("add_column", "t", column="d", new="INTEGER", detail={"nullable": False, "default": "0", "default_volatility": "immutable"})
    nullable = Change("add_column", "t", column="e", new="INTEGER", detail={"nullable": True})
    assert plan_codes(required, defaulted, nullable) == [["MD101", "MD203", "MD303"], ["MD101"], ["MD101"]]


def test_md203_near_miss_drop_not_null():
    assert plan_codes(Change("modify_nullable", "messages", column="answer", old=False, new=True)) == [["MD101"]]


def test_md204_unique_index_may_fail_plain_does_not():
    unique = Change("add_index", "t", name="ux", detail={"columns": ["a", "b"], "unique": True})
    plain = Change("add_index", "t", name="ix", detail={"columns": ["a"], "unique": False})
    assert plan_codes(unique, plain) == [["MD104", "MD204"], ["MD104"]]


def test_md205_near_miss_dropping_a_constraint():
    assert plan_codes(Change("remove_constraint", "t", name="ck", detail={"type": "check"})) == [["MD101"]]


def test_md301_near_miss_new_table():
    assert plan_codes(new_table("t")) == [[]]


def test_md302_drop_and_add_same_type_looks_like_rename():
    dropped = Change("remove_column", "t", column="name", old="VARCHAR(255)", detail={"nullable": True})
    added = Change("add_column", "t", column="title", new="VARCHAR(255)", detail={"nullable": True})
    other = Change("add_column", "u", column="title", new="TEXT", detail={"nullable": True})
    dropped_u = Change("remove_column", "u", column="name", old="VARCHAR(255)", detail={"nullable": True})
    result = plan_codes(dropped, added, other, dropped_u)
    assert result[0] == ["MD101", "MD201", "MD301", "MD302"]
    assert "MD302" not in result[3]  # different type on u: not a rename
    (step,) = render_recipe("rename-in-orm", dropped, extra=plan_hazards(dropped, added, other, dropped_u)[0][-1].recipe_params)
    assert 'title = Column("name", ...)' in step.note


def test_md303_dropping_default_of_not_null_column():
    not_null = Change("modify_default", "apps", column="enable_site", old="true", new=None, detail={"nullable": False})
    nullable = Change("modify_default", "apps", column="x", old="true", new=None, detail={"nullable": True})
    changed = Change("modify_default", "apps", column="y", old="true", new="false", detail={"nullable": False})
    assert plan_codes(not_null, nullable, changed) == [["MD101", "MD303"], ["MD101"], ["MD101"]]


def test_md304_enum_value_removed_when_used():
    used = Change("modify_enum", None, name="status", old=["a", "b"], new=["a"], detail={"used_by": ["t.s", "u.s"]})
    unused = Change("modify_enum", None, name="kind", old=["a", "b"], new=["a"])
    assert plan_codes(used, unused) == [["MD102", "MD202", "MD304"], []]
    assert plan_hazards(used, unused)[0][0].tables == ("t", "u")


# --------------------------------------------------------------------------- facts and versions


def test_check_proof_is_conservative():
    assert check_proving_not_null([("a", "CHECK ((x IS NOT NULL))")], "x") == "a"
    assert check_proving_not_null([("b", "CHECK (((x IS NOT NULL) AND (y > 0)))")], "x") == "b"
    assert check_proving_not_null([("c", "CHECK (((x IS NOT NULL) OR (y > 0)))")], "x") is None
    assert check_proving_not_null([("d", "CHECK ((xx IS NOT NULL))")], "x") is None
    assert check_proving_not_null([("e", "CHECK ((x IS NULL))")], "x") is None


@pytest.mark.parametrize("text,num", [("10", 100000), ("9.6", 90600), ("16.2", 160002), ("160002", 160002), (12, 120000)])
def test_parse_pg_version(text, num):
    assert parse_pg_version(text) == num


def test_timestamp_to_timestamptz_depends_on_version_and_timezone():
    old, new = "TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE"
    assert classify_type_change(old, new, 160000, "UTC").rewrite is False
    assert classify_type_change(old, new, 160000, "Europe/Berlin").rewrite is True
    assert classify_type_change(old, new, 110000, "UTC").rewrite is True
    assert classify_type_change(old, new, 160000, None).rewrite is True  # unknown session TimeZone: assume the worst


TYPE_CASES = [
    ("INTEGER", "BIGINT", "1"),
    ("SMALLINT", "INTEGER", "1"),
    ("VARCHAR(255)", "VARCHAR", "'abc'"),
    ("VARCHAR(255)", "VARCHAR(300)", "'abc'"),
    ("VARCHAR(255)", "VARCHAR(10)", "'abc'"),
    ("VARCHAR", "TEXT", "'abc'"),
    ("TEXT", "VARCHAR", "'abc'"),
    ("TEXT", "VARCHAR(5)", "'abc'"),
    ("NUMERIC(10, 2)", "NUMERIC(12, 2)", "1.5"),
    ("NUMERIC(10, 2)", "NUMERIC", "1.5"),
    ("NUMERIC(10, 2)", "NUMERIC(12, 3)", "1.5"),
    ("TIMESTAMP(3) WITHOUT TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE", "now()"),
    ("TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP(3) WITHOUT TIME ZONE", "now()"),
    ("TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE", "now()"),
    ("BIGINT", "INTEGER", "1"),
    ("TEXT[]", "VARCHAR[]", "'{a}'"),
    ("CHAR(3)", "CHAR(5)", "'ab'"),
    ("INTEGER", "TEXT", "1"),
    ("CIDR", "INET", "'10.0.0.0/8'"),
    ("REAL", "DOUBLE PRECISION", "1"),
    ("JSON", "JSONB", "'{}'"),
    ("BIT VARYING(5)", "BIT VARYING(8)", "B'101'"),
    ("INTERVAL(2)", "INTERVAL", "'1 day'"),
]


def test_type_verdicts_match_postgresql():
    """Each verdict against the real thing: a rewrite gives the table a new relfilenode."""
    with EmbeddedPostgres() as server:
        conn = server.connect()
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SHOW TimeZone")
        timezone = cur.fetchone()[0]
        wrong = []
        for i, (old, new, sample) in enumerate(TYPE_CASES):
            cur.execute(f"CREATE TABLE t{i} (x {old}); INSERT INTO t{i} SELECT {sample} FROM generate_series(1, 10)")
            cur.execute(f"SELECT pg_relation_filenode('t{i}')")
            before = cur.fetchone()[0]
            cur.execute(f"ALTER TABLE t{i} ALTER COLUMN x TYPE {new}")
            cur.execute(f"SELECT pg_relation_filenode('t{i}')")
            rewritten = cur.fetchone()[0] != before
            if classify_type_change(old, new, server.server_version(), timezone).rewrite != rewritten:
                wrong.append((old, new, rewritten))
        conn.close()
    assert wrong == []


# --------------------------------------------------------------------------- estimates (unit)


def _table(name, heap=1 << 30, table=None, indexes=(), rows=10_000_000, checks=(), columns=None):
    idx = [IndexFacts(n, b, cols) for n, b, cols in indexes]
    return TableFacts(name, heap, table or heap, sum(i.bytes for i in idx), (table or heap) + sum(i.bytes for i in idx), rows, idx, list(checks), columns or {})


def _live(tables: dict) -> LiveFacts:
    return LiveFacts(ServerFacts(160002, "16.2", "test", "prod", {"TimeZone": "UTC"}), tables)


def test_estimates_follow_the_documented_model():
    from modeldiff.plan.estimate import Throughput, estimate_changes

    tp = Throughput(rewrite=100.0, scan=1000.0, index=10.0)
    t = _table("t", heap=1000, table=3000, indexes=[("t_pkey", 50, ["id"]), ("t_a", 30, ["a"])])
    live = _live({"t": t})
    rw = Change("modify_type", "t", column="c", old="INTEGER", new="BIGINT")
    nn = Change("modify_nullable", "t", column="c", old=True, new=False, detail={"has_default": True})
    ix = Change("add_index", "t", name="t_a2", detail={"columns": ["a"], "unique": False})
    hazards = annotate([rw, nn, ix], PlanContext(live=live))
    rw_h, nn_h, ix_h = estimate_changes([rw, nn, ix], hazards, live, tp)
    assert all(h.estimate is None for of_change in hazards for h in of_change)  # new hazards; the given ones unchanged
    # 3000/100 + 2 × 1000/1000 + (50 + 30)/10
    assert rw_h[0].estimate.seconds == pytest.approx(30 + 2 + 8)
    assert nn_h[0].estimate.seconds == pytest.approx(1.0)
    # same columns as t_a: its size is used
    assert ix_h[0].estimate.seconds == pytest.approx(1 + 3)


def test_format_duration():
    assert format_duration(0.2) == "< 1 s"
    assert format_duration(42) == "42 s"
    assert format_duration(11_400) == "3 h 10 min"


def test_summary_on_workflow_runs_100gb():
    """The issue's headline, on made-up facts: 100 GB, uncalibrated defaults."""
    gb = 1 << 30
    t = _table("workflow_runs", heap=30 * gb, table=80 * gb, indexes=[("workflow_run_pkey", 6 * gb, ["id"]), ("a", 7 * gb, ["tenant_id"]), ("b", 7 * gb, ["app_id"])])
    changes = [Change("modify_type", "workflow_runs", column="total_tokens", old="INTEGER", new="BIGINT")]
    from modeldiff.plan.build import Plan, Step
    from modeldiff.plan.estimate import estimate_changes
    from modeldiff.values import Diff, RefInfo

    live = _live({"workflow_runs": t})
    hazards = estimate_changes(changes, annotate(changes, PlanContext(live=live)), live, DEFAULT_THROUGHPUT)
    plan = Plan(Diff(RefInfo("a", None), RefInfo("b", None), "postgresql", changes, []), PlanContext(live=live), [Step(changes[0], "", hazards[0])], live, DEFAULT_THROUGHPUT)
    (first, *_rest) = plan.summary()
    assert first.startswith("1 operation will block writes for a total of about ")
    assert first.endswith("on workflow_runs (100 GB); it blocks reads too (ACCESS EXCLUSIVE)")
    assert " h " in first


# --------------------------------------------------------------------------- end to end: a small repo


MODELS_A = '''
import enum
from sqlalchemy import CheckConstraint, Column, Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class Kind(enum.Enum):
    a = "a"
    b = "b"


class Account(Base):
    __tablename__ = "accounts"
    id = Column(Integer, primary_key=True)
    email = Column(String(255))
    name = Column(String(100))
    kind = Column(Enum(Kind, name="kind"))
    __table_args__ = (CheckConstraint("email IS NOT NULL", name="accounts_email_nn"),)


class Post(Base):
    __tablename__ = "posts"
    id = Column(Integer, primary_key=True)
    account_id = Column(Integer)
    body = Column(Text)
    score = Column(Integer)
'''

MODELS_B = '''
import enum
from sqlalchemy import CheckConstraint, Column, DateTime, Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class Kind(enum.Enum):
    a = "a"


class Account(Base):
    __tablename__ = "accounts"
    id = Column(Integer, primary_key=True)
    email = Column(String(255), nullable=False)
    title = Column(String(100))
    kind = Column(Enum(Kind, name="kind"))
    token = Column(UUID, server_default=text("gen_random_uuid()"))
    seen_at = Column(DateTime(timezone=True), server_default=text("now()"))
    __table_args__ = (CheckConstraint("email IS NOT NULL", name="accounts_email_nn"),)


class Post(Base):
    __tablename__ = "posts"
    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("accounts.id", name="posts_account_fk"), index=True)
    body = Column(Text, nullable=False)
    score = Column(Integer)
    __table_args__ = (CheckConstraint("score >= 0", name="posts_score_ck"),)


class Tag(Base):
    __tablename__ = "tags"
    id = Column(Integer, primary_key=True)
    post_id = Column(Integer, ForeignKey("posts.id"), index=True)
    name = Column(String(50), unique=True)
'''


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


@pytest.fixture(scope="module")
def small_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("small") / "app"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for tag, source in (("a", MODELS_A), ("b", MODELS_B)):
        (repo / "models.py").write_text(source)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", tag)
        _git(repo, "tag", tag)
    return repo


def test_end_to_end_small_repo_facts_and_hazards(small_repo):
    result = diff(DiffRequest(str(small_repo), "a", "b"))
    hazards = {id(c): h for c, h in zip(result.changes, annotate(result.changes))}
    by = {(c.kind, c.table, c.column or c.name): c for c in result.changes}

    def codes(change: Change) -> list[str]:
        return [h.code for h in hazards[id(change)]]

    token = by[("add_column", "accounts", "token")]
    seen = by[("add_column", "accounts", "seen_at")]
    assert token.detail["default_volatility"] == "volatile" and codes(token) == ["MD102"]
    assert seen.detail["default_volatility"] == "stable" and codes(seen) == ["MD101"]
    email = by[("modify_nullable", "accounts", "email")]
    assert email.detail["not_null_check"] == "accounts_email_nn"
    assert codes(email) == ["MD101", "MD303"]  # proven by the CHECK: no scan, cannot fail
    body = by[("modify_nullable", "posts", "body")]
    assert codes(body) == ["MD103", "MD203", "MD303"]
    assert codes(by[("remove_column", "accounts", "name")]) == ["MD101", "MD201", "MD301", "MD302"]
    assert codes(by[("add_fk", "posts", "posts_account_fk")]) == ["MD106", "MD205"]
    assert codes(by[("add_index", "posts", "ix_posts_account_id")]) == ["MD104"]
    enum = by[("modify_enum", None, "kind")]
    assert enum.detail["used_by"] == ("accounts.kind",)
    assert codes(enum) == ["MD102", "MD202", "MD304"]
    # the new table and everything on it: free
    for (kind, table, _), change in by.items():
        if table == "tags":
            assert hazards[id(change)] == (), (kind, hazards[id(change)])


def test_cli_plan_schema_only_json_and_explain(small_repo):
    runner = CliRunner()
    out = runner.invoke(main, ["plan", str(small_repo), "a", "b", "--format", "json", "--pg-version", "10"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["postgresql"] == {"version_num": 100000, "version": "10", "source": "option"}
    assert data["server"] is None and data["throughput"] is None
    seen = next(s for s in data["steps"] if s.get("column") == "seen_at")
    assert [h["code"] for h in seen["hazards"]] == ["MD102"]  # any default rewrites on PostgreSQL 10
    assert data["steps"][0]["hazards"][0]["code"] == "MD102"  # most severe first
    explained = runner.invoke(main, ["plan", "--explain", "MD303"])
    assert explained.exit_code == 0 and explained.output.startswith("MD303 not-null-breaks-old-release:")
    listing = runner.invoke(main, ["hazards"])
    assert listing.exit_code == 0 and all(code in listing.output for code in CATALOGUE)
    bad = runner.invoke(main, ["hazards", "MD999"])
    assert bad.exit_code == 2 and "unknown hazard code" in bad.output


def test_cli_errors_are_one_line(small_repo):
    runner = CliRunner()
    out = runner.invoke(main, ["plan", str(small_repo), "a", "b", "--calibrate"])
    assert out.exit_code == 2 and "--calibrate needs --database-url" in out.output
    out = runner.invoke(main, ["plan", str(small_repo), "a", "b", "--database-url", "postgresql://nobody:secret@127.0.0.1:1/none"])
    assert out.exit_code == 2
    assert "cannot connect" in out.output and "secret" not in out.output and len(out.output.strip().splitlines()) == 1


# --------------------------------------------------------------------------- end to end: difylike with a production database


def _build_difylike(dest: Path) -> Path:
    spec = importlib.util.spec_from_file_location("sample_build", ROOT / "sample_repos" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(dest, "difylike")


@pytest.fixture(scope="module")
def difylike(tmp_path_factory) -> Path:
    return _build_difylike(tmp_path_factory.mktemp("samples"))


def test_diff_json_carries_hazards(difylike):
    out = CliRunner().invoke(main, ["diff", str(difylike), "v0.14.2", "v0.15.3", "--format", "json"])
    assert out.exit_code == 0, out.output
    changes = {(c["table"], c.get("column") or c.get("name")): c for c in json.loads(out.output)["changes"]}
    tokens = changes[("workflow_runs", "total_tokens")]
    assert [h["code"] for h in tokens["hazards"]] == ["MD102"]
    assert tokens["hazards"][0]["lock"] == {"mode": "ACCESS EXCLUSIVE", "tables": ["workflow_runs"], "held": "operation"}
    assert [h["code"] for h in changes[("end_users", "session_id")]["hazards"]] == ["MD101"]
    assert "hazards" not in changes[("child_chunks", "child_chunk_dataset_id_idx")]


def _fill_production(conn, rows: int) -> None:
    """workflow_runs with `rows` rows (indexes built after the load, as a restore would)."""
    cur = conn.cursor()
    cur.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'workflow_runs'::regclass AND NOT indisprimary")
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    cur.execute("ALTER TABLE workflow_runs DROP CONSTRAINT workflow_run_pkey")
    cur.execute(
        "INSERT INTO workflow_runs (id, tenant_id, app_id, sequence_number, workflow_id, type, triggered_from, version, graph, inputs, "
        "status, outputs, elapsed_time, total_tokens, total_steps, created_by_role, created_by, created_at) "
        "SELECT md5(g::text)::uuid, md5((g % 50)::text)::uuid, md5((g % 97)::text)::uuid, g, md5((g % 1000)::text)::uuid, "
        "'workflow', 'app-run', '2024-01-01', '{\"nodes\": []}', '{\"q\": \"hello ' || g || '\"}', 'succeeded', "
        "'{\"answer\": \"' || md5(g::text) || '\"}', (g % 1000) / 7.0, g % 5000, 3, 'account', md5((g % 300)::text)::uuid, "
        f"timestamp '2024-01-01' + g * interval '1 second' FROM generate_series(1, {rows}) g"
    )
    cur.execute("ALTER TABLE workflow_runs ADD CONSTRAINT workflow_run_pkey PRIMARY KEY (id)")
    for _, definition in indexes:
        cur.execute(definition)
    cur.execute(
        "INSERT INTO end_users (tenant_id, app_id, type, session_id) "
        "SELECT md5((g % 50)::text)::uuid, md5((g % 97)::text)::uuid, 'browser', md5(g::text) FROM generate_series(1, 50000) g"
    )
    cur.execute("VACUUM ANALYZE workflow_runs")
    cur.execute("VACUUM ANALYZE end_users")
    cur.execute("CHECKPOINT")  # the load's WAL is flushed now, not during the measurements


@pytest.fixture(scope="module")
def production(difylike):
    """A second embedded PostgreSQL playing the user's production database at v0.14.2."""
    session, snapshots = open_session(DiffRequest(str(difylike), "v0.14.2", "v0.15.3"), ["v0.14.2"])
    (old,) = load_refs(session, snapshots)
    with EmbeddedPostgres() as server:
        database, _ = materialize(server, old.schema)
        conn = server.connect(database, admin=True)  # CHECKPOINT: the operator's part
        conn.autocommit = True
        started = time.perf_counter()
        _fill_production(conn, WORKFLOW_RUNS_ROWS)
        print(f"\nproduction database filled in {time.perf_counter() - started:.1f} s")
        conn.close()
        yield server, database, server.url(database)


@pytest.fixture(scope="module")
def live_plan(difylike, production):
    _, _, url = production
    result = diff(DiffRequest(str(difylike), "v0.14.2", "v0.15.3"))
    messages = []
    plan = make_plan(result, url, calibrate=True, calibrate_mb=192, log=messages.append)
    return plan, messages


@pytest.mark.slow
def test_live_plan_top_item_is_the_workflow_runs_rewrite(live_plan, production, module_cache):
    plan, messages = live_plan
    assert any("creating schema modeldiff_calibration_" in m for m in messages)  # the write is announced
    assert plan.context.version_source == "server" and plan.context.pg_version >= 160000
    assert plan.throughput.source == "calibrated"
    top = plan.steps[0]
    assert (top.change.table, top.change.column, top.change.old, top.change.new) == ("workflow_runs", "total_tokens", "INTEGER", "BIGINT")
    (hazard,) = top.hazards
    assert (hazard.code, hazard.lock, hazard.holds) == ("MD102", "ACCESS EXCLUSIVE", "operation")
    assert hazard.estimate is not None and hazard.estimate.seconds > 0.5
    facts = plan.live.table("workflow_runs")
    assert facts.reltuples == pytest.approx(WORKFLOW_RUNS_ROWS, rel=0.05)
    assert len(facts.indexes) == 3
    summary = plan.summary()
    assert summary[0].startswith("1 operation will block writes for a total of about ")
    assert not any("not in the live database" in n for n in plan.notes)  # new tables aren't expected there
    assert "on workflow_runs (" in summary[0]
    # end_users.session_id: brief lock, no rewrite, no estimate
    session = next(s for s in plan.steps if s.change.column == "session_id")
    assert [h.code for h in session.hazards] == ["MD101"]
    assert session.lock_held == "brief" and session.seconds is None
    # new tables' indexes: nothing
    for step in plan.steps:
        if step.change.table in ("child_chunks", "dataset_auto_disable_logs"):
            assert step.hazards == ()
    # the read-only session wrote nothing, and the calibration schema is gone
    server, database, _ = production
    conn = server.connect(database)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'modeldiff_calibration_%'")
        assert cur.fetchone()[0] == 0
    conn.close()
    assert load_calibration(plan.live.server.key) is not None
    assert cache_file().exists() and cache_file().is_relative_to(module_cache)  # never the user's cache


@pytest.mark.slow
def test_live_plan_renders_text_and_markdown_runbook(live_plan):
    plan, _ = live_plan
    text = render_plan_text(plan)
    assert "MD102: Rewrites the table and all its indexes under ACCESS EXCLUSIVE" in text
    md = render_plan_markdown(plan)
    assert md.startswith("# Upgrade runbook: v0.14.2")
    summary_at = md.index("## Summary")
    assert md.index("will block writes for a total of about") > summary_at
    first_step = md.index("### 1. `workflow_runs.total_tokens`")
    assert md.index("ALTER TABLE workflow_runs ALTER COLUMN total_tokens TYPE BIGINT;", first_step) > first_step
    assert "| Lock | ACCESS EXCLUSIVE on workflow_runs for the whole operation (blocks reads and writes) |" in md
    assert "| Estimated time | about " in md
    assert "ALTER TABLE workflow_runs ADD COLUMN total_tokens_new BIGINT;" in md  # the safe recipe, as SQL
    assert "calibrated on this server" in md


@pytest.mark.slow
def test_cli_plan_with_database_uses_stored_calibration(difylike, production, live_plan, tmp_path):
    _, _, url = production
    target = tmp_path / "runbook.md"
    out = CliRunner().invoke(main, ["plan", str(difylike), "v0.14.2", "v0.15.3", "--database-url", url, "--format", "markdown", "-o", str(target)])
    assert out.exit_code == 0, out.output
    md = target.read_text()
    assert "calibrated on this server" in md  # remembered from the calibration above, no new write
    # Planned from the sample's own migrations: the rewrite they run first, with its estimate.
    assert "### 1. `workflow_runs`: statement #1 (revision `a91b476a53de`" in md
    out = CliRunner().invoke(main, ["plan", str(difylike), "v0.14.2", "v0.15.3", "--database-url", url, "--format", "json"])
    data = json.loads(out.output)
    assert data["tables"]["workflow_runs"]["rows_estimate"] == pytest.approx(WORKFLOW_RUNS_ROWS, rel=0.05)
    assert data["steps"][0]["estimated_seconds"] > 0 and data["steps"][0]["rewrites"] == ["workflow_runs"]


@pytest.mark.slow
def test_live_facts_session_is_read_only(production):
    """The facts connection cannot write even if it tried (default_transaction_read_only)."""
    from modeldiff.plan.live import connect

    _, _, url = production
    conn = connect(url)
    with conn.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        assert cur.fetchone()[0] == "on"
        with pytest.raises(Exception, match="read-only"):
            cur.execute("CREATE TABLE should_fail (x int)")
    conn.close()
    facts = read_live_facts(url, ["workflow_runs", "nope"])
    assert facts.missing == ["nope"]
    assert facts.server.settings["maintenance_work_mem"]


def _total_tokens_type(cur) -> str:
    cur.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'workflow_runs'::regclass AND attname = 'total_tokens'")
    return cur.fetchone()[0]


@pytest.mark.slow
def test_estimate_is_within_2x_of_the_real_alter(live_plan, production):
    """The real ALTER runs in a transaction that is rolled back: the rewrite is done (and
    timed) in full, and the production database is left as the other tests expect it."""
    plan, _ = live_plan
    estimate = plan.steps[0].hazards[0].estimate.seconds
    server, database, _ = production
    conn = server.connect(database, admin=True)  # CHECKPOINT: the operator's part
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CHECKPOINT")  # the calibration's WAL is flushed now, not during the ALTER
        conn.autocommit = False
        started = time.perf_counter()
        cur.execute("ALTER TABLE workflow_runs ALTER COLUMN total_tokens TYPE BIGINT")
        measured = time.perf_counter() - started
        assert _total_tokens_type(cur) == "bigint"
        conn.rollback()
        assert _total_tokens_type(cur) == "integer"
    conn.close()
    print(f"\nworkflow_runs int -> bigint ({WORKFLOW_RUNS_ROWS:,} rows): estimated {estimate:.2f} s, measured {measured:.2f} s, ratio {estimate / measured:.2f}")
    print(f"throughput: {plan.throughput.describe()}")
    print(f"estimate: {plan.steps[0].hazards[0].estimate.formula}")
    assert measured / 2 <= estimate <= measured * 2
