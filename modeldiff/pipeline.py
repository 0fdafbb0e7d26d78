"""The pipeline as calls, for the CLI and for library users:
source -> layout -> load (cached, refs in parallel) -> compare (cached per pair) -> Diff.
Hazards are the plan stage's (`plan.annotate`, `plan.make_plan`), computed from the Diff.

A run that finds everything in the cache never starts PostgreSQL nor imports a model.
Drafting migrations (revision, sql, verify) takes the same path with each ref created in
a database of its own and the pair compared even when cached: it needs alembic's
operations, which are not cached.
"""

from __future__ import annotations

import importlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable

from .cache import Cache, environment_fingerprint
from .source.layout import Layout, LayoutError, resolve_layout, split_models
from .load import LoadedSchema, LoadOptions, keep_alive_seconds, load_schema, stop_loads
from .load.runtime import runtime_for
from .values import Diff, RefInfo, Warning
from .source.repository import Repository, Snapshot


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
    use_cache: bool = True
    metadata: tuple[str, ...] = ()  # --metadata NAME: only these MetaData objects
    env: dict = field(default_factory=dict)  # --env K=V: environment variables model code sees
    presets: tuple = ()  # the project's own layout presets ([tool.modeldiff.presets]), before the built-in ones
    runtime: str | None = None  # --runtime: "auto" (each ref's own pins), "bundled" (modeldiff's, warning where it differs), None (bundled, silently)


@dataclass(frozen=True)
class LoadedRef:
    snapshot: Snapshot
    schema: LoadedSchema
    key: str  # cache key of the schema entry
    from_cache: bool


@dataclass
class Session:
    """What a run resolved once and shares between its refs."""

    request: DiffRequest
    repository: Repository
    layout: Layout  # found at the newest ref
    cache: Cache
    fork_server: bool = False  # set once it is known how many refs must be loaded

    def layout_for(self, snapshot: Snapshot) -> Layout:
        """The newest ref's layout, unless it was found by looking (not given) and this
        ref keeps its models elsewhere: then this ref's own."""
        request = self.request
        if request.models is None and not all(snapshot.exists(p) for p in split_models(self.layout.models_path)):
            try:
                return resolve_layout(snapshot, None, request.import_root, request.settings, request.use_presets, request.presets)
            except LayoutError:
                pass
        return self.layout

    def options_for(self, snapshot: Snapshot) -> tuple[LoadOptions, list]:
        """How to load `snapshot`, and what besides its files decides the load (cache key)."""
        request, layout = self.request, self.layout_for(snapshot)
        runtime = runtime_for(snapshot, layout.import_root, split_models(layout.models_path), request.runtime, request.python)
        options = LoadOptions(
            fork_server=self.fork_server,
            import_root=layout.import_root,
            models_path=layout.models_path,
            settings=layout.settings,
            timeout=request.timeout,
            keep_going=request.keep_going,
            metadata=tuple(request.metadata),
            env=dict(request.env),
            runtime=runtime.describe(),
            runtime_warnings=tuple(runtime.warnings),
            **({"python": runtime.python} if runtime.python else {}),
        )
        context = [
            *environment_fingerprint(runtime.python),
            *runtime.fingerprint,
            layout.import_root,
            layout.models_path,
            sorted((k, repr(v)) for k, v in layout.settings.items()),
            request.keep_going,
            list(request.metadata),
            sorted((str(k), str(v)) for k, v in request.env.items()),
        ]
        return options, context


def open_session(request: DiffRequest, refs: list[str]) -> tuple[Session, list[Snapshot]]:
    repository = Repository(request.repo)
    snapshots = [repository.snapshot(ref) for ref in refs]
    layout = resolve_layout(snapshots[-1], request.models, request.import_root, request.settings, request.use_presets, request.presets)
    return Session(request, repository, layout, Cache(enabled=request.use_cache)), snapshots


