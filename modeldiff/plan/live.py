"""Read-only facts from the user's database: sizes, row estimates, indexes, CHECKs, version.

One connection, opened with `default_transaction_read_only = on` (every statement runs in a
read-only transaction: a bug here cannot write), `statement_timeout` (nothing runs long) and
`lock_timeout` (catalog-size functions take ACCESS SHARE locks; if a migration is holding a
table, we give up instead of queueing behind it). Only catalog queries and size functions
are run; no table is read (`pg_stats` gives average column widths).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..db import driver

from ..sqltext import qualified


class LiveDatabaseError(Exception):
    """The live database cannot be reached or read: one line, no password."""


@dataclass
class IndexFacts:
    name: str
    bytes: int
    columns: list[str | None]  # None for an expression
    unique: bool = False
    primary: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "columns": self.columns, "unique": self.unique, "primary": self.primary}


@dataclass
class TableFacts:
    name: str
    heap_bytes: int  # pg_relation_size: the main fork, what a scan reads
    table_bytes: int  # pg_table_size: heap + TOAST + maps, what a rewrite copies
    indexes_bytes: int  # pg_indexes_size
    total_bytes: int  # pg_total_relation_size
    reltuples: float  # planner's row estimate; -1 if never vacuumed/analyzed
    indexes: list[IndexFacts] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)  # valid CHECKs: (name, definition)
    columns: dict[str, dict] = field(default_factory=dict)  # name -> {type, nullable, avg_width}

    @property
    def rows(self) -> float:
        if self.reltuples >= 0:
            return self.reltuples
        return self.heap_bytes / 100.0  # never analyzed: a guess from the heap size

    def to_json(self) -> dict:
        return {
            "heap_bytes": self.heap_bytes,
            "table_bytes": self.table_bytes,
            "indexes_bytes": self.indexes_bytes,
            "total_bytes": self.total_bytes,
            "rows_estimate": None if self.reltuples < 0 else int(self.reltuples),
            "indexes": [i.to_json() for i in self.indexes],
        }


@dataclass
class ServerFacts:
    version_num: int
    version: str
    key: str  # identifies the server for the calibration cache
    database: str
    settings: dict[str, str] = field(default_factory=dict)
    oldest_transaction_seconds: float | None = None

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "version_num": self.version_num,
            "database": self.database,
            "settings": self.settings,
            "oldest_transaction_seconds": self.oldest_transaction_seconds,
        }


@dataclass
class LiveFacts:
    server: ServerFacts
    tables: dict[str, TableFacts]
    missing: list[str] = field(default_factory=list)  # asked for, not found

    def table(self, name: str) -> TableFacts | None:
        return self.tables.get(name)


SETTINGS = ("maintenance_work_mem", "max_parallel_maintenance_workers", "TimeZone", "shared_buffers", "max_wal_size", "lock_timeout", "statement_timeout")


def libpq_url(url: str) -> str:
    """Accept SQLAlchemy spellings too: postgresql+psycopg://... -> postgresql://..."""
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url.strip())


def redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def connect(url: str, *, read_only: bool = True, statement_timeout: str = "30s", application_name: str = "modeldiff plan"):
    try:
        conn = driver.connect(libpq_url(url), application_name=application_name, connect_timeout=10)
    except driver.Error as exc:
        raise LiveDatabaseError(f"cannot connect to {redact(url)}: {str(exc).strip().splitlines()[0]}") from None
    conn.autocommit = True
    with conn.cursor() as cur:
        if read_only:
            cur.execute("SET default_transaction_read_only = on")
        cur.execute("SET statement_timeout = %s", (statement_timeout,))
        cur.execute("SET lock_timeout = '5s'")
    return conn


def server_key(conn) -> str:
    """host:port, plus the cluster's system identifier when we may read it."""
    info = conn.info
    key = f"{info.host}:{info.port}"
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT system_identifier FROM pg_control_system()")
            key += f"#{cur.fetchone()[0]}"
        except driver.Error:
            pass
    return key


def read_live_facts(url: str, tables: list[str]) -> LiveFacts:
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('server_version_num')::int, current_setting('server_version'), current_database()")
            version_num, version, database = cur.fetchone()
            cur.execute("SELECT name, reset_val, unit FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),))
            settings = {name: _with_unit(value, unit) for name, value, unit in cur.fetchall()}
            cur.execute(
                "SELECT max(extract(epoch FROM now() - xact_start)) FROM pg_stat_activity "
                "WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            oldest = cur.fetchone()[0]
            server = ServerFacts(version_num, version, server_key(conn), database, settings, float(oldest) if oldest is not None else None)
            found, missing = {}, []
            for name in sorted(set(tables)):
                facts = _table_facts(cur, name)
                if facts is None:
                    missing.append(name)
                else:
                    found[name] = facts
        return LiveFacts(server, found, missing)
    except driver.Error as exc:
        raise LiveDatabaseError(f"reading {redact(url)}: {str(exc).strip().splitlines()[0]}") from None
    finally:
        conn.close()


def _with_unit(value: str, unit: str | None) -> str:
    if unit in (None, "", "s", "ms", "min"):
        return f"{value}{unit or ''}"
    if unit.endswith("kB") or unit.endswith("MB") or unit == "8kB":
        scale = {"kB": 1024, "8kB": 8192, "MB": 1024 * 1024}[unit]
        return _bytes_setting(int(value) * scale)
    return f"{value}{unit}"


def _bytes_setting(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def _table_facts(cur, name: str) -> TableFacts | None:
    cur.execute(
        "SELECT c.oid, pg_relation_size(c.oid), pg_table_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid), c.reltuples "
        "FROM pg_class c WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p', 'm')",
        (qualified(name),),
    )
    row = cur.fetchone()
    if row is None:
        return None
    oid, heap, table, indexes, total, reltuples = row
    cur.execute(
        "SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid), i.indisunique, i.indisprimary, "
        "ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
        "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) "
        "FROM pg_index i WHERE i.indrelid = %s ORDER BY 1",
        (oid,),
    )
    index_facts = [IndexFacts(n, b, list(cols), u, p) for n, b, u, p, cols in cur.fetchall()]
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s AND contype = 'c' AND convalidated ORDER BY 1", (oid,))
    checks = [tuple(r) for r in cur.fetchall()]
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, s.avg_width "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname AND NOT s.inherited "
        "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (oid,),
    )
    columns = {n: {"type": t, "nullable": nullable, "avg_width": w} for n, t, nullable, w in cur.fetchall()}
    return TableFacts(name, heap, table, indexes, total, float(reltuples), index_facts, checks, columns)
