"""Cache correctness, history, and remote repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cache_dir, git, run_cli
from modeldiff.cache import Cache
from modeldiff.pipeline import DiffRequest, load_refs, open_session


@pytest.fixture
def own_cache():
    """A cache (and shared PostgreSQL) of this test's own."""
    with cache_dir() as cache:
        yield cache


def _loads(repo, *refs):
    session, snapshots = open_session(DiffRequest(str(repo), refs[0], refs[-1]), list(refs))
    return load_refs(session, snapshots)


@pytest.mark.slow
def test_cached_and_uncached_results_are_byte_identical(difylike, own_cache):
    args = ("diff", str(difylike), "v0.14.2", "v1.0.0", "--format", "json")
    uncached = run_cli(*args, "--no-cache").stdout
    assert not own_cache.joinpath("entries").exists()  # --no-cache writes nothing
    cold = run_cli(*args).stdout
    warm = run_cli(*args).stdout
    assert uncached == cold == warm and json.loads(warm)["changes"]
    text = [run_cli("diff", str(difylike), "v0.14.2", "v1.0.0", *flag).stdout for flag in ((), ("--no-cache",))]
    assert text[0] == text[1]


def _commit(clone: Path, path: str, content: str, tag: str) -> None:
    target = clone / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    git(clone, "add", path)
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"edit {path}")
    git(clone, "tag", tag)


def test_a_change_to_any_file_the_import_read_invalidates(difylike, own_cache, tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(difylike), str(clone)], check=True)
    first = _loads(clone, "v1.0.0")[0]
    assert not first.from_cache and "api/core/workflow/entities/node_entities.py" in first.schema.files_read

    # A file the import never read: the entry is reused for the new commit.
    _commit(clone, "api/controllers/console/app.py", "# changed\n", "unread")
    assert _loads(clone, "unread")[0].from_cache

    # An app module outside the models package that the import read: a miss.
    node = (clone / "api/core/workflow/entities/node_entities.py").read_text()
    _commit(clone, "api/core/workflow/entities/node_entities.py", node + "\n# changed\n", "read")
    assert not _loads(clone, "read")[0].from_cache

    # A module that the import looked for and did not find, now present: a miss too.
    assert "api/flask_login" in first.schema.absent
    _commit(clone, "api/flask_login.py", "class UserMixin:\n    pass\n", "shadow")
    reloaded = _loads(clone, "shadow")[0]
    assert not reloaded.from_cache and "flask_login" not in reloaded.schema.stubbed_modules

    # The work tree is hashed, not trusted: an uncommitted edit of a read file misses.
    assert _loads(clone, "WORKTREE")[0].from_cache
    (clone / "api/models/engine.py").write_text((clone / "api/models/engine.py").read_text() + "\n# edit\n")
    assert not _loads(clone, "WORKTREE")[0].from_cache


def test_a_corrupt_entry_is_detected_and_rebuilt(difylike, own_cache):
    first = _loads(difylike, "v0.14.2")[0]
    entries = list((own_cache / "entries" / "schema").rglob("*.json"))
    assert len(entries) == 1
    entries[0].write_text(entries[0].read_text().replace('"accounts"', '"accountz"', 1))
    again = _loads(difylike, "v0.14.2")[0]
    assert not again.from_cache and again.schema.tables.keys() == first.schema.tables.keys()
    assert _loads(difylike, "v0.14.2")[0].from_cache
    entries[0].write_text("{not json")
    assert not _loads(difylike, "v0.14.2")[0].from_cache


@pytest.mark.slow
def test_concurrent_runs_agree(difylike, own_cache):
    args = [sys.executable, "-m", "modeldiff.cli", "diff", str(difylike), "v0.14.2", "v1.0.0", "--format", "json"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1] == outputs[2] == run_cli(*args[3:]).stdout


def test_cache_clear(difylike, own_cache):
    _loads(difylike, "v0.14.2")
    out = run_cli("cache", "clear")
    assert out.returncode == 0 and out.stdout.startswith("removed ") and out.stdout.split()[1] != "0"
    assert not _loads(difylike, "v0.14.2")[0].from_cache


