"""JSON for machines: the contract in result.DiffResult.to_json, plus run facts."""

from __future__ import annotations

import json

from ..values import DiffResult


def render_json(result: DiffResult) -> str:
    data = result.to_json()
    for key in ("layout", "tables", "stubbed_modules", "partial", "metadatas", "stubs"):
        if key in result.stats:
            data[key] = result.stats[key]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
