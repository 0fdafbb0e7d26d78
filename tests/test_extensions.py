"""Extensions created on demand: a schema that needs citext, pg_trgm, hstore... is created
whole in the embedded PostgreSQL, and the output says which extensions it needed."""

from __future__ import annotations

import json
import textwrap

import pytest

from conftest import diff_json, make_repo, run_cli, server_reachable_dir
from modeldiff.compare.extensions import PROVIDERS, needed_by
from modeldiff.compare.schemas import materialize_in_schema
from modeldiff.pipeline import DiffRequest, load_refs, open_session


@pytest.fixture(scope="module")
def helpdesk(build_sample):
    """31 tables: `accounts` (a CITEXT column, a gin_trgm_ops index) and 30 tables with a
    foreign key to it; v1.1 turns accounts.email from VARCHAR(255) into CITEXT."""
    return build_sample("helpdesk")


def _extension_warnings(result: dict, ref: str) -> dict[str, str]:
    return {
        w["message"].split()[1]: w["message"]
        for w in result["warnings"]
        if w["code"] == "extension-created" and w.get("ref") == ref
    }


def test_a_citext_table_and_its_30_dependants_are_all_compared(helpdesk):
    result = diff_json(str(helpdesk), "v1.0", "v1.1")
    assert [(c["kind"], c["table"], c["column"], c["old"], c["new"]) for c in result["changes"]] == [
        ("modify_type", "accounts", "email", "VARCHAR(255)", "CITEXT")
    ]
    assert result["tables"] == {"from": 31, "to": 31}
    assert not [w for w in result["warnings"] if w["code"] in ("rejected-ddl", "extension-unavailable")]
    for ref in ("v1.0", "v1.1"):
        said = _extension_warnings(result, ref)
        assert sorted(said) == ["citext", "pg_trgm"]
        assert "type citext" in said["citext"] and "operator class gin_trgm_ops" in said["pg_trgm"]


def test_every_table_exists_in_the_scratch_schema(helpdesk, pg):
    """Counted in PostgreSQL itself: all 31 tables, and the trigram indexes with their
    operator class."""
    session, snapshots = open_session(DiffRequest(str(helpdesk), "v1.0", "v1.1"), ["v1.0", "v1.1"])
    for loaded in load_refs(session, snapshots):
        place, warnings = materialize_in_schema(pg, loaded.schema)
        conn = pg.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (place.search_path,))
            assert cur.fetchone()[0] == len(loaded.schema.tables) == 31
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE %s ORDER BY 1",
                (place.search_path, "%gin_trgm_ops%"),
            )
            assert [row[0] for row in cur.fetchall()] == ["ix_accounts_display_name_trgm", "ix_kb_articles_title_trgm"]
            cur.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'email'",
                (f'"{place.search_path}".accounts',),
            )
            assert cur.fetchone()[0] == ("character varying(255)" if loaded.schema.ref == "v1.0" else "citext")
        conn.close()
        assert {w.code for w in warnings} == {"extension-created"}


@pytest.mark.parametrize("tag", ["v1.0", "v1.1"])
def test_a_ref_against_itself_is_empty(helpdesk, tag):
    assert diff_json(str(helpdesk), tag, tag)["changes"] == []


