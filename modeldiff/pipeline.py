"""The pipeline as calls, for the CLI and for library users:
source -> layout -> load (cached, refs in parallel) -> compare (cached per pair) -> Diff.
Hazards are the plan stage's (`plan.annotate`, `plan.make_plan`), computed from the Diff.

A run that finds everything in the cache never starts PostgreSQL nor imports a model.
Drafting migrations (revision, sql, verify) takes the same path with each ref created in
a database of its own and the pair compared even when cached: it needs alembic's
operations, which are not cached.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from . import settings
from .cache import Cache, environment_fingerprint
from .source.layout import Layout, LayoutError, resolve_layout, split_models
from .load import LoadedSchema, LoadFailure, LoadOptions, keep_alive_seconds, load_schema, result_of, stop_generation, stop_loads
from .load.runtime import fall_back, runtime_for
from .values import Diff, RefInfo, Warning
from .source.repository import Repository, Snapshot

if TYPE_CHECKING:
    from concurrent.futures import Future


class LazyPool:
    """A thread pool made on the first `submit`: a run served from the cache starts no
    thread (nor imports concurrent.futures, and logging with it)."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._pool = None
        self._lock = threading.Lock()

    def submit(self, fn, *args, **kwargs) -> "Future":
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=self.max_workers)
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __enter__(self) -> "LazyPool":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


class Done:
    """The future of a value known at once (a cache hit)."""

    def __init__(self, value) -> None:
        self.value = value

    def result(self, timeout=None):
        return self.value

    def done(self) -> bool:
        return True

    def exception(self, timeout=None):
        return None


class Timings:
    """Where a run's wall-clock time went (`-v`): spans of its stages, from several threads."""

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.spans: list[tuple[str, str, float, float]] = []  # (stage, detail, start, seconds)
        self.notes: dict[str, str] = {}  # facts of the run shown after the spans (sandbox layers)
        self._lock = threading.Lock()

    @contextmanager
    def span(self, stage: str, detail: str = ""):
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.spans.append((stage, detail, start - self.origin, time.perf_counter() - start))

    def render(self) -> str:
        total = time.perf_counter() - self.origin
        lines = [f"{'stage':<12} {'detail':<28} {'start':>7} {'seconds':>8}"]
        for stage, detail, start, seconds in sorted(self.spans, key=lambda s: (s[2], s[0])):
            lines.append(f"{stage:<12} {detail[:28]:<28} {start:7.3f} {seconds:8.3f}")
        lines.append(f"{'total':<12} {'':<28} {0:7.3f} {total:8.3f}")
        lines += [f"{name}: {text}" for name, text in sorted(self.notes.items())]
        return "\n".join(lines) + "\n"


_timings: Timings | None = None  # set only while record_timings() is active


@contextmanager
def record_timings():
    """Record the stage spans of the runs inside (the CLI's -v)."""
    global _timings
    previous, _timings = _timings, Timings()
    try:
        yield _timings
    finally:
        _timings = previous


def span(stage: str, detail: str = ""):
    if settings.kill_at() == stage:
        return _killed_after(_timings.span(stage, detail) if _timings is not None else nullcontext())
    return _timings.span(stage, detail) if _timings is not None else nullcontext()


BUNDLED = {"bundled": True}  # the JSON's runtime of a side loaded with modeldiff's own (or --python)


@contextmanager
def _killed_after(inner):
    """MODELDIFF_KILL_AT (fault tests): SIGKILL as the stage ends, with what it made."""
    with inner:
        yield
    kill_self()


def kill_self() -> None:
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


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
    loaded: "LoadedSchema | Callable[[], LoadedSchema]"  # or how to read it from the cache, when needed
    key: str  # cache key of the schema entry
    from_cache: bool
    known: dict | None = None  # its `summary`, when read from the cache without the schema

    @functools.cached_property
    def schema(self) -> LoadedSchema:
        return self.loaded() if callable(self.loaded) else self.loaded

    @property
    def summary(self) -> dict:
        return self.known if self.known is not None else summary(self.schema)


