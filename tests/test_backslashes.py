"""Backslashes in a server default and in comments survive `revision` -> `verify` ->
`diff --format sql` byte for byte: the SQL run on FROM gives exactly what SQLAlchemy's own
`create_all` of TO gives (PostgreSQL's standard_conforming_strings: a backslash is an
ordinary character, and nothing may double it)."""

from __future__ import annotations

import psycopg2
import sqlalchemy as sa

from conftest import make_repo, run_cli

FROM = 'from sqlalchemy import Column, Integer, MetaData, String, Table\nmetadata = MetaData()\nTable("things", metadata, Column("id", Integer, primary_key=True))\n'
TO = (
    'from sqlalchemy import Column, Integer, MetaData, String, Table\nmetadata = MetaData()\n'
    'Table("things", metadata, Column("id", Integer, primary_key=True), '
    'Column("path", String(50), server_default="C:\\\\temp\\\\new", comment="a \\\\ b \\\\\\\\ c"))\n'
)


def metadata_of(source: str) -> sa.MetaData:
    scope: dict = {}
    exec(compile(source, "models.py", "exec"), scope)
    return scope["metadata"]


def catalog(conn) -> tuple:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid), col_description('things'::regclass, a.attnum) "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = 'things'::regclass AND a.attname = 'path'"
        )
        return cur.fetchone()


def test_backslashes_round_trip_through_revision_verify_and_sql(tmp_path, pg):
    assert metadata_of(TO).tables["things"].c.path.server_default.arg == "C:\\temp\\new"
    repo = make_repo(tmp_path / "repo", {"v1": {"models.py": FROM}, "v2": {"models.py": TO}})
    revision = run_cli("revision", str(repo), "v1", "v2", "--models", "models.py", "--verify", "--rev-id", "abc", "--create-date", "2024-01-01")
    assert revision.returncode == 0, revision.stderr
    assert "C:\\\\temp\\\\new" in revision.stdout  # the Python literal for C:\temp\new
    sql = run_cli("diff", str(repo), "v1", "v2", "--models", "models.py", "--format", "sql")
    assert sql.returncode == 0, sql.stderr
    got, expected = pg.create_database("upgraded"), pg.create_database("created")
    engine = sa.create_engine(pg.sqlalchemy_url(got))
    metadata_of(FROM).create_all(engine)
    engine.dispose()
    engine = sa.create_engine(pg.sqlalchemy_url(expected))
    metadata_of(TO).create_all(engine)
    engine.dispose()
    conn = psycopg2.connect(pg.url(got))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.stdout)
    upgraded = catalog(conn)
    conn.close()
    conn = psycopg2.connect(pg.url(expected))
    created = catalog(conn)
    conn.close()
    assert upgraded == created == ("'C:\\temp\\new'::character varying", "a \\ b \\\\ c")
