"""The warm entry path: a diff the full command has answered from the cache is answered
again before click, the loader, GitPython or anything else is imported.

What the full command printed (stdout, stderr) and its exit code are kept in the cache
under a key of everything that decides them: the command line and the working directory;
the commits FROM and TO resolve to now and the refs that could make their names ambiguous
(git plumbing); the environment variables modeldiff, git, Python and the terminal read;
which streams are terminals; the interpreter, the installed distributions and modeldiff's
own files. The full command keeps a record only when both refs' schemas came from the
cache (the answer is then one the cache decides), with the cache entries it read: a
record whose entries were removed or rebuilt since is not used. It does so for a command
line this module reads completely: `diff REPO FROM TO` with the options below. Anything
else - an option not listed, WORKTREE, a URL, a file to write, a terminal on stdout, no
record - runs the full command, which gives the same answer more slowly.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

# Options read here, by how many values they take; any other one goes to the full command.
_GROUP_OPTIONS = {"-q": 0, "--quiet": 0, "--color": 1}
_DIFF_OPTIONS = {
    **{name: 1 for name in ("--models", "--import-root", "--set", "--timeout", "--python", "--runtime", "--metadata", "--env", "--format", "--fail-on")},
    **{name: 0 for name in ("--no-preset", "--keep-going", "--exit-code")},
}
_REFUSED_VALUES = {"--format": ("sql",), "--color": ("always",)}  # answers the cache does not decide
# Environment variables that can change what the full command prints.
_ENV_PREFIXES = ("MODELDIFF_", "GIT_", "GITHUB_", "PYTHON", "LC_", "XDG_")
_ENV_NAMES = ("LANG", "LANGUAGE", "NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES", "HOME", "PATH", "TMPDIR")
_KIND = "answer"  # the cache's entry kind


def refs_of(argv: list[str]) -> tuple[str, str, str] | None:
    """(REPO, FROM, TO) of a command line this module reads completely, else None."""
    args, i, command, positional = list(argv), 0, None, []
    while i < len(args):
        arg = args[i]
        options = _GROUP_OPTIONS if command is None else _DIFF_OPTIONS
        if command is None and arg == "diff":
            command = arg
        elif arg.startswith("-"):
            name, has_value, value = arg.partition("=")
            arity = options.get(name)
            if arity is None or (has_value and arity == 0):
                return None
            if arity and not has_value:
                i += 1
                if i == len(args):
                    return None
                value = args[i]
            if value in _REFUSED_VALUES.get(name, ()):
                return None
        elif command is None:
            return None
        else:
            positional.append(arg)
        i += 1
    if command is None or len(positional) != 3:
        return None
    repo, from_ref, to_ref = positional
    from ..source.plumbing import is_remote

    if is_remote(repo) or "WORKTREE" in (from_ref, to_ref) or any(r.startswith("-") for r in (from_ref, to_ref)):
        return None
    return repo, from_ref, to_ref


class Lookup:
    """The refs of one command line, as git has them now: what the key is made of."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = list(argv)
        self.commits: tuple[str, str] | None = None
        self.listing = ""
        refs = refs_of(argv)
        if refs is None or sys.stdout.isatty():
            self.refs = None
            return
        self.refs = refs
        from ..source.plumbing import GitError, run_git

        repo, from_ref, to_ref = refs
        try:
            out = run_git(repo, "rev-parse", "--absolute-git-dir", f"{from_ref}^{{commit}}", f"{to_ref}^{{commit}}").split()
            names = [f"refs/{kind}/{ref}" for ref in (from_ref, to_ref) for kind in ("tags", "heads", "remotes")]
            # a tag and a branch of one name: the full command refuses it; a new one: a new key
            self.listing = run_git(repo, "for-each-ref", "--format=%(refname) %(objectname)", *names)
        except (GitError, OSError):
            self.refs = None
            return
        if len(out) == 3:
            self.git_dir, *commits = out
            self.commits = (commits[0], commits[1])
        else:
            self.refs = None

    def key(self, commits: tuple[str, str]) -> str:
        from .. import __version__

        environment = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES}
        parts = [__version__, self.argv, os.getcwd(), self.git_dir, commits, self.listing, sorted(environment.items()),
                 sys.stderr.isatty(), sys.executable, sys.version, _distributions(), _own_files()]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _distributions() -> list[str]:
    """The installed distributions and their versions (their dist-info names)."""
    found = []
    for entry in sys.path:
        try:
            found += [name for name in os.listdir(entry or ".") if name.endswith((".dist-info", ".egg-info", ".pth"))]
        except OSError:
            continue
    return sorted(found)


