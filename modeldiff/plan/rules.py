"""Hazard rules: each change of a diff gets zero or more `Hazard`s.

The rules read only the change, its facts (`Change.detail`, filled by `facts.collect_facts`
from the scratch databases), the other changes of the same diff (a table created in this
diff is empty, so nothing done to it is hazardous; a drop + add of same-typed columns may be
a rename), and a `PlanContext`: the PostgreSQL version the upgrade will run on, the server's
TimeZone, and optionally facts of the live database (which override the scratch facts,
e.g. a CHECK that proves NOT NULL in production but not in the models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..values import Change, Dispatch
from ..compare.facts import check_proving_not_null
from .hazards import ACCESS_EXCLUSIVE, ANY_DEFAULT_REWRITES, ENUM_ADD_VALUE_NEEDS_AUTOCOMMIT, NOT_NULL_PROVED_BY_CHECK, SHARE, SHARE_ROW_EXCLUSIVE, Hazard
from .types import classify_type_change

DEFAULT_PG_VERSION = 160000  # assumed when neither --pg-version nor a live server says otherwise


def parse_pg_version(text: str | int) -> int:
    """'10' -> 100000, '9.6' -> 90600, '16.2' -> 160002, '160002' -> 160002."""
    s = str(text).strip()
    try:
        if "." not in s:
            n = int(s)
            return n if n >= 10000 else n * 10000
        parts = [int(p) for p in s.split(".")]
    except ValueError:
        raise ValueError(f"not a PostgreSQL version: {text!r} (expected e.g. 16, 12.4, 9.6 or 160002)") from None
    if parts[0] >= 10:
        return parts[0] * 10000 + (parts[1] if len(parts) > 1 else 0)
    return parts[0] * 10000 + (parts[1] if len(parts) > 1 else 0) * 100 + (parts[2] if len(parts) > 2 else 0)


def format_pg_version(num: int) -> str:
    if num >= 100000:
        return f"{num // 10000}" if num % 10000 == 0 else f"{num // 10000}.{num % 10000}"
    return f"{num // 10000}.{num // 100 % 100}.{num % 100}"


@dataclass(frozen=True)
class PlanContext:
    pg_version: int = DEFAULT_PG_VERSION
    version_source: str = "assumed"  # assumed | option | server
    timezone: str | None = None  # the TimeZone a migrating session gets (live server), if known
    live: object | None = None  # live.LiveFacts

    def live_table(self, name: str | None):
        return self.live.table(name) if self.live is not None and name else None


@dataclass
class _Diff:
    """What a rule may need to know about the other changes of the diff."""

    changes: list[Change]
    new_tables: set[str] = field(default_factory=set)
    removed_tables: set[str] = field(default_factory=set)

    def __post_init__(self):
        self.new_tables = {c.table for c in self.changes if c.kind == "add_table"}
        self.removed_tables = {c.table for c in self.changes if c.kind == "remove_table"}

    def find(self, kind: str, table: str | None, pred=lambda c: True) -> Change | None:
        for c in self.changes:
            if c.kind == kind and c.table == table and pred(c):
                return c
        return None


ChangeHazards = tuple[tuple[Hazard, ...], ...]  # the hazards of change i of a diff at [i]


def annotate(changes: Sequence[Change], context: PlanContext | None = None) -> ChangeHazards:
    """The hazards of every change, by position (the changes are not touched)."""
    context = context or PlanContext()
    diff = _Diff(list(changes))
    return tuple(tuple(hazards_for(change, diff, context)) for change in changes)


def hazards_for(change: Change, diff: _Diff, ctx: PlanContext) -> list[Hazard]:
    if change.table in diff.new_tables and change.kind != "add_table":
        return []  # the table is created empty by this same upgrade: nothing to lock or scan
    if change.table in diff.removed_tables and change.kind != "remove_table":
        return []  # goes away with its table; the remove_table change carries the hazards
    rule = RULES.get(change.kind)
    return (rule(change, diff, ctx) if rule else None) or []


RULES = Dispatch("plan.rules")
# A new table is created empty (its other changes are skipped above); types, comments:
# catalog-only changes without a lock worth naming.
RULES.register("add_table", "add_enum", "remove_enum", "modify_comment", "modify_table_comment")(Dispatch.nothing)


def _brief(change: Change, reason: str, tables: list[str] | None = None, recipe: str = "lock-timeout") -> Hazard:
    return Hazard("MD101", reason, ACCESS_EXCLUSIVE, tables or [change.table], "brief", None, recipe)


@RULES.register("remove_table")
def _remove_table(change, diff, ctx):
    refs = [r for r in change.detail.get("references", []) if r not in diff.removed_tables and r != change.table]
    locked = [change.table, *refs]
    also = f" and on {', '.join(refs)} (its foreign keys' triggers live there)" if refs else ""
    return [
        _brief(change, f"DROP TABLE takes ACCESS EXCLUSIVE on {change.table}{also}", locked, "drop-in-later-release"),
        Hazard("MD201", f"every row of {change.table} is deleted", recipe="drop-in-later-release"),
        Hazard("MD301", f"the FROM release maps table {change.table}; its queries on it fail after the drop", recipe="drop-in-later-release"),
    ]


@RULES.register("add_column")
def _add_column(change, diff, ctx):
    d = change.detail
    out = []
    rewrite_why = None
    if d.get("generated") == "stored":
        rewrite_why = "a stored generated column is computed for every existing row"
    elif d.get("identity"):
        rewrite_why = f"an identity column (GENERATED {d['identity'].upper()} AS IDENTITY) numbers every existing row"
    elif d.get("default_volatility") == "volatile":
        rewrite_why = f"its default {d.get('default') or '(a sequence)'} is volatile, so it is evaluated for every existing row"
    elif d.get("default") is not None and ctx.pg_version in ANY_DEFAULT_REWRITES:
        rewrite_why = f"before PostgreSQL 11 any default ({d['default']}) is written into every existing row"
    if rewrite_why:
        out.append(Hazard("MD102", rewrite_why, ACCESS_EXCLUSIVE, [change.table], "operation", "rewrite", "add-column-backfill"))
    else:
        why = "catalog only"
        if d.get("default") is not None:
            why = f"the {d.get('default_volatility', 'non-volatile')} default {d['default']} is stored once in the catalog (PostgreSQL ≥ 11)"
        out.append(_brief(change, f"ADD COLUMN: {why}"))
    required = d.get("nullable") is False and d.get("default") is None and not d.get("identity") and not d.get("generated") and "default_volatility" not in d
    if required:
        out.append(Hazard("MD203", f"{change.column} is NOT NULL without a default: the ALTER fails if {change.table} has any row", recipe="required-in-later-release"))
        out.append(Hazard("MD303", f"the FROM release's INSERTs into {change.table} don't name {change.column} and fail", recipe="required-in-later-release"))
    return out


@RULES.register("remove_column")
def _remove_column(change, diff, ctx):
    out = [
        _brief(change, "DROP COLUMN only marks the column dropped in the catalog (space is reclaimed by later rewrites)", recipe="drop-in-later-release"),
        Hazard("MD201", f"every value of {change.table}.{change.column} is deleted", recipe="drop-in-later-release"),
        Hazard("MD301", f"the FROM release maps {change.table}.{change.column} and names it in its SELECTs and INSERTs", recipe="drop-in-later-release"),
    ]
    twin = diff.find(
        "add_column",
        change.table,
        lambda c: c.new == change.old and c.detail.get("nullable", True) == change.detail.get("nullable", True),
    )
    if twin is not None:
        out.append(
            Hazard(
                "MD302",
                f"{change.column} is dropped and {twin.column} ({twin.new}) added: if this is a rename, its values are lost",
                recipe="rename-in-orm",
                recipe_params={"new_column": twin.column, "old_column": change.column},
            )
        )
    return out


@RULES.register("modify_type")
def _modify_type(change, diff, ctx):
    verdict = classify_type_change(change.old, change.new, ctx.pg_version, ctx.timezone)
    out = []
    if verdict.rewrite:
        out.append(Hazard("MD102", verdict.reason, ACCESS_EXCLUSIVE, [change.table], "operation", "rewrite", "change-type-expand-contract"))
    else:
        out.append(_brief(change, verdict.reason))
    if verdict.may_fail:
        out.append(Hazard("MD202", verdict.reason, recipe="precheck-type"))
    return out


@RULES.register("modify_nullable")
def _modify_nullable(change, diff, ctx):
    if change.new:  # DROP NOT NULL
        return [_brief(change, "DROP NOT NULL is a catalog change")]
    live = ctx.live_table(change.table)
    proof = check_proving_not_null(live.checks, change.column) if live is not None else change.detail.get("not_null_check")
    where = "in the live database" if live is not None else "in the FROM schema"
    out = []
    if proof and ctx.pg_version in NOT_NULL_PROVED_BY_CHECK:
        out.append(_brief(change, f"SET NOT NULL: the valid CHECK {proof} {where} proves it, so there is no scan"))
    else:
        why = "SET NOT NULL reads every row to check for NULLs"
        if proof:
            why += f" (the CHECK {proof} only lets PostgreSQL ≥ 12 skip the scan)"
        out.append(Hazard("MD103", why, ACCESS_EXCLUSIVE, [change.table], "operation", "scan", "not-null-via-check"))
    if not proof:
        out.append(Hazard("MD203", f"fails if any row of {change.table} has {change.column} NULL", recipe="precheck-nulls"))
    if not change.detail.get("has_default", False):
        out.append(Hazard("MD303", f"{change.column} has no default: the FROM release may insert rows that leave it NULL", recipe="required-in-later-release"))
    return out


@RULES.register("modify_default")
def _modify_default(change, diff, ctx):
    out = [_brief(change, "SET/DROP DEFAULT only affects future INSERTs: catalog change")]
    if change.new is None and change.old is not None and change.detail.get("nullable") is False:
        out.append(Hazard("MD303", f"{change.column} is NOT NULL and loses its default: FROM-release INSERTs that omit it fail", recipe="required-in-later-release"))
    return out


@RULES.register("add_index")
def _add_index(change, diff, ctx):
    d = change.detail
    twin = diff.find(
        "remove_index",
        change.table,
        lambda c: c.detail.get("columns") == d.get("columns") and bool(c.detail.get("unique")) == bool(d.get("unique")),
    )
    reason = f"CREATE {'UNIQUE ' if d.get('unique') else ''}INDEX reads and sorts all of {change.table} while writes wait"
    recipe, params = "create-index-concurrently", {}
    if twin is not None:
        reason += f"; the dropped index {twin.name} has the same columns: this is a rename"
        recipe, params = "rename-index", {"old_name": twin.name}
    out = [Hazard("MD104", reason, SHARE, [change.table], "operation", "index", recipe, params)]
    if d.get("unique") and twin is None:
        out.append(Hazard("MD204", f"fails if {change.table} has duplicate ({', '.join(d.get('columns', []))})", recipe="precheck-duplicates"))
    return out


@RULES.register("remove_index")
def _remove_index(change, diff, ctx):
    return [_brief(change, "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table", recipe="drop-index-concurrently")]


@RULES.register("add_constraint")
def _add_constraint(change, diff, ctx):
    kind = change.detail.get("type")
    if kind == "check":
        return [
            Hazard("MD103", "ADD CONSTRAINT ... CHECK validates every row under ACCESS EXCLUSIVE", ACCESS_EXCLUSIVE, [change.table], "operation", "scan", "check-not-valid"),
            Hazard("MD205", f"fails if a row of {change.table} violates CHECK ({change.detail.get('condition', '')})", recipe="precheck-violations"),
        ]
    if kind in ("unique", "primarykey"):
        return [
            Hazard("MD105", f"ADD CONSTRAINT ... {kind.upper()} builds its index under ACCESS EXCLUSIVE", ACCESS_EXCLUSIVE, [change.table], "operation", "index", "constraint-using-index"),
            Hazard("MD204", f"fails if {change.table} has duplicate ({', '.join(change.detail.get('columns', []))})", recipe="precheck-duplicates"),
        ]
    return [Hazard("MD105", f"ADD CONSTRAINT ({kind}) builds an index under ACCESS EXCLUSIVE", ACCESS_EXCLUSIVE, [change.table], "operation", "index")]


@RULES.register("remove_constraint")
def _remove_constraint(change, diff, ctx):
    return [_brief(change, "DROP CONSTRAINT is a catalog change (its index, if any, is dropped too)")]


@RULES.register("add_fk")
def _add_fk(change, diff, ctx):
    ref = change.detail.get("referred_table")
    tables = [change.table] + ([ref] if ref and ref != change.table else [])
    return [
        Hazard("MD106", f"ADD FOREIGN KEY checks every row of {change.table} against {ref}", SHARE_ROW_EXCLUSIVE, tables, "operation", "fk", "fk-not-valid"),
        Hazard("MD205", f"fails if a row of {change.table} references a missing {ref} row" + (f" ({ref} is created empty by this upgrade)" if ref in diff.new_tables else ""), recipe="precheck-violations"),
    ]


@RULES.register("remove_fk")
def _remove_fk(change, diff, ctx):
    ref = change.detail.get("referred_table")
    tables = [change.table] + ([ref] if ref and ref != change.table and ref not in diff.removed_tables else [])
    return [_brief(change, "dropping a foreign key removes triggers on both tables", tables)]


@RULES.register("modify_primary_key")
def _modify_primary_key(change, diff, ctx):
    out = []
    if change.old and not change.new:
        return [_brief(change, "dropping the primary key is a catalog change (its index is dropped)")]
    out.append(Hazard("MD105", f"ADD PRIMARY KEY ({', '.join(change.new)}) builds a unique index under ACCESS EXCLUSIVE", ACCESS_EXCLUSIVE, [change.table], "operation", "index", "constraint-using-index"))
    nullable = change.detail.get("nullable_columns") or []
    if nullable:
        out.append(Hazard("MD103", f"the primary key first runs SET NOT NULL on {', '.join(nullable)}, scanning the table", ACCESS_EXCLUSIVE, [change.table], "operation", "scan", "not-null-via-check"))
        out.append(Hazard("MD203", f"fails if {', '.join(nullable)} hold NULL", recipe="precheck-nulls"))
    out.append(Hazard("MD204", f"fails if {change.table} has duplicate ({', '.join(change.new)})", recipe="precheck-duplicates"))
    return out


@RULES.register("modify_enum")
def _modify_enum(change, diff, ctx):
    old, new = list(change.old or []), list(change.new or [])
    used = change.detail.get("used_by", [])
    tables = sorted({u.rsplit(".", 1)[0] for u in used})
    if all(v in new for v in old):
        if ctx.pg_version in ENUM_ADD_VALUE_NEEDS_AUTOCOMMIT:
            return [Hazard("MD107", f"ALTER TYPE {change.name} ADD VALUE inside alembic's transaction fails before PostgreSQL 12", recipe="enum-add-value-autocommit")]
        return []
    removed = [v for v in old if v not in new]
    if not used:
        return []  # no column has the type: nothing to convert, nothing can hold the old labels
    out = []
    if tables:
        out.append(
            Hazard(
                "MD102",
                f"removing {', '.join(removed)} from {change.name} means recreating the type and converting {', '.join(used)}",
                ACCESS_EXCLUSIVE,
                tables,
                "operation",
                "rewrite",
                "enum-remove-value",
            )
        )
        out.append(Hazard("MD202", f"fails if rows of {', '.join(used)} still hold {', '.join(removed)}", recipe="enum-remove-value"))
    out.append(Hazard("MD304", f"the FROM release may still write {', '.join(removed)}", recipe="enum-remove-value"))
    return out


# --- what compare/catalog.py finds ------------------------------------------------------------
RULES.register("add_sequence", "add_function")(Dispatch.nothing)  # a new object: nothing uses it yet


@RULES.register("remove_sequence")
def _remove_sequence(change, diff, ctx):
    return [
        Hazard("MD201", f"the sequence {change.name} and its current value are gone: recreated, it starts again at {change.old['start']}", recipe="drop-in-later-release"),
        Hazard("MD301", f"the FROM release may still call nextval('{change.name}'), which fails after the drop", recipe="drop-in-later-release"),
    ]


_SEQUENCE_WIDTH = {"smallint": 2, "integer": 4, "bigint": 8}


@RULES.register("modify_sequence")
def _modify_sequence(change, diff, ctx):
    old, new = change.old, change.new
    narrower = _SEQUENCE_WIDTH.get(new["type"], 8) < _SEQUENCE_WIDTH.get(old["type"], 8) or int(new["max"]) < int(old["max"])
    if narrower:
        return [Hazard("MD202", f"ALTER SEQUENCE {change.name} fails if its current value is above the new maximum {new['max']}", recipe="precheck-type")]
    return []  # locks only the sequence


@RULES.register("modify_identity")
def _modify_identity(change, diff, ctx):
    return [_brief(change, "changing a column's identity is a catalog change")]


@RULES.register("modify_generated")
def _modify_generated(change, diff, ctx):
    if change.new is None:
        return [_brief(change, "DROP EXPRESSION keeps the stored values and makes the column plain")]
    if change.detail.get("storage") == "virtual" and change.old is not None:
        return [_brief(change, "a virtual generated column is computed when read: SET EXPRESSION rewrites nothing")]
    rewrite = Hazard("MD102", f"the generated column {change.column} is computed again for every row", ACCESS_EXCLUSIVE, [change.table], "operation", "rewrite", "add-column-backfill")
    if change.old is None:
        # PostgreSQL cannot turn a plain column into a generated one: it is dropped and added again.
        return [rewrite, Hazard("MD201", f"the values of {change.table}.{change.column} are dropped with the column and computed anew", recipe="drop-in-later-release")]
    return [rewrite]


@RULES.register("modify_collation")
def _modify_collation(change, diff, ctx):
    return [Hazard("MD108", f"the collation of {change.column} changes: every index on it is rebuilt", ACCESS_EXCLUSIVE, [change.table], "operation", "index", "change-type-expand-contract")]


@RULES.register("modify_index")
def _modify_index(change, diff, ctx):
    out = [
        _brief(change, "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table", recipe="drop-index-concurrently"),
        Hazard("MD104", f"the index {change.name} is built again: CREATE INDEX reads and sorts all of {change.table} while writes wait", SHARE, [change.table], "operation", "index", "create-index-concurrently"),
    ]
    if change.detail.get("unique"):
        out.append(Hazard("MD204", f"fails if {change.table} has rows the changed unique index {change.name} rejects", recipe="precheck-duplicates"))
    return out


@RULES.register("modify_constraint")
def _modify_constraint(change, diff, ctx):
    if change.detail.get("type") == "check":
        return [
            Hazard("MD103", f"the changed CHECK {change.name} validates every row under ACCESS EXCLUSIVE", ACCESS_EXCLUSIVE, [change.table], "operation", "scan", "check-not-valid"),
            Hazard("MD205", f"fails if a row of {change.table} violates {change.new}", recipe="precheck-violations"),
        ]
    return [
        Hazard("MD105", f"the changed exclusion constraint {change.name} builds its index under ACCESS EXCLUSIVE", ACCESS_EXCLUSIVE, [change.table], "operation", "index"),
        Hazard("MD204", f"fails if rows of {change.table} conflict under {change.new}", recipe="precheck-duplicates"),
    ]


@RULES.register("modify_fk")
def _modify_fk(change, diff, ctx):
    if change.detail.get("how") == "deferrability":
        return [_brief(change, "ALTER CONSTRAINT ... DEFERRABLE is a catalog change")]
    return [
        _brief(change, "the foreign key is dropped (its triggers on both tables go)"),
        Hazard("MD106", f"the foreign key {change.name} is added again with its new actions and checks every row of {change.table}", SHARE_ROW_EXCLUSIVE, [change.table], "operation", "fk", "fk-not-valid"),
    ]


@RULES.register("remove_function")
def _remove_function(change, diff, ctx):
    return [Hazard("MD301", f"the FROM release may still call {change.name}, which fails after the drop", recipe="drop-in-later-release")]


@RULES.register("modify_function")
def _modify_function(change, diff, ctx):
    # CREATE OR REPLACE takes no table lock; what calls it behaves anew from the commit on
    return []


@RULES.register("add_trigger", "remove_trigger", "modify_trigger")
def _trigger(change, diff, ctx):
    verb = {"add_trigger": "CREATE TRIGGER", "remove_trigger": "DROP TRIGGER", "modify_trigger": "DROP and CREATE TRIGGER"}[change.kind]
    rows = "" if change.kind == "remove_trigger" else f"; the rows already in {change.table} are not touched (backfill what the trigger derives)"
    return [Hazard("MD109", f"{verb} takes SHARE ROW EXCLUSIVE on {change.table}: writes wait{rows}", SHARE_ROW_EXCLUSIVE, [change.table], "brief", None, "lock-timeout")]
