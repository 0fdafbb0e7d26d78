"""modeldiff as a library: the command line's answers as frozen values.

    from modeldiff import api

    result = api.diff("~/src/dify", "0.14.2", "0.15.3")      # values.Diff
    for change, hazards in zip(result.changes, api.hazards(result)):
        print(change.kind, change.table, [h.code for h in hazards])
    plan = api.plan("~/src/dify", "0.14.2", "0.15.3")        # plan.Plan
    report = api.migrations("~/src/dify", "0.14.2", "0.15.3")  # read-only mapping
    pairs = api.history("~/src/dify", tags=["0.15.*"])       # [values.Diff], one per pair
    api.stop()                                                # the helpers kept between runs

Options are keywords, named as the command line's flags (`models`, `import_root`,
`settings`, `timeout`, `keep_going`, `use_cache`, `runtime`, ...; see `DiffRequest`).
Importing this module starts nothing and changes no global state (logging, warnings,
environment); a call may leave the embedded PostgreSQL and the loader's fork server up for
MODELDIFF_PG_IDLE seconds, as the command line does, and `stop()` ends them at once.
Errors are exceptions whose message is the command line's one-line error (`SourceError`,
`LayoutError`, `LoadFailure`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence


def _request(repo: str, from_ref: str, to_ref: str, options: dict):
    from ..pipeline import DiffRequest

    return DiffRequest(repo=str(repo), from_ref=from_ref, to_ref=to_ref, **options)


def diff(repo: str, from_ref: str, to_ref: str, **options):
    """The schema changes between two refs (or "WORKTREE") of `repo`: a values.Diff."""
    from ..pipeline import diff as run

    return run(_request(repo, from_ref, to_ref, options))


def hazards(result) -> list:
    """Each change's hazards (plan.Hazard tuples), from the schema alone: what `diff`
    prints under each change."""
    from ..plan.rules import annotate

    return annotate(result.changes)


def plan(repo: str, from_ref: str, to_ref: str, *, database_url: str | None = None, pg_version: int | str | None = None, calibrate: bool = False, calibrate_size: float = 256, **options):
    """What upgrading from `from_ref` to `to_ref` will lock, rewrite or break, and for how
    long: a plan.Plan. `database_url` (read-only) gives sizes and the server's version."""
    from ..pipeline import diff as run
    from ..plan import make_plan
    from ..plan.rules import parse_pg_version

    if isinstance(pg_version, str):
        pg_version = parse_pg_version(pg_version)
    result = run(_request(repo, from_ref, to_ref, options))
    return make_plan(result, database_url, pg_version, calibrate, calibrate_size, lambda message: None)


def migrations(repo: str, from_ref: str, to_ref: str, *, migrations_path: str | None = None, settings: dict | None = None, timeout: float = 300.0, python: str | None = None, env: dict | None = None, use_cache: bool = True, with_drift: bool = True):
    """The application's own alembic migrations replayed from `from_ref` to `to_ref`: the
    report of `modeldiff migrations --format json`, as a read-only mapping."""
    from ..replay.run import migrations as run
    from ..values import freeze

    return freeze(run(str(repo), from_ref, to_ref, migrations_path, dict(settings or {}), timeout, python, dict(env or {}), use_cache=use_cache, with_drift=with_drift))


def history(repo: str, refs: Sequence[str] = (), *, tags: Sequence[str] = (), **options) -> list:
    """The values.Diff of every consecutive pair of `refs`, or of the tags matching the
    globs in `tags` (in release order)."""
    from ..pipeline import history as run
    from ..source.refs import select_refs

    chosen = select_refs(str(repo), list(refs), list(tags))
    _, _, pairs = run(_request(repo, chosen[0], chosen[-1], options), chosen)
    return [result for *_, result in pairs]


def stop() -> list[str]:
    """Stop the helpers kept running between runs (the embedded PostgreSQL, the loader's
    fork servers); what was stopped."""
    from ..db.server import stop_shared_server
    from ..load import stop_kept_fork_servers

    stopped = []
    if stop_shared_server():
        stopped.append("embedded PostgreSQL")
    forks = stop_kept_fork_servers()
    if forks:
        stopped.append(f"{forks} loader fork server{'s' * (forks != 1)}")
    return stopped


__all__ = ["diff", "hazards", "history", "migrations", "plan", "stop"]
