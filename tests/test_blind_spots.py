"""What alembic's comparison misses and modeldiff must not: primary keys, enum values,
unbounded VARCHAR; and what alembic gets wrong when it compares models with a database."""

from __future__ import annotations

from conftest import diff_json, make_repo, run_cli

V1 = '''
import enum
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()
Mood = sa.Enum("happy", "sad", name="mood")


class Entry(Base):
    __tablename__ = "entries"
    id = sa.Column(sa.Integer, primary_key=True)
    version = sa.Column(sa.Integer, nullable=False, server_default="1")
    mood = sa.Column(Mood, nullable=True)
    label = sa.Column(sa.String(40))
    body = sa.Column(sa.Text, server_default=sa.text("'x'"))
'''

V2 = (
    V1.replace('sa.Enum("happy", "sad", name="mood")', 'sa.Enum("happy", "sad", "meh", name="mood")')
    .replace("version = sa.Column(sa.Integer, nullable=False", "version = sa.Column(sa.Integer, primary_key=True, nullable=False")
    .replace("sa.String(40)", "sa.String()")
)


def test_primary_key_enum_values_and_unbounded_varchar(tmp_path):
    repo = make_repo(tmp_path / "r", {"v1": {"app/models.py": V1}, "v2": {"app/models.py": V2}})
    result = diff_json(str(repo), "v1", "v2")
    changes = {(c["kind"], c["table"], c.get("column") or c.get("name")): c for c in result["changes"]}
    assert changes[("modify_primary_key", "entries", "entries_pkey")]["old"] == ["id"]
    assert changes[("modify_primary_key", "entries", "entries_pkey")]["new"] == ["id", "version"]
    assert changes[("modify_enum", None, "mood")]["old"] == ["happy", "sad"]
    assert changes[("modify_enum", None, "mood")]["new"] == ["happy", "sad", "meh"]
    assert (changes[("modify_type", "entries", "label")]["old"], changes[("modify_type", "entries", "label")]["new"]) == ("VARCHAR(40)", "VARCHAR")
    # id is no longer the only key column, so no longer SERIAL: its sequence goes.
    assert changes[("remove_sequence", None, "entries_id_seq")]["old"]["owned_by"] == "entries.id"
    assert len(result["changes"]) == 4
    assert result["layout"].startswith("detected (models app/models.py")


def test_same_models_written_differently_give_no_changes(tmp_path):
    # Defaults and types spelled differently but equal in PostgreSQL's normal form: a
    # model-vs-database comparison reports these; modeldiff must not.
    v2 = V1.replace('server_default="1"', "server_default=sa.text('1')").replace("sa.Text,", "sa.TEXT(),")
    repo = make_repo(tmp_path / "r", {"v1": {"app/models.py": V1}, "v2": {"app/models.py": v2}})
    assert diff_json(str(repo), "v1", "v2")["changes"] == []


def test_an_added_gin_index_says_so_in_the_change_and_the_runbook(tmp_path):
    """The index method is part of the change: a GIN index on JSONB is another build (and
    another statement) than a btree one."""
    v1 = V1.replace("    body = sa.Column(", "    meta = sa.Column(sa.dialects.postgresql.JSONB)\n    body = sa.Column(")
    v2 = v1 + '\n\nsa.Index("entries_meta_idx", Entry.meta, postgresql_using="gin")\nsa.Index("entries_label_idx", Entry.label)\n'
    v1 = "import sqlalchemy.dialects.postgresql\n" + v1
    v2 = "import sqlalchemy.dialects.postgresql\n" + v2
    repo = make_repo(tmp_path / "r", {"v1": {"app/models.py": v1}, "v2": {"app/models.py": v2}})
    details = {c["name"]: c["detail"] for c in diff_json(str(repo), "v1", "v2")["changes"]}
    assert details == {
        "entries_meta_idx": {"columns": ["meta"], "unique": False, "using": "gin"},
        "entries_label_idx": {"columns": ["label"], "unique": False},
    }
    runbook = run_cli("plan", str(repo), "v1", "v2", "--format", "markdown").stdout
    assert 'CREATE INDEX CONCURRENTLY entries_meta_idx ON entries USING gin (meta);' in runbook
    assert 'CREATE INDEX CONCURRENTLY entries_label_idx ON entries (label);' in runbook
