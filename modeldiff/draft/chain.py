"""The head of an application's alembic chain at a ref, read from git objects.

A generated revision must say which revision it follows (`down_revision`). Each file of
the versions directory is parsed (never imported: that would run the project's code) for
its module-level `revision` and `down_revision`; the heads are the revisions no other
revision names as its parent.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the replay child imports this module without GitPython
    from ..source.repository import Snapshot


class HistoryError(Exception):
    """The migrations directory cannot be read into one chain: one line saying why."""


@dataclass
class History:
    path: str
    revisions: dict[str, tuple[str, ...]]  # revision -> its down revisions
    files: dict[str, str]  # revision -> file path
    skipped: list[str] = field(default_factory=list)  # files without a readable revision

    @property
    def heads(self) -> list[str]:
        parents = {p for downs in self.revisions.values() for p in downs}
        return sorted(r for r in self.revisions if r not in parents)


def read_history(snapshot: "Snapshot", path: str) -> History | None:
    """The alembic history under `path` at `snapshot`, or None when there is none."""
    files = {p: b for p, b in snapshot.list_files(path).items() if p.endswith(".py") and "/__pycache__/" not in p}
    if not files:
        return None
    history = History(path, {}, {})
    for file in sorted(files):
        try:
            found = _revision_of(snapshot.read(file).decode("utf-8", errors="replace"))
        except SyntaxError:
            found = None
        if found is None:
            history.skipped.append(file)
            continue
        revision, downs = found
        if revision in history.revisions:
            raise HistoryError(f"{snapshot.ref}: revision {revision} is defined twice ({history.files[revision]} and {file})")
        history.revisions[revision] = downs
        history.files[revision] = file
    return history


def _revision_of(source: str) -> tuple[str, tuple[str, ...]] | None:
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:  # `revision: str = "..."`
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    return None
    revision = values.get("revision")
    if not isinstance(revision, str) or "down_revision" not in values:
        return None
    down = values["down_revision"]
    if down is None:
        downs: tuple[str, ...] = ()
    elif isinstance(down, str):
        downs = (down,)
    elif isinstance(down, (tuple, list)) and all(isinstance(d, str) for d in down):
        downs = tuple(down)
    else:
        return None
    return revision, downs


def down_revision_for(history: History | None) -> str | tuple[str, ...] | None:
    """What a new revision on top of `history` names as its parent: the head, or a tuple
    of the heads when the chain has several (the new revision then merges them)."""
    if history is None or not history.revisions:
        return None
    heads = history.heads
    if not heads:
        raise HistoryError(f"{history.path}: the revisions form a cycle; no head")
    return heads[0] if len(heads) == 1 else tuple(heads)
