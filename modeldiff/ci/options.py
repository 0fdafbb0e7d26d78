"""The click side of configuration, checkout defaults and gates, shared by the commands.

`ConfiguredCommand` reads the project's configuration before click parses the command
line and hands it to click as the command's `default_map`: a flag or an environment
variable then overrides it, and `ctx.get_parameter_source` says where a value came from
(what `modeldiff config` prints)."""

from __future__ import annotations

import click

from .checkout import CheckoutError, Pair, resolve
from .config import Config, ConfigError, load

PAIR_KEY, CONFIG_KEY = "modeldiff.pair", "modeldiff.config"


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"modeldiff: error: {self.message}", err=True)


def pair_arguments(func):
    """[REPO] [FROM] [TO]: none in a checkout (merge-base with the default branch vs the
    work tree), REPO alone, REPO FROM (TO: the work tree), or all three."""
    for argument in reversed(
        [
            click.argument("repo", required=False),
            click.argument("from_ref", metavar="[FROM]", required=False),
            click.argument("to_ref", metavar="[TO]", required=False),
        ]
    ):
        func = argument(func)
    return func


def resolve_pair(ctx: click.Context, repo: str | None, from_ref: str | None, to_ref: str | None) -> Pair:
    """The run's repository and refs, resolved once per command line."""
    key = (repo, from_ref, to_ref)
    cached = ctx.meta.get(PAIR_KEY)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        pair = resolve(repo, from_ref, to_ref)
    except CheckoutError as exc:
        raise UserError(str(exc)) from None
    ctx.meta[PAIR_KEY] = (key, pair)
    return pair


def read_config(repo: str, to_ref: str) -> Config:
    """The configuration at `to_ref` of `repo`; a remote one is cloned or fetched first
    (into the cache, as the command itself would), then read like a local one."""
    from ..source.repository import SourceError, is_remote

    if is_remote(repo):
        fetch_remote(repo)
    try:
        return load(repo, to_ref)
    except (ConfigError, SourceError) as exc:
        raise UserError(str(exc)) from None


def fetch_remote(url: str) -> None:
    """Clone (or fetch) a remote repository into the cache before the command opens it,
    with a progress bar on a terminal; whoever opens it next in this process finds it done."""
    import sys

    from ..source.repository import SourceError, open_remote

    ctx = click.get_current_context(silent=True)
    quiet = ctx is not None and ctx.meta.get("modeldiff.quiet")
    try:
        if not sys.stderr.isatty() or quiet:
            open_remote(url)
            return
        from rich.console import Console
        from rich.progress import Progress

        name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] or url
        with Progress(console=Console(stderr=True), transient=True) as progress:
            tasks: dict[str, object] = {}

            def report(stage: str, done: float, total: float | None) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(f"{stage} ({name})", total=total)
                progress.update(tasks[stage], completed=done, total=total)

            open_remote(url, progress=report)
    except SourceError as exc:
        raise UserError(str(exc)) from None


def deployed_target(ctx: click.Context, repo: str | None, to_ref: str | None) -> tuple[str | None, str]:
    """`plan REPO [TO] --database-url`: the one ref given is TO (the work tree when none is),
    FROM being the revision the database runs; a local REPO is found as for a pair."""
    from ..source.repository import WORKTREE, is_remote

    if not is_remote(repo or ""):
        repo = resolve_pair(ctx, repo, "HEAD", None).repo
    return repo, to_ref or WORKTREE


