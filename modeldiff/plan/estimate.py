"""How long a costly operation will hold its lock, from the live table's size.

The model (three throughputs, in bytes per second):

* R_rewrite: table bytes (heap + TOAST, `pg_table_size`) copied per second by a rewrite,
  WAL included;
* R_scan: heap bytes (`pg_relation_size`) read and checked per second by a scan;
* R_index: index bytes built per second (sort and write) by CREATE INDEX. A calibration
  measures two: keys compared by collation (text, varchar: the slower sort) and the others
  (integers, uuids, timestamps); an index takes its leading column's rate.

Operations:

* rewrite (MD102)           table_bytes / R_rewrite + Σ over the table's indexes of
                            (heap_bytes / R_scan + index_bytes / R_index): after copying the
                            rows PostgreSQL rebuilds every index, each with its own heap scan
* scan (MD103)              heap_bytes / R_scan
* index build (MD104/MD105) heap_bytes / R_scan + estimated_index_bytes / R_index, where the
                            size is an existing same-column index's if there is one, else
                            rows × (Σ column widths from pg_stats + 12 bytes of tuple header and
                            line pointer, rounded up to 8) / 0.9 (leaf fill factor)
* foreign key (MD106)       (heap_bytes + referenced heap_bytes) / R_scan

Brief catalog changes (MD101) are estimated at zero: their real risk is the wait for the lock,
which no size predicts (the plan reports the oldest open transaction instead).

The defaults are deliberately conservative figures for cloud SSD storage: published rewrite
timings span roughly 10-30 MB/s of heap including index rebuilds (Dify's 100 GB
workflow_runs int -> bigint took over 3 hours, about 9 MB/s), so treat an uncalibrated
estimate as ±3×. `modeldiff plan --calibrate` measures all three on the target server (see
calibrate.py) and the plan says which figures it used. A calibration runs on a freshly
written, cached table, so on a large table that doesn't fit in memory the real operation can
be slower than a calibrated estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..values import Change
from .hazards import Estimate, Hazard
from .live import LiveFacts, TableFacts

MB = 1 << 20


@dataclass
class Throughput:
    rewrite: float  # bytes/s of table copied
    scan: float  # bytes/s of heap scanned
    index: float  # bytes/s of index built (text keys, and every key when index_fixed is None)
    source: str = "default"  # default | calibrated
    measured_at: str | None = None
    detail: dict | None = None  # the calibration's raw measurements
    index_fixed: float | None = None  # bytes/s of index built on keys not compared by collation

    def index_rate(self, t: TableFacts, columns: Sequence[str | None]) -> float:
        """The build rate of an index on `columns` of `t`: by its leading column's type."""
        if self.index_fixed is None or not columns or columns[0] is None:
            return self.index
        kind = str(t.columns.get(columns[0], {}).get("type", "")).lower()
        return self.index if kind.startswith(_COLLATED) else self.index_fixed

    def describe(self) -> str:
        index = f"{self.index / MB:.0f} MB/s" if self.index_fixed is None else f"{self.index / MB:.0f} MB/s (text keys), {self.index_fixed / MB:.0f} MB/s (other keys)"
        rates = f"rewrite {self.rewrite / MB:.0f} MB/s, scan {self.scan / MB:.0f} MB/s, index build {index}"
        if self.source == "calibrated":
            return f"{rates} (calibrated on this server {self.measured_at or ''})".replace(" )", ")")
        return f"{rates} (uncalibrated defaults, ±3×: run with --calibrate to measure this server)"

    def to_json(self) -> dict:
        out = {
            "rewrite_bytes_per_second": round(self.rewrite),
            "scan_bytes_per_second": round(self.scan),
            "index_bytes_per_second": round(self.index),
            "source": self.source,
        }
        if self.measured_at:
            out["measured_at"] = self.measured_at
        if self.detail:
            out["calibration"] = self.detail
        if self.index_fixed is not None:
            out["index_fixed_bytes_per_second"] = round(self.index_fixed)
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Throughput":
        return cls(
            float(data["rewrite_bytes_per_second"]),
            float(data["scan_bytes_per_second"]),
            float(data["index_bytes_per_second"]),
            data.get("source", "calibrated"),
            data.get("measured_at"),
            data.get("calibration"),
            float(data["index_fixed_bytes_per_second"]) if data.get("index_fixed_bytes_per_second") else None,
        )


DEFAULT_THROUGHPUT = Throughput(rewrite=20 * MB, scan=100 * MB, index=15 * MB)

_COLLATED = ("text", "character", "varchar", "citext", "name")
_TYPE_WIDTH = {"integer": 4, "bigint": 8, "smallint": 2, "uuid": 16, "boolean": 1, "date": 4, "real": 4, "double precision": 8}


