"""The pipeline as one call, for the CLI and for library users:
source -> layout -> load (both refs in parallel) -> compare."""

from __future__ import annotations

from dataclasses import dataclass, field

from .compare import compare_schemas
from .layout import Layout, LayoutError, resolve_layout, split_models
from .load import LoadedSchema, LoadOptions, load_pair
from .pg import EmbeddedPostgres
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
    metadata: tuple[str, ...] = ()  # --metadata NAME: only these MetaData objects
    env: dict = field(default_factory=dict)  # --env K=V: environment variables model code sees


@dataclass
class LoadedPair:
    layout: Layout
    old: LoadedSchema
    new: LoadedSchema
    old_layout: Layout | None = None  # when the FROM ref keeps its models elsewhere

    def describe_layout(self) -> str:
        if self.old_layout is None or self.old_layout == self.layout:
            return self.layout.describe()
        return f"{self.old_layout.describe()} -> {self.layout.describe()}"


def load_refs(request: DiffRequest) -> LoadedPair:
    repository = Repository(request.repo)
    old_snap = repository.snapshot(request.from_ref)
    new_snap = repository.snapshot(request.to_ref)
    layout = resolve_layout(new_snap, request.models, request.import_root, request.settings, request.use_presets)
    old_layout = layout
    if request.models is None and not all(old_snap.exists(p) for p in split_models(layout.models_path)):
        # Found by looking (or by a preset) at TO, absent at FROM: look at FROM on its own.
        try:
            old_layout = resolve_layout(old_snap, None, request.import_root, request.settings, request.use_presets)
        except LayoutError:
            pass
    options = [
        LoadOptions(
            import_root=lay.import_root,
            models_path=lay.models_path,
            settings=lay.settings,
            timeout=request.timeout,
            keep_going=request.keep_going,
            metadata=tuple(request.metadata),
            env=dict(request.env),
            **({"python": request.python} if request.python else {}),
        )
        for lay in (old_layout, layout)
    ]
    old, new = load_pair([old_snap, new_snap], options if old_layout != layout else options[1])
    return LoadedPair(layout, old, new, None if old_layout == layout else old_layout)


def diff(request: DiffRequest, server: EmbeddedPostgres | None = None) -> tuple[DiffResult, LoadedPair]:
    pair = load_refs(request)
    result = compare_schemas(pair.old, pair.new, server)
    result.stats.update(
        layout=pair.describe_layout(),
        tables={"from": len(pair.old.tables), "to": len(pair.new.tables)},
        stubbed_modules={"from": sorted(pair.old.stubbed_modules), "to": sorted(pair.new.stubbed_modules)},
        partial=pair.old.partial or pair.new.partial,
        metadatas={"from": pair.old.metadatas, "to": pair.new.metadatas},
        stubs={"from": stub_report(pair.old), "to": stub_report(pair.new)},
    )
    return result, pair


def stub_report(schema: LoadedSchema) -> dict:
    """What was stubbed while loading one ref, for the JSON result: application modules
    (partly) replaced by stubs and why, libraries that were missing, and the stubbed names
    that reached the schema (and where)."""
    return {
        "app_modules": schema.stubbed_app_modules,
        "missing_libraries": schema.missing_modules,
        "in_schema": schema.stubs_in_schema,
    }