@dataclass
class Session:
    """What a run resolved once and shares between its refs."""

    request: DiffRequest
    repository: Repository
    layout: Layout  # found at the newest ref
    cache: Cache
    fork_server: bool = False  # set once it is known how many refs must be loaded
    snapshots: tuple = ()  # every ref of the run
    _layouts: dict = field(default_factory=dict)  # commit -> its detected layout
    _layouts_lock: threading.Lock = field(default_factory=threading.Lock)

    def layout_for(self, snapshot: Snapshot) -> Layout:
        """Each ref's own layout when it is found by looking (models move between refs: a
        per-domain `models.py` folded into the models package), else the given one; also
        found by looking at a ref where a given --models path does not exist."""
        request = self.request
        if request.models is not None:
            given = split_models(self.layout.models_path)
            if all(snapshot.exists(p) for p in given) or not any(all(s.exists(p) for p in given) for s in self.snapshots):
                return self.layout  # there, or nowhere (a wrong path: the load names it)
        key = snapshot.commit or snapshot.ref
        with self._layouts_lock:
            if key not in self._layouts:
                try:
                    self._layouts[key] = resolve_layout(snapshot, None, request.import_root, request.settings, request.use_presets, request.presets)
                except LayoutError:
                    self._layouts[key] = self.layout
            return self._layouts[key]

    def fall_back(self, snapshot: Snapshot, why: str) -> None:
        """The default's own runtime for `snapshot` did not load its models: modeldiff's own
        from now on (runtime.fall_back)."""
        layout = self.layout_for(snapshot)
        models_paths = split_models(layout.models_path)
        failed = runtime_for(snapshot, layout.import_root, models_paths, None, None)
        if failed.mode == "fallback":
            return  # the same commit's other load fell back first
        fall_back(snapshot, layout.import_root, models_paths, failed, why.split("; --keep-going")[0])

    def options_for(self, snapshot: Snapshot) -> tuple[LoadOptions, list]:
        """How to load `snapshot`, and what besides its files decides the load (cache key)."""
        request, layout = self.request, self.layout_for(snapshot)
        with span("runtime", snapshot.ref):  # -v: the time to choose, or prepare, its runtime
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
    with span("git", "repository, refs"):
        repository = Repository(request.repo)
        snapshots = repository.snapshots(refs)
    with span("layout", snapshots[-1].ref):
        layout = resolve_layout(snapshots[-1], request.models, request.import_root, request.settings, request.use_presets, request.presets)
    return Session(request, repository, layout, Cache(enabled=request.use_cache), snapshots=tuple(snapshots)), snapshots


def load_refs(
    session: Session,
    snapshots: list[Snapshot],
    progress: Callable[[str], None] | None = None,
    on_miss: Callable[[], None] | None = None,
    on_loaded: Callable[[LoadedRef], None] | None = None,
) -> list[LoadedRef]:
    """Every snapshot's schema, from the cache or loaded (in parallel child processes)."""
    with LazyPool(os.cpu_count() or 1) as pool:
        with ExitStack() as stack:
            stack.push(_stop_loads_on_error(pool))
            return [result_of(future) for future in submit_loads(session, snapshots, pool, progress, on_miss, on_loaded)]


def _stop_loads_on_error(pool: LazyPool):
    """An exit callback: on Ctrl-C or a failed ref, the loads still queued or running stop
    now (the pool would otherwise wait for each to finish or time out)."""

    def on_exit(failed, *_):
        if failed:
            pool.shutdown(wait=False, cancel_futures=True)
            stop_loads()
        return False

    return on_exit


def submit_loads(session: Session, snapshots: list[Snapshot], pool: LazyPool, progress=None, on_miss=None, on_loaded=None) -> list:
    """A future per snapshot, in order: cache hits are done at once, the rest are loaded by
    `pool` (its workers wait on child processes, so its size bounds the children)."""
    futures: list = []
    missed = False
    generation = stop_generation()  # Ctrl-C from now on stops these loads, started or not
    found = []
    for snapshot in snapshots:
        with span("cache", f"schema of {snapshot.ref}"):
            options, context = session.options_for(snapshot)
            listing, entry, key = None, None, session.cache.schema_key_by_commit(snapshot, options.models_path, context)
            if key is not None:
                entry = _reader(session.cache, key, snapshot)  # a summary now, the schema if needed
            else:
                listing = snapshot.list_files(options.import_root)
                key, entry = session.cache.find_schema(snapshot, listing, options.models_path, context)
                if entry is not None:
                    session.cache.remember_commit(snapshot, options.models_path, context, key)
            found.append((snapshot, listing, (key, entry)))
    # A fork server pays off when kept across runs (its imports are done already), or
    # within a run that loads three refs or more.
    session.fork_server = keep_alive_seconds() > 0 or sum(1 for *_, (_, entry) in found if entry is None) >= 3
    for snapshot, listing, (key, entry) in found:
        if entry is not None:
            if callable(entry):
                futures.append(Done(LoadedRef(snapshot, entry, key, True, session.cache.get("summary", key))))
            else:
                futures.append(Done(LoadedRef(snapshot, _restamp(LoadedSchema.from_json(entry), snapshot), key, True)))
            if progress:
                progress(snapshot.ref)
            continue
        futures.append(pool.submit(_load_and_store, session, snapshot, listing, progress, on_loaded, generation))
        missed = True
    if missed and on_miss:
        on_miss()  # after the loads are under way: starting the server imports its driver
    return futures


