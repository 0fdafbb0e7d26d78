"""The database is not a way out: a model's DDL (an `after_create` `DDL(...)` event, which
the loader hands on as statements to run) executes as the scratch schema's or database's
own role, which is no superuser, holds no server-program or server-file role and owns
nothing but its scratch object. Each test fails if its attack works: PostgreSQL must have
rejected the statement (a `rejected-ddl` warning) and the side effect must be absent.

The server is the shared kind (a data directory, the tmpfs tablespace), as a run uses it.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import diff_json, make_repo, server_reachable_dir
from modeldiff.compare.schemas import materialize, materialize_in_schema
from modeldiff.db.server import EmbeddedPostgres
from modeldiff.load import LoadedSchema

# Replacing needs CREATE in the schema first (refused), the rest ownership (refused).
OWNED_BY_OTHERS = re.compile(r"must be owner of function (public\.)?uuid_generate_v4|permission denied for schema public")
EMPTY = LoadedSchema(ref="evil", commit=None, tables={}, preamble=[], postamble=[], warnings=[], stubbed_modules={}, files_read={}, metadatas=[])


@pytest.fixture(scope="module")
def server():
    with server_reachable_dir() as data, EmbeddedPostgres(data / "pg18") as pg:
        yield pg


@pytest.fixture
def drop(tmp_path):
    """A directory the server's OS user may write to: an attack that runs a command or
    writes a file as the server would leave its mark here."""
    path = Path(tempfile.mkdtemp(prefix="mdtest-drop-"))
    path.chmod(0o777)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def run_ddl(server, *statements: str, database: bool = False) -> list[str]:
    """`statements` run as a model's DDL; the messages of what PostgreSQL rejected."""
    schema = replace(EMPTY, postamble=list(statements))
    if database:
        _, warnings = materialize(server, schema)
    else:
        _, warnings = materialize_in_schema(server, schema)
    rejected = [w.message for w in warnings if w.code == "rejected-ddl"]
    assert len(rejected) == len(statements), warnings  # every attack statement failed
    return rejected


