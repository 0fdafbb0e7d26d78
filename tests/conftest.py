"""Fixtures: the sample repositories built from sample_repos/, a private embedded
PostgreSQL and a cache directory per test module, and a helper that runs the real CLI."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _builder():
    spec = importlib.util.spec_from_file_location("sample_repos_build", ROOT / "sample_repos" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def server_reachable_dir():
    """A temporary directory for an embedded PostgreSQL's data directory. Not under pytest's
    tmp_path: as root the server runs as a user of its own, and every pytest session that
    starts (other checkouts' too) makes /tmp/pytest-of-root private again, so a server
    starting under it at that moment cannot reach its data directory."""
    path = Path(tempfile.mkdtemp(prefix="mdtest-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption(
        "--phase", choices=("all", "parallel", "serial"), default="all",
        help="scripts/test's two runs: 'parallel' leaves out the tests marked serial, 'serial' runs only them",
    )


def pytest_collection_modifyitems(config, items):
    phase = config.getoption("phase")
    if phase == "all":
        return
    keep = [item for item in items if (item.get_closest_marker("serial") is not None) == (phase == "serial")]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


def pytest_terminal_summary(terminalreporter, config):
    """The random order's seed, also under -q and xdist, so a failing order can be repeated."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int) and not hasattr(config, "workerinput"):
        terminalreporter.write_line(f"random order: repeat it with -p randomly --randomly-seed={seed}")


def build_samples(dest: Path, names: list[str]) -> dict[str, Path]:
    """Fresh git repositories of the named sample_repos/ samples under `dest`."""
    builder = _builder()
    return {name: builder.build(dest, name) for name in names}


# Nothing below is shared between test modules: each module gets its own cache directory
# (loaded schemas, pair results, the shared embedded PostgreSQL's data directory, plan
# calibrations, kept fork servers), its own sample repositories and its own private
# PostgreSQL, so a module's result does not depend on which modules ran before it, in
# which order, or on which xdist worker.


@contextmanager
def cache_dir():
    """A fresh MODELDIFF_CACHE_DIR, outside pytest's temp tree, removed afterwards.

    The cache holds the shared embedded PostgreSQL's data directory. Running as root, pgserver
    runs PostgreSQL as its own OS user and opens the way to the data directory for it (chmod
    o+rx on every parent); each new pytest session on the machine sets /tmp/pytest-of-<user>
    back to 0700, which locked a running suite's servers out (initdb and pg_ctl start failed:
    "Permission denied") whenever another suite started. /tmp/modeldiff-test-cache-* is
    nobody else's to reset."""
    path = Path(tempfile.mkdtemp(prefix="modeldiff-test-cache-"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELDIFF_CACHE_DIR", str(path))
        mp.setenv("MODELDIFF_PG_IDLE", "0")  # no server outlives a test's run (see test_server_keep_alive)
        try:
            yield path
        finally:
            # The shared server's scratch tablespace lives on tmpfs (pg_tblspc/* link there).
            for link in path.glob("pg*/pg_tblspc/*"):
                shutil.rmtree(os.path.realpath(link), ignore_errors=True)
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def module_cache() -> Path:
    """This module's MODELDIFF_CACHE_DIR: tests never read or write the user's cache (nor
    share its PostgreSQL), nor another module's."""
    from modeldiff.load import close_fork_servers

    with cache_dir() as cache:
        yield cache
        close_fork_servers()  # the loader's fork server (one per process) starts afresh per module


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("samples")


@pytest.fixture(scope="module")
def difylike(sample_root) -> Path:
    """The difylike sample: tags v0.14.2, v0.15.3, v1.0.0 (a fresh git repository)."""
    return _builder().build(sample_root, "difylike")


@pytest.fixture(scope="module")
def build_sample(sample_root):
    builder = _builder()
    return lambda name: builder.build(sample_root, name)


@pytest.fixture(scope="module")
def pg():
    from modeldiff.db.server import EmbeddedPostgres

    with EmbeddedPostgres() as server:
        yield server


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed command, as a user runs it (a separate process, no terminal)."""
    env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "modeldiff.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def diff_json(*args: str) -> dict:
    proc = run_cli("diff", *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def git(repo: Path, *args: str) -> str:
    # GIT_OPTIONAL_LOCKS=0: `git status` in a test must not refresh the index it checks.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env).stdout


def make_repo(path: Path, versions: dict[str, dict[str, str]]) -> Path:
    """A git repository with one tagged commit per version: {tag: {file: content}}; each
    version's files are written over the previous ones."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for tag, files in versions.items():
        for name, content in files.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        git(path, "add", "-A")
        git(path, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "commit", "-qm", tag)
        git(path, "tag", tag)
    return path
