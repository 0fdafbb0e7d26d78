"""Parent side of a replay: FROM's migrations from base, then the chain to TO's heads.

Both phases run in one scratch database of the embedded PostgreSQL, each in a sandboxed
child (`child.py`, under the loader's supervisor): FROM's scripts build FROM's schema (as
the deployed database has it), then TO's copies of the scripts upgrade it to TO's heads, as
an operator's upgrade would, with every statement observed. The children connect as a role
that is no superuser and owns only that database (no `COPY ... PROGRAM`, no other
database), and their sandbox refuses any other connection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..db import driver

from ..db.server import EmbeddedPostgres
from ..load import LoadFailure, LoadOptions, _run_child, workdir_base, workdir_prefix
from ..source.repository import Snapshot
from .setup import AlembicSetup

ROLE = "modeldiff_replay"  # no superuser: the scripts are untrusted


class ReplayError(Exception):
    """The replay could not run at all (one line: what and where)."""


@dataclass
class Phase:
    """What one child reported."""

    ref: str
    setup: AlembicSetup
    result: dict
    seconds: float
    cached: bool = False  # FROM's schema came from a template kept by an earlier replay

    @property
    def error(self) -> dict | None:
        return self.result.get("error")


def ensure_role(server: EmbeddedPostgres) -> None:
    conn = server.connect("postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,))
        if cur.fetchone() is None:
            try:
                cur.execute(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION")
            except (driver.errors.DuplicateObject, driver.errors.UniqueViolation):
                pass  # a concurrent run made it first
        cur.execute(f"ALTER ROLE {ROLE} RESET ALL")  # settings an earlier run's scripts gave it
    conn.close()


# Functions PostgreSQL 18 added to pg_catalog that applications define for themselves on older
# servers (Dify: uuidv7). Next to them a name without its argument list (`COMMENT ON FUNCTION
# uuidv7`) is ambiguous and the migration fails, on 18 only. The upgrade runs on the user's
# server, older than the embedded 18 (the plan assumes 16 unless told): the replay database
# hides them, renamed in that database only.
PG18_FUNCTIONS = ("uuidv4()", "uuidv7()", "uuidv7(interval)")


def scratch_database(server: EmbeddedPostgres) -> str:
    """A new, empty database owned by the replay role, as an older PostgreSQL has it."""
    name = server.create_database("replay", owner=ROLE)
    server._execute("postgres", f'ALTER DATABASE "{name}" OWNER TO {ROLE}')
    hide = [f"ALTER FUNCTION pg_catalog.{signature} RENAME TO {signature.split('(')[0]}_pg18" for signature in PG18_FUNCTIONS]
    if server.server_version() >= 180000:
        server._execute(name, "; ".join(hide))
    server._execute(name, f"ALTER SCHEMA public OWNER TO {ROLE}")
    return name


def show_pg18_functions(server: EmbeddedPostgres, database: str) -> None:
    """Undo `scratch_database`'s hiding in `database` (a copy): PostgreSQL 18 as it is."""
    server._execute(database, "; ".join(f"ALTER FUNCTION pg_catalog.{name}_pg18({args} RENAME TO {name}" for name, _, args in (s.partition("(") for s in PG18_FUNCTIONS)))


_PG18_NAMES = re.compile(r"(?<![\w$])(?:" + "|".join(sorted({s.split("(")[0] for s in PG18_FUNCTIONS})) + r")(?![\w$])", re.I)


def role_url(server: EmbeddedPostgres, database: str) -> str:
    """The replay role's URL, without a driver: the child takes the one its interpreter has."""
    return server.url(database).replace("://postgres:@", f"://{ROLE}@", 1)


def phase_inputs(snapshot: Snapshot, setup: AlembicSetup) -> tuple[dict[str, str], list[str]]:
    """The files the child may serve (the import root and the version directories) and the
    version scripts among them."""
    manifest = dict(snapshot.list_files(setup.import_root))
    script_files = []
    for path in setup.versions:
        files = snapshot.list_files(path)
        manifest.update(files)
        script_files += [f for f in files if f.endswith(".py") and "/__pycache__/" not in f and (setup.recursive or f.count("/") == path.count("/") + 1)]
    return manifest, sorted(script_files)


