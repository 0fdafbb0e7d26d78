"""Every private alembic and SQLAlchemy name modeldiff uses, and only here.

alembic and SQLAlchemy are capped in pyproject.toml to the versions the tests cover;
tests/test_settings_compat.py touches each name below, so an upgrade that removes or
renames one fails that test, not a user's run. The two names marked optional only make
the comparison faster: without them alembic does the same work itself, later.
"""

from __future__ import annotations

from alembic.autogenerate import compare as _alembic_compare
from alembic.autogenerate import render as _alembic_render

try:  # optional: fills alembic's reflection caches in one batched query per kind
    from alembic.autogenerate.compare.util import _InspectorConv as InspectorConv
except ImportError:  # pragma: no cover - another alembic
    InspectorConv = None

# optional: alembic's produce_migrations() without the fresh inspector it would make
populate_migration_script = getattr(_alembic_compare, "_populate_migration_script", None)

# The autogenerate renderer's pieces `alembic revision --autogenerate` is made of.
render_cmd_body = _alembic_render._render_cmd_body
indent = _alembic_render._indent
render_alter_column = _alembic_render._alter_column


def set_inspector(autogen_context, inspector) -> None:
    """Give an AutogenContext the inspector to read the database through (its
    `inspector` is a memoized property, stored in the instance's __dict__)."""
    autogen_context.__dict__["inspector"] = inspector


def compare_first(autogen_context, comparator, target: str = "column", element: str = "server_default") -> None:
    """Run `comparator` before every other comparison of `target`'s `element` (alembic's
    priority dispatch, 1.18+). Alembic's own first comparator of server defaults reads
    `.arg` of an Identity or Computed default and fails; ours stops it before."""
    from alembic.util import DispatchPriority

    autogen_context.comparators._registry[(target, "default", DispatchPriority.FIRST)].insert(0, (comparator, element))


def stored_reverse(op):
    """The operation alembic keeps to undo a drop (DropTableOp, DropColumnOp,
    DropConstraintOp: the dropped object as it was), or None."""
    return op._reverse


def with_reverse(op_class, *args, reverse, **kw):
    """A drop operation built with the operation that undoes it (alembic's `_reverse`)."""
    return op_class(*args, _reverse=reverse, **kw)


def set_parent(element, parent) -> None:
    """Attach a schema element (an Index) to a Table without the Table adding it to its
    own collections (SQLAlchemy's `_set_parent`)."""
    element._set_parent(parent)



def standard_conforming_strings(dialect):
    """`dialect` rendering string literals for a server with standard_conforming_strings on
    (a backslash is an ordinary character). SQLAlchemy assumes "off" (`_backslash_escapes`)
    until it has connected to a server and asked."""
    dialect._backslash_escapes = False
    return dialect


def upgrade_steps(script_directory, destination: str, heads: tuple[str, ...]) -> list:
    """The steps (RevisionStep) alembic's `upgrade` runs from `heads` to `destination`, in
    its order (branches, merges): what the migrations replay runs and reports as planned."""
    return list(script_directory._upgrade_revs(destination, heads))
