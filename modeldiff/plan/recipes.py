"""Safe recipes: the online way to make a change, as data.

Each recipe is a list of steps; a step is a SQL template (or, for steps that happen in the
application, `sql=None` and a note), the lock it takes, and whether it must run outside a
transaction. Templates are filled from a `Change` by `render_recipe`, so the runbook shows
concrete SQL. `revision --online` (`modeldiff.online`) emits the single-revision recipes as
alembic operations (`autocommit` -> `op.get_context().autocommit_block()`) and writes the
multi-step ones (change-type-expand-contract, with not-null-via-check and precheck-type) as
a Markdown plan, from these same steps.

Placeholders: {table} {column} {name} {new_type} {old_type} {columns} {using} {index_body} {condition} {fk_options}
{referred_table} {referred_columns} {default} {tmp_column} {old_copy} {sync} {pk} {check_name} {index}
{old_index} {backfill} {fill_default},
all identifiers already quoted where needed; {new_value} and {set_value} are the value
converted (in the trigger, in the backfill). A step's `key` lets `modeldiff.online` replace
the generic SQL with the concrete, runnable statements it can derive from the schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sqltext import bare, column_list, in_schema_of, literal, qualified, quote
from ..values import CATALOG_KINDS, Change, Dispatch


@dataclass(frozen=True)
class RecipeStep:
    sql: str | None  # None: an application-side step, described by `note`
    lock: str | None = None
    note: str = ""
    autocommit: bool = False  # must run outside a transaction block
    batched: bool = False  # repeat in small batches until it affects no rows
    release: int = 1  # which release (deploy) the step belongs to: 1 = this upgrade, 2 = a later one
    key: str = ""  # names the step for renderers that fill in more than the template (online plans)


@dataclass(frozen=True)
class Recipe:
    id: str
    title: str
    steps: tuple[RecipeStep, ...]
    notes: str = ""


_LT = RecipeStep("SET lock_timeout = '2s';", None, "give up instead of queueing; retry on timeout")

RECIPES: dict[str, Recipe] = {
    r.id: r
    for r in [
        Recipe(
            "lock-timeout",
            "Run with a short lock_timeout and retry",
            (_LT, RecipeStep("{statement}", "ACCESS EXCLUSIVE", "brief: catalog only")),
        ),
        Recipe(
            "drop-index-concurrently",
            "Drop the index concurrently",
            (RecipeStep("DROP INDEX CONCURRENTLY IF EXISTS {index};", "SHARE UPDATE EXCLUSIVE", "reads and writes continue", autocommit=True),),
        ),
        Recipe(
            "change-type-expand-contract",
            "New column, dual write, batched backfill, swap",
            (
                RecipeStep("ALTER TABLE {table} ADD COLUMN {tmp_column} {new_type};", "ACCESS EXCLUSIVE", "brief: nullable, no default", key="add"),
                RecipeStep(
                    "CREATE FUNCTION {sync}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.{tmp_column} := {new_value}; RETURN NEW; END $$;\n"
                    "CREATE TRIGGER {sync} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {sync}();",
                    "SHARE ROW EXCLUSIVE",
                    "brief; keeps new writes in sync",
                    key="sync",
                ),
                RecipeStep(
                    "{backfill}",
                    "ROW EXCLUSIVE",
                    "walk the primary key ({pk} here) in ranges, one transaction each; pause between batches so replicas keep up",
                    autocommit=True,
                    batched=True,
                    key="backfill",
                ),
                RecipeStep(None, None, "rebuild each index that contains {column} on {tmp_column} with CREATE INDEX CONCURRENTLY", autocommit=True, key="indexes"),
                RecipeStep(
                    "BEGIN;\nALTER TABLE {table} RENAME COLUMN {column} TO {old_copy};\nALTER TABLE {table} RENAME COLUMN {tmp_column} TO {column};\n"
                    "DROP TRIGGER {sync} ON {table};\nDROP FUNCTION {sync}();\nCOMMIT;",
                    "ACCESS EXCLUSIVE",
                    "brief; move defaults, NOT NULL (via CHECK ... NOT VALID + VALIDATE first) and constraints in the same transaction",
                    key="swap",
                ),
                RecipeStep("ALTER TABLE {table} DROP COLUMN {old_copy};", "ACCESS EXCLUSIVE", "in a later release, once nothing reads it", release=2, key="drop"),
            ),
            "Converting a primary key also widens every referencing foreign-key column, which rewrites those tables too.",
        ),
        Recipe(
            "add-column-backfill",
            "Add the column without the volatile default, then backfill",
            (
                RecipeStep("ALTER TABLE {table} ADD COLUMN {column} {new_type};", "ACCESS EXCLUSIVE", "brief"),
                RecipeStep("ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default};", "ACCESS EXCLUSIVE", "brief; applies to new rows only"),
                RecipeStep(
                    "{fill_default}",
                    "ROW EXCLUSIVE",
                    "walk the primary key ({pk} here) in ranges, one transaction each",
                    autocommit=True,
                    batched=True,
                ),
            ),
            "If the column must be NOT NULL, finish with the not-null-via-check recipe.",
        ),
        Recipe(
            "not-null-via-check",
            "NOT NULL through a validated CHECK",
            (
                RecipeStep("ALTER TABLE {table} ADD CONSTRAINT {check_name} CHECK ({column} IS NOT NULL) NOT VALID;", "ACCESS EXCLUSIVE", "brief: new rows are checked from now on"),
                RecipeStep("UPDATE {table} SET {column} = ... WHERE {column} IS NULL;", "ROW EXCLUSIVE", "backfill NULLs in batches, if any", batched=True),
                RecipeStep("ALTER TABLE {table} VALIDATE CONSTRAINT {check_name};", "SHARE UPDATE EXCLUSIVE", "full scan, but reads and writes continue"),
                RecipeStep("ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;", "ACCESS EXCLUSIVE", "brief: the valid CHECK proves it, no scan (PostgreSQL >= 12)"),
                RecipeStep("ALTER TABLE {table} DROP CONSTRAINT {check_name};", "ACCESS EXCLUSIVE", "brief; in its own statement, not with SET NOT NULL"),
            ),
        ),
        Recipe(
            "check-not-valid",
            "Add the CHECK NOT VALID, validate separately",
            (
                RecipeStep("ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID;", "ACCESS EXCLUSIVE", "brief"),
                RecipeStep("ALTER TABLE {table} VALIDATE CONSTRAINT {name};", "SHARE UPDATE EXCLUSIVE", "full scan, reads and writes continue"),
            ),
        ),
        Recipe(
            "create-index-concurrently",
            "Build the index concurrently",
            (RecipeStep("CREATE {unique}INDEX CONCURRENTLY {name} ON {table}{index_body};", "SHARE UPDATE EXCLUSIVE", "reads and writes continue; if it fails, DROP INDEX CONCURRENTLY the INVALID leftover and retry", autocommit=True),),
            "Not on PostgreSQL 14.0-14.3 (corruption bug). Only one concurrent build per table at a time.",
        ),
        Recipe(
            "rename-index",
            "Rename the existing index instead of rebuilding it",
            (RecipeStep("ALTER INDEX {old_index} RENAME TO {name};", "SHARE UPDATE EXCLUSIVE", "instant"),),
        ),
        Recipe(
            "constraint-using-index",
            "Build the unique index concurrently, then attach it",
            (
                RecipeStep("CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns});", "SHARE UPDATE EXCLUSIVE", "reads and writes continue", autocommit=True),
                RecipeStep("ALTER TABLE {table} ADD CONSTRAINT {name} {constraint} USING INDEX {name};", "ACCESS EXCLUSIVE", "brief (a PRIMARY KEY on nullable columns first needs not-null-via-check)"),
            ),
        ),
        Recipe(
            "fk-not-valid",
            "Add the foreign key NOT VALID, validate separately",
            (
                RecipeStep("ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) REFERENCES {referred_table} ({referred_columns}){fk_options} NOT VALID;", "SHARE ROW EXCLUSIVE", "brief, on both tables"),
                RecipeStep("ALTER TABLE {table} VALIDATE CONSTRAINT {name};", "SHARE UPDATE EXCLUSIVE", "scan; writes continue"),
            ),
        ),
        Recipe(
            "enum-remove-value",
            "Stop writing the label, then recreate the type",
            (
                RecipeStep(None, None, "release 1: stop writing {removed} and deploy"),
                RecipeStep("UPDATE {used_table} SET {used_column} = ... WHERE {used_column} = {removed};", "ROW EXCLUSIVE", "for each column using {name}: {used_by}", batched=True, release=2),
                RecipeStep(
                    "CREATE TYPE {name}_new AS ENUM ({labels});\n"
                    "ALTER TABLE {used_table} ALTER COLUMN {used_column} TYPE {name}_new USING {used_column}::text::{name}_new;\n"
                    "DROP TYPE {name};\nALTER TYPE {name}_new RENAME TO {name};",
                    "ACCESS EXCLUSIVE",
                    "rewrites each table using the type: off-peak, or leave the unused label in place on large tables",
                    release=2,
                ),
            ),
        ),
        Recipe(
            "enum-add-value-autocommit",
            "Add enum values outside the transaction",
            (RecipeStep("ALTER TYPE {name} ADD VALUE IF NOT EXISTS {value};", None, "one statement per value, in op.get_context().autocommit_block()", autocommit=True),),
        ),
        Recipe(
            "drop-in-later-release",
            "Stop using it first, drop it in a later release",
            (
                RecipeStep(None, None, "release 1: remove {target} from the models (or stop reading and writing it) and deploy"),
                RecipeStep("{statement}", "ACCESS EXCLUSIVE", "release 2: drop it, after a backup if the data may be needed", release=2),
            ),
        ),
        Recipe(
            "rename-in-orm",
            "Keep the column name in the database",
            (RecipeStep(None, None, "map the attribute to the existing column: {new_column} = Column(\"{old_column}\", ...); no DDL at all"),),
        ),
        Recipe(
            "required-in-later-release",
            "Require the column only after the old release is gone",
            (
                RecipeStep("ALTER TABLE {table} ADD COLUMN {column} {new_type};", "ACCESS EXCLUSIVE", "release 1: nullable (or NOT NULL with a constant default, which is instant on PostgreSQL >= 11)"),
                RecipeStep(None, None, "release 1: the new code writes {column}; backfill existing rows in batches"),
                RecipeStep(None, None, "release 2: SET NOT NULL with the not-null-via-check recipe", release=2),
            ),
        ),
        Recipe(
            "precheck-duplicates",
            "Look for duplicates first",
            (RecipeStep("SELECT {columns}, count(*) FROM {table} GROUP BY {columns} HAVING count(*) > 1 LIMIT 20;", "ACCESS SHARE", "read-only; deduplicate before building"),),
        ),
        Recipe(
            "precheck-type",
            "Look for values that do not convert first",
            (RecipeStep("SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND pg_input_is_valid({column}::text, '{new_type_text}') IS NOT TRUE;", "ACCESS SHARE", "read-only (pg_input_is_valid needs PostgreSQL >= 16)"),),
        ),
        Recipe(
            "precheck-nulls",
            "Backfill NULLs first",
            (RecipeStep("SELECT count(*) FROM {table} WHERE {column} IS NULL;", "ACCESS SHARE", "read-only; backfill in batches if not 0"),),
        ),
        Recipe(
            "precheck-violations",
            "Look for violating rows first",
            (RecipeStep("{violations_sql}", "ACCESS SHARE", "read-only"),),
        ),
    ]
}

BATCH_ROWS = 10000


def batched_update(table: str, pk: str, pk_type: str, assignment: str, pending: str) -> str:
    """`UPDATE table SET assignment WHERE pending` as a DO block that walks the primary key
    `pk` in ranges of BATCH_ROWS keys and commits after each (PostgreSQL >= 11, outside a
    transaction block). Each statement is a plain range on the key, so every batch is an
    index range scan whatever plan PL/pgSQL caches, and it works for any key type (a UUID
    key has no `lo + 10000`). `pk_type` may be `table.pk%TYPE`."""
    return f"""DO $$