def _load_and_store(session: Session, snapshot: Snapshot, listing: dict, progress, on_loaded=None, generation: int | None = None) -> LoadedRef:
    options, context = session.options_for(snapshot)
    with span("load", snapshot.ref):
        try:
            schema = load_schema(snapshot, options, generation)
            if _on_own_runtime(session, options) and not schema.tables:
                raise LoadFailure(f"{snapshot.ref}: no tables found")  # (--keep-going's partial answer)
        except LoadFailure as exc:
            if not _on_own_runtime(session, options) or stop_generation() != generation:
                raise  # a runtime or --python asked for, modeldiff's own, or a stopped run: the error is the answer
            session.fall_back(snapshot, str(exc).removeprefix(f"{snapshot.ref}: "))
            options, context = session.options_for(snapshot)
            schema = load_schema(snapshot, options, generation)
    key = session.cache.store_schema(snapshot, listing, options.models_path, context, schema.to_json(), summary(schema))
    session.cache.remember_commit(snapshot, options.models_path, context, key)
    if progress:
        progress(snapshot.ref)
    loaded = LoadedRef(snapshot, schema, key, False)
    if on_loaded:
        on_loaded(loaded)
    return loaded


def _on_own_runtime(session: Session, options: LoadOptions) -> bool:
    """Whether the default (no --runtime, no --python) chose the ref's own runtime."""
    return session.request.runtime is None and session.request.python is None and "packages" in (options.runtime or {})


def _reader(cache: Cache, key: str, snapshot: Snapshot):
    def read() -> LoadedSchema:
        entry = cache.get("schema", key)
        if entry is None:
            raise RuntimeError(f"{snapshot.ref}: its cached schema went while this run used it (cache cleared meanwhile?); run again")
        return _restamp(LoadedSchema.from_json(entry), snapshot)

    return read


