"""Child side of a replay: run one ref's alembic version scripts on the scratch database.

Started like a loader child (`load/child.py` hands requests with `"task": "replay"` here),
under the loader's supervisor. Before any repository code runs it opens its one database
connection (as a role that is no superuser and owns only the scratch database) and starts
the git blob reader; then it confines itself with the loader's sandbox, which refuses every
further connection, so that the scripts can reach that database and nothing else. The
scripts' imports of the application resolve through the loader's import hook (real files
from git first, failing app modules become stubs).

The app's env.py is not run (it needs the whole app): alembic's own `EnvironmentContext`
runs the scripts with the app's transaction mode. With `observe`, every statement the
scripts send is recorded the way eugene's `trace` does it: SQL and parameters, revision and
file:line, kind, locks held after it (`pg_locks` of this backend, before commit), relations
rewritten (relfilenode changed), rows touched and duration.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

# Strongest first: the mode reported for a table is the strongest this backend holds on it.
LOCK_MODES = [
    "AccessExclusiveLock",
    "ExclusiveLock",
    "ShareRowExclusiveLock",
    "ShareLock",
    "ShareUpdateExclusiveLock",
    "RowExclusiveLock",
    "RowShareLock",
    "AccessShareLock",
]
_DDL = {"CREATE", "ALTER", "DROP", "COMMENT", "TRUNCATE", "GRANT", "REVOKE", "REINDEX", "CLUSTER", "VACUUM", "ANALYZE", "REFRESH", "SECURITY"}
_DATA = {"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"}
_WORD = re.compile(r"\s*(?:--[^\n]*\n|/\*.*?\*/|\()*\s*([A-Za-z]+)", re.S)
_IDENT = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')
# Each relation with the table it belongs to, by name: an index's table, a partition's root
# (an index on a partition: the partition's root), a sequence's owning table.
_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind, c.relfilenode, coalesce(tn.nspname, ''), coalesce(t.relname, '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class t ON t.oid = coalesce(pg_partition_root(coalesce(i.indrelid, d.refobjid, c.oid)), i.indrelid, d.refobjid)
  AND t.oid <> c.oid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
  AND c.relkind IN ('r', 'p', 'm', 'f', 'i', 'I', 'S', 'v')
"""
_SCANS = "SELECT relid, seq_scan FROM pg_stat_xact_user_tables"  # this transaction's own counts
_LOCKS = "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"
_TABLE_KINDS = {"r", "p", "m", "f"}


def kind_of(sql: str) -> str:
    """ddl, data, read or other, from the statement's first keyword (WITH: its verb)."""
    match = _WORD.match(sql)
    word = match.group(1).upper() if match else ""
    if word == "WITH":
        for verb in ("INSERT", "UPDATE", "DELETE", "MERGE"):
            if re.search(rf"\b{verb}\b", sql, re.I):
                return "data"
        return "read"
    if word in _DDL:
        return "ddl"
    if word in _DATA:
        return "data"
    if word in ("SELECT", "SHOW", "EXPLAIN", "TABLE", "VALUES"):
        return "read"
    return "other"