@pytest.mark.slow
def test_history_over_tag_patterns(difylike):
    proc = run_cli("history", str(difylike), "--tags", "v0.*", "v1.*", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [r["ref"] for r in data["refs"]] == ["v0.14.2", "v0.15.3", "v1.0.0"]
    assert [(p["from"]["ref"], p["to"]["ref"], len(p["changes"])) for p in data["pairs"]][0] == ("v0.14.2", "v0.15.3", 8)
    assert [e["ref"] for e in data["timeline"]["workflow_runs"]] == ["v0.15.3", "v1.0.0"]
    assert data["timeline"]["workflow_runs"][0]["change"] == "~ column total_tokens: type INTEGER → BIGINT"
    markdown = run_cli("history", str(difylike), "v0.14.2", "v0.15.3", "v1.0.0", "--format", "markdown").stdout
    assert markdown.startswith("# Schema history") and "| v0.14.2 | v0.15.3 | 8 | 14 → 16 |" in markdown
    text = run_cli("history", str(difylike), "--tags", "v*").stdout
    assert "3 refs, 2 upgrades" in text.splitlines()[0]


def test_history_needs_two_refs(difylike):
    proc = run_cli("history", str(difylike), "--tags", "nomatch*")
    assert proc.returncode == 2 and "no tags match nomatch*" in proc.stderr


@pytest.mark.slow
def test_remote_url_is_cloned_blobless_once(difylike, own_cache, tmp_path):
    bare = tmp_path / "served.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(difylike), str(bare)], check=True)
    git(bare, "config", "uploadpack.allowFilter", "true")
    url = f"file://{bare}"
    proc = run_cli("diff", url, "v0.14.2", "v0.15.3", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["changes"]) == 8
    clones = list((own_cache / "repos").iterdir())
    assert len(clones) == 1
    assert git(clones[0], "config", "remote.origin.partialclonefilter").strip() == "blob:none"
    # Blobless: far fewer blobs than the repository has, only what was read.
    def objects(repo):
        counts = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
        return int(counts["count"]) + int(counts["in-pack"])

    assert objects(clones[0]) < objects(bare)
    # A new tag upstream is fetched on the next run; the clone is reused.
    git(bare, "tag", "later", "v1.0.0")
    proc = run_cli("diff", url, "v0.15.3", "later", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert list((own_cache / "repos").iterdir()) == clones
    assert "nope: cannot clone" in run_cli("diff", "file:///nonexistent/nope", "a", "b").stderr.replace("file:///nonexistent/", "")


def _postmaster_alive(pgdata: Path) -> bool:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


@pytest.mark.slow
def test_server_keep_alive_and_idle_stop(difylike, own_cache, monkeypatch):
    """The shared server outlives a run (the next one attaches), and a watchdog stops it
    once nothing has used it for MODELDIFF_PG_IDLE seconds."""
    import time

    from modeldiff.db.server import shared_server

    # 20 s: more than a loaded machine needs between the first run's end and the handle below.
    monkeypatch.setenv("MODELDIFF_PG_IDLE", "20")
    pgdata = own_cache / "pg18"
    assert run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--no-cache").returncode == 0
    assert _postmaster_alive(pgdata)
    watchdog = int(Path(f"{pgdata}.watchdog").read_text())
    # A handle held here counts as a run using the server: however long the next run takes
    # to start on a busy machine, the idle time cannot run out in between.
    with shared_server():
        assert run_cli("diff", str(difylike), "v0.15.3", "v1.0.0", "--no-cache").returncode == 0
    assert int(Path(f"{pgdata}.watchdog").read_text()) == watchdog  # one watchdog, reused
    deadline = time.monotonic() + 120
    while _postmaster_alive(pgdata) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _postmaster_alive(pgdata)
    while Path(f"{pgdata}.watchdog").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the watchdog notices within one of its sleeps, then leaves
    assert not Path(f"{pgdata}.watchdog").exists()
    # Stopped is not broken: the next run starts it again.
    assert run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--no-cache").returncode == 0


def _relation_dir(server, database: str, schema: str) -> str | None:
    """The tablespace location of the first table of `schema` (None: the default one)."""
    conn = server.connect(database)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_tablespace_location(t.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE n.nspname = %s AND c.relkind = 'r' LIMIT 1",
            (schema,),
        )
        row = cur.fetchone()
    conn.close()
    return row[0] if row else None


@pytest.mark.slow
def test_scratch_tables_live_in_memory_and_survive_a_reboot(difylike, own_cache):
    """Scratch schemas are created in a tablespace on tmpfs; when a reboot empties the tmpfs
    (simulated: its directory removed while the server is down) the next run repairs it."""
    import shutil

    from modeldiff.compare.schemas import materialize_in_schema
    from modeldiff.db.server import shared_server

    schema = _loads(difylike, "v0.14.2")[0].schema

    def create_one() -> str:
        with shared_server() as server:
            assert server.tablespace == "modeldiff_scratch"
            place, _ = materialize_in_schema(server, schema)
            location = _relation_dir(server, "modeldiff", place.search_path)
            conn = server.connect()
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (place.search_path,))
                assert cur.fetchone()[0] == len(schema.tables)
            conn.close()
        return location

    location = create_one()
    assert location and location.startswith(("/dev/shm/", os.environ.get("XDG_RUNTIME_DIR") or "/dev/shm/"))
    assert not (own_cache / "pg18").joinpath("base").is_symlink()
    shutil.rmtree(location)  # the server stopped with the run (MODELDIFF_PG_IDLE=0): a "reboot"
    assert create_one() == location
    # A private server's tablespace goes with it.
    from modeldiff.db.server import EmbeddedPostgres

    with EmbeddedPostgres() as private:
        database = private.create_database("t")
        conn = private.connect("postgres")
        with conn.cursor() as cur:
            cur.execute("SELECT pg_tablespace_location(dattablespace) FROM pg_database WHERE datname = %s", (database,))
            assert cur.fetchone()[0] == str(private._tablespace_dir)
        conn.close()
        assert private._tablespace_dir.is_dir()
    assert not private._tablespace_dir.exists()


def test_history_reflects_each_ref_once_per_role(difylike, monkeypatch):
    """In history every ref between the first and the last is compared twice (as TO, then as
    FROM): it is created and reflected once for each role, not once per pair."""
    from modeldiff.compare import schemas as compare
    from modeldiff import pipeline

    counts = {"sides": 0, "target": 0, "source": 0}
    real_init, real_fill = compare.Side.__init__, compare._fill_alembic_caches
    real_reflect = compare.MetaData.reflect

    def counting_init(self, place):
        counts["sides"] += 1
        real_init(self, place)

    def counting_fill(inspector, schemas, *skip):
        counts["source"] += 1
        real_fill(inspector, schemas, *skip)

    def counting_reflect(self, *args, **kwargs):
        counts["target"] += 1
        return real_reflect(self, *args, **kwargs)

    monkeypatch.setattr(compare.Side, "__init__", counting_init)
    monkeypatch.setattr(compare, "_fill_alembic_caches", counting_fill)
    monkeypatch.setattr(compare.MetaData, "reflect", counting_reflect)
    refs = ["v0.14.2", "v0.15.3", "v1.0.0"]
    _, loaded, pairs = pipeline.history(DiffRequest(str(difylike), refs[0], refs[-1], use_cache=False), refs)
    assert [len(result.changes) for *_, result in pairs][0] == 8 and all(result.changes for *_, result in pairs)
    assert counts == {"sides": 3, "target": 2, "source": 2}


def _served(difylike, tmp_path) -> str:
    bare = tmp_path / "served.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(difylike), str(bare)], check=True)
    git(bare, "config", "uploadpack.allowFilter", "true")
    return f"file://{bare}"


def test_remote_clone_reports_progress_and_is_fetched_once_per_process(difylike, own_cache, tmp_path, monkeypatch):
    from modeldiff.source import repository as source

    url = _served(difylike, tmp_path)
    heard = []
    calls = []
    real = source._clone_or_fetch
    monkeypatch.setattr(source, "_clone_or_fetch", lambda *a: calls.append(a[0]) or real(*a))
    path = source.open_remote(url, progress=lambda stage, done, total: heard.append((stage, done, total)))
    assert (path / "HEAD").exists()
    stages = {stage for stage, _, _ in heard}
    assert "receiving objects" in stages
    done, total = max((d, t) for s, d, t in heard if s == "receiving objects")
    assert total and done == total  # it got to the end
    # The pipeline opens the repository again (session, history, plan): no second fetch.
    assert source.Repository(url).tags() and source.Repository(url).tags()
    assert calls == [url]


@pytest.mark.slow
def test_cloning_shows_a_progress_bar_on_a_terminal(difylike, own_cache, tmp_path):
    import pty

    url = _served(difylike, tmp_path)
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(
        [sys.executable, "-m", "modeldiff.cli", "diff", url, "v0.14.2", "v0.15.3", "--format", "json"],
        stdout=subprocess.PIPE, stderr=follower, env=env,
    )
    os.close(follower)
    out, _ = proc.communicate(timeout=300)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert proc.returncode == 0 and len(json.loads(out)["changes"]) == 8
    assert b"receiving objects" in screen


@pytest.mark.slow
def test_what_killed_runs_left_in_the_shared_server_is_dropped(difylike, own_cache):
    """A run killed before its end leaves its scratch schema (and database) behind; the next
    run that uses the server drops them, and never another live run's."""
    from modeldiff.db.server import shared_server

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    dead_schema, dead_db, live_schema = f"md{gone.pid}_0_killed", f"md{gone.pid}_1_killed", f"md{os.getppid()}_0_live"
    with shared_server() as server:
        conn = server.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            for schema in (dead_schema, live_schema):
                cur.execute(f'CREATE SCHEMA "{schema}"; CREATE TABLE "{schema}".t (id int)')
        conn.close()
        conn = server.connect("postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{dead_db}"')
        conn.close()
    assert run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--no-cache").returncode == 0
    with shared_server() as server:
        conn = server.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^md[0-9]+_'")
            left = {row[0] for row in cur.fetchall()}
            cur.execute("SELECT datname FROM pg_database WHERE datname ~ '^md[0-9]+_'")
            left |= {row[0] for row in cur.fetchall()}
        conn.close()
    assert left == {live_schema}


def test_cached_pair_results_follow_the_compare_code(monkeypatch):
    """A pair result records what compare.py made of two schemas: new compare code, new key."""
    from modeldiff import cache

    before = Cache().pair_key("a", "b")
    monkeypatch.setattr(cache, "compare_digest", lambda: "other-code")
    assert Cache().pair_key("a", "b") != before
    monkeypatch.undo()
    assert Cache().pair_key("a", "b") == before