def run_phase(snapshot: Snapshot, setup: AlembicSetup, url: str, observe: bool, options: LoadOptions, runner: str = "replay", leave_out: tuple[str, ...] = (), use_cache: bool = True) -> Phase:
    """Upgrade the database at `url` to `snapshot`'s heads with its scripts (`use_cache`:
    with what an earlier run on them read from git, to read it in one go). A statement whose
    SQL (whitespace aside) is in `leave_out` is not sent (the pre-flight's runbook: work done
    beforehand); it is still recorded, as the script issued it."""
    from . import cache

    manifest, script_files = phase_inputs(snapshot, setup)
    reads_key = cache.reads_key(manifest, script_files, setup.import_root, observe) if use_cache and not snapshot.is_worktree else None
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix("replay"), dir=workdir_base()))
    try:
        request = {
            "task": "replay",
            "workdir": str(workdir),
            "manifest": manifest,
            "source": snapshot.reader_spec(),
            "import_root": setup.import_root,
            "settings": phase_settings(setup, options),
            "url": url,
            "script_location": setup.script_location,
            "versions": list(setup.versions),
            "recursive": setup.recursive,
            "script_files": script_files,
            "transaction": setup.transaction,
            "observe": observe,
            "runner": runner,
            "leave_out": [" ".join(sql.split()) for sql in leave_out],
            "models_packages": models_packages(snapshot, setup, options),
            "prefetch": sorted({manifest[f] for f in script_files} | set(cache.earlier_reads(reads_key, manifest) if reads_key else ())),
            "owner": os.getpid(),  # the child stops when this run is gone
            "timeout": options.timeout,
            "limits": {"output_bytes": 4 * 2**20, "memory_bytes": 8 * 1024**3, "disk_bytes": 512 * 2**20},
        }
        request_path = workdir / "request.json"
        request_path.write_text(json.dumps(request))
        try:
            result = _run_child(snapshot.ref, options, workdir, request_path)
        except LoadFailure as exc:  # the supervisor's verdicts (time, output, processes)
            result = {"error": {"stage": "child", "message": str(exc).replace("model code", "migration code").replace("model import", "migration run")}}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if reads_key and result.get("files_read"):
        cache.keep_reads(reads_key, result["files_read"])
    return Phase(snapshot.ref, setup, result, time.monotonic() - started)


def models_packages(snapshot: Snapshot, setup: AlembicSetup, options: LoadOptions) -> list[str]:
    """The app's models packages (its layout, as `diff` finds it), when the scripts import
    them from the same root: their modules run whole, as a model import runs them (one
    compile per module; an application module runs statement by statement, which costs
    Dify's chain a fifth of its CPU). None found: every module runs by statement."""
    from ..load.child import package_name
    from ..source.layout import LayoutError, resolve_layout, split_models

    try:
        layout = resolve_layout(snapshot, None, None, phase_settings(setup, options))
    except LayoutError:
        return []
    if layout.import_root != setup.import_root:
        return []
    return sorted(package_name(setup.import_root, path) for path in split_models(layout.models_path))


def phase_settings(setup: AlembicSetup, options: LoadOptions) -> dict:
    return {**dict(setup.settings), **options.settings}


def child_options(settings: dict, timeout: float, python: str | None, env: dict) -> LoadOptions:
    import sys

    return LoadOptions(import_root="", models_path="-", settings=settings, timeout=timeout, python=python or sys.executable, env=env)