class Observer:
    """SQLAlchemy cursor events on the migration connection -> statement records."""

    def __init__(self, raw_connection, script_files: dict[str, str], revision_of_file: dict[str, str]) -> None:
        self.raw = raw_connection  # the DBAPI connection: our own queries send no events
        self.script_files = script_files  # absolute path -> repo path
        self.revision_of_file = revision_of_file
        self.current: str | None = None  # the revision alembic is running
        self.statements: list[dict] = []
        self.failed: dict | None = None
        self.transaction = 1
        self.relations: dict[int, tuple] = {}  # oid -> (name, kind, filenode, table of an index)
        self.names: dict[int, tuple] = {}  # every relation ever seen (locks on dropped ones)
        self.created: set[str] = set()  # tables the chain created
        self._pending: tuple | None = None
        self.scans: dict[int, int] = {}
        self._refresh()
        self.existing = {v[0] for v in self.relations.values() if v[1] in _TABLE_KINDS}

    # -- catalog ----------------------------------------------------------------------------
    def _query(self, sql: str) -> list[tuple]:
        with self.raw.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def _refresh(self) -> dict[int, tuple]:
        before = self.relations
        self.relations = {}
        for oid, schema, name, kind, filenode, table_schema, table in self._query(_RELATIONS):
            self.relations[oid] = (_qualified(schema, name), kind, filenode, _qualified(table_schema, table) if table else "")
        self.names.update(self.relations)
        return before

    # -- events -----------------------------------------------------------------------------
    def where(self) -> tuple[str, int]:
        frame = sys._getframe(2)
        while frame is not None:
            path = self.script_files.get(frame.f_code.co_filename)
            if path is not None:
                return path, frame.f_lineno
            frame = frame.f_back
        return "", 0

    def before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        file, line = self.where()
        if kind_of(statement) in ("ddl", "other") and not getattr(self.raw, "autocommit", False):
            self.scans = dict(self._query(_SCANS))  # what this transaction had read before
        self._pending = (statement, parameters, file, line, time.perf_counter())

    def after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        elapsed = time.perf_counter() - pending[4]
        statement, parameters, file, line, _ = pending
        if not file and "alembic_version" in statement:
            return  # alembic's own bookkeeping
        kind = kind_of(statement)
        autocommit = bool(getattr(self.raw, "autocommit", False))
        record = {
            "revision": self.revision_of_file.get(file) or self.current,
            "sql": statement.strip(),
            "parameters": _jsonable(parameters),
            "kind": kind,
            "location": f"{file}:{line}" if file else "",
            "duration_ms": round(elapsed * 1000, 3),
            "autocommit": autocommit,
            "transaction": None if autocommit else self.transaction,
            "rows": cursor.rowcount if kind == "data" and cursor.rowcount is not None and cursor.rowcount >= 0 else None,
        }
        rewrites, rebuilt, scanned = [], [], []
        if kind in ("ddl", "other"):
            if not autocommit:  # a table read whole (a validation, a rewrite) counts a scan
                scans = dict(self._query(_SCANS))
                scanned = sorted({self.names[oid][3] or self.names[oid][0] for oid, n in scans.items() if n > self.scans.get(oid, 0) and oid in self.names})
            before = self._refresh()
            for oid, (name, relkind, filenode, owner) in self.relations.items():
                old = before.get(oid)
                if old is None:
                    if relkind in _TABLE_KINDS:
                        self.created.add(name)
                elif old[2] != filenode and filenode:
                    (rewrites if relkind in _TABLE_KINDS else rebuilt).append((owner or name) if relkind in _TABLE_KINDS else name)
        record["rewrites"] = sorted(set(rewrites))
        record["indexes_rebuilt"] = sorted(rebuilt)
        record["scanned"] = sorted(scanned)
        record["locks"] = {} if autocommit else self._locks()
        record["tables"] = self._tables(statement, record)
        self.statements.append(record)

    def error(self, context) -> None:
        """A statement that failed: recorded with its error (a script may catch it, e.g. in a
        savepoint, and go on); the last one is the failure if the upgrade stops."""
        pending, self._pending = self._pending, None
        if pending is not None:
            statement, parameters, file, line, started = pending
            message = f"{type(context.original_exception).__name__}: {context.original_exception}".splitlines()[0]
            self.failed = {"sql": statement.strip(), "parameters": _jsonable(parameters), "location": f"{file}:{line}" if file else "", "error": message}
            self.statements.append({
                "revision": self.revision_of_file.get(file) or self.current,
                **self.failed,
                "kind": kind_of(statement),
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "autocommit": bool(getattr(self.raw, "autocommit", False)),
                "transaction": None if getattr(self.raw, "autocommit", False) else self.transaction,
                "rows": None, "rewrites": [], "indexes_rebuilt": [], "scanned": [], "locks": {}, "tables": [],
            })

    def commit(self, conn) -> None:
        self.transaction += 1

    def _locks(self) -> dict[str, str]:
        """Table name -> the strongest mode this backend holds on it: a lock on an index or
        a partition counts for its table (a partition's root), never an OID."""
        held: dict[str, str] = {}
        for oid, mode in self._query(_LOCKS):
            known = self.relations.get(oid) or self.names.get(oid)
            if known is None:
                continue
            name = known[3] or (known[0] if known[1] in _TABLE_KINDS else "")
            if not name or name == "alembic_version":
                continue
            if name not in held or LOCK_MODES.index(mode) < LOCK_MODES.index(held[name]):
                held[name] = mode
        return dict(sorted(held.items()))

    def _tables(self, statement: str, record: dict) -> list[str]:
        """The tables a statement touched: those it names (SQL text matched against every
        table and index seen, schema-qualified or not; an index counts for its table), those
        it rewrote or scanned, and those it took a new or stronger lock on (what the text
        hides: a function's body, a cascade, a referenced table)."""
        known: dict[str, str] = {}
        for name, kind, _, owner in self.names.values():
            if kind in _TABLE_KINDS or owner:
                known[name] = owner or name
        words = [(q.replace('""', '"') if q else w.lower()) for q, w in _IDENT.findall(statement)]
        named = {known[w] for w in words if w in known}
        named |= {known[f"{a}.{b}"] for a, b in zip(words, words[1:]) if f"{a}.{b}" in known}
        previous = next((r["locks"] for r in reversed(self.statements) if r.get("transaction") == record["transaction"] and not r.get("error")), {})
        taken = {t for t, m in record["locks"].items() if previous.get(t) != m and m != "AccessShareLock"}
        found = named | set(record["rewrites"]) | set(record["scanned"]) | taken
        return sorted(found - {"alembic_version"})


