"""Stage 6, cli: `modeldiff diff REPO FROM TO` and friends.

Exit codes follow `git diff --exit-code`: 0 success, 1 changes found (only with
--exit-code), 2 error. Every error is one line on stderr naming what and where.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console

from .layout import PRESETS, LayoutError
from .load import LoadFailure
from .pipeline import DiffRequest, diff
from .plan import CATALOGUE, LiveDatabaseError, explain, make_plan, parse_pg_version
from .render.json import render_json
from .render.plan import render_plan_json, render_plan_markdown, render_plan_text
from .render.text import render_text
from .source import SourceError

EXPECTED_ERRORS = (SourceError, LoadFailure, LayoutError, LiveDatabaseError)


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"modeldiff: error: {self.message}", err=True)


def parse_setting(text: str) -> tuple[str, object]:
    """`K=V`; V is JSON when it parses (numbers, true, null, quoted), else a plain string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint="--set")
    try:
        parsed: object = json.loads(value)
    except ValueError:
        parsed = value
    return key.strip(), parsed


def write_output(text: str, output: str | None, console: Console | None = None, markup: bool = False) -> None:
    """To stdout, or to a file written whole or not at all."""
    if output is None or output == "-":
        if markup:
            (console or Console(soft_wrap=True)).print(text, end="", highlight=False)
        else:
            sys.stdout.write(text)
        return
    if markup:
        text = _plain(text)
    target = Path(output)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(markup_text: str) -> str:
    console = Console(file=open(os.devnull, "w"), soft_wrap=True, color_system=None, width=10_000)
    with console.capture() as capture:
        console.print(markup_text, end="", highlight=False)
    return capture.get()


@contextmanager
def progress_reporter(total: int):
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda label: None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("loading and comparing", total=total)
        yield lambda label: progress.update(task, advance=1, description=str(label))


def run_guarded(action):
    """Turn expected failures into one-line errors with exit 2; never a bare traceback."""
    try:
        return action()
    except EXPECTED_ERRORS as exc:
        raise UserError(str(exc)) from None
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        raise UserError("interrupted") from None
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("MODELDIFF_DEBUG"):
            traceback.print_exc()
        raise UserError(f"internal error: {type(exc).__name__}: {exc} (MODELDIFF_DEBUG=1 shows the traceback)") from None


