"""Stage 1, source: a git ref (or the work tree) -> a read-only view of its files.

Nothing here writes to the user's repository: refs are resolved with rev-parse, trees are
listed with ls-tree and blobs are read from the object database. Every git command runs
with GIT_OPTIONAL_LOCKS=0 so that not even `git status`-style index refreshes happen.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import git

from .. import settings

WORKTREE = "WORKTREE"
_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)")
os.environ.setdefault("GIT_OPTIONAL_LOCKS", "0")
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


class SourceError(Exception):
    """Bad repository or ref: the message is one line naming what and where."""


@dataclass(frozen=True)
class Snapshot:
    """The files of one ref."""

    repo: "Repository"
    ref: str
    commit: str | None  # None for the work tree

    @property
    def is_worktree(self) -> bool:
        return self.commit is None

    def list_files(self, prefix: str) -> dict[str, str]:
        """Repo-relative paths under `prefix` -> blob id (or absolute path for WORKTREE)."""
        prefix = prefix.strip("/")
        if self.is_worktree:
            return self.repo.worktree_files(prefix)
        out = self.repo.git.ls_tree("-r", "-z", "--full-tree", self.commit, "--", prefix or ".")
        files = {}
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind == "blob" and mode != "120000":  # symlinks are not followed
                files[path] = blob
        return files

    def exists(self, path: str) -> bool:
        return bool(self.list_files(path))

    def read(self, path: str) -> bytes:
        files = self.list_files(path)
        if path.strip("/") not in files:
            raise SourceError(f"{self.ref}: no file {path}")
        entry = files[path.strip("/")]
        if self.is_worktree:
            return Path(entry).read_bytes()
        return self.repo.read_blob(entry)

    def blob_ids(self, manifest: dict[str, str]) -> dict[str, str]:
        """Git blob ids for manifest entries (work tree files are hashed as git would)."""
        if not self.is_worktree:
            return dict(sorted(manifest.items()))
        return {path: git_blob_id(Path(entry).read_bytes()) for path, entry in sorted(manifest.items())}

    def reader_spec(self) -> dict:
        """How the loader child reads the manifest's entries."""
        if self.is_worktree:
            return {"kind": "worktree"}
        return {"kind": "git", "git_dir": self.repo.git_dir}


class Repository:
    """A local repository, or a remote one cloned (blobless) into the cache."""

    def __init__(self, location: str, cache_dir: Path | None = None) -> None:
        self.location = location
        if is_remote(location):
            path = open_remote(location, cache_dir)
        else:
            path = Path(location).expanduser()
            if not path.exists():
                raise SourceError(f"{location}: no such directory")
        try:
            self._repo = git.Repo(path, search_parent_directories=False)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise SourceError(f"{location}: not a git repository") from None
        self.git = self._repo.git
        self.git.update_environment(**safe_git_env())
        self.git_dir = str(Path(self._repo.git_dir).resolve())
        self.work_tree = None if self._repo.bare else str(Path(self._repo.working_tree_dir).resolve())

    def snapshot(self, ref: str) -> Snapshot:
        if ref == WORKTREE:
            if self.work_tree is None:
                raise SourceError(f"{self.location}: {WORKTREE} given, but the repository has no work tree")
            return Snapshot(self, WORKTREE, None)
        try:
            commit = self._repo.rev_parse(f"{ref}^{{commit}}").hexsha
        except (git.BadName, ValueError, git.GitCommandError):
            raise SourceError(f"{self.location}: unknown ref {ref!r}") from None
        self._check_unambiguous(ref)
        return Snapshot(self, ref, commit)

    def _check_unambiguous(self, ref: str) -> None:
        """A short name that is a tag and a branch (or a remote-tracking branch) of
        different commits: git would pick the tag without a word; we ask which."""
        if ref.startswith("refs/") or "^" in ref or "~" in ref or ":" in ref:
            return
        found = {}
        for full in (f"refs/tags/{ref}", f"refs/heads/{ref}", f"refs/remotes/{ref}"):
            try:
                found[full] = self._repo.rev_parse(f"{full}^{{commit}}").hexsha
            except (git.BadName, ValueError, git.GitCommandError, IndexError):
                continue
        if len(set(found.values())) > 1:
            candidates = " and ".join(f"{name} ({commit[:10]})" for name, commit in found.items())
            raise SourceError(f"{self.location}: ref {ref!r} is ambiguous: {candidates}; name one in full")

    def read_blob(self, blob_id: str) -> bytes:
        return self._repo.odb.stream(bytes.fromhex(blob_id)).read()

    def worktree_files(self, prefix: str) -> dict[str, str]:
        out = self.git.ls_files("-z", "-c", "-o", "--exclude-standard", "--", prefix or ".")
        files = {}
        for path in sorted(set(out.split("\0"))):
            full = Path(self.work_tree, path)
            if path and full.is_file() and not full.is_symlink():
                files[path] = str(full)
        return files

    def tags(self) -> list[str]:
        return sorted(t.name for t in self._repo.tags)


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def default_cache_dir() -> Path:
    return settings.cache_dir()


# (what, done, total) of a clone or fetch in progress; total is None while unknown.
CloneProgress = Callable[[str, float, "float | None"], None]
_fetched: dict[tuple[str, str], Path] = {}  # once per process, however often a run opens it


def open_remote(url: str, cache_dir: Path | None = None, progress: CloneProgress | None = None) -> Path:
    """A blobless bare clone of `url` kept in the cache, cloned on first use and fetched
    (new refs only) once per process; `progress` hears how far the transfer is."""
    cache_dir = cache_dir or default_cache_dir()
    key = (url, str(cache_dir))
    if key not in _fetched:
        _fetched[key] = _clone_or_fetch(url, cache_dir, _GitProgress(progress) if progress else None)
    return _fetched[key]


class _GitProgress(git.RemoteProgress):
    _STAGES = {
        git.RemoteProgress.COUNTING: "counting objects",
        git.RemoteProgress.COMPRESSING: "compressing objects",
        git.RemoteProgress.RECEIVING: "receiving objects",
        git.RemoteProgress.RESOLVING: "resolving deltas",
    }

    def __init__(self, report: CloneProgress) -> None:
        super().__init__()
        self.report = report

    def update(self, op_code, cur_count, max_count=None, message=""):
        stage = self._STAGES.get(op_code & self.OP_MASK)
        if stage:
            self.report(stage, float(cur_count or 0), float(max_count) if max_count else None)


def _clone_or_fetch(url: str, cache_dir: Path, progress: git.RemoteProgress | None) -> Path:
    target = cache_dir / "repos" / hashlib.sha256(url.encode()).hexdigest()[:16]
    try:
        if (target / "HEAD").exists():
            remote = git.Repo(target).remote("origin")
            remote.fetch("+refs/heads/*:refs/heads/*", progress=progress, filter="blob:none", tags=True, prune=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            git.Repo.clone_from(url, tmp, progress=progress, bare=True, multi_options=["--filter=blob:none"])
            tmp.rename(target)
    except git.GitCommandError as exc:
        raise SourceError(f"{url}: cannot clone: {exc.stderr.strip().splitlines()[-1] if exc.stderr else exc}") from None
    return target


def is_remote(location: str) -> bool:
    return bool(_URL.match(location))
