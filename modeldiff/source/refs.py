"""Which refs a history covers: explicit refs, or tags matching globs sorted by version."""

from __future__ import annotations

import fnmatch
import re

from .repository import Repository, SourceError


_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(.*)$")
_PRERELEASE = re.compile(r"^[-._]?(a|alpha|b|beta|c|rc|pre|preview|dev)", re.IGNORECASE)


def _natural(text: str) -> tuple:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def version_key(tag: str) -> tuple:
    """Release order: 1.9.2 < 1.10.0-beta < 1.10.0 < 1.10.0-fix.1; non-versions last."""
    match = _VERSION.match(tag)
    if not match:
        return (1, _natural(tag))
    numbers = tuple(int(n) for n in match.group(1).split("."))
    numbers += (0,) * (4 - len(numbers))  # 1.0 == 1.0.0
    suffix = match.group(2)
    rank = 1 if not suffix else 0 if _PRERELEASE.match(suffix) else 2
    return (0, numbers, rank, _natural(suffix))


def select_refs(repo: str, refs: list[str], patterns: list[str]) -> list[str]:
    chosen = list(refs)
    if patterns:
        # `--tags '0.*' '1.*'`: globs after --tags arrive as positional arguments.
        patterns = [*patterns, *(r for r in refs if any(c in r for c in "*?["))]
        chosen = [r for r in refs if r not in patterns]
        tags = Repository(repo).tags()
        matched = sorted({t for t in tags for p in patterns if fnmatch.fnmatchcase(t, p)}, key=version_key)
        if not matched:
            raise SourceError(f"{repo}: no tags match {' '.join(patterns)}")
        chosen += matched
    if len(chosen) < 2:
        raise SourceError("history needs at least two refs (give REFS or --tags)")
    return chosen
