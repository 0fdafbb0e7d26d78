"""Input that used to be accepted or misread: an ambiguous ref, impossible time limits, and
a repository whose own git configuration runs programs (core.fsmonitor) on our reads."""

from __future__ import annotations

import subprocess

import pytest

from conftest import make_repo, run_cli
from modeldiff.source.repository import Repository, SourceError

MODELS = "from sqlalchemy import Column, Integer, MetaData, Table\nmetadata = MetaData()\nTable('things', metadata, Column('id', Integer, primary_key=True){extra})\n"


@pytest.fixture
def repo(tmp_path):
    path = make_repo(tmp_path / "repo", {"v1": {"models.py": MODELS.format(extra="")}, "v2": {"models.py": MODELS.format(extra=", Column('n', Integer)")}})
    subprocess.run(["git", "-C", str(path), "branch", "v1", "v2"], check=True)  # a branch named like the tag v1, elsewhere
    return path


def test_an_ambiguous_ref_names_both_candidates(repo):
    with pytest.raises(SourceError, match=r"ref 'v1' is ambiguous: refs/tags/v1 \(\w{10}\) and refs/heads/v1 \(\w{10}\); name one in full"):
        Repository(str(repo)).snapshot("v1")
    # Named in full, each is what it says.
    repository = Repository(str(repo))
    assert repository.snapshot("refs/tags/v1").commit != repository.snapshot("refs/heads/v1").commit
    assert repository.snapshot("refs/heads/v1").commit == repository.snapshot("v2").commit


def test_the_ambiguous_ref_error_is_one_line_exit_2(repo):
    proc = run_cli("diff", str(repo), "v1", "v2", "--models", "models.py")
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith("modeldiff: error: ") and "ref 'v1' is ambiguous" in line


def test_a_tag_and_branch_of_the_same_commit_are_not_ambiguous(tmp_path):
    path = make_repo(tmp_path / "same", {"v1": {"models.py": MODELS.format(extra="")}})
    subprocess.run(["git", "-C", str(path), "branch", "v1"], check=True)
    assert Repository(str(path)).snapshot("v1").commit


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf"])
def test_a_time_limit_must_be_a_positive_finite_number(tmp_path, value):
    proc = run_cli("diff", str(tmp_path), "a", "b", f"--timeout={value}")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"modeldiff: error: --timeout {float(value):g}: seconds must be a positive finite number"]


def test_the_repositorys_fsmonitor_and_hooks_never_run(tmp_path):
    """core.fsmonitor (run on index reads of a WORKTREE run) and core.hooksPath point to a
    program that leaves a mark: a whole diff against the work tree never starts it."""
    path = make_repo(tmp_path / "repo", {"v1": {"models.py": MODELS.format(extra="")}})
    (path / "models.py").write_text(MODELS.format(extra=", Column('n', Integer)"))
    mark = tmp_path / "ran"
    program = tmp_path / "program"
    program.write_text(f"#!/bin/sh\necho \"$0 $*\" >> {mark}\n")
    program.chmod(0o755)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-index-change", "reference-transaction", "fsmonitor-watchman"):
        (hooks / hook).symlink_to(program)
    subprocess.run(["git", "-C", str(path), "config", "core.fsmonitor", str(program)], check=True)
    subprocess.run(["git", "-C", str(path), "config", "core.hooksPath", str(hooks)], check=True)
    subprocess.run(["git", "-C", str(path), "ls-files"], check=True, capture_output=True)
    assert mark.exists()  # git itself runs it: the test can see it
    mark.unlink()
    proc = run_cli("diff", str(path), "v1", "WORKTREE", "--models", "models.py", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert '"add_column"' in proc.stdout
    assert not mark.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["diff", "--bogus"], "No such option '--bogus'. (see modeldiff diff --help)"),
        (["bogus"], "No such command 'bogus'. (see modeldiff --help)"),
        (["diff", "--format", "nope"], "Invalid value for '--format': 'nope' is not one of 'text', 'json', 'sql', 'github', 'sarif', 'summary'. (see modeldiff diff --help)"),
    ],
)
def test_a_usage_error_is_one_line_exit_2(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"modeldiff: error: {message}"]
