"""Real faults, each followed by a normal run: a failure is never an answer nor cached,
and what a killed run leaves (scratch schemas and roles, load directories, temp files
beside `-o` targets) is gone after the next run, whose answer is byte-identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cache_dir, make_repo, server_reachable_dir

TABLE = "Table('t{n}', metadata, Column('id', Integer, primary_key=True), Column('v', Integer, index=True){extra})\n"
HEAD = "from sqlalchemy import Column, Integer, MetaData, Table\nmetadata = MetaData()\n"


def models(tables: int, extra: str = "") -> str:
    return HEAD + "".join(TABLE.format(n=n, extra=extra if n == 0 else "") for n in range(tables))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """40 tables with a key and an index each (80 index files of 8 kB: more than a 64 kB
    tablespace holds); v2 adds a column."""
    root = tmp_path_factory.mktemp("faults")
    return make_repo(root / "repo", {"v1": {"models.py": models(40)}, "v2": {"models.py": models(40, ", Column('n', Integer)")}})


def command(repo: Path) -> list[str]:
    return [sys.executable, "-m", "modeldiff.cli", "diff", str(repo), "v1", "v2", "--models", "models.py", "--format", "json"]


def cli(repo: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*command(repo), *extra], env=env, capture_output=True, text=True, timeout=300)


def scratch_objects() -> set[str]:
    """Scratch schemas, databases and roles in the shared server of MODELDIFF_CACHE_DIR."""
    from modeldiff.db.server import shared_server

    with shared_server() as server:
        conn = server.connect(admin=True)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname ~ '^md[0-9]+_' UNION ALL "
                "SELECT datname FROM pg_database WHERE datname ~ '^md[0-9]+_' UNION ALL "
                "SELECT rolname FROM pg_roles WHERE rolname ~ '^md[0-9]+_'"
            )
            found = {row[0] for row in cur.fetchall()}
        conn.close()
    return found


@pytest.fixture(scope="module")
def expected(repo, tmp_path_factory) -> bytes:
    """The pair's answer from an undisturbed run."""
    out = tmp_path_factory.mktemp("baseline") / "diff.json"
    env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
    baseline = cli(repo, env, "--no-cache", "-o", str(out))
    assert baseline.returncode == 0, baseline.stderr
    assert b'"n"' in out.read_bytes()  # the change v2 makes
    return out.read_bytes()


