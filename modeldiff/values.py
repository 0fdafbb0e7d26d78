"""The data that flows between stages: changes, warnings, and a diff result.

These are plain, sortable values; the JSON contract (`to_json`) is built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Order of kinds inside one table in readable output: structure first, then details.
KIND_ORDER = [
    "add_table",
    "remove_table",
    "add_enum",
    "remove_enum",
    "modify_enum",
    "add_column",
    "remove_column",
    "modify_type",
    "modify_nullable",
    "modify_default",
    "modify_comment",
    "modify_table_comment",
    "modify_primary_key",
    "add_index",
    "remove_index",
    "add_constraint",
    "remove_constraint",
    "add_fk",
    "remove_fk",
]
# What `verify` finds left in a database after a migration ran (rendered, never planned).
VERIFY_KINDS = ["invalid_constraint", "invalid_index"]


class Dispatch:
    """One layer's handler per change kind, registered with a decorator (alembic's
    `dispatch_for` style) instead of an `if kind == ...` chain:

        STATEMENTS = Dispatch("plan.statements")

        @STATEMENTS.register("remove_index")
        def _drop_index(change): ...

    Every layer registers every kind in `kinds` (KIND_ORDER unless told), if only as
    `Dispatch.nothing` where it has nothing to do; tests/test_kinds.py checks that, so a
    new kind cannot be forgotten in one layer.
    """

    layers: list["Dispatch"] = []  # every registry, for that test

    def __init__(self, layer: str, kinds: list[str] | None = None) -> None:
        self.layer, self.kinds = layer, list(kinds if kinds is not None else KIND_ORDER)
        self.handlers: dict[str, Any] = {}
        Dispatch.layers.append(self)

    def register(self, *kinds: str):
        def decorate(handler):
            for kind in kinds:
                if kind in self.handlers:
                    raise ValueError(f"{self.layer}: {kind} registered twice")
                self.handlers[kind] = handler
            return handler

        return decorate

    @staticmethod
    def nothing(*args, **kwargs) -> None:
        """The handler of a kind this layer has nothing to do for (said, not forgotten)."""
        return None

    def get(self, kind: str, default=None):
        return self.handlers.get(kind, default)

    def missing(self) -> list[str]:
        return [k for k in self.kinds if k not in self.handlers]


@dataclass(frozen=True)
class Warning:  # noqa: A001 - shadows the builtin only inside this package's namespace
    code: str
    message: str
    ref: str | None = None
    location: str | None = None

    def sort_key(self) -> tuple:
        return (self.ref or "", self.location or "", self.code, self.message)

    def to_json(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.ref is not None:
            out["ref"] = self.ref
        if self.location is not None:
            out["location"] = self.location
        return out

    def __str__(self) -> str:
        where = ": ".join(x for x in (self.ref, self.location) if x)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class Change:
    kind: str
    table: str | None
    column: str | None = None
    name: str | None = None
    old: Any = None
    new: Any = None
    detail: dict = field(default_factory=dict)  # extra facts: index columns, uniqueness...
    hazards: list = field(default_factory=list)  # filled by the plan stage

    def sort_key(self) -> tuple:
        order = KIND_ORDER.index(self.kind) if self.kind in KIND_ORDER else len(KIND_ORDER)
        return (self.table or "", order, self.column or "", self.name or "", repr(self.old), repr(self.new))

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "table": self.table}
        for key in ("column", "name"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.old is not None or self.new is not None:
            out["old"], out["new"] = self.old, self.new
        if self.detail:
            out["detail"] = self.detail
        if self.hazards:
            out["hazards"] = [h.to_json() for h in self.hazards]
        return out


@dataclass(frozen=True)
class RefInfo:
    ref: str
    commit: str | None

    def to_json(self) -> dict:
        return {"ref": self.ref, "commit": self.commit}


@dataclass
class DiffResult:
    from_ref: RefInfo
    to_ref: RefInfo
    dialect: str
    changes: list[Change]
    warnings: list[Warning]
    # Alembic's operations (upgrade direction), for the migration renderers; not serialized.
    upgrade_ops: Any = None
    stats: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> "DiffResult":
        """The inverse of to_json (for cached results; hazards are recomputed, not read)."""
        changes = [
            Change(c["kind"], c["table"], c.get("column"), c.get("name"), c.get("old"), c.get("new"), c.get("detail", {}))
            for c in data["changes"]
        ]
        return cls(
            from_ref=RefInfo(data["from"]["ref"], data["from"]["commit"]),
            to_ref=RefInfo(data["to"]["ref"], data["to"]["commit"]),
            dialect=data["dialect"],
            changes=changes,
            warnings=[Warning(**w) for w in data["warnings"]],
        )

    def to_json(self) -> dict:
        return {
            "from": self.from_ref.to_json(),
            "to": self.to_ref.to_json(),
            "dialect": self.dialect,
            "changes": [c.to_json() for c in self.changes],
            "warnings": [w.to_json() for w in self.warnings],
        }
