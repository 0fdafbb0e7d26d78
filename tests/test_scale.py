"""Scale and completeness: a synthetic app of hundreds of tables gives exactly its changes,
and a table PostgreSQL rejects is never lost silently (listed, partial, exit 2)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import make_repo, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import synthetic  # noqa: E402 - bench/synthetic.py, the generator bench/run uses


@pytest.mark.slow
def test_a_synthetic_app_of_300_tables_gives_exactly_its_changes(tmp_path):
    # 300 tables are created in several batches; 12 changed tables cover each variant 3 times.
    repo = synthetic.build(tmp_path, tables=300, changed=12)
    proc = run_cli("diff", str(repo), "v1", "v2", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    found = sorted((c["kind"], c["table"], c.get("column") or c.get("name")) for c in result["changes"])
    assert found == synthetic.expected_changes(300, 12)
    assert len(found) == 60
    assert result["warnings"] == []
    assert result["partial"] is False and "not_compared" not in result


MODELS = """
from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
{users}

class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("no_such_function(id) > 0", name="ck_accounts_id"),)
    id = Column(Integer, primary_key=True)
{accounts}

class Profile(Base):
    __tablename__ = "profiles"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"))


class Badge(Base):
    __tablename__ = "badges"
    id = Column(Integer, primary_key=True)
    profile_id = Column(ForeignKey("profiles.id"))


class Order(Base):
    __tablename__ = "orders"
{orders}
    id = Column(Integer, primary_key=True)
"""


def _models(v2: bool) -> str:
    return textwrap.dedent(MODELS).format(
        users="    email = Column(String(200))\n" if v2 else "",
        accounts="    plan = Column(String(20))\n" if v2 else "",
        orders='    __table_args__ = (CheckConstraint("also_missing(id)", name="ck_orders"),)' if v2 else "",
    )


@pytest.mark.slow
def test_a_table_the_server_rejects_is_listed_not_compared_with_exit_2(tmp_path):
    repo = make_repo(tmp_path / "rejects", {"v1": {"models.py": _models(False)}, "v2": {"models.py": _models(True)}})
    proc = run_cli("diff", str(repo), "v1", "v2", "--format", "json")
    assert proc.returncode == 2
    (error,) = proc.stderr.strip().splitlines()
    assert error.startswith("modeldiff: error: incomplete result, 4 tables not compared: ")
    result = json.loads(proc.stdout)
    assert result["partial"] is True
    accounts = "function no_such_function(integer) does not exist"
    assert result["not_compared"] == [
        {"table": "accounts", "ref": "v1", "reason": accounts},
        {"table": "accounts", "ref": "v2", "reason": accounts},
        # Tables whose foreign keys need a rejected one are listed with that root cause.
        {"table": "badges", "ref": "v1", "reason": "depends on profiles, not created", "cause": "accounts"},
        {"table": "badges", "ref": "v2", "reason": "depends on profiles, not created", "cause": "accounts"},
        {"table": "orders", "ref": "v2", "reason": "function also_missing(integer) does not exist"},
        {"table": "profiles", "ref": "v1", "reason": "depends on accounts, not created", "cause": "accounts"},
        {"table": "profiles", "ref": "v2", "reason": "depends on accounts, not created", "cause": "accounts"},
    ]
    # Only the compared tables' changes: no false remove_table for orders, none for accounts.
    assert [(c["kind"], c["table"], c.get("column")) for c in result["changes"]] == [("add_column", "users", "email")]

    text = run_cli("diff", str(repo), "v1", "v2")
    assert text.returncode == 2
    lines = text.stdout.splitlines()
    assert "incomplete (4 tables not compared)" in lines[0] and lines[0].endswith("1 change in 1 table")
    assert f"  v1: accounts: {accounts} → 2 dependent tables not compared" in lines
    assert "  v2: orders: function also_missing(integer) does not exist" in lines

    # --keep-going takes the incomplete answer; --exit-code still never says 0 or 1 for it.
    assert run_cli("diff", str(repo), "v1", "v2", "--keep-going").returncode == 0
    assert run_cli("diff", str(repo), "v1", "v2", "--keep-going", "--exit-code").returncode == 2
    # A round trip that starts from an incomplete schema proves nothing.
    verify = run_cli("verify", str(repo), "v1", "v2")
    assert verify.returncode == 2
    assert verify.stderr.strip().splitlines()[-1].startswith("modeldiff: error: cannot verify from incomplete schemas, 4 tables not compared: ")


def _schema(tables: dict, preamble=(), postamble=()):
    from modeldiff.load import LoadedSchema

    entries = {key: {"create": create, "statements": list(statements)} for key, (create, statements) in tables.items()}
    return LoadedSchema("r", None, entries, list(preamble), list(postamble), [], {}, {}, [])


def test_only_tables_with_the_very_same_statements_are_left_to_postgresql():
    from modeldiff.compare.unchanged import unchanged_tables

    a = {"users": ("CREATE TABLE users (id INTEGER)", ["CREATE INDEX ix ON users (id)"]), "teams": ("CREATE TABLE teams (id INTEGER)", [])}
    b = {**a, "teams": ("CREATE TABLE teams (id BIGINT)", [])}
    assert unchanged_tables(_schema(a), _schema(b)) == {"users"}
    # A foreign key of a cycle (added after all tables) belongs to the table it alters.
    fk = 'ALTER TABLE "users" ADD CONSTRAINT fk FOREIGN KEY(id) REFERENCES teams (id)'
    assert unchanged_tables(_schema(a), _schema(a, postamble=[fk])) == {"teams"}
    # Statements of no table (types, schemas) can change what a table's text means: none is skipped.
    assert unchanged_tables(_schema(a, preamble=["CREATE TYPE mood AS ENUM ('a')"]), _schema(a, preamble=["CREATE TYPE mood AS ENUM ('b')"])) == frozenset()
