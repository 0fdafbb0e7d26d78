"""`--calibrate`: measure this server's rewrite, scan and index-build throughput.

This is the only thing modeldiff ever writes to a user's database, and only when asked.
It creates a schema `modeldiff_calibration_<random>` holding one table of about
`size_mb` MB (id bigint, uuid, int, ~64-byte text, timestamp: a typical row), and times:

1. scan:    ALTER TABLE ... ALTER COLUMN n SET NOT NULL (a full scan under the same code
            path as a real one), median of three, DROP NOT NULL in between
2. rewrite: ALTER TABLE ... ALTER COLUMN n TYPE bigint, integer, bigint with no indexes:
            the median of table bytes / time
3. index:   CREATE INDEX on the uuid column, then on the text column (a cheap and an
            expensive key to sort: memcmp-like vs collation-aware comparisons):
            their index bytes / (their time - their heap scan time)

then drops the schema (also on error or Ctrl-C). It needs CREATE privilege on the database
and writes about 6 × size_mb of data and WAL. The result is stored in the user cache
(`calibration.json` in the cache directory, see settings.cache_dir;
`MODELDIFF_CACHE_DIR` overrides the directory) keyed by the server (host:port and, when
readable, the cluster's system identifier), and later plans against the same server use it.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from ..db import driver

from .. import settings
from .estimate import Throughput
from .live import LiveDatabaseError, connect, redact, server_key

ROW_BYTES = 135  # heap bytes per row of the calibration table, measured on PostgreSQL 16


def cache_dir() -> Path:
    return settings.cache_dir()


def cache_file() -> Path:
    return cache_dir() / "calibration.json"


def load_calibration(key: str) -> Throughput | None:
    try:
        data = json.loads(cache_file().read_text())
        return Throughput.from_json(data[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_calibration(key: str, throughput: Throughput) -> Path:
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[key] = throughput.to_json()
    from ..cache import atomic_write

    atomic_write(path, json.dumps(data, indent=2, sort_keys=True))
    return path


def _timed(cur, sql: str) -> float:
    started = time.perf_counter()
    cur.execute(sql)
    return time.perf_counter() - started


def calibrate(url: str, size_mb: float = 256, log=None) -> tuple[str, Throughput]:
    """Measure the server at `url`; returns its cache key and the throughputs (not yet saved)."""
    log = log or (lambda message: None)
    conn = connect(url, read_only=False, statement_timeout="30min", application_name="modeldiff calibrate")
    schema = f"modeldiff_calibration_{secrets.token_hex(4)}"
    table = f"{schema}.t"
    try:
        key = server_key(conn)
        with conn.cursor() as cur:
            rows = max(int(size_mb * (1 << 20) / ROW_BYTES), 10_000)
            log(f"calibrating: creating schema {schema} with a {size_mb:.0f} MB table ({rows:,} rows); it is dropped afterwards")
            cur.execute(f"CREATE SCHEMA {schema}")
            cur.execute(
                f"CREATE TABLE {table} AS SELECT g::bigint AS id, md5(g::text)::uuid AS u, (g % 1000)::int AS n, "
                f"repeat(md5(g::text), 2) AS s, timestamp '2024-01-01' + g * interval '1 second' AS ts "
                f"FROM generate_series(1, {rows}) g"
            )
            cur.execute(f"VACUUM ANALYZE {table}")
            cur.execute(f"SELECT pg_relation_size('{table}'), pg_table_size('{table}')")
            heap, table_bytes = cur.fetchone()
            scans = []
            for _ in range(3):
                scans.append(_timed(cur, f"ALTER TABLE {table} ALTER COLUMN n SET NOT NULL"))
                cur.execute(f"ALTER TABLE {table} ALTER COLUMN n DROP NOT NULL")
            scan_s = max(statistics.median(scans), 1e-3)
            rates = []
            for target in ("bigint", "integer", "bigint"):
                cur.execute(f"SELECT pg_table_size('{table}')")
                size = cur.fetchone()[0]
                rates.append(size / max(_timed(cur, f"ALTER TABLE {table} ALTER COLUMN n TYPE {target}"), 1e-3))
            r_rewrite = statistics.median(rates)
            cur.execute(f"SELECT pg_relation_size('{table}')")
            heap_after = cur.fetchone()[0]
            index_s = _timed(cur, f"CREATE INDEX ON {table} (u)") + _timed(cur, f"CREATE INDEX ON {table} (s)")
            cur.execute(f"SELECT pg_indexes_size('{table}')")
            index_bytes = cur.fetchone()[0]
        r_scan = heap / scan_s
        index_write_s = max(index_s - 2 * heap_after / r_scan, 0.25 * index_s, 1e-3)
        throughput = Throughput(
            rewrite=r_rewrite,
            scan=r_scan,
            index=index_bytes / index_write_s,
            source="calibrated",
            measured_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            detail={
                "table_bytes": table_bytes,
                "heap_bytes": heap,
                "index_bytes": index_bytes,
                "scan_seconds": round(scan_s, 4),
                "rewrite_bytes_per_second": [round(r) for r in rates],
                "index_seconds": round(index_s, 4),
            },
        )
        return key, throughput
    except driver.Error as exc:
        raise LiveDatabaseError(f"calibrating on {redact(url)}: {str(exc).strip().splitlines()[0]}") from None
    finally:
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        except driver.Error:
            log(f"could not drop schema {schema}: drop it by hand")
        conn.close()
