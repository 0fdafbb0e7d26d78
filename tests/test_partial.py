"""A ref created only where it differs from the other ref of its pair (compare/partial.py)
gives the very answer of creating both refs in full: changes, warnings, tables not
compared, in a pair and along a history."""

from __future__ import annotations

import textwrap

import pytest

from conftest import make_repo

HEADER = """
from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import declarative_base

Base = declarative_base()
"""

# name -> its body at v1, v2, v3, v4 (None: not there). v2 differs from v1 in a few tables
# (created where it differs); v3 and v4 differ from v2 in ways that make the partial
# creation step back to a full one.
TEAM = "team_id = Column(ForeignKey('teams.id'))"
UNIQUE_CODE = "code = Column(String(20))\n    __table_args__ = (UniqueConstraint('code', name='uq_plans_code'),)"
NOTE = "note = Column(String(20))"
NOTE_INDEXED = "note = Column(String(20))\n    __table_args__ = (Index('ix_note', 'note'),)"
TABLES = {
    # Unchanged, with a server default PostgreSQL rejects (Dify's text("CREATING")): each
    # ref warns, the second without creating it.
    "bindings": ['status = Column(String(255), nullable=False, server_default=text("CREATING"))'] * 4,
    "teams": ["name = Column(String(40))"] * 4,
    # Changed: points at an unchanged table, which is created with it.
    "members": [TEAM, *[TEAM + "\n    role = Column(String(20))"] * 3],
    # v3 drops the unique key an unchanged table's foreign key needs: that table is
    # rejected there (not compared), as when both refs are created in full.
    "plans": [UNIQUE_CODE, UNIQUE_CODE, "code = Column(String(20))", UNIQUE_CODE],
    "subscriptions": ["plan_code = Column(String(20), ForeignKey('plans.code'))"] * 4,
    # v4 adds an index named as an unchanged table's: which one PostgreSQL rejects
    # depends on what else is created.
    "audits": [NOTE_INDEXED] * 4,
    "events": [NOTE, NOTE, NOTE, NOTE_INDEXED],
    "archive": ["id2 = Column(Integer)", None, None, None],
    "reports": [None, *["title = Column(String(80))"] * 3],
}


def _models(version: int) -> str:
    classes = []
    for name, bodies in TABLES.items():
        body = bodies[version]
        if body is not None:
            classes.append(f"class {name.title()}(Base):\n    __tablename__ = '{name}'\n    id = Column(Integer, primary_key=True)\n    {body}\n")
    return textwrap.dedent(HEADER) + "\n\n" + "\n\n".join(classes)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("partial")
    return make_repo(root / "app", {f"v{i + 1}": {"models.py": _models(i)} for i in range(4)})


def _answers(repo, monkeypatch, in_full: bool):
    from modeldiff import api
    from modeldiff.compare import partial

    created = []
    if in_full:
        monkeypatch.setattr(partial, "_needed", lambda schema, base: None)
    materialize = partial.materialize

    def recording(server, schema, base, version):
        made = materialize(server, schema, base, version)
        created.append((schema.ref, len(made.created)))
        return made

    monkeypatch.setattr(partial, "materialize", recording)
    options = {"models": "models.py", "import_root": ".", "use_cache": False, "keep_going": True}
    pairs = [api.diff(str(repo), a, b, **options) for a, b in (("v1", "v2"), ("v2", "v3"), ("v2", "v4"))]
    history = api.history(str(repo), ["v1", "v2", "v3"], **options)
    monkeypatch.undo()
    return [d.to_json() for d in pairs], [d.to_json() for d in history], created


@pytest.mark.slow
def test_a_ref_created_where_it_differs_answers_as_one_created_in_full(repo, monkeypatch):
    pairs, history, created = _answers(repo, monkeypatch, in_full=False)
    full_pairs, full_history, full_created = _answers(repo, monkeypatch, in_full=True)
    assert pairs == full_pairs
    assert history == full_history
    assert pairs[:2] == history
    # The second ref of the first pair created only what differs (members, and archive or
    # reports) and what that points at (teams): not the other 5 of its 8 tables.
    assert sorted(created[:2]) in ([("v1", 8), ("v2", 3)], [("v1", 3), ("v2", 8)])
    assert {count for _, count in full_created} == {8}

    first, second, third = pairs
    assert sorted((w["code"], w["ref"]) for w in first["warnings"]) == [("invalid-default", "v1"), ("invalid-default", "v2")]
    assert sorted((c["kind"], c["table"]) for c in first["changes"]) == [("add_column", "members"), ("add_table", "reports"), ("remove_table", "archive")]
    assert {(n["table"], n["ref"]) for n in second["not_compared"]} == {("subscriptions", "v3")}
    assert [(c["kind"], c["table"]) for c in second["changes"]] == [("remove_constraint", "plans")]
    # v4's index name clashes with an unchanged table's: created in full, one rejected.
    assert [(n["table"], n["ref"]) for n in third["not_compared"]] == [("events", "v4")]