from modeldiff.db.standins import STAND_INS  # noqa: E402 - what stands in for extensions the server lacks

_CREATE_EXTENSION = re.compile(r'^\s*CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([\w-]+)"?', re.I)


class StandIns:
    """`CREATE EXTENSION` of an extension the embedded server does not have, and for which
    a stand-in exists, runs the stand-in instead (reported: the replay then differs from
    production there)."""

    def __init__(self, raw_connection) -> None:
        self.raw = raw_connection
        self.used: list[dict] = []
        self._available: set[str] | None = None

    def before(self, conn, cursor, statement, parameters, context, executemany):
        match = _CREATE_EXTENSION.match(statement)
        if match and match.group(1).lower() in STAND_INS:
            name = match.group(1).lower()
            if self._available is None:
                with self.raw.cursor() as cur:
                    cur.execute("SELECT name FROM pg_available_extensions")
                    self._available = {row[0] for row in cur.fetchall()}
            if name not in self._available:
                from modeldiff.load.importer import locate_frame

                where = locate_frame(sys._getframe(1)) or ("", 0)
                self.used.append({"extension": name, "location": f"{where[0]}:{where[1]}" if where[0] else ""})
                return STAND_INS[name], parameters
        return statement, parameters


def _qualified(schema: str, name: str) -> str:
    return name if schema == "public" else f"{schema}.{name}"


def _jsonable(parameters):
    if parameters is None or parameters == {} or parameters == ():
        return None
    text = repr(parameters)
    return text if len(text) <= 500 else text[:500] + "..."


def _with_driver(url: str) -> str:
    """`url` for the driver this interpreter has: the application's psycopg2 (SQLAlchemy's
    default for postgresql://) when installed, else psycopg 3 (modeldiff's own runtime)."""
    import importlib.util

    if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg") is not None:
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return url


def _share_connection(url: str, raw) -> None:
    """Engines the scripts create for the replay database's URL (mealie's first revision:
    `engine_from_config(config...)` to ask whether a table exists; the alembic config we hand
    them has that URL) reuse the replay's one connection."""
    import sqlalchemy as sa
    import sqlalchemy.engine as engine_package
    import sqlalchemy.engine.create as create

    original = create.create_engine

    def create_engine(target=None, *args, **kwargs):
        if str(target) != url:
            return original(target, *args, **kwargs)
        engine = original(url, creator=lambda: raw, poolclass=sa.pool.StaticPool, pool_reset_on_return=None)
        engine.pool.modeldiff_shared = True
        # The same session: it sees the upgrade's uncommitted work; committing, rolling back
        # and closing it are the upgrade's to do, not this engine's.
        for name in ("do_commit", "do_rollback", "do_close"):
            setattr(engine.dialect, name, lambda dbapi_connection: None)
        return engine

    create.create_engine = engine_package.create_engine = sa.create_engine = create_engine


