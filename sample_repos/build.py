#!/usr/bin/env python3
"""Build sample git repositories from overlay directories.

    python sample_repos/build.py DEST [NAME ...]

For every NAME (default: each subdirectory of sample_repos/ holding a
``versions.txt``) a git repository is created at DEST/NAME. ``versions.txt``
lists release tags in order, one per line (blank lines and ``#`` comments are
ignored). For each tag, the overlay ``NAME/<tag>/`` is applied to the work
tree:

* paths listed in ``<tag>/.deleted`` (one per line, relative to the repo root)
  are removed first;
* then every file of the overlay is copied on top, overwriting.

The result is committed as "release <tag>" and a lightweight tag is created.
Authors, committers and dates are fixed and no user or system git config is
read, so the commit ids are the same on every build and every machine.

Stdlib only; needs the ``git`` command line tool.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent

VERSIONS_FILE = "versions.txt"
DELETED_FILE = ".deleted"
SKIP_NAMES = {"__pycache__", ".DS_Store"}
SKIP_SUFFIXES = (".pyc", ".pyo")

AUTHOR_NAME = "Sample Repos"
AUTHOR_EMAIL = "sample-repos@example.invalid"
# Tag i is committed at BASE_DATE + i days.
BASE_DATE = datetime(2024, 12, 1, 12, 0, 0, tzinfo=timezone.utc)

GIT_CONFIG = (
    "init.defaultBranch=main",
    "commit.gpgsign=false",
    "tag.gpgsign=false",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.fileMode=true",
    "core.hooksPath=" + os.devnull,
    "user.name=" + AUTHOR_NAME,
    "user.email=" + AUTHOR_EMAIL,
)


def available_names(root: Path = HERE) -> list[str]:
    """Names of the sample repositories found under ``root``."""
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and (p / VERSIONS_FILE).is_file()
    )


def read_versions(src: Path) -> list[str]:
    tags = []
    for raw in (src / VERSIONS_FILE).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            tags.append(line)
    if not tags:
        raise ValueError(f"{src / VERSIONS_FILE}: no tags listed")
    if len(set(tags)) != len(tags):
        raise ValueError(f"{src / VERSIONS_FILE}: duplicate tags")
    return tags


def tag_date(index: int) -> str:
    return (BASE_DATE + timedelta(days=index)).strftime("%Y-%m-%dT%H:%M:%S%z")


class _Git:
    """Runs git in one repository with a sealed-off environment."""

    def __init__(self, repo: Path, home: Path):
        self.repo = repo
        self.env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "TZ": "UTC",
            "GIT_AUTHOR_NAME": AUTHOR_NAME,
            "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
            "GIT_COMMITTER_NAME": AUTHOR_NAME,
            "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
        }
        if os.name == "nt" and "SYSTEMROOT" in os.environ:
            self.env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]

    def __call__(self, *args: str, env: dict | None = None) -> str:
        cmd = ["git"]
        for item in GIT_CONFIG:
            cmd += ["-c", item]
        cmd += list(args)
        proc = subprocess.run(
            cmd,
            cwd=self.repo,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed in {self.repo} ({proc.returncode}):\n"
                f"{proc.stderr.strip()}"
            )
        return proc.stdout


def _remove_listed(work: Path, listing: Path) -> None:
    root = work.resolve()
    for raw in listing.read_text(encoding="utf-8").splitlines():
        rel = raw.split("#", 1)[0].strip()
        if not rel:
            continue
        target = (work / rel).resolve()
        if target == root or root not in target.parents or target.parts[len(root.parts)] == ".git":
            raise ValueError(f"{listing}: refusing to delete {rel!r}")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        else:
            raise FileNotFoundError(f"{listing}: {rel!r} does not exist in the tree")


def _copy_overlay(overlay: Path, work: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(overlay):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES)
        rel_dir = Path(dirpath).relative_to(overlay)
        (work / rel_dir).mkdir(parents=True, exist_ok=True)
        for fname in sorted(filenames):
            if fname in SKIP_NAMES or fname.endswith(SKIP_SUFFIXES):
                continue
            if rel_dir == Path(".") and fname == DELETED_FILE:
                continue
            src = Path(dirpath) / fname
            dst = work / rel_dir / fname
            if dst.is_dir():
                shutil.rmtree(dst)
            shutil.copyfile(src, dst)
            # git records only the executable bit; normalise everything else.
            os.chmod(dst, 0o755 if os.access(src, os.X_OK) else 0o644)


def _clear_target(target: Path) -> None:
    """Remove a repo left by an earlier build; refuse to touch anything else."""
    if not target.exists():
        return
    if target.is_dir() and not any(target.iterdir()):
        return
    head = target / ".git" / "HEAD"
    if head.is_file():
        shutil.rmtree(target)
        return
    raise FileExistsError(f"{target} exists and is not a sample repository; remove it first")


def build(dest: Path, name: str, src_root: Path | None = None) -> Path:
    """Build sample repository ``name`` at ``dest/name`` and return its path.

    An existing git repository at that path is replaced.
    """
    src = Path(src_root or HERE) / name
    tags = read_versions(src)
    for tag in tags:
        if not (src / tag).is_dir():
            raise FileNotFoundError(f"overlay directory {src / tag} is missing")

    target = Path(dest).resolve() / name
    _clear_target(target)
    target.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="sample-repos-home-") as home:
        git = _Git(target, Path(home))
        git("init", "-q", "-b", "main")
        for index, tag in enumerate(tags):
            overlay = src / tag
            if (overlay / DELETED_FILE).is_file():
                _remove_listed(target, overlay / DELETED_FILE)
            _copy_overlay(overlay, target)
            git("add", "-A")
            date = tag_date(index)
            git(
                "commit", "-q", "--no-verify", "--allow-empty", "-m", f"release {tag}",
                env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
            )
            git("tag", tag)
        if git("status", "--porcelain", "--untracked-files=all").strip():
            raise RuntimeError(f"{target}: work tree not clean after build")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="directory to create the repositories in")
    parser.add_argument("names", nargs="*", help="sample repositories (default: all)")
    args = parser.parse_args(argv)

    names = args.names or available_names()
    unknown = [n for n in names if not (HERE / n / VERSIONS_FILE).is_file()]
    if unknown:
        parser.error(f"unknown sample repo(s): {', '.join(unknown)}")
    for name in names:
        print(build(args.dest, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
