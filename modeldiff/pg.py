"""The embedded PostgreSQL that schemas are compared through (pgserver bundles PG 16).

One server per run, in a private temp directory that is deleted afterwards; each ref gets
its own database. No server for the user to install, and nothing left behind.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg2

logging.getLogger("pgserver").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

_names = itertools.count()


class EmbeddedPostgres:
    def __init__(self) -> None:
        self._dir: Path | None = None
        self._server = None

    def __enter__(self) -> "EmbeddedPostgres":
        import pgserver  # imported late: it starts nothing by itself, but is slow to import

        # A short path: the server's unix socket lives in it (108-byte limit).
        self._dir = Path(tempfile.mkdtemp(prefix="mdpg-"))
        self._server = pgserver.get_server(self._dir, cleanup_mode="delete")
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.cleanup()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return self._server.get_uri(database)

    def sqlalchemy_url(self, database: str) -> str:
        return self.url(database).replace("postgresql://", "postgresql+psycopg2://", 1)

    def connect(self, database: str = "postgres"):
        return psycopg2.connect(self.url(database))

    def create_database(self, hint: str = "db") -> str:
        name = f"md_{next(_names)}_{''.join(c if c.isalnum() else '_' for c in hint.lower())[:40]}"
        conn = self.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        conn.close()
        return name

    def server_version(self) -> int:
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute("SHOW server_version_num")
            version = int(cur.fetchone()[0])
        conn.close()
        return version
