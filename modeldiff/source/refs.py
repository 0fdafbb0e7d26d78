"""Which refs a history covers: explicit refs, or tags matching globs in release order:
ancestors before descendants (git's commit graph), and by version where the graph does
not decide (tags on different branches)."""

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


def ancestry_order(repository: Repository, tags: list[str]) -> list[str]:
    """`tags` (in version order) reordered so that every tag comes after the tags whose
    commits its commit descends from; among those the graph leaves free, version order.
    A name can lie about a release's place (a fork's tags, renamed schemes); the graph
    cannot."""
    commits = dict(zip(tags, repository.git("rev-parse", *(f"refs/tags/{t}^{{commit}}" for t in tags)).split()))
    bits = {commit: 1 << i for i, commit in enumerate(sorted(set(commits.values())))}
    # One walk of the graph, parents first: each commit's set of tagged ancestors (a bitmask).
    reach: dict[str, int] = {}
    out = repository.git("rev-list", "--parents", "--topo-order", "--reverse", *sorted(bits))
    for line in out.splitlines():
        commit, *parents = line.split()
        mask = bits.get(commit, 0)
        for parent in parents:
            mask |= reach.get(parent, 0)
        reach[commit] = mask
    ancestors = {t: {u for u in tags if commits[u] != commits[t] and reach[commits[t]] & bits[commits[u]]} for t in tags}
    placed: list[str] = []
    remaining = list(tags)
    while remaining:
        done = set(placed)
        ready = next(t for t in remaining if ancestors[t] <= done)  # a DAG: one always is
        placed.append(ready)
        remaining.remove(ready)
    return placed


def select_refs(repo: str, refs: list[str], patterns: list[str]) -> list[str]:
    chosen = list(refs)
    if patterns:
        # `--tags '0.*' '1.*'`: globs after --tags arrive as positional arguments.
        patterns = [*patterns, *(r for r in refs if any(c in r for c in "*?["))]
        chosen = [r for r in refs if r not in patterns]
        repository = Repository(repo)
        tags = repository.tags()
        matched = sorted({t for t in tags for p in patterns if fnmatch.fnmatchcase(t, p)}, key=version_key)
        if not matched:
            raise SourceError(f"{repo}: no tags match {' '.join(patterns)}")
        chosen += ancestry_order(repository, matched)
    if len(chosen) < 2:
        raise SourceError("history needs at least two refs (give REFS or --tags)")
    return chosen
