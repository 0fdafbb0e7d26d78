"""The SQL modeldiff prints runs on PostgreSQL, whatever the names: the `reserved` sample uses
reserved words (table `grant`, columns `user`, `only`, `left`, `order`, `window`, `select`,
indexes `distinct`, `desc`, `limit`) and a table in the named schema `audit`."""

from __future__ import annotations

import json

import pytest

from modeldiff.compare.schemas import Place, compare_databases, materialize
from modeldiff.load import LoadOptions, load_schema
from modeldiff.source.layout import resolve_layout
from modeldiff.source.repository import Repository
from modeldiff.sqltext import in_schema_of, literal, qualified, quote

from conftest import run_cli


@pytest.fixture(scope="module")
def reserved(build_sample):
    return build_sample("reserved")


@pytest.fixture(scope="module")
def plan(reserved) -> dict:
    proc = run_cli("plan", str(reserved), "v1", "v2", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _database(pg, repo, ref) -> str:
    snapshot = Repository(str(repo)).snapshot(ref)
    layout = resolve_layout(snapshot, None, None, {}, True)
    schema = load_schema(snapshot, LoadOptions(layout.import_root, layout.models_path, layout.settings))
    database, warnings = materialize(pg, schema)
    assert not warnings
    return database


def _run(pg, database: str, statements: list[str]) -> None:
    conn = pg.connect(database)
    conn.autocommit = True  # DO blocks that COMMIT, CONCURRENTLY: as a person runs them in psql
    try:
        with conn.cursor() as cur:
            for sql in statements:
                try:
                    cur.execute(sql)
                except Exception as exc:
                    raise AssertionError(f"PostgreSQL rejected:\n{sql}\n{exc}") from exc
    finally:
        conn.close()


def test_sqltext_quotes_every_reserved_word_and_each_part_of_a_qualified_name():
    assert [quote(n) for n in ("grant", "only", "user", "left", "distinct", "events", "Mixed")] == [
        '"grant"', '"only"', '"user"', '"left"', '"distinct"', "events", '"Mixed"',
    ]
    assert qualified("audit.events") == "audit.events"
    assert qualified("audit.order") == 'audit."order"'
    assert in_schema_of("audit.events", "limit") == 'audit."limit"'
    assert in_schema_of("grant", "distinct") == '"distinct"'
    assert literal("C:\\temp\\it's") == "'C:\\temp\\it''s'"  # backslashes stay single


def test_every_plan_statement_runs_in_order_on_the_from_schema_and_gives_the_to_schema(pg, reserved, plan):
    steps = plan["steps"]
    touched = {(s["kind"], s["table"]) for s in steps}
    for kind in ("modify_type", "add_index", "modify_nullable", "add_column", "remove_index"):
        assert (kind, "audit.events") in touched or (kind, "grant") in touched, kind
    assert {"modify_type", "add_index", "modify_nullable", "modify_default", "add_column", "add_fk", "remove_index"} <= {k for k, _ in touched}
    assert {"audit.events", "grant"} == {t for _, t in touched}
    assert "add_table" not in {k for k, _ in touched}  # its statement is abbreviated, not runnable
    statements = []
    for step in steps:
        for recipe in step["recipes"]:
            if recipe["recipe"].startswith("precheck-"):
                statements += [s["sql"] for s in recipe["steps"] if s["sql"]]
        statements.append(step["statement"])
    assert any("pg_input_is_valid" in s for s in statements) and any("HAVING count(*) > 1" in s for s in statements)

    database = _database(pg, reserved, "v1")
    _run(pg, database, statements)
    # What the statements leave is the TO release's schema, defaults with backslashes included.
    changes, _ = compare_databases(Place(pg.sqlalchemy_url(database)), Place(pg.sqlalchemy_url(_database(pg, reserved, "v2"))))
    assert [c.to_json() for c in changes] == []


def test_the_recipes_run_as_printed_on_tables_with_rows(pg, reserved, plan):
    """The safe recipes, run instead of the plain statements on tables holding rows: their
    first-release steps run as printed, the batched backfills along a UUID key included.
    Not run: steps that are a template for a person (`= ...`), and required-in-later-release,
    whose release-1 ADD COLUMN is for a column the upgrade adds, not one it alters."""
    database = _database(pg, reserved, "v1")
    _run(pg, database, [
        """INSERT INTO "grant" (id, "user", "only", "left") SELECT i, 'u' || i, i, 'l' || i FROM generate_series(1, 25) i""",
        """INSERT INTO audit.events (id, grant_id, level, "user") SELECT gen_random_uuid(), i, i, 'u' || i FROM generate_series(1, 25) i""",
    ])
    ran = set()
    for step in plan["steps"]:
        for recipe in step["recipes"]:
            if recipe["recipe"] == "required-in-later-release":
                continue
            _run(pg, database, [s["sql"] for s in recipe["steps"] if s["sql"] and s.get("release", 1) == 1 and "= ..." not in s["sql"]])
            ran.add(recipe["recipe"])
    assert {"change-type-expand-contract", "add-column-backfill", "not-null-via-check", "create-index-concurrently", "drop-index-concurrently", "fk-not-valid"} <= ran
    conn = pg.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT trace), count(at) FROM audit.events")
            assert cur.fetchone() == (25, 25, 25)  # every row backfilled, each its own uuid
            cur.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'audit.events'::regclass AND attname = 'level'")
            assert cur.fetchone()[0] == "integer"
            cur.execute("SELECT sum(level), sum(level_old) FROM audit.events")
            assert cur.fetchone() == (325, 325)
            cur.execute("""SELECT format_type(atttypid, atttypmod), (SELECT sum("only") FROM "grant") FROM pg_attribute WHERE attrelid = '"grant"'::regclass AND attname = 'only'""")
            assert cur.fetchone() == ("bigint", 325)
            # DROP INDEX CONCURRENTLY IF EXISTS would pass silently on the wrong schema: the index is gone.
            cur.execute("SELECT schemaname || '.' || indexname FROM pg_indexes WHERE indexname IN ('limit', 'desc', 'distinct') ORDER BY 1")
            assert [r[0] for r in cur.fetchall()] == ["audit.desc", "public.distinct"]
            cur.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'events_grant_fkey'")
            assert cur.fetchone() == (True,)
    finally:
        conn.close()


def test_a_volatile_default_added_in_a_named_schema_rewrites_the_table(plan):
    by_target = {s["target"]: s for s in plan["steps"]}
    for target in ("audit.events.trace", "audit.events.at"):
        codes = [h["code"] for h in by_target[target]["hazards"]]
        assert "MD102" in codes and "MD101" not in codes, (target, codes)
    # A constant default added in the default schema stays a brief lock.
    assert [h["code"] for h in by_target["grant.window"]["hazards"]] == ["MD101"]


def test_a_default_with_backslashes_is_read_as_written(plan):
    """standard_conforming_strings is on: 'C:\\temp\\new' in the model is C:\\temp\\new in the
    database, not C:\\\\temp\\\\new."""
    step = next(s for s in plan["steps"] if s["target"] == "grant.path")
    assert step["new"] == "'C:\\temp\\new'::text"


def test_the_online_revision_runs_on_reserved_names_and_a_named_schema(reserved):
    """`verify --online` runs the drafted revision's online form (VALIDATE CONSTRAINT on
    audit.events, CREATE INDEX CONCURRENTLY "distinct" ...) up and down on PostgreSQL."""
    proc = run_cli("verify", str(reserved), "v1", "v2", "--online")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "upgrade   pass" in proc.stdout and "downgrade pass" in proc.stdout
