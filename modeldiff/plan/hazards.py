"""The hazard catalogue: everything about each code, in one entry.

Codes are stable (like squawk's or ruff's): a code is never reused for a different hazard.

* MD1xx: locking and cost. What the operation does to a live table while it runs.
* MD2xx: data. It deletes data, or it can fail half-way because of what is already stored.
* MD3xx: compatibility. It breaks the previous release of the application while that release
  is still running (rolling deploys, or old workers finishing their queue).

An entry (`HazardType`) says what a code is (title, group, severity and rank), what it does
to the table (lock mode, how long it is held, what the duration is proportional to, hence
what it blocks), on which PostgreSQL versions it occurs and how versions change it, which
safe recipes (`recipes.RECIPES`) a finding may point to, and its documentation. Everything
else is derived from here: the plan's ordering and summary (`build.py`), the colours
(`render/plan.py`), `modeldiff hazards`, the README table and docs/hazards.md
(`render/hazards.py`, `scripts/hazard_docs`). Adding a code is one entry here, the rule in
`rules.py` that emits it, and its tests.

A `Hazard` is one finding on one change: a code, the specific reason, the lock it takes and
on which tables, whether that lock is held briefly or for the whole operation, what its cost
is proportional to (`cost`: rewrite, scan, index, fk), the id of the safe recipe
(`recipes.RECIPES`), and, when the plan knows the live table, an estimated duration. Its
lock, hold and cost must be its entry's, and its recipe one the entry lists.
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


def blocks(lock: str | None) -> str | None:
    """What a lock held on a table stops other sessions from doing (None: plain reads and writes go on)."""
    if lock in BLOCKS_READS:
        return "reads and writes"
    if lock in BLOCKS_WRITES:
        return "writes"
    return None


# How a finding is shown: critical ones block reads and writes for as long as the table's
# size dictates, or delete data.
SEVERITY_COLOURS = {"critical": "red", "warning": "magenta"}

# What kind of risk a code is; the plan's summary has one line per group.
GROUPS = {
    "lock": "locks a live table",
    "transaction": "cannot run inside a transaction",
    "deletes-data": "deletes data",
    "may-fail": "may fail on existing data",
    "breaks-old-release": "breaks the previous release while it still runs",
}


def _version_key(num: int) -> tuple[int, ...]:
    """server_version_num -> comparable tuple: 110005 -> (11, 5), 90605 -> (9, 6, 5)."""
    return (num // 10000, num % 10000) if num >= 100000 else (num // 10000, num // 100 % 100, num % 100)


@dataclass(frozen=True)
class Versions:
    """A range of PostgreSQL versions: `since` included, `before` excluded, as (major, minor)."""

    since: tuple[int, ...] | None = None
    before: tuple[int, ...] | None = None

    def __contains__(self, version_num: int) -> bool:
        key = _version_key(version_num)
        return (self.since is None or key >= self.since) and (self.before is None or key < self.before)

    def text(self) -> str:
        show = lambda v: ".".join(map(str, v))  # noqa: E731
        parts = ([f">= {show(self.since)}"] if self.since else []) + ([f"< {show(self.before)}"] if self.before else [])
        return "PostgreSQL " + ", ".join(parts) if parts else "every PostgreSQL version"


ALL_VERSIONS = Versions()
# Version facts the rules decide with.
ANY_DEFAULT_REWRITES = Versions(before=(11,))  # PostgreSQL 11 stores a non-volatile default in the catalog
NOT_NULL_PROVED_BY_CHECK = Versions(since=(12,))  # a valid CHECK (col IS NOT NULL) lets SET NOT NULL skip its scan
ENUM_ADD_VALUE_NEEDS_AUTOCOMMIT = Versions(before=(12,))  # ALTER TYPE ... ADD VALUE fails in a transaction block
TIMESTAMPTZ_UTC_COERCIBLE = Versions(since=(12,))  # timestamp <-> timestamptz is binary-coercible when TimeZone is UTC


@dataclass(frozen=True)
class VersionNote:
    versions: Versions
    text: str


_PG = "https://www.postgresql.org/docs/current/"
ALTER_TABLE = _PG + "sql-altertable.html"
LOCKS = _PG + "explicit-locking.html"


@dataclass(frozen=True)
class HazardType:
    code: str
    name: str
    title: str
    group: str  # a key of GROUPS
    severity: str  # a key of SEVERITY_COLOURS
    rank: int  # the plan shows the step whose most severe hazard ranks lowest first, when no duration separates them
    what: str  # what the operation does
    why: str  # why it hurts
    fix: str  # what to do instead, in prose; the structured steps are the recipes
    recipes: tuple[str, ...] = ()  # ids in recipes.RECIPES a finding may point to; the first is the usual one
    lock: str | None = None  # the lock the operation takes on the table
    holds: str | None = None  # "brief" or "operation": how long it holds the lock
    cost: str | None = None  # what the duration is proportional to: rewrite, scan, index, fk
    versions: Versions = ALL_VERSIONS  # the PostgreSQL versions on which it occurs
    notes: tuple[VersionNote, ...] = ()  # how particular versions change it
    references: tuple[str, ...] = ()

    @property
    def blocks(self) -> str | None:
        """What other sessions cannot do while the lock is held."""
        return blocks(self.lock)

    @property
    def colour(self) -> str:
        return SEVERITY_COLOURS[self.severity]


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
            group="lock",
            severity="warning",
            rank=160,
            lock=ACCESS_EXCLUSIVE,
            holds="brief",
            recipes=("lock-timeout", "drop-index-concurrently", "drop-in-later-release"),
            what="Changes only the catalog: no rewrite, no scan. It still needs an ACCESS EXCLUSIVE lock on the "
            "table (and for foreign keys or DROP TABLE, on the referenced tables too), held for milliseconds.",
            why="To get the lock it waits for every transaction that has touched the table, and while it waits "
            "every new query on the table, reads included, queues behind it. One long-running report or an "
            "idle-in-transaction session turns a millisecond change into an outage.",
            fix=_LOCK_TIMEOUT + " For DROP INDEX, use DROP INDEX CONCURRENTLY (outside a transaction).",
            references=(ALTER_TABLE, LOCKS, _PG + "sql-dropindex.html"),
        ),
        HazardType(
            "MD102",
            "table-rewrite",
            "Rewrites the table and all its indexes under ACCESS EXCLUSIVE",
            group="lock",
            severity="critical",
            rank=10,
            lock=ACCESS_EXCLUSIVE,
            holds="operation",
            cost="rewrite",
            recipes=("change-type-expand-contract", "add-column-backfill", "enum-remove-value"),
            what="PostgreSQL writes a new copy of every row and rebuilds every index of the table: a type change "
            "that is not binary-coercible (int -> bigint, varchar(255) -> varchar(10), json -> jsonb), a new "
            "column with a volatile default (gen_random_uuid(), clock_timestamp(), serial) or an identity or "
            "stored generated column, or, before PostgreSQL 11, a new column with any default.",
            why="The ACCESS EXCLUSIVE lock is held for the whole rewrite: nothing can read or write the table "
            "until it finishes, for minutes to hours on a large table (a 100 GB table can take hours). It "
            "needs free disk for a second copy of the table and its indexes, writes all of it to WAL "
            "(replica lag), and there is no progress view for ALTER TABLE.",
            fix="Expand and contract instead of altering in place: add a new column of the new type (nullable, "
            "no default), keep it in sync with a trigger or by writing both, backfill it in small batches, "
            "build its indexes CONCURRENTLY, then in one short transaction swap the names and drop the old "
            "column. For a new column with a volatile default: add it without a default, SET DEFAULT (only new "
            "rows), backfill in batches.",
            notes=(
                VersionNote(ANY_DEFAULT_REWRITES, "a new column with any default rewrites, not only a volatile one; from 11 on a non-volatile default is stored once in the catalog"),
                VersionNote(TIMESTAMPTZ_UTC_COERCIBLE, "timestamp <-> timestamptz does not rewrite if the session TimeZone is UTC (indexes on the column are still rebuilt)"),
            ),
            references=(ALTER_TABLE + "#SQL-ALTERTABLE-NOTES", "https://www.postgresql.org/docs/release/11.0/", "https://www.postgresql.org/docs/release/12.0/"),
        ),
        HazardType(
            "MD103",
            "scan-under-access-exclusive",
            "Scans the whole table under ACCESS EXCLUSIVE",
            group="lock",
            severity="critical",
            rank=30,
            lock=ACCESS_EXCLUSIVE,
            holds="operation",
            cost="scan",
            recipes=("not-null-via-check", "check-not-valid"),
            what="Checks every existing row while holding ACCESS EXCLUSIVE: SET NOT NULL without a valid "
            "CHECK (col IS NOT NULL) constraint that proves it, ADD CONSTRAINT ... CHECK without NOT VALID, "
            "and the implicit SET NOT NULL of a new primary key.",
            why="No rewrite, but the table is unreadable and unwritable for as long as it takes to read it.",
            fix="Add the constraint NOT VALID (brief lock), VALIDATE CONSTRAINT it (SHARE UPDATE EXCLUSIVE: reads "
            "and writes continue); for NOT NULL, then SET NOT NULL (no scan: the valid CHECK proves it) and "
            "drop the CHECK.",
            notes=(
                VersionNote(NOT_NULL_PROVED_BY_CHECK, "a valid CHECK (col IS NOT NULL) proves SET NOT NULL, which then skips the scan"),
                VersionNote(Versions(since=(18,)), "NOT NULL can be added NOT VALID directly and validated separately"),
            ),
            references=(ALTER_TABLE, "https://www.postgresql.org/docs/release/12.0/"),
        ),
        HazardType(
            "MD104",
            "index-build-blocks-writes",
            "Builds an index while blocking writes (SHARE lock)",
            group="lock",
            severity="warning",
            rank=50,
            lock=SHARE,
            holds="operation",
            cost="index",
            recipes=("create-index-concurrently", "rename-index"),
            what="CREATE INDEX without CONCURRENTLY on an existing table reads the whole table and sorts it "
            "under a SHARE lock.",
            why="Reads continue, but every INSERT, UPDATE and DELETE on the table waits until the build finishes.",
            fix="CREATE INDEX CONCURRENTLY, outside a transaction (alembic: op.get_context().autocommit_block(), "
            "postgresql_concurrently=True). It takes longer (two scans, waits for older transactions) and "
            "on failure leaves an INVALID index to drop before retrying. If a same-column index is being "
            "dropped in the same upgrade, it is a rename: ALTER INDEX ... RENAME TO is instant.",
            notes=(VersionNote(Versions(since=(14, 0), before=(14, 4)), "avoid CONCURRENTLY: an index corruption bug, fixed in 14.4"),),
            references=(_PG + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY", "https://www.postgresql.org/docs/release/14.4/"),
        ),
        HazardType(
            "MD105",
            "index-build-access-exclusive",
            "Builds a unique or primary-key index under ACCESS EXCLUSIVE",
            group="lock",
            severity="critical",
            rank=20,
            lock=ACCESS_EXCLUSIVE,
            holds="operation",
            cost="index",
            recipes=("constraint-using-index",),
            what="ADD CONSTRAINT ... UNIQUE / PRIMARY KEY on an existing table builds its index while holding "
            "ACCESS EXCLUSIVE (a primary key also runs SET NOT NULL on its columns).",
            why="Neither reads nor writes get through for the whole index build.",
            fix="CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX (or PRIMARY "
            "KEY USING INDEX), which only takes a brief lock.",
            references=(ALTER_TABLE, _PG + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY"),
        ),
        HazardType(
            "MD106",
            "foreign-key-validation",
            "Validates a foreign key while blocking writes on both tables",
            group="lock",
            severity="warning",
            rank=40,
            lock=SHARE_ROW_EXCLUSIVE,
            holds="operation",
            cost="fk",
            recipes=("fk-not-valid",),
            what="ADD FOREIGN KEY checks every existing row of the referencing table against the referenced one, "
            "holding SHARE ROW EXCLUSIVE on both tables.",
            why="Writes to both tables wait for the whole validation.",
            fix="ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID (brief lock; new rows are checked from now on), then "
            "VALIDATE CONSTRAINT, which takes only SHARE UPDATE EXCLUSIVE.",
            references=(ALTER_TABLE, LOCKS),
        ),
        HazardType(
            "MD107",
            "enum-value-outside-transaction",
            "Adding an enum value cannot run inside a transaction block",
            group="transaction",
            severity="warning",
            rank=150,
            recipes=("enum-add-value-autocommit",),
            versions=ENUM_ADD_VALUE_NEEDS_AUTOCOMMIT,
            what="ALTER TYPE ... ADD VALUE is how a new enum label is added.",
            why="Before PostgreSQL 12 it fails inside a transaction block, which is how alembic runs migrations "
            "by default; the upgrade stops half-way.",
            fix="Run it in alembic's autocommit block (with op.get_context().autocommit_block(): ...), before the "
            "statements that use the new value.",
            notes=(VersionNote(Versions(since=(12,)), "allowed in a transaction (the new value can't be used until commit), so not reported"),),
            references=(_PG + "sql-altertype.html",),
        ),
        HazardType(
            "MD108",
            "index-rebuild-access-exclusive",
            "Rebuilds the column's indexes under ACCESS EXCLUSIVE",
            group="lock",
            severity="critical",
            rank=25,
            lock=ACCESS_EXCLUSIVE,
            holds="operation",
            cost="index",
            recipes=("change-type-expand-contract",),
            what="ALTER COLUMN ... TYPE ... COLLATE with the same type: the rows stay as they are, but every index "
            "on the column is built again, since its order depends on the collation.",
            why="The ACCESS EXCLUSIVE lock is held until every index on the column is rebuilt: neither reads nor "
            "writes get through, for as long as building those indexes takes.",
            fix="Expand and contract: add a column with the new collation, keep it in sync, backfill it in batches, "
            "build its indexes CONCURRENTLY, then swap the names in one short transaction.",
            references=(ALTER_TABLE + "#SQL-ALTERTABLE-NOTES", _PG + "collation.html"),
        ),
        HazardType(
            "MD109",
            "trigger-changed",
            "Adds, changes or drops a trigger: every write on the table runs what it says from then on",
            group="lock",
            severity="warning",
            rank=55,
            lock=SHARE_ROW_EXCLUSIVE,
            holds="brief",
            recipes=("lock-timeout",),
            what="CREATE TRIGGER and DROP TRIGGER take SHARE ROW EXCLUSIVE on the table, briefly: no scan, but "
            "the lock waits for every running write and blocks the writes queued behind it.",
            why="A trigger acts only on the rows written after it is created: a trigger that derives a column "
            "(a full-text search vector, a counter) leaves the rows already there unfilled, and one dropped "
            "stops maintaining what the previous release may rely on.",
            fix=_LOCK_TIMEOUT + " Backfill what a new trigger derives in batches after it exists.",
            references=(_PG + "sql-createtrigger.html", LOCKS),
        ),
        HazardType(
            "MD201",
            "deletes-data",
            "Deletes data",
            group="deletes-data",
            severity="critical",
            rank=100,
            recipes=("drop-in-later-release",),
            what="DROP TABLE or DROP COLUMN: the rows or the column's values are gone when the transaction commits.",
            why="There is no undo short of a restore; a downgrade recreates the column or table empty.",
            fix="Take a backup (or copy the column to an archive table) first; drop only in a release after the "
            "code has stopped using it (see MD301).",
            references=(_PG + "sql-droptable.html", ALTER_TABLE),
        ),
        HazardType(
            "MD202",
            "type-change-may-fail",
            "Type change may fail on existing values",
            group="may-fail",
            severity="warning",
            rank=60,
            recipes=("precheck-type", "enum-remove-value"),
            what="Converts every stored value to a type that cannot hold all of them (bigint -> integer, "
            "varchar(255) -> varchar(10), a scale change) or has no implicit cast from the old type "
            "(varchar -> integer needs USING); or removes enum labels that rows may hold.",
            why="The ALTER fails on the first value that does not convert, after having done part of the "
            "work under its lock, and the upgrade stops there. Adding USING col::varchar(10) by hand "
            "silently truncates instead.",
            fix="Check first: SELECT count(*) FROM t WHERE length(col) > n (or the range of the new type); fix "
            "or archive those rows; then use the expand-and-contract recipe of MD102.",
            references=(ALTER_TABLE, _PG + "datatype-character.html"),
        ),
        HazardType(
            "MD203",
            "not-null-may-fail",
            "Fails if existing rows hold NULL",
            group="may-fail",
            severity="warning",
            rank=70,
            recipes=("precheck-nulls", "required-in-later-release"),
            what="SET NOT NULL on a column that may hold NULL, or a new NOT NULL column without a default on "
            "a table that already has rows.",
            why="The statement fails (after a full scan, for SET NOT NULL) and the upgrade stops there.",
            fix="Backfill first (UPDATE ... WHERE col IS NULL, in batches), then add NOT NULL with the CHECK "
            "recipe of MD103; for a new column, add it with a default or nullable.",
            references=(ALTER_TABLE,),
        ),
        HazardType(
            "MD204",
            "unique-may-fail",
            "Fails if existing rows hold duplicates",
            group="may-fail",
            severity="warning",
            rank=80,
            recipes=("precheck-duplicates",),
            what="A new unique index, unique constraint or primary key on an existing table.",
            why="The build fails at the first duplicate, after reading the table; a failed CREATE UNIQUE INDEX "
            "CONCURRENTLY leaves an INVALID index behind that still slows writes.",
            fix="Check first: SELECT cols, count(*) FROM t GROUP BY cols HAVING count(*) > 1; deduplicate; then "
            "build the index CONCURRENTLY (MD104/MD105).",
            references=(_PG + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY",),
        ),
        HazardType(
            "MD205",
            "constraint-may-fail",
            "Fails if existing rows violate the new CHECK or foreign key",
            group="may-fail",
            severity="warning",
            rank=90,
            recipes=("precheck-violations",),
            what="A CHECK constraint or foreign key added to an existing table is validated against every row.",
            why="One violating row fails the statement and the upgrade stops there.",
            fix="Find violators first (SELECT ... WHERE NOT (condition), or an anti-join for the foreign key), "
            "then add the constraint NOT VALID and VALIDATE it separately.",
            references=(ALTER_TABLE,),
        ),
        HazardType(
            "MD301",
            "drop-breaks-old-release",
            "Breaks the previous release while it still runs: drops something it maps",
            group="breaks-old-release",
            severity="warning",
            rank=110,
            recipes=("drop-in-later-release",),
            what="Drops a column or table that the FROM release's models map.",
            why="SQLAlchemy names every mapped column in its SELECTs and INSERTs; from the moment of the drop, "
            "every query of the still-running old release on that table fails.",
            fix="Two releases: first stop using it in the code (remove it from the model, or mark it deferred "
            "and never written) and deploy; drop it in a later release's migration.",
            references=("https://docs.sqlalchemy.org/en/20/orm/queryguide/columns.html",),
        ),
        HazardType(
            "MD302",
            "possible-rename",
            "Looks like a rename: a column of the same type is dropped and another added",
            group="breaks-old-release",
            severity="warning",
            rank=120,
            recipes=("rename-in-orm",),
            what="A dropped and an added column on the same table share type and nullability. Model diffs cannot "
            "tell a rename from drop + add, and the migration generated from them drops the data.",
            why="If it is a rename, drop + add loses every value of the column, and either way the old release "
            "breaks (MD301).",
            fix="Keep the database name and rename only the attribute: Column(\"old_name\", ...). Or, to rename "
            "in the database, ALTER TABLE ... RENAME COLUMN in a release whose code reads both names.",
            references=("https://docs.sqlalchemy.org/en/20/orm/declarative_tables.html",),
        ),
        HazardType(
            "MD303",
            "not-null-breaks-old-release",
            "Breaks the previous release while it still runs: it doesn't fill a column that becomes required",
            group="breaks-old-release",
            severity="warning",
            rank=130,
            recipes=("required-in-later-release",),
            what="A new NOT NULL column without a default (the old release's INSERTs don't name it), SET NOT NULL "
            "on a column without a default the old release may leave NULL, or dropping the default of a "
            "NOT NULL column the old release relies on.",
            why="INSERTs of the still-running old release fail with a not-null violation until it is replaced.",
            fix="Add the column nullable or with a server default first; require it (SET NOT NULL, drop the "
            "default) only in a later release, once no running code omits it.",
            references=(ALTER_TABLE,),
        ),
        HazardType(
            "MD304",
            "enum-value-removed",
            "Breaks the previous release while it still runs: removes enum values it may write",
            group="breaks-old-release",
            severity="warning",
            rank=140,
            recipes=("enum-remove-value",),
            what="Removes or renames labels of a PostgreSQL enum type, which means recreating the type and "
            "converting every column that uses it (a rewrite, MD102).",
            why="The old release keeps writing the removed labels and those writes fail.",
            fix="Stop writing the label in one release; remove it from the type in a later one.",
            references=(_PG + "datatype-enum.html", _PG + "sql-altertype.html"),
        ),
    ]
}


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

        entry = CATALOGUE.get(self.code)
        if entry is None:
            raise ValueError(f"unknown hazard code {self.code}")
        if self.recipe is not None and self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe}")
        if self.recipe is not None and self.recipe not in entry.recipes:
            raise ValueError(f"{self.code} does not list recipe {self.recipe} in the catalogue")
        if (self.lock, self.holds, self.cost) != (entry.lock, entry.holds, entry.cost):
            raise ValueError(f"{self.code}: lock {self.lock}/{self.holds}/{self.cost} is not the catalogue's {entry.lock}/{entry.holds}/{entry.cost}")

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


class HazardedStep:
    """What a plan step's `hazards` say about it (a step of the models diff or a replayed
    statement): its duration, lock, how long it is held, and how severe it is."""

    hazards: tuple[Hazard, ...]

    @property
    def seconds(self) -> float | None:
        estimates = [h.estimate.seconds for h in self.hazards if h.estimate is not None]
        return sum(estimates) if estimates else None

    @property
    def costly(self) -> bool:
        """Holds a blocking lock for as long as the table's size dictates."""
        return any(h.cost and h.holds == "operation" for h in self.hazards)

    @property
    def lock(self) -> str | None:
        locks = [h.lock for h in self.hazards if h.lock]
        return max(locks, key=lambda lock: _LOCK_RANK.get(lock, 0)) if locks else None

    @property
    def lock_held(self) -> str | None:
        held = {h.holds for h in self.hazards if h.lock}
        return "operation" if "operation" in held else ("brief" if held else None)

    @property
    def blocks_reads(self) -> bool:
        return any(h.lock in BLOCKS_READS for h in self.hazards if h.holds == "operation")

    @property
    def locked_tables(self) -> list[str]:
        seen: list[str] = []
        for h in self.hazards:
            for t in h.tables:
                if h.lock and t not in seen:
                    seen.append(t)
        return seen

    @property
    def severity(self) -> int:
        """The catalogue rank of its most severe hazard (lower: read first)."""
        return min((CATALOGUE[h.code].rank for h in self.hazards), default=UNRANKED)


UNRANKED = max(h.rank for h in CATALOGUE.values()) + 1  # a step without hazards comes after every ranked one
_LOCK_RANK = {ACCESS_EXCLUSIVE: 3, SHARE_ROW_EXCLUSIVE: 2, SHARE: 1}
