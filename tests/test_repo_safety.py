"""The user's repository is sacred, and bad input gets a one-line error with exit 2."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import git, run_cli

MODEL = "api/models/account.py"


def fingerprint(repo: Path) -> dict:
    """Everything a run could disturb: files and bytes, index, HEAD, refs, stash, status."""
    files = {}
    for path in sorted(repo.rglob("*")):
        if path.is_file() and ".git/objects" not in str(path) and ".git/logs" not in str(path):
            files[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    index = repo / ".git" / "index"
    return {
        "files": files,
        "index_mtime": index.stat().st_mtime_ns,
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": (repo / ".git" / "HEAD").read_text(),
        "refs": git(repo, "for-each-ref"),
        "stash": git(repo, "stash", "list"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
    }


@pytest.fixture
def dirty_clone(difylike, tmp_path) -> Path:
    """A clone with an uncommitted model edit, a staged file and an untracked file."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(difylike), str(clone)], check=True)
    model = clone / MODEL
    model.write_text(model.read_text().replace(
        "class Account(",
        "import sqlalchemy as _sa\n\nclass Account(",
    ).replace(
        '    __tablename__ = "accounts"\n',
        '    __tablename__ = "accounts"\n    nickname = _sa.Column(_sa.String(64), nullable=True)\n',
    ))
    (clone / "api" / "staged.txt").write_text("staged\n")
    git(clone, "add", "api/staged.txt")
    (clone / "api" / "scratch_notes.txt").write_text("untracked\n")
    return clone


def test_worktree_diff_sees_uncommitted_edits_and_touches_nothing(dirty_clone):
    before = fingerprint(dirty_clone)
    proc = run_cli("diff", str(dirty_clone), "HEAD", "WORKTREE", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(c["kind"], c["table"], c.get("column"), c.get("new")) for c in result["changes"]] == [
        ("add_column", "accounts", "nickname", "VARCHAR(64)")
    ]
    assert result["to"] == {"ref": "WORKTREE", "commit": None}
    assert fingerprint(dirty_clone) == before


def test_failed_run_touches_nothing_either(dirty_clone):
    model = dirty_clone / MODEL
    model.write_text(model.read_text() + "\ndef broken(:\n")
    before = fingerprint(dirty_clone)
    proc = run_cli("diff", str(dirty_clone), "HEAD", "WORKTREE")
    assert proc.returncode == 2
    assert fingerprint(dirty_clone) == before


def _one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modeldiff: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_not_a_repository(tmp_path):
    line = _one_line_error(run_cli("diff", str(tmp_path), "v1", "v2"))
    assert f"{tmp_path}: not a git repository" in line
    line = _one_line_error(run_cli("diff", str(tmp_path / "missing"), "v1", "v2"))
    assert "no such directory" in line


def test_unknown_ref(difylike):
    line = _one_line_error(run_cli("diff", str(difylike), "v0.14.2", "v9.9.9"))
    assert "unknown ref 'v9.9.9'" in line and str(difylike) in line


@pytest.mark.slow
def test_models_path_missing_at_a_ref(difylike):
    line = _one_line_error(run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--models", "api/nomodels"))
    assert "v0.14.2" in line and "api/nomodels" in line


@pytest.mark.slow
def test_syntax_error_in_a_model_file_at_one_ref(difylike, tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(difylike), str(clone)], check=True)
    workflow = clone / "api" / "models" / "workflow.py"
    lines = workflow.read_text().splitlines()
    lines.insert(9, "def oops(:")
    workflow.write_text("\n".join(lines) + "\n")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "broken model")
    git(clone, "tag", "broken")
    line = _one_line_error(run_cli("diff", str(clone), "v1.0.0", "broken"))
    assert "broken: api/models/workflow.py:10:" in line and "SyntaxError" in line
    # The other direction names the same ref: errors are about the ref at fault.
    assert "broken:" in _one_line_error(run_cli("diff", str(clone), "broken", "v1.0.0"))


@pytest.mark.slow
def test_import_time_exception_names_file_line_and_module(difylike, tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(difylike), str(clone)], check=True)
    dataset = clone / "api" / "models" / "dataset.py"
    dataset.write_text(dataset.read_text() + "\nraise RuntimeError('boom at import')\n")
    line = _one_line_error(run_cli("diff", str(clone), "HEAD", "WORKTREE"))
    n = len(dataset.read_text().splitlines())
    assert f"WORKTREE: api/models/dataset.py:{n}: RuntimeError: boom at import (module models.dataset)" in line


def test_bare_repository_and_worktree(difylike, tmp_path):
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(difylike), str(bare)], check=True)
    assert run_cli("diff", str(bare), "v0.14.2", "v0.15.3").returncode == 0
    assert "has no work tree" in _one_line_error(run_cli("diff", str(bare), "HEAD", "WORKTREE"))
    shutil.rmtree(bare)