def replay(from_snapshot: Snapshot, to_snapshot: Snapshot, from_setup: AlembicSetup, to_setup: AlembicSetup, server: EmbeddedPostgres, options: LoadOptions, use_cache: bool = True, seed_rows: bool = True, with_drift: bool = True, loaded: tuple | None = None, with_drift_from: bool = True, keep_database: bool = False, target_version: int | None = None) -> dict:
    """The answer of `modeldiff migrations` as JSON-ready data (see `report`).

    `target_version` (server_version_num of the server the upgrade runs on), 18 or later:
    the chain runs a second time with PostgreSQL 18's own uuidv4/uuidv7 visible, when its
    statements name them, and a failure there is reported (`pg18`, a warning).

    `keep_database`: the answer names the scratch database at TO's heads
    (`migrated_database`, dropped with `server`'s run), and is never read from the cache.

    The chain runs on FROM's schema with a few synthetic rows per table (so that per-row
    data migrations run); if it fails there but not without them, the answer is the run
    without them, with a warning saying why. `loaded`: FROM's and TO's models, already
    loaded (`LoadedSchema`s, e.g. from the diff cache), for the drift."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from .drift import drift, start_loading

    def done(schema) -> Future:
        future: Future = Future()
        future.set_result(schema)
        return future

    from . import cache

    check_pg18 = (target_version or 0) >= 180000 and server.server_version() >= 180000
    answer_key, kept = cached_answer(from_snapshot, to_snapshot, from_setup, to_setup, options, use_cache and not keep_database, seed_rows, with_drift, loaded, with_drift_from, check_pg18)
    if kept is not None:
        return kept
    ensure_role(server)
    with ThreadPoolExecutor(max_workers=2) as pool:
        if not with_drift:
            models = {}
        elif loaded is not None:
            models = {"drift": done(loaded[1]), "drift_from": done(loaded[0])}
        else:
            models = {"drift": start_loading(to_snapshot, options, pool), "drift_from": start_loading(from_snapshot, options, pool)}
        from_loading = models.get("drift_from")

        def from_models():  # FROM's models, to stand in for FROM's schema (fallback.py)
            return (from_loading or start_loading(from_snapshot, options, pool)).result()

        if not with_drift_from:
            models.pop("drift_from", None)
        out = _replay(from_snapshot, to_snapshot, from_setup, to_setup, server, options, use_cache, seed_rows, keep_from=with_drift and with_drift_from, check_pg18=check_pg18, from_models=from_models)
        for key, loading in models.items():
            database = out["_databases"].get(key)
            if database is not None and (out["complete"] or key == "drift_from"):
                out[key] = drift(server, database, loading)
            else:
                loading.cancel()
                out[key] = {"error": "not computed: FROM's schema was created from its models" if key == "drift_from" and out["from_schema"]["made_by"] == "models" else "not computed: the migrations did not all run"}
    migrated = out.pop("_databases")["drift"]
    if keep_database and out["complete"]:
        out["migrated_database"] = migrated
    files_read = out.pop("_files_read")
    out["timing"]["answer_cached"] = False
    if answer_key is not None and out["complete"] and not (out.get("drift") or {}).get("error"):
        cache.store_answer(answer_key, {**out, "_refs": [from_snapshot.ref, to_snapshot.ref]}, files_read)
    return out


def cached_answer(from_snapshot: Snapshot, to_snapshot: Snapshot, from_setup: AlembicSetup, to_setup: AlembicSetup, options: LoadOptions, use_cache: bool = True, seed_rows: bool = True, with_drift: bool = True, loaded: tuple | None = None, with_drift_from: bool = True, check_pg18: bool = False) -> tuple[str | None, dict | None]:
    """The key `replay` keeps its answer under (None: not kept: a work tree, no cache, or
    models it would load itself), and the answer kept by an earlier run, if any. Needs no
    server."""
    from . import cache

    if not use_cache or from_snapshot.is_worktree or to_snapshot.is_worktree or (with_drift and loaded is None):
        return None, None
    phases = [phase_inputs(from_snapshot, from_setup), phase_inputs(to_snapshot, to_setup)]
    shape = {
        "setups": [from_setup.to_json(), to_setup.to_json()],
        "settings": [phase_settings(from_setup, options), phase_settings(to_setup, options)],
        "models_packages": [models_packages(from_snapshot, from_setup, options), models_packages(to_snapshot, to_setup, options)],
        "python": options.python, "env": options.env, "seed": seed_rows,
        "drift": with_drift, "drift_from": with_drift_from, "pg18": check_pg18,
        "models": [_digest(schema.to_json()) for schema in loaded] if with_drift else None,
    }
    answer_key = cache.answer_key(phases, shape)
    kept = cache.lookup_answer(answer_key, [manifest for manifest, _ in phases])
    if kept is None:
        return answer_key, None
    kept["timing"] = {**kept["timing"], "answer_cached": True}
    refs = dict(zip(kept.pop("_refs"), (from_snapshot.ref, to_snapshot.ref)))
    for side, snapshot in (("from", from_snapshot), ("to", to_snapshot)):
        kept[side]["ref"], kept[side]["commit"] = snapshot.ref, snapshot.commit
    for warning in kept["warnings"]:
        warning["ref"] = refs.get(warning["ref"], warning["ref"])
    return answer_key, kept


def _digest(value) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _replay(from_snapshot: Snapshot, to_snapshot: Snapshot, from_setup: AlembicSetup, to_setup: AlembicSetup, server: EmbeddedPostgres, options: LoadOptions, use_cache: bool, seed_rows: bool, keep_from: bool = False, check_pg18: bool = False, from_models=None) -> dict:
    from .cache import copy_database

    need_pristine = keep_from or check_pg18
    if seed_rows:
        database, base, seeded, pristine = _seeded_base(from_snapshot, from_setup, server, options, use_cache, need_pristine)
    else:
        (database, base), seeded = _base(from_snapshot, from_setup, server, options, use_cache), {}
        pristine = database
    from_schema: dict = {"made_by": "migrations"}
    if base.error is not None and from_models is not None:
        database, base, from_schema = _base_from_models(server, from_snapshot, database, base, from_models)
        if from_schema["made_by"] == "models":  # FROM's models stand in: no kept template
            pristine = database
            if seed_rows:
                if need_pristine:
                    pristine = copy_database(server, database)
                seeded = _seed(server, database)
    chain, seed_failure, from_copy, unseeded = None, None, None, None
    if base.error is None:
        if keep_from and from_schema["made_by"] == "migrations":  # FROM's migrated schema, for its drift against FROM's models
            from_copy = copy_database(server, pristine)
        if check_pg18:  # for the chain's second run, on PostgreSQL 18 as it is
            unseeded = copy_database(server, pristine, ROLE)
        chain = run_phase(to_snapshot, to_setup, role_url(server, database), observe=True, options=options, use_cache=use_cache)
        if seeded and chain.error is not None and chain.error.get("stage") == "upgrade":
            database, _ = _base(from_snapshot, from_setup, server, options, use_cache)
            if from_schema["made_by"] == "models":
                database, *_ = _base_from_models(server, from_snapshot, database, _, from_models)
            plain = run_phase(to_snapshot, to_setup, role_url(server, database), observe=True, options=options)
            if plain.error is None or len(plain.result.get("applied", [])) > len(chain.result.get("applied", [])):  # it got further
                seed_failure = chain.error
                chain, seeded = plain, {}
    out = report(from_snapshot, to_snapshot, from_setup, to_setup, base, chain)
    out["_files_read"] = [dict(base.result.get("files_read") or {}), dict(chain.result.get("files_read") or {}) if chain else {}]
    out["seeded"] = seeded
    out["from_schema"] = from_schema
    error = out["error"]
    if error is not None and error.get("stage") == "upgrade":
        from .fallback import stub_hint
        from .mismatch import hint

        failed_at = to_snapshot if error["phase"] == "chain" else from_snapshot
        sql = (error.get("statement") or error.get("cause") or {}).get("sql", "")
        found = stub_hint(from_schema.get("text_columns") or {}, sql) or hint(failed_at, (to_setup if error["phase"] == "chain" else from_setup).import_root, options.python)
        if found:
            error["hint"] = found
            error["message"] += f" ({found})"
    if from_schema["made_by"] == "models":
        out["warnings"].insert(0, _warning("from-schema-from-models", from_schema["note"], from_snapshot.ref))
        out["warnings"] += [{**w, "ref": w.get("ref") or from_snapshot.ref} for w in from_schema["warnings"]]  # what the models could not create
    out["_databases"] = {"drift": database, "drift_from": from_copy}
    if unseeded is not None and chain is not None and chain.error is None:
        out["pg18"] = _on_pg18(server, unseeded, to_snapshot, to_setup, options, bool(seeded), chain.result.get("statements", []))
        failed = out["pg18"]["fails"]
        if failed is not None:
            out["warnings"].append(_warning("fails-on-pg18", f"on PostgreSQL 18 or later, revision {failed['revision']} fails: {failed['message']} (18 has its own {', '.join(out['pg18']['names'])} in pg_catalog; the replay hides them, as older servers have none)", to_snapshot.ref, failed.get("location") or None))
            out["warnings"].sort(key=lambda w: (w.get("ref", ""), w.get("location", ""), w["code"], w["message"]))
    if seed_failure is not None:
        where = f" at {seed_failure['location']}" if seed_failure.get("location") else ""
        out["warnings"].append(_warning("seed-failed", f"the chain failed on synthetic rows (revision {seed_failure.get('revision')}{where}: {seed_failure['message']}); replayed on empty tables: data migrations that loop over rows did not run", to_snapshot.ref))
    return out


def _on_pg18(server: EmbeddedPostgres, database: str, to_snapshot: Snapshot, to_setup: AlembicSetup, options: LoadOptions, seed: bool, statements: list[dict]) -> dict:
    """The chain on `database` (FROM's schema) with PostgreSQL 18's own uuidv4/uuidv7
    visible, when its statements name them: {"names": [...], "fails": None or where and why
    it failed}. The server answers, not a rule: an unqualified name may be ambiguous there
    (`COMMENT ON FUNCTION uuidv7`) or resolve to 18's function instead of the app's."""
    names = sorted({m.group(0).lower() for s in statements for m in _PG18_NAMES.finditer(s["sql"])})
    if not names:
        return {"names": [], "fails": None}
    if seed:
        _seed(server, database)
    show_pg18_functions(server, database)
    phase = run_phase(to_snapshot, to_setup, role_url(server, database), observe=True, options=options)
    error = phase.error
    if error is None:
        return {"names": names, "fails": None}
    failed = {k: error.get(k) for k in ("revision", "location", "message")}
    failed["sql"] = (error.get("statement") or {}).get("sql")
    return {"names": names, "fails": failed}


def _template_key(from_snapshot: Snapshot, from_setup: AlembicSetup, options: LoadOptions, use_cache: bool) -> tuple[str | None, dict[str, str]]:
    """The key FROM's migrated schema is kept under (None: not kept), and FROM's files."""
    from . import cache

    manifest, script_files = phase_inputs(from_snapshot, from_setup)
    if not use_cache or from_snapshot.is_worktree:
        return None, manifest
    shape = {"setup": from_setup.to_json(), "settings": phase_settings(from_setup, options), "python": options.python, "models": models_packages(from_snapshot, from_setup, options)}
    return cache.key(manifest, script_files, shape), manifest


def _seeded_base(from_snapshot: Snapshot, from_setup: AlembicSetup, server: EmbeddedPostgres, options: LoadOptions, use_cache: bool, need_pristine: bool) -> tuple[str, Phase, dict[str, int], str | None]:
    """A scratch database at FROM's heads with the synthetic rows (`seed`), and their counts:
    cloned from a kept seeded template (seeding Dify's 70 tables costs more than the clone),
    or `_base`'s seeded here and kept seeded. Also a database with FROM's schema and no rows
    to copy from (`need_pristine`: the unseeded template, else a copy made before seeding)."""
    from . import cache

    key, manifest = _template_key(from_snapshot, from_setup, options, use_cache)
    seeded_key = cache.seeded_key(key) if key is not None else None
    stored = cache.lookup(server, seeded_key, manifest) if seeded_key is not None else None
    pristine = cache.template_name(key) if key is not None and (not need_pristine or cache.lookup(server, key, manifest) is not None) else None
    if stored is not None and (pristine is not None or not need_pristine):
        base = Phase(from_snapshot.ref, from_setup, stored, 0.0, cached=True)
        return cache.clone(server, seeded_key, ROLE), base, dict(stored.get("seeded") or {}), pristine
    database, base = _base(from_snapshot, from_setup, server, options, use_cache)
    if base.error is not None:
        return database, base, {}, None
    if need_pristine:  # the template `_base` kept, else (not kept) a copy of our own
        kept = key is not None and cache.lookup(server, key, manifest) is not None
        pristine = cache.template_name(key) if kept else cache.copy_database(server, database)
    seeded = _seed(server, database)
    if seeded_key is not None:
        cache.store(server, database, seeded_key, {**base.result, "seeded": seeded})
    return database, base, seeded, pristine


def _base(from_snapshot: Snapshot, from_setup: AlembicSetup, server: EmbeddedPostgres, options: LoadOptions, use_cache: bool) -> tuple[str, Phase]:
    """A scratch database at FROM's heads: cloned from a kept template, or replayed from base
    (and kept)."""
    from . import cache

    cache_key, manifest = _template_key(from_snapshot, from_setup, options, use_cache)
    stored = cache.lookup(server, cache_key, manifest) if cache_key is not None else None
    if cache_key is not None and stored is not None:
        return cache.clone(server, cache_key, ROLE), Phase(from_snapshot.ref, from_setup, stored, 0.0, cached=True)
    database = scratch_database(server)
    base = run_phase(from_snapshot, from_setup, role_url(server, database), observe=False, options=options, use_cache=use_cache)
    if base.error is None and cache_key is not None:
        cache.store(server, database, cache_key, base.result)
    return database, base


def _base_from_models(server: EmbeddedPostgres, snapshot: Snapshot, database: str, base: Phase, from_models) -> tuple[str, Phase, dict]:
    """FROM's failed replay from base replaced by FROM's models, stamped at FROM's heads,
    when they can stand in (see fallback.py); else what was given, unchanged."""
    from ..load import LoadFailure
    from ..source.layout import LayoutError
    from .fallback import create_from_models, heads_to_stamp, note, text_columns

    heads = heads_to_stamp(base.result, snapshot, base.setup)
    if not heads:
        return database, base, {"made_by": "migrations"}
    try:
        schema = from_models()
    except (LoadFailure, LayoutError):
        return database, base, {"made_by": "migrations"}  # the replay's own error is the answer
    fresh = scratch_database(server)
    warnings = create_from_models(server, fresh, schema, heads)
    result = {**{k: v for k, v in base.result.items() if k != "error"}, "applied": []}
    made = {"made_by": "models", "note": note(base.ref, base.error), "replay_error": base.error, "warnings": [w.to_json() for w in warnings], "text_columns": text_columns(schema)}
    return fresh, Phase(base.ref, base.setup, result, base.seconds), made


def _seed(server: EmbeddedPostgres, database: str) -> dict[str, int]:
    from .seed import seed

    conn = server.connect(database)
    try:
        return seed(conn)
    finally:
        conn.close()


def report(from_snapshot: Snapshot, to_snapshot: Snapshot, from_setup: AlembicSetup, to_setup: AlembicSetup, base: Phase, chain: Phase | None) -> dict:
    from .observed import hazards_of

    warnings = _warnings(base) + (_warnings(chain) if chain else [])
    if to_setup.others:
        warnings.append(_warning("several-chains", f"the app has several migration chains; replayed {to_setup.found_by} (the first the upgrade adds revisions to), not {', '.join(to_setup.others)} (--migrations PATH replays another)", to_snapshot.ref))
    revisions = []
    error = None
    if base.error is not None:
        error = {"phase": "from", "ref": base.ref, **base.error}
    elif chain is not None:
        result = chain.result
        statements = result.get("statements", [])
        existing = set(result.get("existing_tables", []))
        applied = set(result.get("applied", []))
        failed = chain.error
        if failed is not None:
            error = {"phase": "chain", "ref": chain.ref, **failed}
        for planned in result.get("planned", []):
            revision = dict(planned)
            own = [s for s in statements if s["revision"] == planned["revision"]]
            revision["statements"] = [_statement(s) for s in own]
            for statement in revision["statements"]:
                statement["hazards"] = hazards_of(statement, existing)
            if planned["revision"] in applied:
                revision["status"] = "ran"
            elif failed is not None and failed.get("revision") == planned["revision"]:
                revision["status"] = "failed"
                revision["error"] = {k: failed.get(k) for k in ("message", "location", "statement")}
            else:
                revision["status"] = "not run"
            revisions.append(revision)
    return {
        "transactions": _transactions(revisions),
        "from": {"ref": from_snapshot.ref, "commit": from_snapshot.commit, "heads": (chain.result.get("from_heads") if chain else None) or []},
        "to": {"ref": to_snapshot.ref, "commit": to_snapshot.commit, "heads": (chain.result.get("to_heads") if chain else None) or []},
        "migrations": to_setup.to_json(),
        "transaction": to_setup.transaction,
        "complete": error is None,
        "error": error,
        "revisions": revisions,
        "existing_tables": sorted(chain.result.get("existing_tables", [])) if chain else [],
        "timing": {
            "from_replay_seconds": round(base.seconds, 3),
            "from_cached": base.cached,
            "seed_cached": base.cached and "seeded" in base.result,  # the rows came with the template
            "from_revisions": len(base.result.get("applied", [])),
            "from_scripts_load_seconds": base.result.get("load_seconds"),
            "from_upgrade_seconds": base.result.get("seconds"),
            "from_child_cpu_seconds": base.result.get("cpu_seconds"),
            "chain_scripts_load_seconds": chain.result.get("load_seconds") if chain else None,
            "chain_scripts_loaded": chain.result.get("scripts_loaded") if chain else None,
            "chain_upgrade_seconds": chain.result.get("seconds") if chain else None,
            "chain_child_cpu_seconds": chain.result.get("cpu_seconds") if chain else None,
            "chain_seconds": round(chain.seconds, 3) if chain else None,
        },
        "warnings": sorted(warnings, key=lambda w: (w.get("ref", ""), w.get("location", ""), w["code"], w["message"])),
    }


_STATEMENT_KEYS = ("sql", "parameters", "kind", "location", "tables", "locks", "rewrites", "indexes_rebuilt", "scanned", "rows", "duration_ms", "transaction", "autocommit")


def _statement(raw: dict) -> dict:
    out = {k: raw.get(k) for k in _STATEMENT_KEYS}
    if raw.get("error"):
        out["error"] = raw["error"]  # it failed (and the script may have gone on)
    return out


def _transactions(revisions: list[dict]) -> list[dict]:
    """The lock timeline: per transaction of the upgrade, its revisions, how many statements
    ran in it and the locks it held at its last statement (held until it commits)."""
    out: dict[int, dict] = {}
    for revision in revisions:
        for statement in revision["statements"]:
            number = statement["transaction"]
            if number is None:
                continue
            entry = out.setdefault(number, {"number": number, "revisions": [], "statements": 0, "locks_at_end": {}})
            if revision["revision"] not in entry["revisions"]:
                entry["revisions"].append(revision["revision"])
            entry["statements"] += 1
            if not statement.get("error"):
                entry["locks_at_end"] = statement["locks"]
    return [out[n] for n in sorted(out)]


def _warnings(phase: Phase) -> list[dict]:
    out = []
    result = phase.result
    for item in result.get("blocked", []):
        where = f"{item['file']}:{item['line']}" if item.get("file") else None
        out.append(_warning(f"blocked-{item['what']}", f"migration code tried {item['detail']}: refused", phase.ref, where))
    for statement in result.get("skipped_statements", []):
        out.append(_warning("module-stubbed", f"application module {statement['module']}: a statement raised {statement['error']}; skipped, stubbed: {', '.join(statement['stubbed_names']) or 'nothing'}", phase.ref, f"{statement['file']}:{statement['line']}"))
    missing = sorted(k for k, v in result.get("stubbed_modules", {}).items() if v == "not importable")
    if missing:
        out.append(_warning("modules-stubbed", f"not importable, stubbed for the migration scripts: {', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}", phase.ref))
    for used in result.get("stand_ins", []):
        out.append(_warning("extension-stand-in", f"extension {used['extension']} is not available on the embedded PostgreSQL: its functions the scripts use were created as stand-ins", phase.ref, used["location"] or None))
    for asked in result.get("prompts", []):
        answer = f"{asked['answer']!r}" if asked["kind"] == "input" else "a synthetic password"
        out.append(_warning("prompt-answered", f"migration code asked {asked['prompt']!r} ({asked['kind']}, {asked['asked']} time(s)); answered {answer}: only the data it writes differs from a real upgrade", phase.ref, asked["location"]))
    for stub, columns in (result.get("stub_types") or {}).items():
        named = [c for c in columns if c != "?"]
        which = f" (columns {', '.join(named[:8])}{' ...' if len(named) > 8 else ''})" if named else ""
        out.append(_warning("stub-type", f"column type {stub} is from a package that is not installed: created as TEXT by the migration scripts{which}; --python PATH can provide it", phase.ref))
    for key in result.get("unused_settings", []):
        out.append(_warning("unused-setting", f"--set {key}: no module or attribute of that name was loaded by the migration scripts", phase.ref))
    confinement = result.get("sandbox") or {}
    if confinement and not confinement.get("landlock"):
        out.append(_warning("sandbox-limited", f"kernel confinement unavailable ({confinement.get('reason', '?')}); only Python-level guards apply", phase.ref))
    return out


def _warning(code: str, message: str, ref: str, location: str | None = None) -> dict:
    out = {"code": code, "message": message, "ref": ref}
    if location:
        out["location"] = location
    return out


def migrations(repo: str, from_ref: str, to_ref: str, migrations_path: str | None = None, settings: dict | None = None, timeout: float = 300.0, python: str | None = None, env: dict | None = None, use_cache: bool = True, with_drift: bool = True, target_version: int | None = None) -> dict:
    """`modeldiff migrations REPO FROM TO`: find both setups, replay, the report."""
    from ..db.server import shared_server
    from ..source.repository import Repository
    from .setup import SetupError, find_setups

    repository = Repository(repo)
    snapshots = [repository.snapshot(from_ref), repository.snapshot(to_ref)]
    setups = []
    for snapshot, setup in zip(snapshots, find_setups(*snapshots, migrations_path)):
        if setup is None:
            raise SetupError(f"{snapshot.ref}: no alembic migrations found (no alembic.ini, env.py or preset); pass --migrations PATH")
        setups.append(setup)
    options = child_options(settings or {}, timeout, python, env or {})
    with shared_server() as server:
        return replay(snapshots[0], snapshots[1], setups[0], setups[1], server, options, use_cache, with_drift=with_drift, target_version=target_version)


def crosscheck(from_snapshot: Snapshot, to_snapshot: Snapshot, from_setup: AlembicSetup, to_setup: AlembicSetup, server: EmbeddedPostgres, options: LoadOptions) -> tuple[list[str], list[str]]:
    """The DDL and data statements of the chain as the replay reports them, and as alembic's
    own `command.upgrade` (with the cookbook env.py) sends them on the same scripts, each
    from the same copy of FROM's migrated and seeded schema. Equal lists: nothing the
    upgrade sends escapes the replay."""
    from .child import kind_of

    ensure_role(server)
    database, base = _base(from_snapshot, from_setup, server, options, use_cache=True)
    if base.error is not None:
        raise ReplayError(f"{from_snapshot.ref}: {base.error['message']}")
    from .cache import copy_database

    _seed(server, database)
    other = copy_database(server, database, ROLE)  # the same rows, seed included
    replayed = run_phase(to_snapshot, to_setup, role_url(server, database), observe=True, options=options)
    reference = run_phase(to_snapshot, to_setup, role_url(server, other), observe=False, options=options, runner="alembic-command")
    for phase in (replayed, reference):
        if phase.error is not None:
            raise ReplayError(f"{to_snapshot.ref}: {phase.error['message']}")

    def changing(statements: list[str]) -> list[str]:
        return [s for s in statements if kind_of(s) in ("ddl", "data") and "alembic_version" not in s]

    return changing([s["sql"] for s in replayed.result["statements"] if not s.get("error")]), changing(reference.result["sent"])
