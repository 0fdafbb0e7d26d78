"""What the drafting stage hands to the renderers for one revision file: the operations
in the file's (python) view, their online form when asked for, and what needs a human.
Built once per run; render/migration.py and the CLI only read it."""

from __future__ import annotations

from dataclasses import dataclass

from .migration import Migration, MigrationView
from .online import OnlineMigration, OnlineOptions, make_online


@dataclass(frozen=True)
class Revision:
    migration: Migration
    python: MigrationView  # the operations as the revision file spells them
    online: OnlineMigration | None  # their online form (and its rewrite plans), with --online
    todos: tuple[str, ...]  # what a human must decide

    @property
    def upgrade(self):
        return (self.online or self.python).upgrade

    @property
    def downgrade(self):
        return (self.online or self.python).downgrade


def draft_revision(migration: Migration, online: OnlineOptions | None = None) -> Revision:
    return Revision(
        migration,
        migration.view("python"),
        make_online(migration, online) if online is not None else None,
        tuple(migration.todos()),
    )
