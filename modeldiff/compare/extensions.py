"""PostgreSQL extensions a loaded schema needs, created on demand in the scratch database.

Models use types, operator classes and functions that real deployments get from an
extension their migrations create (`CITEXT`, a `gin_trgm_ops` index, `hstore`...). When
PostgreSQL rejects a statement for one of those names, the extension that provides it is
created in `public` of that database (every scratch schema's search_path ends there) and
the statement is tried again. What a schema ends up using is read back from the catalog,
so the output says the same whether this run or an earlier one created the extension.
"""

from __future__ import annotations

import re

from ..db import driver

from ..values import Warning

# Name PostgreSQL reports missing -> the extension providing it. Types, operator classes,
# functions, index methods and operators alike (their names do not collide).
PROVIDERS = {
    # types
    "citext": "citext",
    "hstore": "hstore",
    "ltree": "ltree",
    "lquery": "ltree",
    "ltxtquery": "ltree",
    "cube": "cube",
    "seg": "seg",
    "isbn": "isn",
    "isbn13": "isn",
    "issn": "isn",
    "issn13": "isn",
    "ismn": "isn",
    "ismn13": "isn",
    "ean13": "isn",
    "upc": "isn",
    "lo": "lo",
    "vector": "vector",
    "halfvec": "vector",
    "sparsevec": "vector",
    "gtrgm": "pg_trgm",
    # operator classes
    "gin_trgm_ops": "pg_trgm",
    "gist_trgm_ops": "pg_trgm",
    "gin_hstore_ops": "hstore",
    "gist_hstore_ops": "hstore",
    "gist_ltree_ops": "ltree",
    "gist__ltree_ops": "ltree",
    "gin__int_ops": "intarray",
    "gist__int_ops": "intarray",
    "gist__intbig_ops": "intarray",
    "vector_l2_ops": "vector",
    "vector_ip_ops": "vector",
    "vector_cosine_ops": "vector",
    "vector_l1_ops": "vector",
    "halfvec_l2_ops": "vector",
    "halfvec_ip_ops": "vector",
    "halfvec_cosine_ops": "vector",
    # functions
    "similarity": "pg_trgm",
    "word_similarity": "pg_trgm",
    "strict_word_similarity": "pg_trgm",
    "show_trgm": "pg_trgm",
    "unaccent": "unaccent",
    "levenshtein": "fuzzystrmatch",
    "soundex": "fuzzystrmatch",
    "metaphone": "fuzzystrmatch",
    "dmetaphone": "fuzzystrmatch",
    "earth_distance": "earthdistance",
    "ll_to_earth": "earthdistance",
    "uuid_generate_v1": "uuid-ossp",
    "uuid_generate_v1mc": "uuid-ossp",
    "uuid_generate_v3": "uuid-ossp",
    "uuid_generate_v4": "uuid-ossp",
    "uuid_generate_v5": "uuid-ossp",
    "crypt": "pgcrypto",
    "gen_salt": "pgcrypto",
    "digest": "pgcrypto",
    "hmac": "pgcrypto",
    # index methods
    "bloom": "bloom",
    "hnsw": "vector",
    "ivfflat": "vector",
    # operators
    "%": "pg_trgm",
    "<%": "pg_trgm",
    "%>": "pg_trgm",
    "<<->": "pg_trgm",
    "<->>": "pg_trgm",
    # what no bundled extension provides (a clear warning instead)
    "geometry": "postgis",
    "geography": "postgis",
    "box2d": "postgis",
    "box3d": "postgis",
    "raster": "postgis_raster",
    "h3index": "h3",
    "timescaledb": "timescaledb",
}

# `data type integer has no default operator class for access method "gist"`: btree
# semantics for a GiST/GIN index (exclusion constraints, mixed GIN indexes).
DEFAULT_OPCLASS_PROVIDERS = {"gist": "btree_gist", "gin": "btree_gin"}

_MISSING = [
    re.compile(r'^type "?(?:\w+\.)?(\w+)"? does not exist'),
    re.compile(r'^operator class "?(?:\w+\.)?(\w+)"? does not exist'),
    re.compile(r'^function (?:\w+\.)?"?(\w+)"?\(.*\) does not exist'),
    re.compile(r'^access method "(\w+)" does not exist'),
    re.compile(r"^operator does not exist: (?:\S+ )?(\S+) \S+$"),
]
_NO_DEFAULT_OPCLASS = re.compile(r'has no default operator class for access method "(\w+)"')


def needed_by(message: str) -> tuple[str, str] | None:
    """(what is missing, the extension providing it) for a PostgreSQL error message."""
    for pattern in _MISSING:
        found = pattern.search(message)
        if found and found.group(1) in PROVIDERS:
            return found.group(1), PROVIDERS[found.group(1)]
    found = _NO_DEFAULT_OPCLASS.search(message)
    if found and found.group(1) in DEFAULT_OPCLASS_PROVIDERS:
        return f"a default operator class for {found.group(1)}", DEFAULT_OPCLASS_PROVIDERS[found.group(1)]
    return None