def format_bytes(n: float) -> str:
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return "< 1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        m, s = divmod(round(seconds), 60)
        return f"{m} min {s} s" if m < 10 and s else f"{round(minutes)} min"
    h, m = divmod(round(minutes), 60)
    return f"{h} h {m} min" if m else f"{h} h"


def about(seconds: float | None) -> str:
    """'about 3 h 10 min', 'under a second'."""
    if seconds is None:
        return "unknown"
    return "under a second" if seconds < 1 else f"about {format_duration(seconds)}"


def rewrite(t: TableFacts, tp: Throughput) -> Estimate:
    seconds = t.table_bytes / tp.rewrite
    rates = [tp.index_rate(t, i.columns) for i in t.indexes]
    rebuild = sum(t.heap_bytes / tp.scan + i.bytes / rate for i, rate in zip(t.indexes, rates))
    n = len(t.indexes)
    formula = f"{format_bytes(t.table_bytes)} copied at {tp.rewrite / MB:.0f} MB/s"
    if n:
        writing = " / ".join(f"{r / MB:.0f}" for r in sorted(set(rates)))
        formula += (
            f" + {n} index{'es' * (n != 1)} ({format_bytes(sum(i.bytes for i in t.indexes))}) rebuilt, "
            f"each scanning the {format_bytes(t.heap_bytes)} heap at {tp.scan / MB:.0f} MB/s and writing at {writing} MB/s"
        )
    return Estimate(seconds + rebuild, formula)


def scan(t: TableFacts, tp: Throughput) -> Estimate:
    return Estimate(t.heap_bytes / tp.scan, f"{format_bytes(t.heap_bytes)} heap scanned at {tp.scan / MB:.0f} MB/s")


def index_bytes(t: TableFacts, columns: list[str]) -> tuple[float, str]:
    """An index's size: an existing one on the same columns, else from row count and widths."""
    for index in t.indexes:
        if index.columns == list(columns):
            return float(index.bytes), f"same size as {index.name}"
    width = 0
    for column in columns:
        facts = t.columns.get(column, {})
        w = facts.get("avg_width")
        if w is None:
            w = _TYPE_WIDTH.get(str(facts.get("type", "")).split("(")[0], 32)
        width += w
    per_row = math.ceil((width + 12) / 8) * 8 + 4
    return t.rows * per_row / 0.9, f"{t.rows:,.0f} rows × {per_row} bytes"


def index_build(t: TableFacts, columns: list[str], tp: Throughput) -> Estimate:
    size, how = index_bytes(t, columns)
    rate = tp.index_rate(t, columns)
    seconds = t.heap_bytes / tp.scan + size / rate
    return Estimate(seconds, f"{format_bytes(t.heap_bytes)} heap scanned at {tp.scan / MB:.0f} MB/s + ~{format_bytes(size)} index ({how}) written at {rate / MB:.0f} MB/s")


def foreign_key(t: TableFacts, ref: TableFacts | None, tp: Throughput) -> Estimate:
    total = t.heap_bytes + (ref.heap_bytes if ref is not None else 0)
    return Estimate(total / tp.scan, f"{format_bytes(total)} of both tables scanned at {tp.scan / MB:.0f} MB/s")


def estimate_hazard(hazard: Hazard, change: Change, live: LiveFacts, tp: Throughput) -> Estimate | None:
    if hazard.cost is None:
        return None
    if hazard.cost == "rewrite":
        parts = [rewrite(t, tp) for t in (live.table(name) for name in hazard.tables) if t is not None]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return Estimate(sum(p.seconds for p in parts), " + ".join(f"({p.formula})" for p in parts))
    table = live.table(change.table) if change.table else None
    if table is None:
        return None
    if hazard.cost == "scan":
        return scan(table, tp)
    if hazard.cost == "index":
        columns = change.detail.get("columns") or (change.new if change.kind == "modify_primary_key" else []) or []
        return index_build(table, list(columns), tp)
    if hazard.cost == "fk":
        return foreign_key(table, live.table(change.detail.get("referred_table")), tp)
    return None


def estimate_changes(changes: Sequence[Change], hazards: Sequence[Sequence[Hazard]], live: LiveFacts, tp: Throughput) -> tuple[tuple[Hazard, ...], ...]:
    """`hazards` (of each change, by position) with their estimates."""
    return tuple(
        tuple(replace(hazard, estimate=estimate_hazard(hazard, change, live, tp)) for hazard in of_change)
        for change, of_change in zip(changes, hazards, strict=True)
    )
