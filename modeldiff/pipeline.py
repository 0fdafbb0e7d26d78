"""The pipeline as one call, for the CLI and for library users:
source -> layout -> load (both refs in parallel) -> compare -> hazards (schema-only plan stage)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .compare import compare_schemas
from .layout import Layout, resolve_layout
from .load import LoadedSchema, LoadOptions, load_pair
from .pg import EmbeddedPostgres
from .plan.rules import annotate
from .result import DiffResult
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
    annotate(result.changes)  # hazards from the schema alone, for an assumed recent PostgreSQL
    result.stats.update(
        layout=pair.layout.describe(),
        tables={"from": len(pair.old.tables), "to": len(pair.new.tables)},
        stubbed_modules={"from": sorted(pair.old.stubbed_modules), "to": sorted(pair.new.stubbed_modules)},
        partial=pair.old.partial or pair.new.partial,
    )
    return result, pair
