"""`--calibrate`: measure this server's rewrite, scan and index-build throughput.

This is the only thing modeldiff ever writes to a user's database, and only when asked.
It creates a schema `modeldiff_calibration_<random>` holding one table of about
`size_mb` MB (id bigint, uuid, int, ~64-byte text, timestamp, and padding text up to
`row_bytes` per row: a rewrite's cost is part per row and part per byte, so bytes per second
carry over to the tables to estimate only when the rows are as wide as theirs; the callers
pass the row width of the largest table the upgrade touches), and times ROUNDS rounds of
short samples, each round one of each:

1. scan:    ALTER TABLE ... ALTER COLUMN n SET NOT NULL (a full scan under the same code
            path as a real one), then DROP NOT NULL
2. rewrite: ALTER TABLE ... ALTER COLUMN n TYPE bigint (integer, bigint, ... in turn) with
            no indexes: table bytes / time
3. index:   CREATE INDEX on the uuid column, then on the text column (keys compared
            bytewise vs by collation: the two rates an index can build at), each dropped
            again: index bytes / (time - the heap scan at this round's scan rate)

Each throughput is its second-fastest round's. Other work on the server and its machine
only ever slows a round down, and a short sample takes a burst of it whole: on a loaded
2-CPU machine (load 13-19) the median round overestimated Dify's real 300 MB rewrite 2-5x,
while the fastest round alone is a single, possibly lucky, sample; the second-fastest is the
fastest that another round corroborates. The samples are interleaved rather than run kind
after kind, so every rate is measured across the same stretch of time, and the rounds'
spread (the rewrite rates' fastest / slowest) becomes the estimates' range.

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
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from ..db import driver

from .. import settings
from .estimate import Throughput
from .live import LiveDatabaseError, connect, redact, server_key

ROW_BYTES = 135  # heap bytes per row of the calibration table, measured on PostgreSQL 16
ROUNDS = 5
MAX_ROW_BYTES = 1800  # wider rows would be TOAST-compressed: bytes no longer mean work


def row_width(live) -> float | None:
    """Bytes per row of the largest of the live tables (`LiveFacts`), what a calibration
    table should look like; None without an analyzed table."""
    tables = [t for t in live.tables.values() if t is not None and t.reltuples > 0]
    if not tables:
        return None
    largest = max(tables, key=lambda t: t.table_bytes)
    return largest.table_bytes / largest.reltuples


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


def _one(cur, sql: str):
    cur.execute(sql)
    return cur.fetchone()[0]


def _timed(cur, sql: str) -> float:
    started = time.perf_counter()
    cur.execute(sql)
    return time.perf_counter() - started


def calibrate(url: str, size_mb: float = 256, log=None, row_bytes: float | None = None) -> tuple[str, Throughput]:
    """Measure the server at `url`; returns its cache key and the throughputs (not yet saved)."""
    log = log or (lambda message: None)
    conn = connect(url, read_only=False, statement_timeout="30min", application_name="modeldiff calibrate")
    schema = f"modeldiff_calibration_{secrets.token_hex(4)}"
    table = f"{schema}.t"
    try:
        key = server_key(conn)
        with conn.cursor() as cur:
            pad = round((min(max(row_bytes or ROW_BYTES, ROW_BYTES), MAX_ROW_BYTES) - ROW_BYTES) / 33)  # md5 strings of padding
            width = ROW_BYTES + 33 * pad
            rows = max(int(size_mb * (1 << 20) / width), 10_000)
            log(f"calibrating: creating schema {schema} with a {size_mb:.0f} MB table ({rows:,} rows of ~{width} bytes), timed in {ROUNDS} rounds; it is dropped afterwards")
            cur.execute(f"CREATE SCHEMA {schema}")
            cur.execute(
                f"CREATE TABLE {table} AS SELECT g::bigint AS id, md5(g::text)::uuid AS u, (g % 1000)::int AS n, "
                f"repeat(md5(g::text), 2) AS s, timestamp '2024-01-01' + g * interval '1 second' AS ts, repeat(md5((g + 1)::text), {pad}) AS p "
                f"FROM generate_series(1, {rows}) g"
            )
            cur.execute(f"VACUUM ANALYZE {table}")
            cur.execute(f"SELECT pg_relation_size('{table}'), pg_table_size('{table}')")
            heap, table_bytes = cur.fetchone()
            samples: dict[str, list[float]] = {"scan": [], "rewrite": [], "index_fixed": [], "index_text": []}
            index_seconds = []
            for number in range(ROUNDS):
                scan_s = max(_timed(cur, f"ALTER TABLE {table} ALTER COLUMN n SET NOT NULL"), 1e-3)
                cur.execute(f"ALTER TABLE {table} ALTER COLUMN n DROP NOT NULL")
                samples["scan"].append(heap / scan_s)
                size = _one(cur, f"SELECT pg_table_size('{table}')")
                samples["rewrite"].append(size / max(_timed(cur, f"ALTER TABLE {table} ALTER COLUMN n TYPE {('bigint', 'integer')[number % 2]}"), 1e-3))
                heap_now = _one(cur, f"SELECT pg_relation_size('{table}')")
                for column, kind in (("u", "index_fixed"), ("s", "index_text")):
                    seconds = _timed(cur, f"CREATE INDEX calibration_index ON {table} ({column})")
                    built = _one(cur, f"SELECT pg_relation_size('{schema}.calibration_index')")
                    cur.execute(f"DROP INDEX {schema}.calibration_index")
                    index_seconds.append(seconds)
                    samples[kind].append(built / max(seconds - heap_now / samples["scan"][-1], 0.25 * seconds, 1e-3))
        rate = {kind: sorted(values)[-2] for kind, values in samples.items()}
        throughput = Throughput(
            rewrite=rate["rewrite"],
            scan=rate["scan"],
            index=rate["index_text"],
            index_fixed=rate["index_fixed"],
            source="calibrated",
            measured_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            detail={
                "table_bytes": table_bytes,
                "heap_bytes": heap,
                "row_bytes": round(table_bytes / rows),
                "rounds": ROUNDS,
                "scan_seconds": round(heap / rate["scan"], 4),
                "rewrite_bytes_per_second": [round(r) for r in samples["rewrite"]],
                "scan_bytes_per_second": [round(r) for r in samples["scan"]],
                "index_text_bytes_per_second": [round(r) for r in samples["index_text"]],
                "index_fixed_bytes_per_second": [round(r) for r in samples["index_fixed"]],
                "index_seconds": round(sum(index_seconds), 4),
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