def _own_files() -> list:
    """modeldiff's own files, by size and modification time (an edit makes a new key)."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stamps = []
    for directory, subdirs, files in os.walk(top):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".pyc"):
                stat = os.stat(os.path.join(directory, name))
                stamps.append((os.path.relpath(os.path.join(directory, name), top), stat.st_size, stat.st_mtime_ns))
    return stamps


def _stamp(path: str) -> list:
    try:
        stat = os.stat(path)
    except OSError:
        return []
    return [stat.st_size, stat.st_mtime_ns]


def _cache():
    from ..cache import Cache

    return Cache()


_pending: Lookup | None = None  # this process's lookup, made before the full command ran


def serve(argv: list[str]) -> None:
    """Print the recorded answer and exit, or return (the full command then runs)."""
    global _pending
    try:
        lookup = Lookup(argv)
        if lookup.refs is None:
            return
        _pending = lookup
        answer = _cache().get(_KIND, lookup.key(lookup.commits))
        if not isinstance(answer, dict) or not all(_stamp(path) == stamp for path, *stamp in answer["entries"]):
            return  # none, or a cache entry it came from was removed or rebuilt since
        sys.stdout.write(answer["stdout"])
        sys.stderr.write(answer["stderr"])
        sys.stdout.flush()
        sys.stderr.flush()
        code = answer["code"]
    except BrokenPipeError:
        code = 1  # the reader went away (`| head`), as the full command says it
    except Exception:  # noqa: BLE001 - anything unexpected: the full command answers
        return
    os._exit(code)


class _Tee:
    """A text stream that also keeps what is written to it."""

    def __init__(self, stream) -> None:
        self._stream, self.text = stream, []

    def write(self, text: str) -> int:
        written = self._stream.write(text)  # first: click probes with bytes, which fail here
        self.text.append(text)
        return written

    def __getattr__(self, name):
        return getattr(self._stream, name)


class Recorder:
    """Installed by the full command for a command line `serve` reads: keeps what it
    prints, and stores it when the command says the cache decided the answer."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.commits: tuple[str, str] | None = None
        self.stdout, self.stderr = _Tee(sys.stdout), _Tee(sys.stderr)
        sys.stdout, sys.stderr = self.stdout, self.stderr

    def finish(self, code: int, keep: bool) -> None:
        """`keep`: the command answered (returned or exited), no error cut it short."""
        sys.stdout, sys.stderr = self.stdout._stream, self.stderr._stream
        if self.commits is None or not keep or not isinstance(code, int):
            return
        from ..cache import READ

        entries = [[path, *_stamp(path)] for path in sorted({str(p) for p in READ})]
        answer = {"stdout": "".join(self.stdout.text), "stderr": "".join(self.stderr.text), "code": code, "entries": entries}
        try:
            _cache().put(_KIND, self.lookup.key(self.commits), answer)
        except Exception:  # noqa: BLE001 - a record is an optimisation, never a failure
            pass


_recorder: Recorder | None = None


def record(argv: list[str]) -> Recorder | None:
    """A recorder for this run when `serve` could answer its command line next time."""
    global _recorder
    lookup = _pending if _pending is not None and _pending.argv == list(argv) else Lookup(argv)
    _recorder = Recorder(lookup) if lookup.refs is not None else None
    return _recorder


def decided_by_cache(result) -> None:
    """The diff command's word that its answer came from cached schemas: keep it, for the
    commits it was made at (refs that moved since the lookup make a key it never meets)."""
    if _recorder is not None and result.stats.get("cached") == {"from": True, "to": True}:
        _recorder.commits = (result.from_ref.commit, result.to_ref.commit)


def run() -> None:
    """The console entry point: a recorded answer, else the full command."""
    serve(sys.argv[1:])
    from ..cli import run as full

    full()