def common_options(func):
    options = [
        click.option("--models", help="Path of the models package in the repository (e.g. api/models)."),
        click.option("--import-root", help="Directory the models are imported from (e.g. api)."),
        click.option("--set", "settings", multiple=True, metavar="K=V", help="Set a config value the models read, e.g. configs.dify_config.DB_TYPE=postgresql."),
        click.option("--no-preset", is_flag=True, help="Ignore built-in layout presets (see `modeldiff layouts`)."),
        click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds a ref's model import may take."),
        click.option("--python", "python", help="Interpreter to import the models with (e.g. the app's virtualenv python; needs SQLAlchemy)."),
        click.option("--keep-going", is_flag=True, help="Load what imports; mark the result partial instead of failing."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache of loaded schemas and results."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache) -> DiffRequest:
    return DiffRequest(
        repo=repo,
        from_ref=from_ref,
        to_ref=to_ref,
        models=models,
        import_root=import_root,
        settings=dict(parse_setting(s) for s in settings),
        use_presets=not no_preset,
        timeout=timeout,
        python=python,
        keep_going=keep_going,
        use_cache=not no_cache,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modeldiff")
def main() -> None:
    """What will moving an application from version A to version B do to its database?"""


@main.command("diff")
@click.argument("repo")
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@common_options
@click.option("--dialect", type=click.Choice(["postgresql"]), default="postgresql", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", help="Write to this file instead of stdout.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are changes (like git diff --exit-code).")
def diff_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, dialect, fmt, output, exit_code):
    """Schema changes between two refs (tag, branch, commit or WORKTREE) of REPO."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
    result = run_guarded(lambda: diff(request))
    if fmt == "json":
        write_output(render_json(result), output)
    else:
        write_output(render_text(result), output, markup=True)
    if exit_code and result.changes:
        sys.exit(1)


@main.command("history")
@click.argument("repo")
@click.argument("refs", nargs=-1)
@click.option("--tags", "patterns", multiple=True, metavar="GLOB", help="Tags matching these patterns, sorted by version (repeatable; several globs may follow one --tags).")
@common_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("-o", "--output", help="Write to this file instead of stdout.")
def history_command(repo, refs, patterns, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, fmt, output):
    """Changes of every consecutive pair of REFS, or of the tags matching --tags, with a
    timeline per table. Example: modeldiff history ~/src/dify --tags '0.*' '1.*'"""
    from .history import select_refs
    from .pipeline import history
    from .render.history import history_json, history_markdown, history_text

    def run():
        chosen = select_refs(repo, list(refs), list(patterns))
        request = make_request(repo, chosen[0], chosen[-1], models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
        with progress_reporter(len(chosen) * 2 - 1) as advance:
            _, loaded, pairs = history(request, chosen, advance)
        return loaded, pairs

    loaded, pairs = run_guarded(run)
    renderer = {"json": history_json, "markdown": history_markdown, "text": history_text}[fmt]
    write_output(renderer(loaded, pairs), output, markup=fmt == "text")


@main.group("cache")
def cache_group():
    """The cache of loaded schemas and compare results."""


@cache_group.command("clear")
def cache_clear_command():
    """Remove every cached schema and result."""
    from .cache import Cache

    removed = Cache().clear()
    click.echo(f"removed {removed} cache entries")


def _explain_callback(ctx, param, value):
    if value is None or ctx.resilient_parsing:
        return
    try:
        click.echo(explain(value), nl=False)
    except KeyError:
        raise UserError(f"unknown hazard code {value!r} (see `modeldiff hazards`)") from None
    ctx.exit(0)


def _pg_version(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_pg_version(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command("plan")
@click.argument("repo")
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@common_options
@click.option("--database-url", envvar="MODELDIFF_DATABASE_URL", help="The database to upgrade (read-only: sizes, settings, version), for estimates. Also $MODELDIFF_DATABASE_URL.")
@click.option("--pg-version", callback=_pg_version, help="PostgreSQL version the upgrade runs on (e.g. 10, 12.4); default: the live server's, else 16.")
@click.option("--calibrate", is_flag=True, help="Measure the server's rewrite/scan/index speed first. WRITES: creates and drops a scratch schema with a table of --calibrate-size MB. Remembered per server.")
@click.option("--calibrate-size", type=click.FloatRange(min=1), default=256, show_default=True, help="Size in MB of the calibration table.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("-o", "--output", help="Write to this file instead of stdout.")
@click.option("--explain", metavar="CODE", expose_value=False, is_eager=True, callback=_explain_callback, help="Print the documentation of a hazard code and exit.")
def plan_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, database_url, pg_version, calibrate, calibrate_size, fmt, output):
    """What upgrading REPO from FROM to TO will lock, rewrite or break, and for how long."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
    if calibrate and not database_url:
        raise UserError("--calibrate needs --database-url (the server to measure)")
    log = lambda message: click.echo(f"modeldiff: {message}", err=True)  # noqa: E731

    def run():
        result = diff(request)
        return make_plan(result, database_url, pg_version, calibrate, calibrate_size, log)

    plan = run_guarded(run)
    if fmt == "json":
        write_output(render_plan_json(plan), output)
    elif fmt == "markdown":
        write_output(render_plan_markdown(plan), output)
    else:
        write_output(render_plan_text(plan), output, markup=True)


@main.command("hazards")
@click.argument("codes", nargs=-1, metavar="[CODE]...")
def hazards_command(codes):
    """List the hazard codes, or document the given ones."""
    if not codes:
        for hazard in CATALOGUE.values():
            click.echo(f"{hazard.code}  {hazard.name:<32} {hazard.title}")
        click.echo("\n`modeldiff hazards CODE` (or `modeldiff plan --explain CODE`) shows what it does, why it hurts and the safe recipe.")
        return
    for i, code in enumerate(codes):
        try:
            text = explain(code)
        except KeyError:
            raise UserError(f"unknown hazard code {code!r} (see `modeldiff hazards`)") from None
        click.echo(("\n" if i else "") + text, nl=False)


@main.command("layouts")
def layouts_command():
    """Show the built-in layout presets and how each is recognised."""
    for preset in PRESETS:
        click.echo(f"{preset.describe()}")
        click.echo(f"  chosen when the ref has: {', '.join(preset.markers)}")
        if preset.migrations_path:
            click.echo(f"  alembic migrations: {preset.migrations_path}")


if __name__ == "__main__":
    main()