def load_refs(
    session: Session,
    snapshots: list[Snapshot],
    progress: Callable[[str], None] | None = None,
    on_miss: Callable[[], None] | None = None,
    on_loaded: Callable[[LoadedRef], None] | None = None,
) -> list[LoadedRef]:
    """Every snapshot's schema, from the cache or loaded (in parallel child processes)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        with ExitStack() as stack:
            stack.push(_stop_loads_on_error(pool))
            return [future.result() for future in submit_loads(session, snapshots, pool, progress, on_miss, on_loaded)]


def _stop_loads_on_error(pool: ThreadPoolExecutor):
    """An exit callback: on Ctrl-C or a failed ref, the loads still queued or running stop
    now (the pool would otherwise wait for each to finish or time out)."""

    def on_exit(failed, *_):
        if failed:
            pool.shutdown(wait=False, cancel_futures=True)
            stop_loads()
        return False

    return on_exit


def submit_loads(session: Session, snapshots: list[Snapshot], pool: ThreadPoolExecutor, progress=None, on_miss=None, on_loaded=None) -> list[Future]:
    """A future per snapshot, in order: cache hits are done at once, the rest are loaded by
    `pool` (its workers wait on child processes, so its size bounds the children)."""
    futures: list[Future] = []
    started_server = False
    found = []
    for snapshot in snapshots:
        options, context = session.options_for(snapshot)
        listing = snapshot.list_files(options.import_root)
        found.append((snapshot, listing, session.cache.find_schema(snapshot, listing, options.models_path, context)))
    # A fork server pays off when kept across runs (its imports are done already), or
    # within a run that loads three refs or more.
    session.fork_server = keep_alive_seconds() > 0 or sum(1 for *_, (_, entry) in found if entry is None) >= 3
    for snapshot, listing, (key, entry) in found:
        if entry is not None:
            done: Future = Future()
            done.set_result(LoadedRef(snapshot, _restamp(LoadedSchema.from_json(entry), snapshot), key, True))
            futures.append(done)
            if progress:
                progress(snapshot.ref)
            continue
        if on_miss and not started_server:
            on_miss()
            started_server = True
        futures.append(pool.submit(_load_and_store, session, snapshot, listing, progress, on_loaded))
    return futures


def _load_and_store(session: Session, snapshot: Snapshot, listing: dict, progress, on_loaded=None) -> LoadedRef:
    options, context = session.options_for(snapshot)
    schema = load_schema(snapshot, options)
    key = session.cache.store_schema(snapshot, listing, options.models_path, context, schema.to_json())
    if progress:
        progress(snapshot.ref)
    loaded = LoadedRef(snapshot, schema, key, False)
    if on_loaded:
        on_loaded(loaded)
    return loaded


def _restamp(schema: LoadedSchema, snapshot: Snapshot) -> LoadedSchema:
    """A cached schema, told which ref it now stands for."""
    warnings = [replace(w, ref=snapshot.ref) for w in schema.warnings]
    return replace(schema, ref=snapshot.ref, commit=snapshot.commit, warnings=warnings)


class PairComparer:
    """Compares loaded refs pairwise, materializing each ref at most once per run and
    starting the embedded PostgreSQL only if some pair is not in the cache.

    To keep the two cores busy while refs load: the server starts, alembic is imported and
    each freshly loaded ref is created in the database in the background, so that by the
    time both refs of a pair are there, little is left but the comparison itself."""

    def __init__(self, session: Session, stack: ExitStack, server=None, databases: bool = False) -> None:
        self.session, self.stack, self.server = session, stack, server
        # databases: each ref in a database of its own (the drafting stage runs alembic
        # and probes casts there), not in a scratch schema of the shared database.
        self.databases = databases
        self.database_of: dict[str, str] = {}  # ref key -> its database, with `databases`
        self.places: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._sides: list = []
        if server is not None:
            stack.callback(self._close_sides)
            stack.callback(self._pool.shutdown)

    def _server(self):
        self.start_early()
        return self.server.wait()

    def start_early(self) -> None:
        """Let the server come up, and alembic load, while refs load."""
        with self._lock:
            if self.server is not None:
                return
            from .db.server import shared_server

            self.server = self.stack.enter_context(_started(shared_server()))
            # Callbacks run last-in first-out: background work ends, then connections close,
            # before the server does.
            self.stack.callback(self._close_sides)
            self.stack.callback(self._pool.shutdown)
            self._pool.submit(importlib.import_module, "modeldiff.compare.schemas")

    def prepare(self, ref: LoadedRef, roles: tuple[str, ...] = ()) -> None:
        """Create `ref` in the database in the background (called as soon as it loads),
        and reflect it for its `roles` in the comparisons to come ("source": FROM,
        "target": TO); a role not prepared here is prepared when first needed."""
        with self._lock:
            if ref.key not in self.places:
                self.places[ref.key] = self._pool.submit(self._materialize, ref, roles)

    def _materialize(self, ref: LoadedRef, roles: tuple[str, ...]):
        """`ref` created in the database (a compare.Side, and the warnings of creating it)."""
        from .compare.schemas import Place, Side, materialize, materialize_in_schema

        if self.databases:
            database, warnings = materialize(self._server(), ref.schema)
            place = Place(self.server.sqlalchemy_url(database))
            with self._lock:
                self.database_of[ref.key] = database
        else:
            place, warnings = materialize_in_schema(self._server(), ref.schema)
        side = Side(place)
        with self._lock:
            self._sides.append(side)
        return side.prepare(roles), warnings

    def release(self, ref: LoadedRef) -> None:
        """`ref` takes part in no further comparison: close its connection."""
        with self._lock:
            future = self.places.pop(ref.key, None)
        if future is not None and future.done() and future.exception() is None:
            side = future.result()[0]
            side.close()
            with self._lock:
                self._sides.remove(side)

    def _close_sides(self) -> None:
        for side in self._sides:
            side.close()

    def compare(self, old: LoadedRef, new: LoadedRef, with_ops: bool = False) -> Diff:
        """The diff of a pair, from the cache unless `with_ops` (alembic's operations,
        which the drafting stage needs, are not cached)."""
        key = self.session.cache.pair_key(old.key, new.key)
        cached = None if with_ops else self.session.cache.get("pair", key)
        if cached is not None:
            return _restamp_result(Diff.from_json(cached), old, new)
        from .compare.schemas import compare_places

        for ref in (old, new):
            self.prepare(ref)
        result = compare_places(old.schema, new.schema, self.places[old.key].result(), self.places[new.key].result())
        self.session.cache.put("pair", key, result.to_json())
        return result


def _restamp_result(result: Diff, old: LoadedRef, new: LoadedRef) -> Diff:
    """A cached result, told which refs it now stands for."""
    refs = {"from": old.snapshot.ref, "to": new.snapshot.ref}
    old_refs = {result.from_ref.ref: refs["from"], result.to_ref.ref: refs["to"]}
    return replace(
        result,
        from_ref=RefInfo(old.snapshot.ref, old.snapshot.commit),
        to_ref=RefInfo(new.snapshot.ref, new.snapshot.commit),
        warnings=sorted({replace(w, ref=old_refs.get(w.ref, w.ref)) for w in result.warnings}, key=Warning.sort_key),
    )


def _compare_pair(request: DiffRequest, server=None, databases: bool = False):
    """The one compare path of diff (every format), plan, revision and verify: load both
    refs (cached), materialize each once, compare (cached, unless `databases`: the
    drafting stage needs alembic's operations and both refs in databases of their own)."""
    session, (old_snap, new_snap) = open_session(request, [request.from_ref, request.to_ref])
    with ExitStack() as stack:
        comparer = PairComparer(session, stack, server, databases=databases)
        roles = {id(old_snap): ("source",), id(new_snap): ("target",)}
        old, new = load_refs(session, [old_snap, new_snap], on_miss=comparer.start_early, on_loaded=lambda ref: comparer.prepare(ref, roles[id(ref.snapshot)]))
        result = comparer.compare(old, new, with_ops=databases)
    result = replace(result, stats=_stats(session, old, new, result))
    return session, old, new, result, comparer


def diff(request: DiffRequest, server=None) -> Diff:
    """The compare stage's answer for the request's pair. Its hazards are the plan
    stage's: `plan.annotate(result.changes)` (schema only) or `plan.make_plan`."""
    return _compare_pair(request, server)[3]


def history(request: DiffRequest, refs: list[str], progress: Callable[[str], None] | None = None, server=None):
    """The changes of every consecutive pair of `refs`: [(old, new, Diff)].

    Refs load in the background in order while this thread compares each pair as soon as
    both of its refs are there, so loading and comparing overlap."""
    session, snapshots = open_session(request, refs)
    pairs = []
    with ExitStack() as stack:
        comparer = PairComparer(session, stack, server)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=os.cpu_count() or 1))
        # The first ref is only compared as FROM, the last only as TO, the others as both.
        roles = {id(snap): ("source",) * (i < len(snapshots) - 1) + ("target",) * (i > 0) for i, snap in enumerate(snapshots)}
        on_loaded = lambda ref: comparer.prepare(ref, roles[id(ref.snapshot)])  # noqa: E731
        futures = submit_loads(session, snapshots, pool, progress, on_miss=comparer.start_early, on_loaded=on_loaded)
        stack.push(_stop_loads_on_error(pool))
        loaded = [futures[0].result()]
        for future in futures[1:]:
            old, new = loaded[-1], future.result()
            loaded.append(new)
            result = comparer.compare(old, new)
            if old.key != new.key:
                comparer.release(old)  # compared as FROM: its last pair
            result = replace(result, stats=_stats(session, old, new, result))
            pairs.append((old, new, result))
            if progress:
                progress(f"{old.snapshot.ref}..{new.snapshot.ref}")
    return session, loaded, pairs