def run(request: dict) -> dict:
    from modeldiff.load import importer, overlay, sandbox
    from modeldiff.source.blobs import make_reader
    from modeldiff.load.stubs import RECORDER

    workdir = Path(request["workdir"])
    read = _Prefetched(make_reader(request["source"]), request.get("prefetch") or [])  # started before the sandbox closes
    repo = importer.RepoImporter(
        request["manifest"], read, request["import_root"], models_package=request.get("models_packages", []), workdir=workdir, settings=request.get("settings", {})
    )
    import sqlalchemy as sa
    from sqlalchemy import event

    engine = sa.create_engine(_with_driver(request["url"]), poolclass=sa.pool.NullPool)
    conn = engine.connect()  # the only connection: the sandbox refuses any other
    raw = conn.connection.dbapi_connection
    request["shared_url"] = engine.url.render_as_string(hide_password=False)
    _share_connection(request["shared_url"], raw)
    script_files = {}
    stubbed = _outside_chain(request["script_files"], repo, _current_heads(conn))
    for relpath in request["script_files"]:
        if relpath in stubbed:
            path = repo.src / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(stubbed[relpath])
            continue
        path, _ = repo.materialize(relpath)
        script_files[str(path)] = relpath
    for location in [request["script_location"], *request["versions"]]:
        (repo.src / location).mkdir(parents=True, exist_ok=True)
    # As the loader does: `file`/`ldconfig` probes of libraries at import answered without a
    # process (on the ref's own runtime, pycryptodome and celery are real, not stubs).
    from modeldiff.load.child import _answer_without_processes

    _answer_without_processes()
    # The connection's socket may still send (seccomp refuses every other socket call).
    confinement = sandbox.install(
        str(workdir), importer.locate_frame, tuple(request.get("hidden", ())), request.get("seccomp", True), sending_fds=(raw.fileno(),)
    )
    # As for a model import: settings the scripts import may create their data directories
    # (a write outside the private directory succeeds in a throwaway copy).
    overlay.install(str(workdir), on_missing=repo.materialize_path, record=lambda detail: sandbox._record("contained", detail))
    importer.install(repo)
    from . import legacy, prompts, stubtypes

    legacy.install()

    asked = prompts.install(lambda frame: "%s:%s" % (importer.locate_frame(frame) or ("?", 0)))
    placeholders = stubtypes.install()
    result: dict = {"sandbox": confinement}
    try:
        result.update(_upgrade(request, repo, conn, raw, script_files, event))
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass
    result["prompts"] = asked
    result["stub_types"] = {stub: sorted(columns) for stub, columns in sorted(placeholders.items())}
    result["blocked"] = sandbox.BLOCKED
    result["skipped_statements"] = repo.skipped
    result["stubbed_modules"] = dict(sorted(RECORDER.stubbed_modules.items()))
    result["files_read"] = dict(sorted(repo.files_read.items()))
    result["scripts_loaded"] = len(script_files)
    result["cpu_seconds"] = round(time.process_time(), 3)  # this process's own: a measure the machine's load hardly moves
    result["unused_settings"] = sorted(set(request.get("settings", {})) - repo.applied)
    return result


class _Prefetched:
    """A blob reader serving `blob_ids` (the version scripts, and what an earlier run on
    them read) from one batched read: one round trip to git, not one per module."""

    def __init__(self, read, blob_ids: list[str]) -> None:
        from modeldiff.source.blobs import read_many

        self.read, self.ready = read, {}
        try:
            self.ready = dict(zip(blob_ids, read_many(read, blob_ids)))
        except OSError:
            pass  # a blob that is gone: each is read when asked for, as without the hint

    def __call__(self, blob_id: str) -> bytes:
        data = self.ready.get(blob_id)
        return data if data is not None else self.read(blob_id)

    def many(self, blob_ids: list[str]) -> list[bytes]:
        return [self(blob_id) for blob_id in blob_ids]