@pytest.mark.parametrize("stage", ["create", "compare", "write"])
def test_sigkill_at_a_stage_then_a_normal_run_leaves_nothing_and_answers_the_same(repo, expected, tmp_path, stage):
    """SIGKILL as `create` ends (both refs' scratch schemas and roles exist), as `compare`
    ends, or with the `-o` file half written (its temp file beside it); the next run
    removes all of it and writes the same bytes. (SIGKILL during the load: test_signals.)"""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
    env["TMPDIR"] = str(scratch)
    out = tmp_path / "out" / "diff.json"
    out.parent.mkdir()
    killed = subprocess.Popen([*command(repo), "--no-cache", "-o", str(out)], env={**env, "MODELDIFF_KILL_AT": stage}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert killed.wait(timeout=300) == -9
    if stage == "write":
        [left] = out.parent.iterdir()  # its temp file, named after it
        assert left.name.startswith(f".diff.json.{killed.pid}.")
    else:  # its scratch schemas (or databases) and their roles
        left = scratch_objects()
        assert left and all(name.startswith(f"md{killed.pid}_") for name in left), left
    again = cli(repo, env, "--no-cache", "-o", str(out))
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == expected
    assert [p.name for p in out.parent.iterdir()] == ["diff.json"]
    assert scratch_objects() == set()
    assert [p.name for p in scratch.iterdir() if p.name.startswith("modeldiff-")] == []


@pytest.fixture
def small_tmpfs():
    """A tmpfs of its own (mounted as root: modeldiff's scratch tablespace goes to the
    memory file system XDG_RUNTIME_DIR names, when it has 1 GB free), shrunk on demand."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    import tempfile

    # Outside pytest's temp tree, which each pytest session sets back to 0700 (the server's
    # OS user must reach its tablespace; see conftest.cache_dir).
    mount = Path(tempfile.mkdtemp(prefix="mdtest-tmpfs-"))
    mount.chmod(0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1100m,mode=0755", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def test_a_full_tablespace_fails_the_run_caches_nothing_and_the_next_run_is_right(repo, expected, tmp_path, small_tmpfs):
    """The scratch tablespace's file system fills up while a ref's tables are created: the
    run fails (exit 2, one line naming the server's error), no comparison is cached, and
    once there is room again the answer is the undisturbed one (it used to be "0 changes",
    exit 0, cached)."""
    out = tmp_path / "diff.json"
    with cache_dir() as cache:
        env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
        env.update(XDG_RUNTIME_DIR=str(small_tmpfs), MODELDIFF_CACHE_DIR=str(cache), TMPDIR=str(tmp_path))
        first = cli(repo, env, "--no-cache", "-o", str(out))
        assert first.returncode == 0, first.stderr
        assert [p.name for p in small_tmpfs.iterdir()] == [f"modeldiff-pg-{os.getuid()}-{_digest(cache)}"]  # the tablespace is there
        subprocess.run(["mount", "-o", "remount,size=64k", str(small_tmpfs)], check=True)  # 80 index files of 8 kB: full
        full = cli(repo, env, "-o", str(out))
        assert full.returncode == 2, (full.stdout[:300], full.stderr, sorted(p.name for p in small_tmpfs.rglob("*")))
        [line] = full.stderr.strip().splitlines()
        assert line.startswith("modeldiff: error: ") and "No space left on device" in line, line
        assert sorted(cache.glob("entries/pair/*/*.json")) == []
        subprocess.run(["mount", "-o", "remount,size=1100m", str(small_tmpfs)], check=True)
        again = cli(repo, env, "-o", str(out))
        assert again.returncode == 0, again.stderr
        assert out.read_bytes() == expected
        assert len(list(cache.glob("entries/pair/*/*.json"))) == 1  # a right answer is cached


def _digest(cache: Path) -> str:
    from modeldiff.db.server import _digest

    return _digest(str(cache / "pg18"))


def test_a_full_lock_table_fails_the_ref_in_one_line_and_strands_nothing(monkeypatch):
    """PostgreSQL's lock table made tiny (10 locks per transaction x 12 backends): one
    batch of 110 tables does not fit, "out of shared memory" fails the ref in one line
    (it used to be a warning and a schema with tables missing, 402 changes instead of
    200), the server goes on serving, and the run's scratch objects go with it."""
    from dataclasses import replace

    from modeldiff.compare.schemas import materialize_in_schema
    from modeldiff.db import DatabaseFailure
    from modeldiff.db import server as server_module
    from modeldiff.db.server import EmbeddedPostgres
    from test_database_containment import EMPTY

    tables = {
        f"t{n}": {"name": f"t{n}", "schema": None, "order": n, "create": f"CREATE TABLE t{n} (id SERIAL PRIMARY KEY, v integer)", "statements": [f"CREATE INDEX ix_t{n}_v ON t{n} (v)"]}
        for n in range(110)
    }
    monkeypatch.setattr(server_module, "SERVER_SETTINGS", {"max_locks_per_transaction": "10", "max_connections": "10", "autovacuum_worker_slots": "1", "max_worker_processes": "0", "max_wal_senders": "0"})
    with server_reachable_dir() as data:
        with EmbeddedPostgres(data / "pg18") as server:
            with pytest.raises(DatabaseFailure, match=r"^the embedded PostgreSQL failed: out of shared memory \(SQLSTATE 53200\)$"):
                materialize_in_schema(server, replace(EMPTY, ref="big", tables=tables))
            materialize_in_schema(server, replace(EMPTY, ref="small", tables={"t0": tables["t0"]}))  # still serving
        monkeypatch.undo()
        with EmbeddedPostgres(data / "pg18") as server:
            conn = server.connect(admin=True)
            with conn.cursor() as cur:
                cur.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^md[0-9]+_' UNION ALL SELECT rolname FROM pg_roles WHERE rolname ~ '^md[0-9]+_'")
                assert cur.fetchall() == []
            conn.close()


def test_cache_clear_during_eight_concurrent_runs(repo, expected, tmp_path):
    """Eight runs of the same pair at once, sharing the cache and the server, while
    `cache clear` runs again and again: each run gives the undisturbed answer (or fails
    cleanly: exit 2 and one line), and no temp file is left in the cache."""
    import threading

    env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
    env["TMPDIR"] = str(tmp_path)
    outs = [tmp_path / f"diff{n}.json" for n in range(8)]
    runs = [subprocess.Popen([*command(repo), "-o", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for out in outs]
    stop, clears = threading.Event(), []

    def clearer() -> None:
        while not stop.is_set():
            clears.append(subprocess.run([sys.executable, "-m", "modeldiff.cli", "cache", "clear"], env=env, capture_output=True, text=True, timeout=120))

    sweeper = threading.Thread(target=clearer)
    sweeper.start()
    try:
        results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    finally:
        stop.set()
        sweeper.join()
    assert len(clears) >= 2 and all(c.returncode == 0 for c in clears), clears[-1:]
    for (code, _stdout, stderr), out in zip(results, outs):
        if code == 0:
            assert out.read_bytes() == expected
        else:
            assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert sum(code == 0 for code, *_ in results) >= 1
    cache = Path(os.environ["MODELDIFF_CACHE_DIR"]) / "entries"
    assert [p.name for p in cache.rglob(".*")] == []