class ConfiguredCommand(click.Command):
    """A command whose defaults come from the repository's configuration at TO."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing and not {"-h", "--help"} & set(args):
            probe = self.make_context(ctx.info_name, list(args), parent=ctx.parent, resilient_parsing=True)
            params = probe.params
            if "from_ref" in params:
                try:
                    if params.get("database_url") and params.get("to_ref") is None:
                        repo, to_ref = deployed_target(ctx, params.get("repo"), params.get("from_ref"))
                    else:
                        pair = resolve_pair(ctx, params.get("repo"), params.get("from_ref"), params.get("to_ref"))
                        repo, to_ref = pair.repo, pair.to_ref
                except UserError:  # said by the command itself, after eager options (--explain, --help)
                    return super().parse_args(ctx, args)
            else:  # history (REPO REFS..., or tag patterns): the configuration at HEAD
                repo, to_ref = params.get("repo"), "HEAD"
            config = read_config(repo, to_ref) if repo else Config()
            ctx.meta[CONFIG_KEY] = config
            ctx.default_map = {**(ctx.default_map or {}), **config.default_map(self)}
        return super().parse_args(ctx, args)


def current_config() -> Config:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(CONFIG_KEY, Config()) if ctx is not None else Config()


def _fail_on(ctx, param, value):
    if value is None:
        return None
    from .gate import parse_fail_on

    try:
        return parse_fail_on(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


fail_on_option = click.option(
    "--fail-on",
    "fail_on",
    callback=_fail_on,
    metavar="LEVEL|CODES",
    help="Exit 1 when a hazard at or above LEVEL (critical, warning; `any`: any change) or with one of CODES (MD102,MD105) is found; hazards the configuration ignores never count.",
)


report_option = click.option("--report", metavar="FILE", help="Also write the full report to FILE (plan: the Markdown runbook; diff: the text), e.g. beside --format summary.")


def source_of(ctx: click.Context, name: str, config: Config) -> str:
    """Where a parameter's value came from, in words."""
    from click.core import ParameterSource

    source = ctx.get_parameter_source(name)
    if source == ParameterSource.COMMANDLINE:
        return "command line"
    if source == ParameterSource.ENVIRONMENT:
        param = next(p for p in ctx.command.params if p.name == name)
        return f"environment ${param.envvar if isinstance(param.envvar, str) else param.envvar[0]}"
    if source == ParameterSource.DEFAULT_MAP:
        return f"{config.source}: {config.keys.get(name, name)}"
    return "default"


def _shown(value) -> object:
    if hasattr(value, "text") and hasattr(value, "codes"):  # a parsed --fail-on
        return value.text
    if isinstance(value, tuple):
        return list(value)
    return value


def describe(ctx: click.Context, fmt: str) -> str:
    """`modeldiff config`: the run's repository and refs, and every option's effective
    value with where it came from."""
    import json

    config: Config = ctx.meta.get(CONFIG_KEY, Config())
    params = ctx.params
    pair = resolve_pair(ctx, params.get("repo"), params.get("from_ref"), params.get("to_ref"))
    options = {
        p.name: {"value": _shown(params.get(p.name)), "source": source_of(ctx, p.name, config)}
        for p in ctx.command.params
        if isinstance(p, click.Option) and p.name not in ("fmt",) and p.expose_value
    }
    data = {
        "repo": pair.repo,
        "from": {"ref": pair.from_ref, "chosen_by": pair.defaulted or "command line"},
        "to": {"ref": pair.to_ref, "chosen_by": "command line" if params.get("to_ref") else "default (the work tree)"},
        "configuration": config.source,
        "options": options,
        "ignore": [{"code": r.code, "table": r.table, "column": r.column, "reason": r.reason} for r in config.ignore],
        "presets": [{"name": p.name, "markers": list(p.markers), "models": p.models_path, "import_root": p.import_root} for p in config.presets],
    }
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    lines = [
        f"repository     {pair.repo}",
        f"FROM           {pair.from_ref}  ({data['from']['chosen_by']})",
        f"TO             {pair.to_ref}  ({data['to']['chosen_by']})",
        f"configuration  {config.source or 'none (no [tool.modeldiff] in pyproject.toml or modeldiff.toml at TO)'}",
        "",
    ]
    width = max(len(name) for name in options) + 2
    for name, entry in options.items():
        value = entry["value"]
        shown = "-" if value in (None, [], ()) else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(f"{name.replace('_', '-'):<{width}} {shown:<40} {entry['source']}")
    for rule in config.ignore:
        lines.append(f"ignore         {rule.describe()}  ({config.source})")
    for preset in config.presets:
        lines.append(f"preset         {preset.describe()} when {', '.join(preset.markers)}  ({config.source})")
    return "\n".join(lines) + "\n"