def admin_value(server, sql: str, args=(), database: str = "modeldiff"):
    conn = server.connect(database, admin=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("database", [False, True], ids=["schema", "database"])
@pytest.mark.parametrize("direction", ["TO", "FROM"])
def test_copy_program_runs_no_command(server, drop, direction, database):
    target = drop / "ran"
    sql = f"COPY (SELECT 1) TO PROGRAM 'touch {target}'" if direction == "TO" else f"CREATE TABLE t (x text); COPY t FROM PROGRAM 'touch {target}'"
    [message] = run_ddl(server, sql, database=database)
    assert "permission denied to COPY to or from an external program" in message
    assert not target.exists()


def test_copy_to_a_server_file_writes_nothing(server, drop):
    [message] = run_ddl(server, f"COPY (SELECT 'stolen') TO '{drop / 'file'}'")
    assert "permission denied to COPY to a file" in message
    assert list(drop.iterdir()) == []


@pytest.mark.parametrize(
    "sql, refused",
    [
        ("CREATE TABLE leak AS SELECT pg_read_file('/etc/hostname') AS t", "permission denied for function pg_read_file"),
        ("CREATE TABLE leak AS SELECT lo_import('/etc/hostname') AS t", "permission denied for function lo_import"),
        ("CREATE TABLE leak AS SELECT * FROM pg_ls_dir('/') AS t", "permission denied for function pg_ls_dir"),
        ("CREATE FUNCTION sh(cstring) RETURNS int AS 'libc.so.6', 'system' LANGUAGE c", "permission denied for language c"),
        ("CREATE TABLE t AS SELECT pg_reload_conf() AS t", "permission denied for function pg_reload_conf"),
        ("SET ROLE postgres", "permission denied to set role"),
        ("SET SESSION AUTHORIZATION postgres", "permission denied to set session authorization"),
        ("CREATE ROLE intruder SUPERUSER", "permission denied to create role"),
        ("ALTER ROLE postgres PASSWORD 'x'", "permission denied to alter role"),
        ("CREATE EXTENSION dblink", "permission denied to create extension"),
        ("ALTER DATABASE modeldiff OWNER TO CURRENT_USER", "must be owner of database modeldiff"),
        ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres'", "permission denied to terminate process"),
    ],
    ids=["pg_read_file", "lo_import", "pg_ls_dir", "c-function", "reload-conf", "set-role", "session-authorization",
         "create-role", "alter-role", "untrusted-extension", "take-database", "terminate-backend"],
)
def test_superuser_powers_are_refused(server, sql, refused):
    [message] = run_ddl(server, sql)
    assert refused in message


def test_an_event_trigger_cannot_be_installed(server):
    function = "CREATE FUNCTION spy() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'spy'; END $$"
    trigger = "CREATE EVENT TRIGGER spy ON ddl_command_start EXECUTE FUNCTION spy()"
    _, warnings = materialize_in_schema(server, replace(EMPTY, postamble=[function, trigger]))
    assert [w.message for w in warnings if w.code == "rejected-ddl"] == [f"statement: PostgreSQL rejected it: permission denied to create event trigger \"spy\""]
    assert admin_value(server, "SELECT evtname FROM pg_event_trigger") == []


@pytest.mark.parametrize("database", [False, True], ids=["schema", "database"])
@pytest.mark.parametrize(
    "sql",
    [
        "CREATE OR REPLACE FUNCTION public.uuid_generate_v4() RETURNS uuid LANGUAGE sql IMMUTABLE AS 'SELECT gen_random_uuid()'",
        "ALTER FUNCTION public.uuid_generate_v4() IMMUTABLE",
        "DROP FUNCTION public.uuid_generate_v4()",
        "ALTER FUNCTION public.uuid_generate_v4() RENAME TO gone",
    ],
    ids=["replace", "alter", "drop", "rename"],
)
def test_shared_shims_cannot_be_redefined(server, sql, database):
    """The shims (and extensions) a later run of another repository relies on for its
    volatility verdicts belong to the superuser, in the shared database and in a scratch
    database alike."""
    [message] = run_ddl(server, sql, database=database)
    assert OWNED_BY_OTHERS.search(message), message
    where = "modeldiff"
    if database:  # the scratch database just made, with its own shims
        where = server._databases[-1]
    assert admin_value(server, "SELECT provolatile FROM pg_proc WHERE proname = 'uuid_generate_v4' AND pronamespace = 'public'::regnamespace", database=where) == [("v",)]


def test_nothing_can_be_added_to_the_shared_public_schema(server):
    """A function in `public` would shadow nothing today but could catch another run's
    unqualified call tomorrow: the scratch role may create only in its own schema."""
    [message] = run_ddl(server, "CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT now()'")
    assert "permission denied for schema public" in message


@pytest.mark.parametrize(
    "attack, refused",
    [
        ('CREATE TABLE "{victim}".intruder (id int)', "permission denied for schema"),
        ('CREATE TABLE stolen AS SELECT * FROM "{victim}".kept', "permission denied for schema"),
        ('DROP TABLE "{victim}".kept', "permission denied for schema"),
        ('DROP SCHEMA "{victim}" CASCADE', "must be owner of schema"),
        ('ALTER SCHEMA "{victim}" RENAME TO taken', "must be owner of schema"),
        ('GRANT USAGE ON SCHEMA "{victim}" TO PUBLIC', "permission denied for schema"),
    ],
    ids=["create-in", "read", "drop-table", "drop-schema", "rename", "grant"],
)
def test_other_scratch_schemas_are_out_of_reach(server, attack, refused):
    """Another ref's scratch schema (of this run or a concurrent one) can be neither read
    nor changed."""
    victim = server.create_schema("victim")
    conn = server.connect(search_path=victim)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (secret text); INSERT INTO kept VALUES ('s3cret')")
    conn.commit()
    conn.close()
    [message] = run_ddl(server, attack.format(victim=victim))
    assert refused in message
    tables = admin_value(server, "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace ORDER BY 1", (victim,))
    assert tables == [("kept",)]
    assert admin_value(server, "SELECT nspacl FROM pg_namespace WHERE nspname = %s", (victim,)) == [(None,)]


def test_ddl_of_its_own_still_runs_as_the_role(server):
    """The containment costs the models nothing: their own DDL (tables, a function, a
    trigger, a comment) runs, and what it made belongs to the scratch role."""
    statements = [
        "CREATE TABLE own (id int PRIMARY KEY, note text)",
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TRIGGER own_touch BEFORE UPDATE ON own FOR EACH ROW EXECUTE FUNCTION touch()",
        "COMMENT ON TABLE own IS 'C:\\temp'",
    ]
    place, warnings = materialize_in_schema(server, replace(EMPTY, postamble=statements))
    assert [w for w in warnings if w.code == "rejected-ddl"] == []
    owner = server.owner(place.search_path)
    assert owner == place.search_path
    rows = admin_value(server, "SELECT c.relname, r.rolname, r.rolsuper FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'", (place.search_path,))
    assert rows == [("own", owner, False)]


def test_scratch_roles_go_with_the_run_and_with_dead_runs(tmp_path):
    """Roles are cluster-wide: the run's own are dropped at its end, and those a killed run
    left (its pid in the name) by the next run's cleanup."""
    with server_reachable_dir() as data:
        with EmbeddedPostgres(data / "pg18") as first:
            made = first.create_schema("a"), first.create_database("b")
            dead = "md999999999_0_killed"  # no such pid
            first._execute("postgres", f'CREATE ROLE "{dead}" LOGIN')
            first._execute("modeldiff", f'CREATE SCHEMA "{dead}" AUTHORIZATION "{dead}"')
        with EmbeddedPostgres(data / "pg18") as second:
            second.create_schema("c")
            roles = admin_value(second, "SELECT rolname FROM pg_roles WHERE rolname ~ '^md[0-9]+_' ORDER BY 1", database="postgres")
            assert roles == [(second._roles[0],)]
            assert not set(made) & {r for (r,) in roles}


def test_a_ddl_event_in_a_real_repository_is_contained(tmp_path, drop):
    """End to end: `after_create` DDL events of a repository's models that try the shell
    and the shared shims; the run reports them rejected and nothing ran."""
    target = drop / "pwned"
    evil = f'''\
from sqlalchemy import DDL, Column, Integer, MetaData, Table, event
metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True))
event.listen(metadata, "after_create", DDL("COPY (SELECT 1) TO PROGRAM 'id > {target}'"))
event.listen(metadata, "after_create", DDL("CREATE OR REPLACE FUNCTION public.uuid_generate_v4() RETURNS uuid LANGUAGE sql IMMUTABLE AS 'SELECT gen_random_uuid()'"))
'''
    plain = "from sqlalchemy import Column, Integer, MetaData, Table\nmetadata = MetaData()\nTable('things', metadata, Column('id', Integer, primary_key=True))\n"
    repo = make_repo(tmp_path / "evil", {"v1": {"models.py": plain}, "v2": {"models.py": evil}})
    result = diff_json(str(repo), "v1", "v2", "--models", "models.py")
    rejected = sorted(w["message"] for w in result["warnings"] if w["code"] == "rejected-ddl")
    assert len(rejected) == 2 and "permission denied to COPY to or from an external program" in rejected[1] and OWNED_BY_OTHERS.search(rejected[0]), rejected
    assert not target.exists()