DECLARE
  lo {pk_type};
  hi {pk_type};
BEGIN
  SELECT {pk} INTO lo FROM {table} ORDER BY {pk} LIMIT 1;
  WHILE lo IS NOT NULL LOOP
    SELECT {pk} INTO hi FROM {table} WHERE {pk} >= lo ORDER BY {pk} OFFSET {BATCH_ROWS - 1} LIMIT 1;
    IF hi IS NULL THEN  -- the last, partial batch
      UPDATE {table} SET {assignment} WHERE {pk} >= lo AND {pending};
      COMMIT;
      EXIT;
    END IF;
    UPDATE {table} SET {assignment} WHERE {pk} >= lo AND {pk} <= hi AND {pending};
    COMMIT;
    SELECT {pk} INTO lo FROM {table} WHERE {pk} > hi ORDER BY {pk} LIMIT 1;
  END LOOP;
END $$;"""


def params(change: Change, statement: str = "", pk: str = "id") -> dict[str, str]:
    """The placeholders for `change`; `pk` is the table's primary key column (the runbook
    does not know it and says "id here")."""
    d = change.detail
    table = qualified(change.table) if change.table else ""
    column = quote(change.column) if change.column else ""
    tmp_column = quote(f"{change.column}_new") if change.column else ""
    p = {
        "table": table,
        "column": column,
        "name": quote(change.name) if change.name else "",
        "index": in_schema_of(change.table, change.name) if change.table and change.name else "",
        "new_type": "",
        "new_type_text": "",
        "old_type": "",
        "columns": column_list(d.get("columns")),
        "condition": d.get("condition", ""),
        "referred_table": qualified(d["referred_table"]) if d.get("referred_table") else "",
        "referred_columns": column_list(d.get("referred_columns")),
        "fk_options": "",
        "default": d.get("default") or "...",
        "tmp_column": tmp_column,
        "old_copy": quote(f"{change.column}_old") if change.column else "",
        "sync": quote(f"{bare(change.table)}_{change.column}_sync"[:63]) if change.column else "",
        "new_value": f"NEW.{column}" if change.column else "",
        "set_value": column,
        "pk": quote(pk),
        "check_name": quote(f"{bare(change.table)}_{change.column}_not_null"[:63]) if change.column else "",
        "unique": "UNIQUE " if d.get("unique") else "",
        "using": f" USING {d['using']}" if d.get("using") else "",
        "index_body": f" {d['definition']}" if d.get("definition") else f"{' USING ' + d['using'] if d.get('using') else ''} ({column_list(d.get('columns'))})",
        "constraint": "UNIQUE",
        "statement": statement,
        "target": f"{change.table}.{change.column}" if change.column else str(change.table),
        "old_name": "",
        "new_column": "",
        "old_column": change.column or "",
        "value": "",
        "violations_sql": "",
    }
    if change.column:
        key, key_type = quote(pk), f"{table}.{quote(pk)}%TYPE"
        p["backfill"] = batched_update(table, key, key_type, f"{tmp_column} = {column}", f"{tmp_column} IS DISTINCT FROM {column}")
        p["fill_default"] = batched_update(table, key, key_type, f"{column} = {p['default']}", f"{column} IS NULL")
    handler = PARAMS.get(change.kind)
    p.update((handler(change, p) if handler else None) or {})
    return p


PARAMS = Dispatch("plan.recipes")
# The placeholders above are all these kinds' recipes use.
PARAMS.register(
    "add_table", "remove_table", "remove_column", "modify_nullable", "modify_default", "modify_comment", "modify_table_comment",
    "add_index", "remove_index", "remove_constraint", "remove_fk", "add_enum", "remove_enum",
    *(k for k in CATALOG_KINDS if k not in ("modify_index", "modify_constraint", "modify_fk")),
)(Dispatch.nothing)


@PARAMS.register("modify_index")
def _modify_index(change: Change, p: dict) -> dict:
    return {"index_body": f" {change.new}"}


@PARAMS.register("add_column")
def _add_column(change: Change, p: dict) -> dict:
    return {"new_type": str(change.new)}


@PARAMS.register("modify_type")
def _modify_type(change: Change, p: dict) -> dict:
    return {"new_type": str(change.new), "new_type_text": str(change.new).lower(), "old_type": str(change.old)}


@PARAMS.register("modify_primary_key")
def _modify_primary_key(change: Change, p: dict) -> dict:
    return {"constraint": "PRIMARY KEY", "columns": column_list(change.new)}


@PARAMS.register("modify_enum")
def _modify_enum(change: Change, p: dict) -> dict | None:
    if change.new is None:
        return None
    out = {
        "value": ", ".join(literal(v) for v in change.new if v not in (change.old or [])),
        "removed": ", ".join(literal(v) for v in (change.old or []) if v not in change.new),
        "labels": ", ".join(literal(v) for v in change.new),
    }
    used = change.detail.get("used_by", [])
    out["used_by"] = ", ".join(used)
    if used:
        table, _, column = used[0].rpartition(".")
        out["used_table"], out["used_column"] = qualified(table), quote(column)
    return out


@PARAMS.register("add_constraint")
def _add_constraint(change: Change, p: dict) -> dict | None:
    condition = change.detail.get("condition")
    return {"violations_sql": f"SELECT count(*) FROM {p['table']} WHERE NOT ({condition});"} if condition else None


@PARAMS.register("add_fk")
def _add_fk(change: Change, p: dict) -> dict:
    cols = change.detail.get("columns", [])
    refs = change.detail.get("referred_columns", [])
    join = " AND ".join(f"r.{quote(b)} = t.{quote(a)}" for a, b in zip(cols, refs))
    nonnull = " AND ".join(f"t.{quote(a)} IS NOT NULL" for a in cols)
    return {"violations_sql": f"SELECT count(*) FROM {p['table']} t WHERE {nonnull} AND NOT EXISTS (SELECT 1 FROM {p['referred_table']} r WHERE {join});"}


@PARAMS.register("modify_constraint")
def _modify_constraint(change: Change, p: dict) -> dict | None:
    from ..compare.catalog import check_condition

    if change.detail.get("type") != "check":
        return None
    condition = check_condition(change.new)
    return {"condition": condition, **(_add_constraint(Change("add_constraint", change.table, detail={"condition": condition}), p) or {})}


@PARAMS.register("modify_fk")
def _modify_fk(change: Change, p: dict) -> dict:
    from ..compare.catalog import fk_options, fk_parts

    columns, referred, referred_columns = fk_parts(change.new)
    p = {**p, "referred_table": qualified(referred)}
    twin = Change("add_fk", change.table, name=change.name, detail={"columns": columns, "referred_table": referred, "referred_columns": referred_columns})
    options = fk_options(change.new)
    return {"fk_options": f" {options}" if options else "", "columns": column_list(columns), "referred_table": p["referred_table"], "referred_columns": column_list(referred_columns), **_add_fk(twin, p)}


@dataclass
class RenderedStep:
    sql: str | None
    lock: str | None
    note: str
    autocommit: bool
    batched: bool
    release: int
    key: str = ""

    def to_json(self) -> dict:
        out = {"sql": self.sql, "lock": self.lock, "note": self.note}
        for key in ("autocommit", "batched"):
            if getattr(self, key):
                out[key] = True
        if self.release != 1:
            out["release"] = self.release
        return out


def render_recipe(recipe_id: str, change: Change, statement: str = "", extra: dict | None = None) -> list[RenderedStep]:
    """The recipe's steps with the change's names filled in; `extra` adds or overrides placeholders."""
    recipe = RECIPES[recipe_id]
    p = _Defaulting(params(change, statement))
    p.update(extra or {})
    if p.get("old_name") and change.table:  # a name the rule found (the twin of a rename), not yet SQL
        p["old_index"] = in_schema_of(change.table, p["old_name"])
    out = []
    for step in recipe.steps:
        out.append(
            RenderedStep(
                step.sql.format_map(p) if step.sql else None,
                step.lock,
                step.note.format_map(p),
                step.autocommit,
                step.batched,
                step.release,
                step.key,
            )
        )
    return out


class _Defaulting(dict):
    def __missing__(self, key):
        return "{" + key + "}"