def _stats(session: Session, old: LoadedRef, new: LoadedRef, result: Diff) -> dict:
    old_layout, new_layout = session.layout_for(old.snapshot), session.layout_for(new.snapshot)
    layout = new_layout.describe() if old_layout == new_layout else f"{old_layout.describe()} -> {new_layout.describe()}"
    return {
        "layout": layout,
        "tables": {"from": len(old.schema.tables), "to": len(new.schema.tables)},
        "stubbed_modules": {"from": sorted(old.schema.stubbed_modules), "to": sorted(new.schema.stubbed_modules)},
        "partial": old.schema.partial or new.schema.partial or bool(result.not_compared),
        "metadatas": {"from": old.schema.metadatas, "to": new.schema.metadatas},
        "stubs": {"from": stub_report(old.schema), "to": stub_report(new.schema)},
        "cached": {"from": old.from_cache, "to": new.from_cache},
        **({"runtime": {"from": old.schema.runtime, "to": new.schema.runtime}} if old.schema.runtime or new.schema.runtime else {}),
    }


def stub_report(schema: LoadedSchema) -> dict:
    """What was stubbed while loading one ref, for the JSON result: application modules
    (partly) replaced by stubs and why, libraries that were missing, and the stubbed names
    that reached the schema (and where)."""
    return {
        "app_modules": schema.stubbed_app_modules,
        "missing_libraries": schema.missing_modules,
        "in_schema": schema.stubs_in_schema,
    }


