"""The data that flows between stages: changes, warnings, and a diff.

Frozen, sortable values (tuples and read-only mappings inside); each stage builds new ones
and never changes what it received. The JSON contract (`to_json`) is built from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Order of kinds inside one table in readable output: structure first, then details.
KIND_ORDER = [
    "add_table",
    "remove_table",
    "add_enum",
    "remove_enum",
    "modify_enum",
    "add_sequence",
    "remove_sequence",
    "modify_sequence",
    "add_column",
    "remove_column",
    "modify_type",
    "modify_nullable",
    "modify_default",
    "modify_identity",
    "modify_generated",
    "modify_collation",
    "modify_comment",
    "modify_table_comment",
    "modify_primary_key",
    "add_index",
    "remove_index",
    "modify_index",
    "add_constraint",
    "remove_constraint",
    "modify_constraint",
    "add_fk",
    "remove_fk",
    "modify_fk",
    "add_function",
    "remove_function",
    "modify_function",
    "add_trigger",
    "remove_trigger",
    "modify_trigger",
]
# The kinds compare/catalog.py finds in the catalogs (alembic has no diff for them).
CATALOG_KINDS = [
    "add_sequence", "remove_sequence", "modify_sequence", "modify_identity", "modify_generated",
    "modify_collation", "modify_index", "modify_constraint", "modify_fk",
    "add_function", "remove_function", "modify_function", "add_trigger", "remove_trigger", "modify_trigger",
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


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become read-only mappings, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON shape of a frozen value (dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Change:
    """One difference between two schemas. Read-only: the stages after compare add to
    it nothing (their findings, e.g. the plan's hazards, are values of their own)."""

    kind: str
    table: str | None
    column: str | None = None
    name: str | None = None
    old: Any = None
    new: Any = None
    detail: Mapping[str, Any] = field(default_factory=dict)  # extra facts: index columns, uniqueness...

    def __post_init__(self) -> None:
        for key in ("old", "new", "detail"):
            object.__setattr__(self, key, freeze(getattr(self, key)))

    def sort_key(self) -> tuple:
        order = KIND_ORDER.index(self.kind) if self.kind in KIND_ORDER else len(KIND_ORDER)
        return (self.table or "", order, self.column or "", self.name or "", repr(thaw(self.old)), repr(thaw(self.new)))

    def to_json(self, hazards: Sequence = ()) -> dict:
        """The JSON contract; `hazards` (the plan stage's, for this change) are shown in it."""
        out: dict[str, Any] = {"kind": self.kind, "table": self.table}
        for key in ("column", "name"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.old is not None or self.new is not None:
            out["old"], out["new"] = thaw(self.old), thaw(self.new)
        if self.detail:
            out["detail"] = thaw(self.detail)
        if hazards:
            out["hazards"] = [h.to_json() for h in hazards]
        return out


@dataclass(frozen=True)
class RefInfo:
    ref: str
    commit: str | None

    def to_json(self) -> dict:
        return {"ref": self.ref, "commit": self.commit}


@dataclass(frozen=True)
class NotCompared:
    """A table one ref declares that PostgreSQL did not create in full, so it is left out of
    the comparison: `reason` is PostgreSQL's, `cause` the table whose rejection this one's
    foreign keys depend on (None when the table's own statement was rejected)."""

    table: str
    ref: str
    reason: str
    cause: str | None = None

    def sort_key(self) -> tuple:
        return (self.table, self.ref)

    def to_json(self) -> dict:
        out = {"table": self.table, "ref": self.ref, "reason": self.reason}
        if self.cause is not None:
            out["cause"] = self.cause
        return out


@dataclass(frozen=True)
class Diff:
    """What the compare stage found between two refs, read-only."""

    from_ref: RefInfo
    to_ref: RefInfo
    dialect: str
    changes: tuple[Change, ...]
    warnings: tuple[Warning, ...]
    # Alembic's operations (upgrade direction), for the drafting stage; not serialized.
    # None when the result came from the cache. The drafting stage works on a copy.
    upgrade_ops: Any = None
    stats: Mapping[str, Any] = field(default_factory=dict)  # run facts: layout, stubs, cache hits...
    not_compared: tuple[NotCompared, ...] = ()  # non-empty: the result is incomplete

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))
        object.__setattr__(self, "not_compared", tuple(self.not_compared))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "stats", freeze(self.stats))

    @classmethod
    def from_json(cls, data: dict) -> "Diff":
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
            not_compared=[NotCompared(**n) for n in data.get("not_compared", [])],
        )

    def to_json(self, hazards: Sequence[Sequence] | None = None) -> dict:
        """The JSON contract; `hazards[i]` (the plan stage's) are shown in change i."""
        hazards = hazards or [()] * len(self.changes)
        out = {
            "from": self.from_ref.to_json(),
            "to": self.to_ref.to_json(),
            "dialect": self.dialect,
            "changes": [c.to_json(h) for c, h in zip(self.changes, hazards, strict=True)],
            "warnings": [w.to_json() for w in self.warnings],
        }
        if self.not_compared:
            out["not_compared"] = [n.to_json() for n in self.not_compared]
        return out


DiffResult = Diff  # the name before stages returned frozen values