def test_the_plan_says_citext_is_no_rewrite_but_may_fail(helpdesk):
    proc = run_cli("plan", str(helpdesk), "v1.0", "v1.1", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    (step,) = json.loads(proc.stdout)["steps"]
    codes = [h["code"] for h in step["hazards"]]
    assert "MD102" not in codes and "MD202" in codes  # binary-coercible; a unique index may fail
    assert "equal ignoring case" in step["hazards"][codes.index("MD202")]["reason"]


MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import HSTORE
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import UserDefinedType

Base = declarative_base()


class Geometry(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "geometry(POINT, 4326)"


class Store(Base):
    __tablename__ = "stores"
    id = Column(Integer, primary_key=True)
    location = Column(Geometry())
    tags = Column(HSTORE)


class Shelf(Base):
    __tablename__ = "shelves"
    id = Column(Integer, primary_key=True)
    store_id = Column(ForeignKey("stores.id"))


class Region(Base):
    __tablename__ = "regions"
    id = Column(Integer, primary_key=True)
    area = Column(Geometry())
    name = Column(String(40))
"""


def test_a_type_no_bundled_extension_provides_is_one_grouped_warning(tmp_path):
    repo = make_repo(tmp_path / "geo", {"v1": {"models.py": textwrap.dedent(MODELS)}})
    proc = run_cli("diff", str(repo), "v1", "v1", "--format", "json")
    # The tables PostgreSQL could not create are an incomplete answer: said, and exit 2.
    assert proc.returncode == 2
    assert proc.stderr.startswith("modeldiff: error: incomplete result, 3 tables not compared: v1: regions, stores: type \"geometry\" does not exist")
    result = json.loads(proc.stdout)
    assert result["partial"] is True
    assert result["not_compared"] == [
        {"table": "regions", "ref": "v1", "reason": 'type "geometry" does not exist'},
        {"table": "shelves", "ref": "v1", "reason": "depends on stores, not created", "cause": "stores"},
        {"table": "stores", "ref": "v1", "reason": 'type "geometry" does not exist'},
    ]
    assert result["changes"] == []
    (postgis,) = [w for w in result["warnings"] if w["code"] == "extension-unavailable"]
    assert postgis["message"].startswith("extension postgis (for geometry) is not bundled with the embedded PostgreSQL")
    assert "table regions" in postgis["message"] and "table stores" in postgis["message"]
    assert run_cli("diff", str(repo), "v1", "v1", "--format", "json", "--keep-going").returncode == 0


@pytest.mark.parametrize(
    "message,expected",
    [
        ('type "citext" does not exist', ("citext", "citext")),
        ('type "public.ltree" does not exist', ("ltree", "ltree")),
        ('operator class "gin_trgm_ops" does not exist for access method "gin"', ("gin_trgm_ops", "pg_trgm")),
        ("function similarity(text, text) does not exist", ("similarity", "pg_trgm")),
        ("function uuid_generate_v4() does not exist", ("uuid_generate_v4", "uuid-ossp")),
        ('data type integer has no default operator class for access method "gist"', ("a default operator class for gist", "btree_gist")),
        ('access method "bloom" does not exist', ("bloom", "bloom")),
        ("operator does not exist: text % text", ("%", "pg_trgm")),
        ('type "my_enum" does not exist', None),
        ('relation "users" does not exist', None),
    ],
)
def test_error_messages_name_the_extension(message, expected):
    assert needed_by(message) == expected


def test_every_provider_is_bundled_or_known_to_be_missing(pg):
    """The table names real extensions: each is available in the embedded server, or is one
    of those it is known not to bundle (they become a warning)."""
    conn = pg.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT name FROM pg_available_extensions")
        available = {row[0] for row in cur.fetchall()}
    conn.close()
    not_bundled = set(PROVIDERS.values()) - available
    assert not_bundled == {"postgis", "postgis_raster", "h3", "timescaledb", "uuid-ossp", "pgcrypto"}
    assert {"citext", "pg_trgm", "hstore", "ltree", "btree_gin", "btree_gist", "vector"} <= available


def test_verify_round_trips_the_citext_change(helpdesk):
    """The drafted revision (ALTER COLUMN ... TYPE CITEXT) runs on the FROM schema, which
    has the extension, and its downgrade back."""
    proc = run_cli("verify", str(helpdesk), "v1.0", "v1.1")
    assert proc.returncode == 0, proc.stderr
    assert "upgrade   pass" in proc.stdout and "downgrade pass" in proc.stdout


def test_concurrent_runs_race_for_the_same_extensions_safely(helpdesk):
    """Four runs on one fresh shared server, each creating citext and pg_trgm in the shared
    database at the same moment: all succeed with the same answer."""
    import os
    import subprocess
    import sys

    with server_reachable_dir() as cache:
        env = {**os.environ, "MODELDIFF_CACHE_DIR": str(cache)}
        env.pop("MODELDIFF_DEBUG", None)
        args = [sys.executable, "-m", "modeldiff.cli", "diff", str(helpdesk), "v1.0", "v1.1", "--format", "json", "--no-cache"]
        runs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    assert json.loads(outputs[0][0])["changes"][0]["new"] == "CITEXT"


FUNCTION_MODELS = """
from sqlalchemy import Column, Index, Integer, String, func
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Food(Base):
    __tablename__ = "foods"
    id = Column(Integer, primary_key=True)
    name = Column(String(80))
    __table_args__ = (Index("ix_foods_name_normalized", func.ultranormalize_name(name), postgresql_using="gin", postgresql_ops={"ultranormalize_name(name)": "gin_trgm_ops"}),)


class Label(Base):
    __tablename__ = "labels"
    id = Column(Integer, primary_key=True)
    food_id = Column(Integer)
    NOTE = None
"""


def test_a_function_only_migrations_create_with_arguments_gets_a_placeholder(tmp_path):
    """mealie's `ultranormalize_name(text)` in a trigram index: its migrations create the
    function, the models only use it. A placeholder of that name and argument type stands in,
    so the table is compared (it was `not_compared`); the placeholder is no schema change."""
    v2 = FUNCTION_MODELS.replace("    NOTE = None\n", "    note = Column(String(200))\n")
    repo = make_repo(tmp_path / "foods", {"v1": {"models.py": textwrap.dedent(FUNCTION_MODELS)}, "v2": {"models.py": textwrap.dedent(v2)}})
    result = diff_json(str(repo), "v1", "v2")
    assert result["partial"] is False and "not_compared" not in result or result["not_compared"] == []
    assert [(c["kind"], c["table"], c.get("column")) for c in result["changes"]] == [("add_column", "labels", "note")]
    placeholders = {w["message"] for w in result["warnings"] if w["code"] == "placeholder-function"}
    assert placeholders == {"function ultranormalize_name(character varying) returning character varying does not exist here (migrations may create it); a placeholder stands in for it"}
    assert diff_json(str(repo), "v1", "v1")["changes"] == []