def _current_heads(conn) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    heads = tuple(MigrationContext.configure(conn).get_current_heads())
    conn.commit()
    return heads


_DEPENDS_ON = re.compile(r"^depends_on\s*(?::[^=]*)?=(?!\s*None\b)", re.M)
_STUB = """# modeldiff: revision outside the chain to replay (already applied): not loaded
revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    raise RuntimeError("modeldiff: revision {revision} is outside the replayed chain")


def downgrade():
    pass
"""


def _outside_chain(script_files: list[str], repo, current: tuple[str, ...]) -> dict[str, str]:
    """Stand-in sources for the scripts of revisions the database already has: alembic
    needs them for its revision map, but loading them (each imports the app's models) is
    most of a short chain's time. Nothing is stubbed when a script uses `depends_on`; a
    script whose revision cannot be read is loaded as it is."""
    if not current:
        return {}
    from modeldiff.draft.chain import _revision_of

    from modeldiff.source.blobs import read_many

    graph, files = {}, {}
    sources = read_many(repo.read, [repo.manifest[relpath] for relpath in script_files])  # one round trip to git
    for relpath, data in zip(script_files, sources):
        source = data.decode("utf-8", errors="replace")
        try:
            found = _revision_of(source)
        except (SyntaxError, ValueError):
            found = None
        if _DEPENDS_ON.search(source):
            return {}
        if found is None:
            continue  # not read: loaded as it is (alembic decides what it is)
        graph[found[0]] = found[1]
        files[found[0]] = relpath
    if any(head not in graph for head in current):
        return {}  # alembic reports the unknown revision itself

    def ancestors(heads) -> set[str]:
        seen, todo = set(), list(heads)
        while todo:
            rev = todo.pop()
            if rev not in seen and rev in graph:
                seen.add(rev)
                todo.extend(graph[rev])
        return seen

    done = ancestors(current)
    return {files[rev]: _STUB.format(revision=rev, down=(graph[rev][0] if len(graph[rev]) == 1 else graph[rev] or None)) for rev in done}