def summary(schema: LoadedSchema) -> dict:
    """What a result says of a loaded ref besides its changes (see `_stats`): kept beside
    its schema in the cache, so that a warm run reads no schema."""
    return {
        "tables": len(schema.tables),
        "stubbed_modules": sorted(schema.stubbed_modules),
        "partial": schema.partial,
        "metadatas": schema.metadatas,
        "stubs": stub_report(schema),
        "runtime": schema.runtime,
    }


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
        self.places: dict[str, "Future"] = {}
        self._made: dict = {}  # ref key and id(snapshot) -> the future of its partial.Materialized
        self._server_version: int | None = None
        self._lock = threading.Lock()
        self._pool = LazyPool(2)
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

    def prepare(self, ref: LoadedRef, roles: tuple[str, ...] = (), partners: tuple = ()) -> None:
        """Create `ref` in the database in the background (called as soon as it loads),
        only where it differs from one of its `partners` (snapshots it will be compared
        with) already under way (compare/partial.py); a ref not prepared here is prepared
        when first needed."""
        from concurrent.futures import Future

        with self._lock:
            if ref.key not in self.places:
                base = next((self._made[id(p)] for p in partners if id(p) in self._made), None)
                self._made[ref.key] = Future()
                self.places[ref.key] = self._pool.submit(self._materialize, ref, roles, base, self._made[ref.key])
            self._made[id(ref.snapshot)] = self._made[ref.key]

    def _materialize(self, ref: LoadedRef, roles: tuple[str, ...], base: "Future | None" = None, made: "Future | None" = None):
        """`ref` created in the database (a compare.Side, and its partial.Materialized, also
        told to `made` as soon as it is created: a ref created against it need not wait
        for this one's catalog)."""
        try:
            side, created = self._create(ref, base)
        except BaseException as exc:
            if made is not None:
                made.set_exception(exc)
            raise
        if made is not None:
            made.set_result(created)
        with span("reflect", ref.snapshot.ref):
            return side.prepare(roles), created

    def _create(self, ref: LoadedRef, base: "Future | None"):
        from .compare.partial import Materialized, materialize as materialize_partly
        from .compare.schemas import Place, Side, materialize

        with span("postgres", "started (waited for)"):
            server = self._server()
        base_ref = None
        if base is not None and not self.databases:
            try:
                base_ref = base.result()
            except Exception:  # noqa: BLE001 - the base's own failure is reported with its pair
                base_ref = None
        with span("create", ref.snapshot.ref):
            if self.databases:
                database, warnings = materialize(server, ref.schema)
                place, created = Place(server.sqlalchemy_url(database)), Materialized.whole(ref.schema, warnings)
                with self._lock:
                    self.database_of[ref.key] = database
            elif any(table.get("schema") for table in ref.schema.tables.values()):
                from .compare.schemas import materialize_in_schema

                place, warnings = materialize_in_schema(server, ref.schema)
                created = Materialized.whole(ref.schema, warnings)
            else:
                created = materialize_partly(server, ref.schema, base_ref, self._version(server))
                place = created.place()
        side = Side(place)
        with self._lock:
            self._sides.append(side)
        return side, created

    def _version(self, server) -> int:
        with self._lock:
            if self._server_version is None:
                self._server_version = server.server_version()
            return self._server_version

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
        with span("cache", "pair"):
            cached = None if with_ops else self.session.cache.get("pair", key)
        if cached is not None:
            return _restamp_result(Diff.from_json(cached), old, new)
        from .compare.schemas import compare_places
        from .compare.unchanged import unchanged_tables

        self.prepare(old, partners=(new.snapshot,))
        self.prepare(new, partners=(old.snapshot,))
        (old_side, old_made), (new_side, new_made) = result_of(self.places[old.key]), result_of(self.places[new.key])
        with span("compare", f"{old.snapshot.ref}..{new.snapshot.ref}"):
            unchanged = unchanged_tables(old.schema, new.schema)
            for side, made in ((old_side, old_made), (new_side, new_made)):
                if made.ensure(made.schema.tables.keys() - unchanged):
                    side.refresh()
            result = compare_places(old.schema, new.schema, (old_side, old_made.warnings()), (new_side, new_made.warnings()))
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
        partners = {id(old_snap): (new_snap,), id(new_snap): (old_snap,)}
        on_loaded = lambda ref: comparer.prepare(ref, roles[id(ref.snapshot)], partners[id(ref.snapshot)])  # noqa: E731
        old, new = load_refs(session, [old_snap, new_snap], on_miss=comparer.start_early, on_loaded=on_loaded)
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
        pool = stack.enter_context(LazyPool(os.cpu_count() or 1))
        # The first ref is only compared as FROM, the last only as TO, the others as both.
        roles = {id(snap): ("source",) * (i < len(snapshots) - 1) + ("target",) * (i > 0) for i, snap in enumerate(snapshots)}
        # Each ref is created where it differs from a neighbour created before it.
        partners = {id(snap): tuple(snapshots[max(i - 1, 0) : i]) + tuple(snapshots[i + 1 : i + 2]) for i, snap in enumerate(snapshots)}
        on_loaded = lambda ref: comparer.prepare(ref, roles[id(ref.snapshot)], partners[id(ref.snapshot)])  # noqa: E731
        futures = submit_loads(session, snapshots, pool, progress, on_miss=comparer.start_early, on_loaded=on_loaded)
        stack.push(_stop_loads_on_error(pool))
        loaded = [result_of(futures[0])]
        for future in futures[1:]:
            old, new = loaded[-1], result_of(future)
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
    a, b = old.summary, new.summary
    return {
        "layout": layout,
        "tables": {"from": a["tables"], "to": b["tables"]},
        "stubbed_modules": {"from": a["stubbed_modules"], "to": b["stubbed_modules"]},
        "partial": a["partial"] or b["partial"] or bool(result.not_compared),
        "metadatas": {"from": a["metadatas"], "to": b["metadatas"]},
        "stubs": {"from": a["stubs"], "to": b["stubs"]},
        "cached": {"from": old.from_cache, "to": new.from_cache},
        **({"runtime": {"from": a["runtime"] or BUNDLED, "to": b["runtime"] or BUNDLED}} if a["runtime"] or b["runtime"] else {}),
        **({"sandbox": sandbox} if (sandbox := _sandbox_report(old, new)) else {}),
    }


def _sandbox_report(old: LoadedRef, new: LoadedRef) -> dict:
    """The sandbox layers each ref was loaded with (as its load, cached or not, reported
    them), for the JSON `sandbox` and `-v`."""
    from .load import sandbox_layers

    report = {role: sandbox_layers(ref.schema.sandbox) for role, ref in (("from", old), ("to", new)) if ref.schema.sandbox}
    if _timings is not None:
        for role, layers in report.items():
            ref = (old if role == "from" else new).snapshot.ref
            on = ", ".join(name for name, active in layers.items() if active) or "none"
            off = ", ".join(name for name, active in layers.items() if not active)
            _timings.notes[f"sandbox {ref}"] = f"{on}" + (f"; off: {off}" if off else "")
    return report


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
        with span("postgres", "scratch dropped, released"):
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


