#!/usr/bin/env python3
"""Check modeldiff against a real Dify clone: every release in shared/dify/releases.txt
must load, and `diff T T` must be empty. Prints one row per release (a manual check: CI
has no Dify clone).

    .venv/bin/python scripts/dify_check.py ~/src/dify [--releases ../shared/dify/releases.txt]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from modeldiff.compare.schemas import compare_schemas
from modeldiff.source.layout import resolve_layout
from modeldiff.load import LoadFailure, LoadOptions, load_schema
from modeldiff.db.server import EmbeddedPostgres
from modeldiff.source.repository import Repository


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("--releases", default=str(Path(__file__).resolve().parents[2] / "shared/dify/releases.txt"))
    args = parser.parse_args()
    tags = [line.split()[0] for line in Path(args.releases).read_text().splitlines() if line and not line.startswith("#")]
    repo = Repository(args.repo)
    failures = 0
    print(f"{'release':<8} {'tables':>6} {'T-T changes':>11} {'stubbed':>7} {'warnings':>8} {'seconds':>7}")
    with EmbeddedPostgres() as server:
        for tag in tags:
            started = time.monotonic()
            snapshot = repo.snapshot(tag)
            layout = resolve_layout(snapshot, None, None, {})
            try:
                schema = load_schema(snapshot, LoadOptions(layout.import_root, layout.models_path, layout.settings))
            except LoadFailure as exc:
                print(f"{tag:<8} LOAD FAILED: {exc}")
                failures += 1
                continue
            result = compare_schemas(schema, schema, server)
            warnings = {(w.code, w.message, w.location) for w in result.warnings}
            failures += bool(result.changes)
            print(f"{tag:<8} {len(schema.tables):>6} {len(result.changes):>11} {len(schema.stubbed_modules):>7} {len(warnings):>8} {time.monotonic() - started:>7.1f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
