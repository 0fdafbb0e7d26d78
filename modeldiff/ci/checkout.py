"""Defaults inside a checkout: the repository is the one around the current directory (or
around the directory given), FROM is the merge-base of HEAD with the default branch, TO is
the work tree. In a shallow clone (actions/checkout's default) that history is missing:
modeldiff says so in one line and never fetches into the user's repository."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SHALLOW_HINT = "fetch the full history first (actions/checkout: `fetch-depth: 0`; elsewhere: git fetch --unshallow)"


class CheckoutError(Exception):
    """One line naming the repository and what is missing."""


@dataclass(frozen=True)
class Pair:
    repo: str
    from_ref: str
    to_ref: str
    defaulted: str | None = None  # how FROM was chosen, when it was not given


def find_root(path: Path) -> tuple[Path, Path]:
    """(top directory, git directory) of the repository around `path`, found as git does
    (a `.git` directory or `gitdir:` file in it or a parent, or `path` itself a bare
    repository), without starting git: a warm cached run needs no git at all."""
    path = path.resolve()
    if (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir():
        return path, path  # bare
    for directory in (path, *path.parents):
        dotgit = directory / ".git"
        if dotgit.is_dir():
            return directory, dotgit
        if dotgit.is_file():  # a linked work tree or a submodule
            target = dotgit.read_text(errors="replace").partition("gitdir:")[2].strip()
            return directory, (directory / target).resolve()
    raise CheckoutError(f"{path}: not a git repository (nor any of its parents)")


def is_shallow(git_dir: Path) -> bool:
    common = git_dir / "commondir"
    base = (git_dir / common.read_text().strip()).resolve() if common.is_file() else git_dir
    return (git_dir / "shallow").exists() or (base / "shallow").exists()


def _open(root: Path):
    import git

    return git.Repo(root)


def _verify(repo, ref: str) -> bool:
    import git

    try:
        repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
        return True
    except git.GitCommandError:
        return False


def default_branch(repo) -> str:
    """The branch a pull request merges into: $GITHUB_BASE_REF in GitHub Actions, else the
    remote's HEAD, else main or master (remote-tracking first)."""
    import git

    candidates = []
    base = os.environ.get("GITHUB_BASE_REF")
    if base:
        candidates += [f"origin/{base}", base]
    try:
        candidates.append(repo.git.symbolic_ref("--quiet", "--short", "refs/remotes/origin/HEAD"))
    except git.GitCommandError:
        pass
    candidates += ["origin/main", "origin/master", "main", "master"]
    for ref in dict.fromkeys(candidates):
        if _verify(repo, ref):
            return ref
    hint = f"; this is a shallow clone: {SHALLOW_HINT}" if is_shallow(Path(repo.git_dir)) else ""
    raise CheckoutError(f"{repo.working_tree_dir}: no default branch to compare with (tried {', '.join(dict.fromkeys(candidates))}); give FROM and TO{hint}")


def resolve(repo: str | None, from_ref: str | None, to_ref: str | None) -> Pair:
    """REPO FROM TO with the checkout defaults filled in. A local REPO may be any directory
    inside the work tree; a remote one (URL) is returned as given."""
    from ..source.repository import WORKTREE, is_remote

    if repo is not None and is_remote(repo):
        if from_ref is None or to_ref is None:
            raise CheckoutError(f"{repo}: a remote repository needs FROM and TO")
        return Pair(repo, from_ref, to_ref)
    where = Path(repo if repo is not None else os.getcwd()).expanduser()
    if not where.exists():
        hint = " (REPO comes first: `modeldiff diff . FROM TO`)" if repo and from_ref and to_ref is None else ""
        raise CheckoutError(f"{where}: no such directory{hint}")
    root, git_dir = find_root(where)
    shallow = is_shallow(git_dir)
    defaulted = None
    if from_ref is None:
        if shallow:
            raise CheckoutError(f"{root}: shallow clone: the merge-base with the default branch may be missing; {SHALLOW_HINT}")
        import git

        opened = _open(root)
        branch = default_branch(opened)
        try:
            from_ref = opened.git.merge_base(branch, "HEAD")
        except git.GitCommandError:
            raise CheckoutError(f"{root}: HEAD and {branch} have no common ancestor; give FROM and TO") from None
        defaulted = f"merge-base of HEAD and {branch}"
    to_ref = to_ref or WORKTREE
    if shallow:
        opened = _open(root)
        for ref in (from_ref, to_ref):
            if ref != WORKTREE and not _verify(opened, ref):
                raise CheckoutError(f"{root}: unknown ref {ref!r} in a shallow clone; {SHALLOW_HINT}")
    return Pair(str(root), from_ref, to_ref, defaulted)
