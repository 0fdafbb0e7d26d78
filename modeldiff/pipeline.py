"""The pipeline as one call, for the CLI and for library users:
source -> layout -> load (both refs in parallel) -> compare, and for drafting migrations
source -> layout -> load -> create both schemas -> migration (render / verify it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .compare import compare_schemas, materialize
from .history import History, read_history
from .layout import Layout, resolve_layout
from .load import LoadedSchema, LoadOptions, load_pair
from .migration import Migration, build_migration
from .pg import EmbeddedPostgres
from .result import DiffResult, RefInfo, Warning
from .source import Repository


@dataclass(frozen=True)
class DiffRequest:
    repo: str
    from_ref: str
    to_ref: str
    models: str | None = None
    import_root: str | None = None
    settings: dict = field(default_factory=dict)
    use_presets: bool = True
    timeout: float = 120.0
    python: str | None = None
    keep_going: bool = False


@dataclass
class LoadedPair:
    layout: Layout
    old: LoadedSchema
    new: LoadedSchema


def load_refs(request: DiffRequest) -> LoadedPair:
    repository = Repository(request.repo)
    old_snap = repository.snapshot(request.from_ref)
    new_snap = repository.snapshot(request.to_ref)
    layout = resolve_layout(new_snap, request.models, request.import_root, request.settings, request.use_presets)
    options = LoadOptions(
        import_root=layout.import_root,
        models_path=layout.models_path,
        settings=layout.settings,
        timeout=request.timeout,
        keep_going=request.keep_going,
        **({"python": request.python} if request.python else {}),
    )
    old, new = load_pair([old_snap, new_snap], options)
    return LoadedPair(layout, old, new)


def diff(request: DiffRequest, server: EmbeddedPostgres | None = None) -> tuple[DiffResult, LoadedPair]:
    pair = load_refs(request)
    result = compare_schemas(pair.old, pair.new, server)
    result.stats.update(
        layout=pair.layout.describe(),
        tables={"from": len(pair.old.tables), "to": len(pair.new.tables)},
        stubbed_modules={"from": sorted(pair.old.stubbed_modules), "to": sorted(pair.new.stubbed_modules)},
        partial=pair.old.partial or pair.new.partial,
    )
    return result, pair


@dataclass
class PreparedMigration:
    """Both refs loaded and created in `server`, and the migration between them."""

    pair: LoadedPair
    result: DiffResult
    migration: Migration
    from_db: str
    to_db: str
    server: EmbeddedPostgres


def prepare_migration(request: DiffRequest, server: EmbeddedPostgres) -> PreparedMigration:
    """load -> create both schemas in `server` -> the migration (for revision, sql, verify)."""
    pair = load_refs(request)
    warnings: list[Warning] = [*pair.old.warnings, *pair.new.warnings]
    from_db, created = materialize(server, pair.old)
    warnings += created
    to_db, created = materialize(server, pair.new)
    warnings += created
    migration = build_migration(server, from_db, to_db, pair.old, pair.new)
    result = DiffResult(
        from_ref=RefInfo(pair.old.ref, pair.old.commit),
        to_ref=RefInfo(pair.new.ref, pair.new.commit),
        dialect="postgresql",
        changes=migration.changes,
        warnings=sorted(set(warnings), key=Warning.sort_key),
        upgrade_ops=migration.upgrade_ops,
        stats={"layout": pair.layout.describe(), "partial": pair.old.partial or pair.new.partial},
    )
    return PreparedMigration(pair, result, migration, from_db, to_db, server)


def from_history(request: DiffRequest, layout: Layout, migrations: str | None) -> History | None:
    """The app's alembic history at FROM (`migrations` overrides the layout's path)."""
    path = migrations or layout.migrations_path
    if not path:
        return None
    return read_history(Repository(request.repo).snapshot(request.from_ref), path)
