"""Drift: TO's models against the schema TO's own migrations produce.

The models are loaded as for `diff` (the layout's preset or detection, the loader's
sandbox) and created in a scratch schema; alembic compares the migrated database (FROM's
migrations from base, then the chain) with them. What would turn the migrated schema into
the models' is split in two: `models_only` (the models declare it, no migration makes it:
additions and differences) and `migrations_only` (migrations made it, the models lack it).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from ..compare import coverage
from ..compare.schemas import Place, compare_databases, materialize_in_schema
from ..db.server import EmbeddedPostgres
from ..load import LoadFailure, LoadOptions, load_schema
from ..source.layout import LayoutError, resolve_layout
from ..source.repository import Snapshot

_BOOKKEEPING = {"alembic_version"}


def start_loading(snapshot: Snapshot, options: LoadOptions, pool: ThreadPoolExecutor) -> Future:
    """The models of `snapshot`, loaded in the background (while the migrations replay).

    The layout is found here, in the calling thread: it reads blobs through GitPython's
    one `cat-file` process, which two threads must not share."""
    try:
        layout = resolve_layout(snapshot, None, None, dict(options.settings))
    except LayoutError as exc:
        failed: Future = Future()
        failed.set_exception(exc)
        return failed
    load_options = LoadOptions(layout.import_root, layout.models_path, layout.settings, options.timeout, options.python, env=options.env, fork_server=options.fork_server)
    return pool.submit(load_schema, snapshot, load_options)


def drift(server: EmbeddedPostgres, database: str, models: Future) -> dict:
    """{"models_only": [...], "migrations_only": [...], "warnings": [...]} (changes in the
    diff JSON format), or {"error": "..."} when the models could not be loaded."""
    try:
        schema = models.result()
    except (LoadFailure, LayoutError) as exc:
        return {"error": str(exc)}
    place, warnings = materialize_in_schema(server, schema)
    changes, _ = compare_databases(Place(server.sqlalchemy_url(database)), place)
    not_compared, warnings = coverage.split(warnings)
    changes = [c for c in coverage.without(changes, not_compared) if c.table not in _BOOKKEEPING]
    return {
        "models_only": [c.to_json() for c in changes if not c.kind.startswith("remove_")],
        "migrations_only": [c.to_json() for c in changes if c.kind.startswith("remove_")],
        "warnings": [w.to_json() for w in [*schema.warnings, *warnings]],
        **({"not_compared": [n.to_json() for n in not_compared]} if not_compared else {}),
    }