def _upgrade(request: dict, repo, conn, raw, script_files: dict, event) -> dict:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from modeldiff.compat import upgrade_steps
    from modeldiff.load import sandbox
    from modeldiff.load.importer import describe_exception, error_location

    out: dict = {}
    loading = time.perf_counter()
    config = Config()
    config.set_main_option("script_location", str(repo.src / request["script_location"]))
    config.set_main_option("sqlalchemy.url", request["shared_url"].replace("%", "%%"))  # the scripts' own engines (see _share_connection)
    try:
        script = ScriptDirectory(
            str(repo.src / request["script_location"]),
            version_locations=[str(repo.src / v) for v in request["versions"]],
            recursive_version_locations=bool(request.get("recursive")),
        )
        current = tuple(MigrationContext.configure(conn).get_current_heads())
        conn.commit()
        steps = upgrade_steps(script, "heads", current)
    except BaseException as exc:  # noqa: BLE001 - a script that fails to load, a broken chain
        file, line = _script_location(exc, script_files, error_location)
        out["error"] = {"stage": "chain", "message": describe_exception(exc).splitlines()[0], "location": f"{file}:{line}" if file else ""}
        return out
    revision_of_file = {}
    planned = []
    for step in steps:
        rev = step.revision
        relpath = script_files.get(str(Path(rev.path).resolve())) or script_files.get(rev.path, rev.path)
        revision_of_file[relpath] = rev.revision
        down = rev.down_revision
        planned.append({
            "revision": rev.revision,
            "down_revision": list(down) if isinstance(down, tuple) else down,
            "file": relpath,
            "message": (rev.doc or "").strip(),
        })
    out["load_seconds"] = round(time.perf_counter() - loading, 3)
    out["from_heads"] = sorted(current)
    out["planned"] = planned
    out["to_heads"] = sorted(script.get_heads())
    observer = None
    if request.get("observe"):
        observer = Observer(raw, script_files, revision_of_file)
        conn.commit()
        event.listen(conn, "before_cursor_execute", observer.before)
        event.listen(conn, "after_cursor_execute", observer.after)
        event.listen(conn.engine, "handle_error", observer.error)
        event.listen(conn, "commit", observer.commit)
    stand_ins = StandIns(raw)
    event.listen(conn, "before_cursor_execute", stand_ins.before, retval=True)
    if request.get("leave_out"):
        left_out = set(request["leave_out"])
        event.listen(conn, "before_cursor_execute", lambda c, cursor, statement, parameters, *rest: ("SELECT 1", None) if " ".join(statement.split()) in left_out else (statement, parameters), retval=True)
    from .aborted import Cause

    cause = Cause(script_files)
    event.listen(conn.engine, "handle_error", cause)
    if request.get("runner") == "alembic-command":
        out.update(_alembic_command(request, repo, conn, event))
        return out
    applied: list[str] = []

    def upgrade_steps(heads, context):
        for step in steps:
            if observer is not None:
                observer.current = step.revision.revision
            yield step

    def on_apply(ctx, step, heads, run_args):
        applied.append(step.up_revision_id)

    started = time.perf_counter()
    try:
        with EnvironmentContext(config, script, fn=upgrade_steps, destination_rev="heads"):
            from alembic import context

            context.configure(
                connection=conn,
                target_metadata=None,
                transaction_per_migration=request["transaction"] == "per-migration",
                on_version_apply=on_apply,
            )
            with context.begin_transaction():
                context.run_migrations()
        if conn.in_transaction():
            conn.commit()
    except BaseException as exc:  # noqa: BLE001 - reported as the answer, never a traceback
        if isinstance(exc, (KeyboardInterrupt,)):
            raise
        file, line = _script_location(exc, script_files, error_location)
        failing = steps[len(applied)].revision.revision if len(applied) < len(steps) else None
        out["error"] = {
            "stage": "upgrade",
            "revision": failing,
            "message": describe_exception(exc).splitlines()[0],
            "location": f"{file}:{line}" if file else "",
            "statement": observer.failed if observer is not None else None,
            "sandbox": isinstance(exc, sandbox.SandboxViolation),
        }
        out["error"] = cause.explain(out["error"], exc)
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001
            pass
    out["seconds"] = round(time.perf_counter() - started, 3)
    out["stand_ins"] = stand_ins.used
    out["applied"] = applied
    if observer is not None:
        out["statements"] = observer.statements
        out["existing_tables"] = sorted(observer.existing)
        out["created_tables"] = sorted(observer.created)
    return out


_PLAIN_ENV = """# modeldiff: alembic's cookbook env.py; the connection is handed in
from alembic import context

context.configure(connection=context.config.attributes["connection"], target_metadata=None, transaction_per_migration={per_migration})
with context.begin_transaction():
    context.run_migrations()
"""


def _alembic_command(request: dict, repo, conn, event) -> dict:
    """The same scripts through alembic's own `command.upgrade` (and an env.py of the
    cookbook): every statement sent, for checking the replay against it."""
    import os

    from alembic import command
    from alembic.config import Config

    location = repo.src / request["script_location"]
    (location / "env.py").write_text(_PLAIN_ENV.format(per_migration=request["transaction"] == "per-migration"))
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(repo.src / v) for v in request["versions"]))
    config.attributes["connection"] = conn
    sent: list[str] = []
    event.listen(conn, "before_cursor_execute", lambda c, cursor, statement, *rest: sent.append(statement.strip()))
    try:
        command.upgrade(config, "heads")
        if conn.in_transaction():
            conn.commit()
    except BaseException as exc:  # noqa: BLE001 - reported, never a traceback
        return {"sent": sent, "error": {"stage": "alembic-command", "message": f"{type(exc).__name__}: {exc}".splitlines()[0]}}
    return {"sent": sent}


def _script_location(exc: BaseException, script_files: dict, error_location) -> tuple[str, int]:
    """The innermost frame of a version script in the traceback, else the innermost
    repository frame."""
    import traceback

    found = ("", 0)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        path = script_files.get(frame.f_code.co_filename)
        if path:
            found = (path, lineno)
    return found if found[0] else error_location(exc)