def plan_inputs(request: DiffRequest, from_models: bool = False, migrations: str | None = None, target_version: int | None = None):
    """What `plan` needs: the models diff, and the replay of the app's own migrations
    between the refs (`replay.values.Replay`), or None when planning from the models (asked
    for, no alembic setup at a ref, or no revision between the refs' heads)."""
    session, old, new, result, _ = _compare_pair(request)
    if from_models:
        return result, None
    from .replay.run import cached_answer, child_options, replay
    from .replay.setup import find_setups
    from .replay.values import Replay

    snapshots = (old.snapshot, new.snapshot)
    setups = find_setups(*snapshots, migrations)
    if None in setups or not _has_chain(snapshots, setups):
        return result, None
    from .db.server import shared_server

    options = child_options(dict(request.settings), max(request.timeout, 300.0), replay_python(request, new.snapshot, session.layout_for(new.snapshot)), dict(request.env))
    how = {"use_cache": request.use_cache, "loaded": (old.schema, new.schema), "with_drift_from": False}
    check_pg18 = (target_version or 0) >= 180000  # the embedded server is 18: see replay.run
    report = cached_answer(*snapshots, *setups, options, **how, check_pg18=check_pg18)[1]
    if report is None:
        with shared_server() as server:
            report = replay(*snapshots, *setups, server, options, **how, target_version=target_version)
    if not report["revisions"] and report["error"] is None:
        return result, None  # the scripts changed, but no revision runs
    return result, Replay.from_report(report)


def replay_python(request: DiffRequest, to: Snapshot, layout: Layout | None = None) -> str | None:
    """The interpreter the app's migrations replay with: --python, else TO's own runtime when
    it has one and a PostgreSQL driver (its migrations import its models and libraries),
    else modeldiff's (None)."""
    if request.python:
        return request.python
    layout = layout or resolve_layout(to, request.models, request.import_root, request.settings, request.use_presets, request.presets)
    runtime = runtime_for(to, layout.import_root, split_models(layout.models_path), request.runtime, None)
    drivers = {"psycopg", "psycopg2", "psycopg2-binary"}
    return runtime.python if runtime.python and drivers & runtime.packages.keys() else None


def _has_chain(snapshots, setups) -> bool:
    """TO's version directories have a script FROM's lack or differ in (blob ids: nothing
    read); the replay then says which revisions run."""
    from .replay.run import phase_inputs

    (from_files, from_scripts), (to_files, to_scripts) = (phase_inputs(snap, setup) for snap, setup in zip(snapshots, setups))
    return any(from_files.get(path) != to_files[path] for path in to_scripts)


@dataclass(frozen=True)
class Remainder:
    """What a revision still has to do once the app's own migrations from FROM to TO ran:
    from the schema they produce to TO's models (`migration` None: nothing)."""

    replay: "Replay"  # noqa: F821 - replay.values, imported late
    migration: "Migration | None"  # noqa: F821
    heads: tuple[str, ...]  # TO's heads: the revision follows them


def remainder(request: DiffRequest, prepared: PreparedMigration, migrations: str | None = None) -> Remainder | None:
    """None when the app has no revision between the refs (the draft is the whole models
    diff); else the app's chain replayed on `prepared.server`, and the migration from the
    schema it produces to TO's models (the drift `replay` reports, as operations)."""
    from .draft.migration import build_migration
    from .replay.run import child_options, replay
    from .replay.setup import find_setups
    from .replay.values import Replay

    repository = Repository(request.repo)
    snapshots = (repository.snapshot(request.from_ref), repository.snapshot(request.to_ref))
    setups = find_setups(*snapshots, migrations)
    if None in setups or not _has_chain(snapshots, setups):
        return None
    options = child_options(dict(request.settings), max(request.timeout, 300.0), replay_python(request, snapshots[1]), dict(request.env))
    server = prepared.server
    report = replay(*snapshots, *setups, server, options, use_cache=request.use_cache, loaded=(prepared.pair.old, prepared.pair.new), with_drift_from=False, keep_database=True)
    if not report["revisions"] and report["error"] is None:
        return None
    replayed = Replay.from_report(report)
    if not replayed.complete or replayed.drift_error:
        return Remainder(replayed, None, replayed.to_heads)
    migration = None
    if replayed.models_only or replayed.migrations_only:
        database = report["migrated_database"]
        server._execute(database, "DROP TABLE IF EXISTS alembic_version")  # alembic's bookkeeping, not the app's schema
        migration = build_migration(server, database, prepared.to_db, None, prepared.pair.new)
    return Remainder(replayed, migration, replayed.to_heads)