@contextmanager
def _started(server):
    server.start()
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True)
class LoadedPair:
    layout: Layout
    old: LoadedSchema
    new: LoadedSchema
    old_layout: Layout | None = None  # when the FROM ref keeps its models elsewhere

    def describe_layout(self) -> str:
        if self.old_layout is None or self.old_layout == self.layout:
            return self.layout.describe()
        return f"{self.old_layout.describe()} -> {self.layout.describe()}"


@dataclass(frozen=True)
class PreparedMigration:
    """Both refs loaded and created in databases of `server`, their diff, and the
    migration between them (for revision, sql, verify)."""

    pair: LoadedPair
    result: Diff
    migration: "Migration"  # noqa: F821 - imported late: alembic is not needed for diff
    from_db: str
    to_db: str
    server: object


def prepare_migration(request: DiffRequest, server) -> PreparedMigration:
    """The diff's compare path (loads from the cache, each ref materialized once, in a
    database of its own in `server`), then the drafting stage's migration from its
    operations."""
    from .draft.migration import build_migration

    session, old, new, result, comparer = _compare_pair(request, server, databases=True)
    pair = LoadedPair(session.layout, old.schema, new.schema)
    from_db, to_db = comparer.database_of[old.key], comparer.database_of[new.key]
    migration = build_migration(server, from_db, to_db, old.schema, new.schema, result)
    return PreparedMigration(pair, result, migration, from_db, to_db, server)


def from_history(request: DiffRequest, layout: Layout, migrations: str | None):
    """The app's alembic history at FROM (`migrations` overrides the layout's path)."""
    from .draft.chain import read_history

    path = migrations or layout.migrations_path
    if not path:
        return None
    return read_history(Repository(request.repo).snapshot(request.from_ref), path)
