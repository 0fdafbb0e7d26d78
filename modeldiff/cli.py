"""Stage 6, cli: `modeldiff diff REPO FROM TO` and friends.

Exit codes follow `git diff --exit-code`: 0 success, 1 changes found (only with
--exit-code), 2 error. Every error is one line on stderr naming what and where.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

import click
from rich.console import Console

from .layout import PRESETS, LayoutError
from .load import LoadFailure
from .pipeline import DiffRequest, diff
from .render.json import render_json
from .render.text import render_text
from .source import SourceError

EXPECTED_ERRORS = (SourceError, LoadFailure, LayoutError)


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
        click.option("--models", multiple=True, help="Path of the models package or module in the repository (e.g. api/models); several: repeat it or separate with commas."),
        click.option("--import-root", help="Directory the models are imported from (e.g. api)."),
        click.option("--set", "settings", multiple=True, metavar="K=V", help="Set a config value the models read, e.g. configs.dify_config.DB_TYPE=postgresql."),
        click.option("--no-preset", is_flag=True, help="Ignore built-in layout presets (see `modeldiff layouts`)."),
        click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds a ref's model import may take."),
        click.option("--python", "python", help="Interpreter to import the models with (e.g. the app's virtualenv python; needs SQLAlchemy)."),
        click.option("--keep-going", is_flag=True, help="Load what imports; mark the result partial instead of failing."),
        click.option("--metadata", "metadata", multiple=True, metavar="NAME", help="Only this MetaData: its label, attribute name (db, Base) or Flask-SQLAlchemy bind key; repeatable. Default: all."),
        click.option("--env", "env", multiple=True, metavar="K=V", help="An environment variable model code may read (it sees none of yours); repeatable."),
    ]
    # --metadata and --env reach make_request through the click context, so that commands
    # written before them (plan, verify) need no new parameters.
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        meta = click.get_current_context().meta
        meta["modeldiff.metadata"] = kwargs.pop("metadata", ())
        meta["modeldiff.env"] = kwargs.pop("env", ())
        return func(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def parse_env(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}", param_hint="--env")
    return key.strip(), value


def make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, metadata=None, env=None) -> DiffRequest:
    if isinstance(models, (tuple, list)):
        models = ",".join(models) if models else None
    context = click.get_current_context(silent=True)
    meta = context.meta if context is not None else {}
    metadata = meta.get("modeldiff.metadata", ()) if metadata is None else metadata
    env = meta.get("modeldiff.env", ()) if env is None else env
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
        metadata=tuple(metadata),
        env=dict(parse_env(e) for e in env),
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
def diff_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, dialect, fmt, output, exit_code):
    """Schema changes between two refs (tag, branch, commit or WORKTREE) of REPO."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going)
    result, _ = run_guarded(lambda: diff(request))
    if fmt == "json":
        write_output(render_json(result), output)
    else:
        write_output(render_text(result), output, markup=True)
    if exit_code and result.changes:
        sys.exit(1)


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
