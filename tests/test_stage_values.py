"""Each stage returns a frozen value the next only reads; diff (every format), revision and
verify share one compare path through the cache; the online form is drafted once."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from modeldiff import pipeline
from modeldiff.compare import schemas
from modeldiff.db.server import EmbeddedPostgres
from modeldiff.draft import revision as drafting
from modeldiff.draft.online import OnlineOptions
from modeldiff.pipeline import DiffRequest, diff, prepare_migration
from modeldiff.plan import annotate, make_plan
from modeldiff.render.migration import render_revision
from modeldiff.render.sql import render_sql
from modeldiff.values import Change

DATE = datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def server():
    with EmbeddedPostgres() as pg:
        yield pg


@pytest.fixture(scope="module")
def cache_dir(module_cache):
    """A cache of this module's own (conftest's): what it finds there, it put there."""
    return module_cache


def _counting(monkeypatch, module, name: str) -> list:
    """Calls of the real `module.name` (still called), recorded."""
    calls: list = []
    real = getattr(module, name)

    def counted(*args, **kw):
        calls.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_values_are_frozen():
    change = Change("add_index", "t", name="ix", detail={"columns": ["a"], "unique": False})
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.kind = "remove_index"
    with pytest.raises(TypeError):
        change.detail["unique"] = True
    assert change.detail["columns"] == ("a",) and not hasattr(change, "hazards")
    assert change.to_json() == {"kind": "add_index", "table": "t", "name": "ix", "detail": {"columns": ["a"], "unique": False}}
    (hazards,) = annotate([change])
    with pytest.raises(dataclasses.FrozenInstanceError):
        hazards[0].estimate = None


def test_one_compare_path_through_the_cache(difylike, server, cache_dir, monkeypatch):
    """revision/verify/`diff --format sql` load through the cache, create each ref once and
    compare once; the pair they compared is then in the cache for `diff`, which agrees."""
    request = DiffRequest(str(difylike), "v0.14.2", "v0.15.3")
    compares = _counting(monkeypatch, schemas, "compare_sides")
    created = _counting(monkeypatch, schemas, "create_schema")
    prepared = prepare_migration(request, server)
    assert (len(compares), len(created)) == (1, 2)
    assert prepared.migration.upgrade_ops is not prepared.result.upgrade_ops  # drafting works on a copy
    again = prepare_migration(request, server)  # loads from the cache now
    assert (len(compares), len(created)) == (2, 4)
    assert [c.to_json() for c in again.result.changes] == [c.to_json() for c in prepared.result.changes]
    cached = diff(request)
    assert len(compares) == 2 and cached.stats["cached"] == {"from": True, "to": True}  # served from the cache
    assert cached.to_json() == prepared.result.to_json()


def test_stages_do_not_change_what_they_read(difylike, server, cache_dir):
    prepared = prepare_migration(DiffRequest(str(difylike), "v0.14.2", "v1.0.0"), server)
    result, migration = prepared.result, prepared.migration
    before = result.to_json()
    plan = make_plan(result, pg_version="10")
    assert result.to_json() == before and plan.result is result
    assert any(step.hazards for step in plan.steps)
    # Views are built from copies, once each: any order of outputs gives the same text,
    # and the operations as built are the PostgreSQL view's.
    postgresql_first = render_sql(migration, "postgresql")
    sqlite, mysql = render_sql(migration, "sqlite"), render_sql(migration, "mysql")
    source = render_revision(migration, message="m", rev_id="0123456789ab", down_revision=None, create_date=DATE)
    assert render_sql(migration, "postgresql") == postgresql_first
    views = {name: migration.view(name) for name in ("postgresql", "python", "mysql", "sqlite")}
    assert migration.view("python") is views["python"]  # built once
    ops_of = lambda view: {id(op) for container in (view.upgrade, view.downgrade) for op in container.ops}  # noqa: E731
    assert not ops_of(views["python"]) & ops_of(views["mysql"])
    fresh = prepare_migration(DiffRequest(str(difylike), "v0.14.2", "v1.0.0"), server).migration
    assert render_sql(fresh, "mysql") == mysql and render_sql(fresh, "sqlite") == sqlite
    assert render_revision(fresh, message="m", rev_id="0123456789ab", down_revision=None, create_date=DATE) == source


def test_online_form_is_drafted_once(difylike, server, cache_dir, monkeypatch):
    prepared = prepare_migration(DiffRequest(str(difylike), "v0.14.2", "v0.15.3"), server)
    made = _counting(monkeypatch, drafting, "make_online")
    revision = drafting.draft_revision(prepared.migration, OnlineOptions(plan_file="plan.md"))
    source = render_revision(revision, message="m", rev_id="0123456789ab", down_revision=None, create_date=DATE)
    assert len(made) == 1 and "ONLINE PLAN" in source and revision.online.rewrites
    with pytest.raises(dataclasses.FrozenInstanceError):
        revision.online = None
