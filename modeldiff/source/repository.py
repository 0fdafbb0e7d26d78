"""Stage 1, source: a git ref (or the work tree) -> a read-only view of its files.

Nothing here writes to the user's repository: refs are resolved with rev-parse, trees are
listed with ls-tree and blobs are read from the object database (source.blobs). These are
git plumbing commands run directly: a run served from the cache needs nothing more, and
GitPython (its import alone costs more than a warm run) is imported only to clone or fetch
a remote. Every git command runs with GIT_OPTIONAL_LOCKS=0 so that not even `git
status`-style index refreshes happen; a failing one is reported with git's own message.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import settings
from .blobs import BlobReader
from .plumbing import GitError, SourceError, git_message, is_remote, run_git  # noqa: F401 (imported from here)

WORKTREE = "WORKTREE"


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
        return dict(self.repo.tree_files(self.commit, prefix))

    def exists(self, path: str) -> bool:
        return bool(self.list_files(path))

    def prefetch(self, prefixes: list[str]) -> None:
        """List several prefixes with one git command (a preset's markers)."""
        if not self.is_worktree:
            self.repo.prefetch(self.commit, [p.strip("/") for p in prefixes])

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
            found = run_git(path, "rev-parse", "--absolute-git-dir", "--show-toplevel", check=False).splitlines()
            if len(found) == 2:
                git_dir, top = found
            else:  # bare (no work tree to show the top of), or no repository at all
                git_dir, top = run_git(path, "rev-parse", "--absolute-git-dir").strip(), None
        except (GitError, NotADirectoryError):
            raise SourceError(f"{location}: not a git repository") from None
        # The repository's own directory, not one inside another repository's work tree.
        if Path(top or git_dir).resolve() != path.resolve() and Path(git_dir).resolve() != path.resolve():
            raise SourceError(f"{location}: not a git repository")
        self.git_dir = str(Path(git_dir).resolve())
        self.work_tree = str(Path(top).resolve()) if top else None
        self._trees: dict[tuple[str, str], tuple] = {}  # (commit, prefix) -> files: commits do not change
        self._reader: BlobReader | None = None
        self._lock = threading.Lock()

    def git(self, *args: str, check: bool = True) -> str:
        return run_git(self.git_dir, *args, check=check)

    def snapshot(self, ref: str) -> Snapshot:
        if ref == WORKTREE:
            if self.work_tree is None:
                raise SourceError(f"{self.location}: {WORKTREE} given, but the repository has no work tree")
            return Snapshot(self, WORKTREE, None)
        try:
            commit = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").strip()
        except GitError:
            raise SourceError(f"{self.location}: unknown ref {ref!r}") from None
        self._check_unambiguous(ref)
        return Snapshot(self, ref, commit)

    def _check_unambiguous(self, ref: str) -> None:
        """A short name that is a tag and a branch (or a remote-tracking branch) of
        different commits: git would pick the tag without a word; we ask which."""
        if ref.startswith("refs/") or "^" in ref or "~" in ref or ":" in ref:
            return
        fulls = (f"refs/tags/{ref}", f"refs/heads/{ref}", f"refs/remotes/{ref}")
        listed = self.git("for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", *fulls)
        found = {}
        for line in listed.splitlines():
            name, commit, *peeled = line.split()
            if name in fulls:  # for-each-ref matches prefixes too (refs/tags/v1/...)
                found[name] = peeled[0] if peeled else commit
        found = {name: found[name] for name in fulls if name in found}  # git's own order: tag first
        if len(set(found.values())) > 1:
            candidates = " and ".join(f"{name} ({commit[:10]})" for name, commit in found.items())
            raise SourceError(f"{self.location}: ref {ref!r} is ambiguous: {candidates}; name one in full")

    def snapshots(self, refs: list[str]) -> list[Snapshot]:
        """Snapshots of several refs, resolved by one `git rev-parse` when all are known."""
        commits = [r for r in refs if r != WORKTREE]
        if len(commits) > 1 and not any(r.startswith("-") for r in commits):  # never an option
            out = self.git("rev-parse", *(f"{r}^{{commit}}" for r in commits), check=False).split()
            if len(out) == len(commits) and all(len(c) >= 40 for c in out):
                resolved = dict(zip(commits, out))
                for ref in commits:
                    self._check_unambiguous(ref)
                return [self.snapshot(r) if r == WORKTREE else Snapshot(self, r, resolved[r]) for r in refs]
        return [self.snapshot(r) for r in refs]

    def prefetch(self, commit: str, prefixes: list[str]) -> None:
        wanted = [p for p in dict.fromkeys(prefixes) if p and (commit, p) not in self._trees]
        if len(wanted) < 2:
            return
        files = self._ls_tree(commit, wanted)
        for prefix in wanted:
            inside = [(path, blob) for path, blob in files if path == prefix or path.startswith(prefix + "/")]
            self._trees[(commit, prefix)] = ([path for path, _ in inside], inside)

    def _ls_tree(self, commit: str, prefixes: list[str]) -> list[tuple[str, str]]:
        out = self.git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *prefixes)
        files = []
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind == "blob" and mode != "120000":  # symlinks are not followed
                files.append((path, blob))
        files.sort()
        return files

    def tree_files(self, commit: str, prefix: str) -> list[tuple[str, str]]:
        """(path, blob id) under `prefix` at `commit`. A commit never changes: a listing is
        made once, and a prefix inside one already made (the models path inside the import
        root) is served from it."""
        covering = [p for c, p in self._trees if c == commit and (not p or prefix == p or prefix.startswith(p + "/"))]
        top = max(covering, key=len) if covering else prefix
        key = (commit, top)
        if key not in self._trees:
            files = self._ls_tree(commit, [top or "."])
            self._trees[key] = ([path for path, _ in files], files)
        paths, files = self._trees[key]
        if prefix == top:
            return files
        # Sorted paths: the file `prefix` itself, then the range of `prefix/...` ('0' follows '/').
        exact = bisect.bisect_left(paths, prefix)
        start, end = bisect.bisect_left(paths, prefix + "/"), bisect.bisect_left(paths, prefix + "0")
        found = files[exact:exact + 1] if exact < len(paths) and paths[exact] == prefix else []
        return found + files[start:end]

    def read_blob(self, blob_id: str) -> bytes:
        with self._lock:
            if self._reader is None:
                self._reader = BlobReader(self.git_dir)
        return self._reader.read(blob_id)

    def close(self) -> None:
        """End the blob reader's `git cat-file` (also ended when this process exits)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def worktree_files(self, prefix: str) -> dict[str, str]:
        out = run_git(self.work_tree, "ls-files", "-z", "-c", "-o", "--exclude-standard", "--", prefix or ".")
        files = {}
        for path in sorted(set(out.split("\0"))):
            full = Path(self.work_tree, path)
            if path and full.is_file() and not full.is_symlink():
                files[path] = str(full)
        return files

    def tags(self) -> list[str]:
        return sorted(self.git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags").split())

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
        _fetched[key] = _clone_or_fetch(url, cache_dir, progress)
    return _fetched[key]


def _progress(report: CloneProgress):
    """GitPython's progress parser, reporting to `report`."""
    import git

    stages = {
        git.RemoteProgress.COUNTING: "counting objects",
        git.RemoteProgress.COMPRESSING: "compressing objects",
        git.RemoteProgress.RECEIVING: "receiving objects",
        git.RemoteProgress.RESOLVING: "resolving deltas",
    }

    class Progress(git.RemoteProgress):
        def update(self, op_code, cur_count, max_count=None, message=""):
            stage = stages.get(op_code & self.OP_MASK)
            if stage:
                report(stage, float(cur_count or 0), float(max_count) if max_count else None)

    return Progress()


def _clone_or_fetch(url: str, cache_dir: Path, report: CloneProgress | None) -> Path:
    import git  # only here: a remote is the one thing that needs git beyond plumbing

    target = cache_dir / "repos" / hashlib.sha256(url.encode()).hexdigest()[:16]
    progress = _progress(report) if report else None
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
        # GitPython keeps stderr quoted (`stderr: 'fatal: ...'`); with a progress handler
        # git's messages reach the handler instead: take whichever holds git's words.
        said = git_message(_unquote(exc.stderr)) or git_message("\n".join(getattr(progress, "error_lines", []) or []))
        raise SourceError(f"{url}: cannot clone: {said or f'git exited {exc.status}'}") from None
    return target


def _unquote(stderr) -> str:
    text = str(stderr or "").strip()
    if text.startswith("stderr:"):
        text = text[len("stderr:"):].strip()
    return text.strip("'\"")

