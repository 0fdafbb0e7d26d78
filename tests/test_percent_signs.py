"""A `%` in a CHECK expression, a server default and a comment stays one `%` everywhere
modeldiff writes it: the scratch databases (the loader's DDL), the diff, the drafted
revision, `verify`, and `diff --format sql`, whose statements run on FROM give exactly what
SQLAlchemy's own `create_all` of TO gives. (SQLAlchemy doubles `%` when it compiles for a
driver with the pyformat paramstyle; text that is run without parameters or read by a
person must not have it doubled.)"""

from __future__ import annotations

import psycopg2
import sqlalchemy as sa

from conftest import diff_json, make_repo, run_cli

MODELS = '''from sqlalchemy import CheckConstraint, Column, Integer, MetaData, String, Table
metadata = MetaData()
Table(
    "things", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(50)),
    Column("tag", String(10), server_default="{tag}", comment="{comment}"),
    CheckConstraint("email LIKE '{like}'", name="ck_things_email"),
)
'''
FROM = MODELS.format(like="%@%", tag="a%", comment="100% sure")
TO = MODELS.format(like="%@%.%", tag="b%", comment="50% sure")


def metadata_of(source: str) -> sa.MetaData:
    scope: dict = {}
    exec(compile(source, "models.py", "exec"), scope)
    return scope["metadata"]


def catalog(url: str) -> tuple:
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid), col_description('things'::regclass, a.attnum), "
            "(SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_things_email') "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = 'things'::regclass AND a.attname = 'tag'"
        )
        row = cur.fetchone()
    conn.close()
    return row


def create_all(pg, source: str, hint: str) -> str:
    database = pg.create_database(hint)
    engine = sa.create_engine(pg.sqlalchemy_url(database))
    metadata_of(source).create_all(engine)
    engine.dispose()
    return database


def test_percent_signs_are_never_doubled(tmp_path, pg):
    repo = str(make_repo(tmp_path / "repo", {"v1": {"models.py": FROM}, "v2": {"models.py": TO}}))
    found = {(c["kind"], c.get("column") or c.get("name")): (c["old"], c["new"]) for c in diff_json(repo, "v1", "v2", "--models", "models.py")["changes"]}
    assert found == {
        ("modify_constraint", "ck_things_email"): ("CHECK (((email)::text ~~ '%@%'::text))", "CHECK (((email)::text ~~ '%@%.%'::text))"),
        ("modify_default", "tag"): ("'a%'::character varying", "'b%'::character varying"),
        ("modify_comment", "tag"): ("100% sure", "50% sure"),
    }
    assert diff_json(repo, "v2", "v2", "--models", "models.py")["changes"] == []

    revision = run_cli("revision", repo, "v1", "v2", "--models", "models.py", "--verify", "--rev-id", "abc", "--create-date", "2024-01-01")
    assert revision.returncode == 0, revision.stdout + revision.stderr
    assert "%%" not in revision.stdout and "'%@%.%'" in revision.stdout
    for a, b in (("v1", "v2"), ("v2", "v1")):
        proc = run_cli("verify", repo, a, b, "--models", "models.py")
        assert proc.returncode == 0 and "downgrade pass" in proc.stdout, proc.stdout + proc.stderr

    sql = run_cli("diff", repo, "v1", "v2", "--models", "models.py", "--format", "sql")
    assert sql.returncode == 0 and "%%" not in sql.stdout, sql.stdout + sql.stderr
    upgraded, expected = create_all(pg, FROM, "upgraded"), create_all(pg, TO, "created")
    conn = psycopg2.connect(pg.url(upgraded))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.stdout)
    conn.close()
    assert catalog(pg.url(upgraded)) == catalog(pg.url(expected)) == ("'b%'::character varying", "50% sure", "CHECK (((email)::text ~~ '%@%.%'::text))")
