"""alembic operations of the catalog comparison (compare/catalog.py): the operations alembic
made for what the catalog tells otherwise, removed, and CatalogOp for what alembic has no
operation for. Apart from catalog.py so that reading a cached answer never imports alembic."""

from __future__ import annotations

from alembic.operations import ops

from ..values import Change
from .catalog import statements


def drop_ops(upgrade_ops, change: Change) -> None:
    """Remove alembic's operation for `change` (an index or foreign key it reported)."""
    kinds = {"add_index": ops.CreateIndexOp, "remove_index": ops.DropIndexOp, "add_fk": ops.CreateForeignKeyOp, "remove_fk": ops.DropConstraintOp}
    for container in upgrade_ops.ops:
        if isinstance(container, ops.ModifyTableOps):
            container.ops = [
                op for op in container.ops
                if not (isinstance(op, kinds[change.kind]) and (getattr(op, "index_name", None) or getattr(op, "constraint_name", None)) == change.name)
            ]
    upgrade_ops.ops = [op for op in upgrade_ops.ops if not (isinstance(op, ops.ModifyTableOps) and not op.ops)]


def tables_ops(upgrade_ops, table: str):
    for container in upgrade_ops.ops:
        if isinstance(container, ops.ModifyTableOps) and (f"{container.schema}.{container.table_name}" if container.schema else container.table_name) == table:
            yield container


def drop_default_op(upgrade_ops, change: Change) -> None:
    """Alembic's SET DEFAULT for a default that is only spelled differently: dropped."""
    for container in tables_ops(upgrade_ops, change.table):
        for op in list(container.ops):
            if isinstance(op, ops.AlterColumnOp) and op.column_name == change.column:
                op.modify_server_default = False
                if op.modify_type is None and op.modify_nullable is None and op.modify_comment is False and op.modify_name is None:
                    container.ops.remove(op)
    upgrade_ops.ops = [op for op in upgrade_ops.ops if not (isinstance(op, ops.ModifyTableOps) and not op.ops)]


def add_op(upgrade_ops, change: Change) -> None:
    """Sequences and functions are created first (a default or trigger may use them) and
    dropped last; triggers dropped first (their table or column may go) and created last;
    everything else after alembic's operations (a constraint may use a column alembic
    adds). Alembic's downgrade runs the reverse operations in the reverse order."""
    upgrade, downgrade = statements(change), statements(change, reverse=True)
    if change.kind == "modify_trigger":  # dropped first and created last, both ways
        upgrade_ops.ops.insert(0, CatalogOp("remove_trigger", upgrade[:1], downgrade[1:]))
        upgrade_ops.ops.append(CatalogOp("add_trigger", upgrade[1:], downgrade[:1]))
        return
    op = CatalogOp(change.kind, upgrade, downgrade)
    if change.kind in ("add_sequence", "add_function", "remove_trigger"):
        upgrade_ops.ops.insert(0, op)
    else:
        upgrade_ops.ops.append(op)


class CatalogOp(ops.MigrateOperation):
    """A change alembic has no operation for, as the SQL that makes it and undoes it
    (rendered and run by draft/ops.py)."""

    def __init__(self, kind: str, upgrade: list[str], downgrade: list[str]) -> None:
        self.kind, self.upgrade, self.downgrade = kind, list(upgrade), list(downgrade)

    def reverse(self):
        return CatalogOp(self.kind, self.downgrade, self.upgrade)

    def to_diff_tuple(self):
        return (self.kind, tuple(self.upgrade))
