"""git plumbing, run directly: the few pieces a run needs before (or without) the rest of
source/ - the warm entry path (ci/warm.py) resolves refs with these and nothing more.

Every git command runs with GIT_OPTIONAL_LOCKS=0 and the repository's own hooks, fsmonitor
and external diff turned off; a failing one is reported with git's own message."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)")
# What a repository's own configuration could make our read-only git commands run: its
# fsmonitor hook (run on every index read of a WORKTREE run), hooks, an external diff.
# Command-line settings (GIT_CONFIG_COUNT) outrank the repository's config.
_SAFE_CONFIG = {"core.fsmonitor": "false", "core.hooksPath": os.devnull, "diff.external": "", "core.untrackedCache": "false"}


def safe_git_env(environ: dict | None = None) -> dict[str, str]:
    """Environment entries that turn those off, after any GIT_CONFIG_COUNT the user set."""
    environ = os.environ if environ is None else environ
    try:
        start = int(environ.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        start = 0
    env = {"GIT_CONFIG_COUNT": str(start + len(_SAFE_CONFIG)), "GIT_OPTIONAL_LOCKS": "0"}
    for i, (key, value) in enumerate(_SAFE_CONFIG.items(), start):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


_GIT_ENV = {**os.environ, **safe_git_env()}


class SourceError(Exception):
    """Bad repository or ref: the message is one line naming what and where."""


class GitError(SourceError):
    """A git command failed; the message is git's own (its last line of stderr)."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


def run_git(cwd: str | Path, *args: str, check: bool = True) -> str:
    """`git ARGS` in `cwd`: its stdout, or GitError with git's message."""
    proc = subprocess.run(["git", *args], cwd=cwd, env=_GIT_ENV, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise GitError(git_message(proc.stderr) or f"git {args[0]} exited {proc.returncode}", proc.returncode)
    return proc.stdout


def git_message(stderr: str | None) -> str:
    """The line of git's stderr that says what went wrong (`fatal: ...` if there is one)."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines[-1:] or [""])[0]


def is_remote(location: str) -> bool:
    return bool(_URL.match(location))
