"""Signals stop a run the way a shell expects: Ctrl-C exits 130, SIGTERM 143, SIGHUP 129,
with one line on stderr, and nothing of the run is left: no process of its loads, no load
directory. A `stop_loads` that comes while a load is still being started stops that load
too (it used to run on to its time limit: the cause of the Ctrl-C tests' time-outs in
some test orders)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from modeldiff import load as load_module
from modeldiff.load import LoadFailure, LoadOptions, load_schema, stop_generation, stop_loads
from modeldiff.source.repository import Repository
from test_loader_safety import hostile, processes_with

pytestmark = pytest.mark.serial

SLEEPER = "import time\ntime.sleep(600)\n"


@pytest.mark.parametrize("name, code", [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_stops_the_run_with_its_exit_code_and_leaves_nothing(tmp_path, name, code):
    repo = hostile(tmp_path, SLEEPER)
    marker = uuid.uuid4().hex
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "MODELDIFF_CACHE_DIR": str(tmp_path / "cache"), "MODELDIFF_PG_IDLE": "0"}
    env.pop("MODELDIFF_DEBUG", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "modeldiff.cli", "diff", str(repo), "v1", "WORKTREE", "--models", "zzmodels", "--no-cache", "--env", f"MD_TEST_MARKER={marker}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not processes_with(marker) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)  # a load is running (its `git cat-file` carries the marker)
    assert processes_with(marker), "the load never started"
    run.send_signal(getattr(signal, name))
    try:
        _, stderr = run.communicate(timeout=60)  # not the 120 s the load would take
    finally:
        run.kill()
    assert run.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == f"modeldiff: interrupted ({name})"
    assert processes_with(marker) == []
    # No load directory (a copy of the models' sources); runtime-0 is platformdirs' own.
    assert [p.name for p in scratch.iterdir() if p.name.startswith("modeldiff-")] == []


def test_a_stop_during_a_loads_start_stops_that_load(tmp_path, monkeypatch):
    """The load was decided on (its generation taken) before `stop_loads`, and its
    supervisor registers only after: it is killed as it registers, and fails as stopped."""
    monkeypatch.setenv("MODELDIFF_FORK_SERVER", "0")
    repo = hostile(tmp_path, SLEEPER)
    marker = uuid.uuid4().hex
    generation = stop_generation()
    stop_loads()
    started = time.monotonic()
    with pytest.raises(LoadFailure, match="v1: load stopped"):
        load_schema(Repository(str(repo)).snapshot("v1"), LoadOptions("", "zzmodels", timeout=120, env={"MD_TEST_MARKER": marker}), generation)
    assert time.monotonic() - started < 60  # not the 120 s limit
    assert processes_with(marker) == []
    assert load_module._loads == {}


def test_a_supervisor_registering_after_a_stop_is_killed_there():
    """The moment itself: a process group registered with an earlier generation dies on
    registration."""
    generation = stop_generation()
    stop_loads()
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        with pytest.raises(LoadFailure, match="ref: load stopped"):
            with load_module._running("ref", sleeper.pid, generation):
                assert sleeper.wait(timeout=60) == -signal.SIGKILL
    finally:
        sleeper.kill()
        sleeper.wait()
    assert load_module._loads == {}


def test_after_a_sigkill_during_loading_the_next_run_cleans_up_and_answers_the_same(tmp_path):
    """SIGKILL leaves what no exit path can remove: the load directory (a copy of the
    models' sources, on tmpfs). The next run removes it (its name carries the dead run's
    pid), the killed load's processes are gone, and the answer is byte-identical."""
    from conftest import make_repo

    plain = "from sqlalchemy import Column, Integer, MetaData, Table\nmetadata = MetaData()\nTable('things', metadata, Column('id', Integer, primary_key=True){})\n"
    repo = make_repo(
        tmp_path / "repo",
        {"v1": {"models.py": plain.format("")}, "v2": {"models.py": plain.format(", Column('n', Integer)")}, "v3": {"models.py": plain.format("") + SLEEPER}},
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "MODELDIFF_CACHE_DIR": str(tmp_path / "cache"), "MODELDIFF_PG_IDLE": "0"}
    env.pop("MODELDIFF_DEBUG", None)
    command = [sys.executable, "-m", "modeldiff.cli", "diff", str(repo), "--models", "models.py", "--no-cache", "--format", "json"]
    before = subprocess.run([*command[:5], "v1", "v2", *command[5:]], env=env, capture_output=True, text=True, timeout=300)
    assert before.returncode == 0, before.stderr
    marker = uuid.uuid4().hex
    killed = subprocess.Popen([*command[:5], "v1", "v3", *command[5:], "--env", f"MD_TEST_MARKER={marker}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker), "the load never started"
    killed.kill()
    killed.wait()
    left = [p.name for p in scratch.iterdir() if p.name.startswith(f"modeldiff-load-{killed.pid}-")]
    assert left  # what SIGKILL leaves (else this test shows nothing)
    deadline = time.monotonic() + 30
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)  # the supervisor notices its run is gone and ends the load
    assert processes_with(marker) == []
    after = subprocess.run([*command[:5], "v1", "v2", *command[5:]], env=env, capture_output=True, text=True, timeout=300)
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    assert [p.name for p in scratch.iterdir() if p.name.startswith("modeldiff-")] == []


def _processes_naming(text: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    args = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in args:
                found.append(args)
    return found


def test_ctrl_c_during_the_first_use_stops_initdb_and_rebuilds_nothing(tmp_path):
    """Ctrl-C from a terminal reaches the whole process group, initdb included: the server
    start fails because of it, and is not retried with a rebuilt data directory (that
    took a second initdb, several seconds, before the run could stop)."""
    repo = hostile(tmp_path, "")
    cache = tmp_path / "cache"
    env = {**os.environ, "MODELDIFF_CACHE_DIR": str(cache), "MODELDIFF_PG_IDLE": "0"}
    env.pop("MODELDIFF_DEBUG", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "modeldiff.cli", "diff", str(repo), "v1", "WORKTREE", "--models", "zzmodels", "--no-cache"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not [p for p in _processes_naming(str(cache)) if "initdb" in p] and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    assert run.poll() is None, "the run ended before initdb started"
    time.sleep(0.3)  # initdb under way (not only its process started)
    os.killpg(run.pid, signal.SIGINT)
    try:
        _, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["modeldiff: interrupted (SIGINT)"]
    assert _processes_naming(str(cache)) == []  # no initdb, server or watchdog of that cache


def test_the_fork_server_answers_a_supervisor_pid_only_once_it_leads_its_session(tmp_path):
    """The server answered a load with its supervisor's pid before that supervisor had made
    its session (setsid): a client stopping the load at once (Ctrl-C during the start) found
    no process group to kill, and the load ran to its 120 s limit. Now the pid comes back
    only once it is a session's leader (here a supervisor that fails at once: no request)."""
    from modeldiff.load.supervise import _fork_supervisor

    for _ in range(20):
        pid = _fork_supervisor(str(tmp_path / "missing.json"), [], [])
        try:
            assert os.getsid(pid) == pid  # (a zombie keeps its session until reaped)
        finally:
            os.waitpid(pid, 0)


def test_ctrl_c_while_a_kept_fork_server_starts_ends_the_run_at_once(tmp_path):
    """Ctrl-C between the start of the kept fork server (its `lock`) and its socket: the
    loads stop waiting for it, and the run exits 130 (took 120-157 s in 3 of 5 tries)."""
    repo = hostile(tmp_path, SLEEPER)
    marker = uuid.uuid4().hex
    cache = tmp_path / "cache"
    env = {**os.environ, "MODELDIFF_CACHE_DIR": str(cache), "MODELDIFF_PG_IDLE": "30"}
    env.pop("MODELDIFF_DEBUG", None)
    env.pop("MODELDIFF_FORK_SERVER", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "modeldiff.cli", "diff", str(repo), "v1", "WORKTREE", "--models", "zzmodels", "--no-cache", "--env", f"MD_TEST_MARKER={marker}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(cache.glob("forkservers/*/lock")) and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.005)
        assert list(cache.glob("forkservers/*/lock")), "the fork server never started"
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=30)
    finally:
        run.kill()
        run.wait()
        subprocess.run([sys.executable, "-m", "modeldiff.cli", "stop"], env=env, capture_output=True, timeout=60)
    assert run.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "modeldiff: interrupted (SIGINT)"
    assert processes_with(marker) == []
