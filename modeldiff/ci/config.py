"""The project's own configuration: `[tool.modeldiff]` in the repository's pyproject.toml,
or `modeldiff.toml` beside it (it wins; there the table may also be top-level), read at
the TO ref (the work tree's files when TO is WORKTREE).

    [tool.modeldiff]
    models = ["api/models"]            # or "api/models"
    import-root = "api"
    settings = { "configs.dify_config.DB_TYPE" = "postgresql" }
    env = { DEPLOY_ENV = "production" }
    migrations = "api/migrations"
    runtime = "auto"
    fail-on = "critical"               # or ["MD102", "MD105"]
    ignore = [{ code = "MD104", table = "audit_log", reason = "append-only, tiny" }]

    [tool.modeldiff.presets.legacy]    # a layout preset of the project's own
    markers = ["src/legacy/models.py"] # chosen for a ref that has these files
    models = "src/legacy/models.py"

Values become click's `default_map` of the command, so a flag (or an environment
variable click reads) always overrides them, and click tells where each value came from.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

FILES = ("modeldiff.toml", "pyproject.toml")


class ConfigError(Exception):
    """A configuration file that cannot be used: one line naming the file and the key."""


def _expect(test, words: str):
    """A checker: the value when `test(value)` holds, else a one-line error naming `where`."""

    def check(where, value):
        if not test(value):
            raise ConfigError(f"{where}: expected {words}, got {value!r}")
        return value

    return check


_str = _expect(lambda v: isinstance(v, str), "a string")
_table = _expect(lambda v: isinstance(v, dict), "a table (KEY = VALUE)")
_bool = _expect(lambda v: isinstance(v, bool), "true or false")
_strs = lambda where, value: list(  # noqa: E731
    _expect(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a string or a list of strings")(where, [value] if isinstance(value, str) else value)
)
_number = lambda where, value: float(  # noqa: E731
    _expect(lambda v: not isinstance(v, bool) and isinstance(v, (int, float)) and v > 0, "a positive number")(where, value)
)


# key -> (click parameter names it sets, how its value becomes the parameter's value)
OPTIONS = {
    "models": (("models",), _strs),
    "import_root": (("import_root",), _str),
    "settings": (("settings",), lambda w, v: [f"{k}={json.dumps(x)}" for k, x in sorted(_table(w, v).items())]),
    "env": (("env",), lambda w, v: [f"{k}={x}" for k, x in sorted(_table(w, v).items())]),
    "metadata": (("metadata",), _strs),
    "migrations": (("migrations", "migrations_path"), _str),
    "runtime": (("runtime",), lambda w, v: _choice(w, v, ("auto", "bundled"))),
    "timeout": (("timeout",), _number),
    "python": (("python",), _str),
    "keep_going": (("keep_going",), _bool),
    "no_preset": (("no_preset",), _bool),
    "fail_on": (("fail_on",), lambda w, v: ",".join(_strs(w, v))),
}
PRESET_KEYS = ("markers", "models", "import_root", "settings", "migrations")


def _choice(where, value, choices):
    if value not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class IgnoreRule:
    """A hazard the project has accepted: by code, optionally on one table or column."""

    code: str
    reason: str
    table: str | None = None
    column: str | None = None

    def matches(self, code: str, change) -> bool:
        return (
            code == self.code
            and (self.table is None or self.table in (change.table, (change.table or "").rpartition(".")[2]))
            and (self.column is None or self.column == change.column)
        )

    def describe(self) -> str:
        where = ".".join(x for x in (self.table, self.column) if x)
        return f"{self.code}{' on ' + where if where else ''}: {self.reason}"


@dataclass(frozen=True)
class Config:
    source: str | None = None  # "pyproject.toml [tool.modeldiff] at WORKTREE", None: no file
    values: dict = field(default_factory=dict)  # click parameter name -> value
    keys: dict = field(default_factory=dict)  # click parameter name -> the file's key
    ignore: tuple[IgnoreRule, ...] = ()
    presets: tuple = ()  # source.layout.Layout, the project's own, tried before the built-in ones

    def default_map(self, command) -> dict:
        names = {p.name for p in command.params}
        return {name: value for name, value in self.values.items() if name in names}


def parse(data: dict, source: str) -> Config:
    """The `[tool.modeldiff]` table -> a Config (every key and type checked)."""
    values, keys, ignore, presets = {}, {}, [], []
    for raw_key, value in sorted(data.items()):
        key = raw_key.replace("-", "_")
        where = f"{source}: {raw_key}"
        if key == "ignore":
            ignore = [_ignore_rule(f"{where}[{i}]", rule) for i, rule in enumerate(value if isinstance(value, list) else [value])]
        elif key == "presets":
            presets = [_preset(f"{where}.{name}", name, body) for name, body in sorted(_table(where, value).items())]
        elif key in OPTIONS:
            names, convert = OPTIONS[key]
            for name in names:
                values[name], keys[name] = convert(where, value), raw_key
        else:
            known = ", ".join(sorted(k.replace("_", "-") for k in [*OPTIONS, "ignore", "presets"]))
            raise ConfigError(f"{where}: unknown key (known: {known})")
    if "fail_on" in values:
        from .gate import parse_fail_on

        try:
            parse_fail_on(values["fail_on"])
        except ValueError as exc:
            raise ConfigError(f"{source}: fail-on: {exc}") from None
    return Config(source, values, keys, tuple(ignore), tuple(presets))


def _ignore_rule(where: str, rule) -> IgnoreRule:
    from ..plan.hazards import CATALOGUE

    rule = {k.replace("-", "_"): v for k, v in _table(where, rule).items()}
    unknown = set(rule) - {"code", "table", "column", "reason"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: code, table, column, reason)")
    code = _str(f"{where}.code", rule.get("code"))
    if code not in CATALOGUE:
        raise ConfigError(f"{where}.code: unknown hazard code {code!r} (see `modeldiff hazards`)")
    if not isinstance(rule.get("reason"), str) or not rule["reason"].strip():
        raise ConfigError(f"{where}: an ignored hazard needs a reason")
    if "column" in rule and "table" not in rule:
        raise ConfigError(f"{where}: column needs table")
    return IgnoreRule(code, rule["reason"].strip(), rule.get("table"), rule.get("column"))


def _preset(where: str, name: str, body):
    from ..source.layout import Layout

    body = {k.replace("-", "_"): v for k, v in _table(where, body).items()}
    unknown = set(body) - set(PRESET_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(PRESET_KEYS)})")
    if "markers" not in body or "models" not in body:
        raise ConfigError(f"{where}: a preset needs markers and models")
    models = _strs(f"{where}.models", body["models"])
    return Layout(
        name=name,
        models_path=",".join(models),
        import_root=_str(f"{where}.import_root", body.get("import_root", models[0].rpartition("/")[0])),
        settings=dict(_table(f"{where}.settings", body.get("settings", {}))),
        migrations_path=body.get("migrations"),
        markers=tuple(_strs(f"{where}.markers", body["markers"])),
    )


def _read(name: str, root: Path | None, snapshot) -> bytes | None:
    if snapshot is None:
        path = root / name
        return path.read_bytes() if path.is_file() else None
    return snapshot.read(name) if snapshot.exists(name) else None


def load(root: str, ref: str) -> Config:
    """The configuration at `ref` (WORKTREE: the files on disk) of the local repository
    whose top directory is `root`."""
    from ..source.repository import WORKTREE

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    snapshot = None
    if ref != WORKTREE:
        from ..source.repository import Repository

        snapshot = Repository(root).snapshot(ref)
    for name in FILES:
        data = _read(name, Path(root), snapshot)
        if data is None:
            continue
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{name} at {ref}: not valid TOML: {exc}") from None
        table = document.get("tool", {}).get("modeldiff")
        if table is None and name == "modeldiff.toml":
            table = {k: v for k, v in document.items() if k != "tool"}
        if table is None:
            continue
        section = "[tool.modeldiff]" if "modeldiff" in document.get("tool", {}) else "(top level)"
        return parse(_table(f"{name} at {ref}: {section}", table), f"{name} {section} at {ref}")
    return Config()
