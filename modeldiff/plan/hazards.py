"""The hazard catalogue: stable codes, one-line titles and the docs `modeldiff hazards` prints.

Codes are stable (like squawk's or ruff's): a code is never reused for a different hazard.

* MD1xx: locking and cost. What the operation does to a live table while it runs.
* MD2xx: data. It deletes data, or it can fail half-way because of what is already stored.
* MD3xx: compatibility. It breaks the previous release of the application while that release
  is still running (rolling deploys, or old workers finishing their queue).

A `Hazard` is one finding on one change: a code, the specific reason, the lock it takes and
on which tables, whether that lock is held briefly or for the whole operation, what its cost
is proportional to (`cost`: rewrite, scan, index, fk), the id of the safe recipe
(`recipes.RECIPES`), and, when the plan knows the live table, an estimated duration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"  # blocks reads and writes
SHARE = "SHARE"  # blocks writes
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"  # blocks writes
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"  # blocks neither

BLOCKS_READS = {ACCESS_EXCLUSIVE}
BLOCKS_WRITES = {ACCESS_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE}


@dataclass(frozen=True)
class HazardType:
    code: str
    name: str
    title: str
    what: str  # what the operation does
    why: str  # why it hurts
    recipe: str  # the safe way, in prose; structured steps are in recipes.py
    versions: str = ""  # PostgreSQL version differences

    def doc(self) -> str:
        parts = [
            f"{self.code} {self.name}: {self.title}",
            "",
            f"What it does: {self.what}",
            "",
            f"Why it hurts: {self.why}",
            "",
            f"Safe recipe: {self.recipe}",
        ]
        if self.versions:
            parts += ["", f"PostgreSQL versions: {self.versions}"]
        return "\n".join(parts) + "\n"


_LOCK_TIMEOUT = (
    "Run it with a short lock_timeout (SET lock_timeout = '2s') and retry on timeout, so it gives up "
    "instead of queueing: while it waits for the lock, every later query on the table waits behind it."
)

CATALOGUE: dict[str, HazardType] = {
    h.code: h
    for h in [
        HazardType(
            "MD101",
            "brief-access-exclusive",
            "Takes a brief ACCESS EXCLUSIVE lock (catalog change only)",
            "Changes only the catalog: no rewrite, no scan. It still needs an ACCESS EXCLUSIVE lock on the "
            "table (and for foreign keys or DROP TABLE, on the referenced tables too), held for milliseconds.",
            "To get the lock it waits for every transaction that has touched the table, and while it waits "
            "every new query on the table, reads included, queues behind it. One long-running report or an "
            "idle-in-transaction session turns a millisecond change into an outage.",
            _LOCK_TIMEOUT + " For DROP INDEX, use DROP INDEX CONCURRENTLY (outside a transaction).",
        ),
        HazardType(
            "MD102",
            "table-rewrite",
            "Rewrites the table and all its indexes under ACCESS EXCLUSIVE",
            "PostgreSQL writes a new copy of every row and rebuilds every index of the table: a type change "
            "that is not binary-coercible (int -> bigint, varchar(255) -> varchar(10), json -> jsonb), a new "
            "column with a volatile default (gen_random_uuid(), clock_timestamp(), serial) or an identity or "
            "stored generated column, or, before PostgreSQL 11, a new column with any default.",
            "The ACCESS EXCLUSIVE lock is held for the whole rewrite: nothing can read or write the table "
            "until it finishes, for minutes to hours on a large table (a 100 GB table can take hours). It "
            "needs free disk for a second copy of the table and its indexes, writes all of it to WAL "
            "(replica lag), and there is no progress view for ALTER TABLE.",
            "Expand and contract instead of altering in place: add a new column of the new type (nullable, "
            "no default), keep it in sync with a trigger or by writing both, backfill it in small batches, "
            "build its indexes CONCURRENTLY, then in one short transaction swap the names and drop the old "
            "column. For a new column with a volatile default: add it without a default, SET DEFAULT (only new "
            "rows), backfill in batches.",
            "A non-volatile default on a new column rewrites before PostgreSQL 11 and not from 11 on. "
            "timestamp <-> timestamptz does not rewrite on PostgreSQL >= 12 if the session TimeZone is UTC.",
        ),
        HazardType(
            "MD103",
            "scan-under-access-exclusive",
            "Scans the whole table under ACCESS EXCLUSIVE",
            "Checks every existing row while holding ACCESS EXCLUSIVE: SET NOT NULL without a valid "
            "CHECK (col IS NOT NULL) constraint that proves it, ADD CONSTRAINT ... CHECK without NOT VALID, "
            "and the implicit SET NOT NULL of a new primary key.",
            "No rewrite, but the table is unreadable and unwritable for as long as it takes to read it.",
            "Add the constraint NOT VALID (brief lock), VALIDATE CONSTRAINT it (SHARE UPDATE EXCLUSIVE: reads "
            "and writes continue); for NOT NULL, then SET NOT NULL (no scan: the valid CHECK proves it) and "
            "drop the CHECK.",
            "The CHECK proof for SET NOT NULL is used from PostgreSQL 12 on; PostgreSQL 18 can add NOT NULL "
            "NOT VALID directly.",
        ),
        HazardType(
            "MD104",
            "index-build-blocks-writes",
            "Builds an index while blocking writes (SHARE lock)",
            "CREATE INDEX without CONCURRENTLY on an existing table reads the whole table and sorts it "
            "under a SHARE lock.",
            "Reads continue, but every INSERT, UPDATE and DELETE on the table waits until the build finishes.",
            "CREATE INDEX CONCURRENTLY, outside a transaction (alembic: op.get_context().autocommit_block(), "
            "postgresql_concurrently=True). It takes longer (two scans, waits for older transactions) and "
            "on failure leaves an INVALID index to drop before retrying. If a same-column index is being "
            "dropped in the same upgrade, it is a rename: ALTER INDEX ... RENAME TO is instant.",
            "Avoid CONCURRENTLY on PostgreSQL 14.0-14.3 (index corruption bug, fixed in 14.4).",
        ),
        HazardType(
            "MD105",
            "index-build-access-exclusive",
            "Builds a unique or primary-key index under ACCESS EXCLUSIVE",
            "ADD CONSTRAINT ... UNIQUE / PRIMARY KEY on an existing table builds its index while holding "
            "ACCESS EXCLUSIVE (a primary key also runs SET NOT NULL on its columns).",
            "Neither reads nor writes get through for the whole index build.",
            "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX (or PRIMARY "
            "KEY USING INDEX), which only takes a brief lock.",
        ),
        HazardType(
            "MD106",
            "foreign-key-validation",
            "Validates a foreign key while blocking writes on both tables",
            "ADD FOREIGN KEY checks every existing row of the referencing table against the referenced one, "
            "holding SHARE ROW EXCLUSIVE on both tables.",
            "Writes to both tables wait for the whole validation.",
            "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID (brief lock; new rows are checked from now on), then "
            "VALIDATE CONSTRAINT, which takes only SHARE UPDATE EXCLUSIVE.",
        ),
        HazardType(
            "MD107",
            "enum-value-outside-transaction",
            "Adding an enum value cannot run inside a transaction block",
            "ALTER TYPE ... ADD VALUE is how a new enum label is added.",
            "Before PostgreSQL 12 it fails inside a transaction block, which is how alembic runs migrations "
            "by default; the upgrade stops half-way.",
            "Run it in alembic's autocommit block (with op.get_context().autocommit_block(): ...), before the "
            "statements that use the new value.",
            "Allowed in a transaction from PostgreSQL 12 on (the new value can't be used until commit).",
        ),
        HazardType(
            "MD201",
            "deletes-data",
            "Deletes data",
            "DROP TABLE or DROP COLUMN: the rows or the column's values are gone when the transaction commits.",
            "There is no undo short of a restore; a downgrade recreates the column or table empty.",
            "Take a backup (or copy the column to an archive table) first; drop only in a release after the "
            "code has stopped using it (see MD301).",
        ),
        HazardType(
            "MD202",
            "type-change-may-fail",
            "Type change may fail on existing values",
            "Converts every stored value to a type that cannot hold all of them (bigint -> integer, "
            "varchar(255) -> varchar(10), a scale change) or has no implicit cast from the old type "
            "(varchar -> integer needs USING); or removes enum labels that rows may hold.",
            "The ALTER fails on the first value that does not convert, after having done part of the "
            "work under its lock, and the upgrade stops there. Adding USING col::varchar(10) by hand "
            "silently truncates instead.",
            "Check first: SELECT count(*) FROM t WHERE length(col) > n (or the range of the new type); fix "
            "or archive those rows; then use the expand-and-contract recipe of MD102.",
        ),
        HazardType(
            "MD203",
            "not-null-may-fail",
            "Fails if existing rows hold NULL",
            "SET NOT NULL on a column that may hold NULL, or a new NOT NULL column without a default on "
            "a table that already has rows.",
            "The statement fails (after a full scan, for SET NOT NULL) and the upgrade stops there.",
            "Backfill first (UPDATE ... WHERE col IS NULL, in batches), then add NOT NULL with the CHECK "
            "recipe of MD103; for a new column, add it with a default or nullable.",
        ),
        HazardType(
            "MD204",
            "unique-may-fail",
            "Fails if existing rows hold duplicates",
            "A new unique index, unique constraint or primary key on an existing table.",
            "The build fails at the first duplicate, after reading the table; a failed CREATE UNIQUE INDEX "
            "CONCURRENTLY leaves an INVALID index behind that still slows writes.",
            "Check first: SELECT cols, count(*) FROM t GROUP BY cols HAVING count(*) > 1; deduplicate; then "
            "build the index CONCURRENTLY (MD104/MD105).",
        ),
        HazardType(
            "MD205",
            "constraint-may-fail",
            "Fails if existing rows violate the new CHECK or foreign key",
            "A CHECK constraint or foreign key added to an existing table is validated against every row.",
            "One violating row fails the statement and the upgrade stops there.",
            "Find violators first (SELECT ... WHERE NOT (condition), or an anti-join for the foreign key), "
            "then add the constraint NOT VALID and VALIDATE it separately.",
        ),
        HazardType(
            "MD301",
            "drop-breaks-old-release",
            "Breaks the previous release while it still runs: drops something it maps",
            "Drops a column or table that the FROM release's models map.",
            "SQLAlchemy names every mapped column in its SELECTs and INSERTs; from the moment of the drop, "
            "every query of the still-running old release on that table fails.",
            "Two releases: first stop using it in the code (remove it from the model, or mark it deferred "
            "and never written) and deploy; drop it in a later release's migration.",
        ),
        HazardType(
            "MD302",
            "possible-rename",
            "Looks like a rename: a column of the same type is dropped and another added",
            "A dropped and an added column on the same table share type and nullability. Model diffs cannot "
            "tell a rename from drop + add, and the migration generated from them drops the data.",
            "If it is a rename, drop + add loses every value of the column, and either way the old release "
            "breaks (MD301).",
            "Keep the database name and rename only the attribute: Column(\"old_name\", ...). Or, to rename "
            "in the database, ALTER TABLE ... RENAME COLUMN in a release whose code reads both names.",
        ),
        HazardType(
            "MD303",
            "not-null-breaks-old-release",
            "Breaks the previous release while it still runs: it doesn't fill a column that becomes required",
            "A new NOT NULL column without a default (the old release's INSERTs don't name it), SET NOT NULL "
            "on a column without a default the old release may leave NULL, or dropping the default of a "
            "NOT NULL column the old release relies on.",
            "INSERTs of the still-running old release fail with a not-null violation until it is replaced.",
            "Add the column nullable or with a server default first; require it (SET NOT NULL, drop the "
            "default) only in a later release, once no running code omits it.",
        ),
        HazardType(
            "MD304",
            "enum-value-removed",
            "Breaks the previous release while it still runs: removes enum values it may write",
            "Removes or renames labels of a PostgreSQL enum type, which means recreating the type and "
            "converting every column that uses it (a rewrite, MD102).",
            "The old release keeps writing the removed labels and those writes fail.",
            "Stop writing the label in one release; remove it from the type in a later one.",
        ),
    ]
}


def explain(code: str) -> str:
    hazard = CATALOGUE.get(code.upper())
    if hazard is None:
        raise KeyError(code)
    return hazard.doc()


@dataclass(frozen=True)
class Estimate:
    seconds: float
    formula: str  # how it was computed, e.g. "2.1 GB / 40 MB/s + 3 indexes ..."

    def to_json(self) -> dict:
        return {"seconds": round(self.seconds, 3), "formula": self.formula}


@dataclass(frozen=True)
class Hazard:
    code: str
    reason: str
    lock: str | None = None
    tables: tuple[str, ...] = ()  # tables the lock is taken on
    holds: str | None = None  # "brief" or "operation": how long the lock is held
    cost: str | None = None  # what the duration is proportional to: rewrite, scan, index, fk
    recipe: str | None = None  # id in recipes.RECIPES
    recipe_params: Mapping[str, str] = field(default_factory=dict)  # placeholders the change alone can't fill
    estimate: Estimate | None = None  # set by the plan stage (a new Hazard, with `replace`)

    def __post_init__(self):
        from .recipes import RECIPES

        object.__setattr__(self, "tables", tuple(self.tables))
        object.__setattr__(self, "recipe_params", MappingProxyType(dict(self.recipe_params)))

        if self.code not in CATALOGUE:
            raise ValueError(f"unknown hazard code {self.code}")
        if self.recipe is not None and self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe}")

    @property
    def title(self) -> str:
        return CATALOGUE[self.code].title

    @property
    def name(self) -> str:
        return CATALOGUE[self.code].name

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "name": self.name, "title": self.title, "reason": self.reason}
        if self.lock:
            out["lock"] = {"mode": self.lock, "tables": list(self.tables), "held": self.holds}
        if self.cost:
            out["cost"] = self.cost
        if self.recipe:
            out["recipe"] = self.recipe
        if self.estimate is not None:
            out["estimate"] = self.estimate.to_json()
        return out
