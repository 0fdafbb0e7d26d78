"""JSON for machines: the contract in result.DiffResult.to_json, plus run facts."""

from __future__ import annotations

import json

from ..values import Diff, thaw


def render_json(result: Diff, hazards=None, sites=None) -> str:
    """`hazards[i]` (the plan stage's) are shown in change i, and `sites[i]` (where it is
    defined at each ref, `{"from": "path:line", "to": ...}`) as its `defined`."""
    data = result.to_json(hazards)
    for change, where in zip(data["changes"], sites or ()):
        if where:
            change["defined"] = dict(sorted(where.items()))
    for key in ("layout", "tables", "stubbed_modules", "partial", "metadatas", "stubs", "runtime", "sandbox"):
        if key in result.stats:
            data[key] = thaw(result.stats[key])
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