class Extensions:
    """Creates extensions in the database `conn` works in, on its own committed connection
    (concurrent runs may create the same one; our DDL transaction must not hold it)."""

    def __init__(self, conn, admin_dsn: str | None = None) -> None:
        self._dsn = admin_dsn or conn.info.dsn  # modeldiff's own connection, not the DDL's role
        self._available: set[str] | None = None
        self._provided: set[str] = set()  # once each: a retry that fails again is another error
        # extension not bundled -> (names asked for, statements rejected for them)
        self.unavailable: dict[str, tuple[set[str], set[str]]] = {}

    def provide(self, message: str, statement: str | None = None) -> bool:
        """Create the extension whose absence PostgreSQL's error `message` reports; False
        if there is none or it is not bundled (then noted for `statement`, when given)."""
        need = needed_by(message)
        if need is None:
            return False
        name, extension = need
        if extension not in self._bundled():
            if statement is not None:
                names, statements = self.unavailable.setdefault(extension, (set(), set()))
                names.add(name)
                statements.add(statement)
            return False
        if extension in self._provided:
            return False
        self._provided.add(extension)
        return self._create(extension)

    def _bundled(self) -> set[str]:
        if self._available is None:
            conn = driver.connect(self._dsn)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT name FROM pg_available_extensions")
                    self._available = {row[0] for row in cur.fetchall()}
            finally:
                conn.close()
        return self._available

    def _create(self, extension: str) -> bool:
        conn = driver.connect(self._dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}" SCHEMA public CASCADE')
                except (driver.errors.UniqueViolation, driver.errors.DuplicateObject):
                    pass  # a concurrent run created it at the same moment
                cur.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (extension,))
                return cur.fetchone() is not None
        except driver.Error:
            return False
        finally:
            conn.close()

    def warnings(self, ref: str) -> list[Warning]:
        """One warning per extension the schema needs that is not bundled, naming what
        PostgreSQL rejected for its absence."""
        return [
            Warning(
                "extension-unavailable",
                f"extension {extension} (for {', '.join(sorted(names))}) is not bundled with the embedded PostgreSQL; "
                f"not compared: {', '.join(sorted(statements))}",
                ref,
            )
            for extension, (names, statements) in sorted(self.unavailable.items())
        ]


# Objects of a schema (tables and their columns, indexes, defaults, constraints, types) that
# depend on a member of an extension (a type, a function, an operator class that must be
# named); the extension-owned objects themselves excluded.
_USED = """
WITH ours(classid, objid) AS (
    SELECT 'pg_class'::regclass, c.oid FROM pg_class c WHERE c.relnamespace = ANY(%(spaces)s)
    UNION ALL
    SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
     WHERE c.relnamespace = ANY(%(spaces)s)
    UNION ALL
    SELECT 'pg_constraint'::regclass, k.oid FROM pg_constraint k WHERE k.connamespace = ANY(%(spaces)s)
    UNION ALL
    SELECT 'pg_type'::regclass, t.oid FROM pg_type t WHERE t.typnamespace = ANY(%(spaces)s)
)
SELECT DISTINCT e.extname, pg_describe_object(d.refclassid, d.refobjid, 0)
  FROM ours o
  JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid
  JOIN pg_depend m ON m.classid = d.refclassid AND m.objid = d.refobjid AND m.deptype = 'e'
                  AND m.refclassid = 'pg_extension'::regclass
  JOIN pg_extension e ON e.oid = m.refobjid
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = o.classid AND x.objid = o.objid AND x.deptype = 'e')
   AND (d.refclassid IN ('pg_type'::regclass, 'pg_proc'::regclass)
        OR d.refclassid = 'pg_opclass'::regclass AND NOT (SELECT opcdefault FROM pg_opclass WHERE oid = d.refobjid))
"""


def used(cur, schemas: list[str] | None, ref: str) -> list[Warning]:
    """What the schema (in `schemas`, or every non-system schema) uses from extensions, as
    one warning per extension."""
    if schemas is None:
        cur.execute("SELECT array_agg(oid) FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'")
    else:
        cur.execute("SELECT array_agg(oid) FROM pg_namespace WHERE nspname = ANY(%s)", (schemas,))
    spaces = cur.fetchone()[0] or []
    cur.execute(_USED, {"spaces": spaces})
    uses: dict[str, set[str]] = {}
    for extension, what in cur.fetchall():
        uses.setdefault(extension, set()).add(what)
    return [
        Warning("extension-created", f"extension {extension} created on demand in the scratch database (for {', '.join(sorted(names))})", ref)
        for extension, names in sorted(uses.items())
    ]
