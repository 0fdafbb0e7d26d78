"""Where an application keeps its alembic migrations at a ref, read from git objects.

Found, in this order: `--migrations PATH`; a layout preset's `migrations_path` (Dify's
`api/migrations/versions`); an `alembic.ini` (`script_location`, `version_locations`,
`prepend_sys_path`; Flask-Migrate's `migrations/alembic.ini` has no `script_location`: the
directory holding it is the script location); an `env.py` beside a `versions/` directory.
The app's `env.py` is only read, for its transaction mode: it is never run.
"""

from __future__ import annotations

import configparser
import posixpath
import re
from dataclasses import dataclass

from ..source.layout import PRESETS
from ..source.repository import Snapshot


class SetupError(Exception):
    """The migrations cannot be located: one line saying what to pass."""


@dataclass(frozen=True)
class AlembicSetup:
    script_location: str  # repo path of the directory holding env.py
    versions: tuple[str, ...]  # repo paths of the version directories
    import_root: str  # what the scripts' absolute imports resolve from
    transaction: str  # "one" (the whole upgrade) or "per-migration"
    found_by: str  # how it was found, shown to the user
    recursive: bool = False  # recursive_version_locations
    settings: tuple[tuple[str, object], ...] = ()  # config values scripts branch on (a preset's)

    def to_json(self) -> dict:
        return {
            "script_location": self.script_location,
            "versions": list(self.versions),
            "import_root": self.import_root,
            "transaction": self.transaction,
            "found_by": self.found_by,
        }


_PER_MIGRATION = re.compile(rb"transaction_per_migration\s*=\s*True")
_EXCLUDED = {"tests", "test", "docs", "examples", "node_modules", "site-packages", ".venv", "venv"}


def find_setup(snapshot: Snapshot, override: str | None = None) -> AlembicSetup | None:
    """The alembic setup at `snapshot`, or None when the app has none."""
    files = snapshot.list_files("")
    if override:
        path = _norm(override)
        if not any(f.startswith(path + "/") for f in files):
            raise SetupError(f"{snapshot.ref}: --migrations {override}: no such directory at this ref")
        if any(f.startswith(path + "/versions/") for f in files):
            return _setup(snapshot, files, path, (f"{path}/versions",), None, "--migrations")
        return _setup(snapshot, files, posixpath.dirname(path), (path,), None, "--migrations")
    for preset in PRESETS:
        if preset.migrations_path and all(snapshot.exists(m) for m in preset.markers):
            versions = preset.migrations_path
            setup = _setup(snapshot, files, posixpath.dirname(versions), (versions,), preset.import_root, f"preset {preset.name}")
            return AlembicSetup(**{**setup.__dict__, "settings": tuple(sorted(preset.settings.items()))})
    inis = sorted((f for f in files if posixpath.basename(f) == "alembic.ini" and not _excluded(f)), key=lambda f: (f.count("/"), f))
    for ini in inis:
        found = _from_ini(snapshot, files, ini)
        if found is not None:
            return found
    envs = sorted((f for f in files if posixpath.basename(f) == "env.py" and not _excluded(f)), key=lambda f: (f.count("/"), f))
    for env in envs:
        location = posixpath.dirname(env)
        if any(f.startswith(f"{location}/versions/") for f in files):
            return _setup(snapshot, files, location, (f"{location}/versions",), None, f"{env} (Flask-Migrate layout)")
    return None


def _from_ini(snapshot: Snapshot, files: dict, ini: str) -> AlembicSetup | None:
    here = posixpath.dirname(ini)
    parser = configparser.ConfigParser(defaults={"here": "@HERE@"}, interpolation=configparser.BasicInterpolation())
    try:
        parser.read_string(snapshot.read(ini).decode("utf-8", errors="replace"))
        section = parser["alembic"] if parser.has_section("alembic") else {}
        location = section.get("script_location")
        locations = section.get("version_locations")
        separator = section.get("path_separator") or section.get("version_path_separator")
        prepend = section.get("prepend_sys_path")
        recursive = str(section.get("recursive_version_locations", "false")).lower() in ("true", "1", "yes")
    except (configparser.Error, KeyError, ValueError):
        return None

    def resolve(value: str) -> str:
        value = value.strip().replace("@HERE@", "/" + here if here else "/")
        if ":" in value and not value.startswith("/") and "/" not in value.split(":", 1)[0]:
            value = value.replace(":", "/", 1)  # `package:migrations` (a package resource)
        return _norm(value if value.startswith("/") else posixpath.join(here, value))

    script_location = resolve(location) if location else here  # Flask-Migrate: the ini's own directory
    if not any(f.startswith(f"{script_location}/") for f in files):
        return None
    versions = (f"{script_location}/versions",)
    if locations:
        split = {"os": ":", "colon": ":", "semicolon": ";", "space": None, "newline": "\n"}.get(separator or "", None)
        parts = locations.split(split) if split else re.split(r"[\s,]+", locations)
        versions = tuple(resolve(p) for p in parts if p.strip())
    import_root = None
    if prepend:
        first = re.split(r"[\s,:]+", prepend.strip())[0]
        import_root = resolve(first)
    return _setup(snapshot, files, script_location, versions, import_root, ini, recursive)


def _setup(snapshot: Snapshot, files: dict, location: str, versions: tuple[str, ...], import_root: str | None, found_by: str, recursive: bool = False) -> AlembicSetup:
    for path in versions:
        if not any(f.startswith(path + "/") for f in files):
            raise SetupError(f"{snapshot.ref}: the alembic versions directory {path!r} ({found_by}) does not exist; pass --migrations PATH")
    env = f"{location}/env.py" if location else "env.py"
    source = snapshot.read(env) if env in files else b""
    transaction = "per-migration" if _PER_MIGRATION.search(source) else "one"
    if import_root is None:
        import_root = _scripts_import_root(snapshot, location, versions)
    return AlembicSetup(location, versions, import_root, transaction, found_by, recursive)


# What the scripts import that is never the app's own (a directory named `alembic` holding
# the migrations would otherwise claim every `from alembic import op`).
_LIBRARIES = {"alembic", "sqlalchemy", "sqlmodel", "__future__", "typing"}


def _scripts_import_root(snapshot: Snapshot, location: str, versions: tuple[str, ...]) -> str:
    """Where the scripts' (and env.py's) absolute imports of the app resolve, as the models
    loader finds its own root: the ancestor of the script location from which most of them
    resolve to the repository's files (migrations inside the app's package,
    `ihatemoney/migrations` importing `ihatemoney.utils`: the repository root; a backend's
    `backend/app/alembic` importing `app.models`: `backend`). Without such imports, the
    directory holding the script location (`api/migrations` -> `api`)."""
    from ..source.layout import _IMPORT, _Tree

    default = posixpath.dirname(location)
    tree = _Tree(snapshot)
    roots = [default]
    while roots[-1]:
        roots.append(posixpath.dirname(roots[-1]))
    scores = dict.fromkeys(roots, 0)
    files = sorted({f for path in (location, *versions) for f in tree.python_files(path)})
    for file in files[:60]:
        for match in _IMPORT.finditer(tree.read(file)):
            dotted = (match.group(1) or match.group(2)).decode()
            if dotted.split(".")[0] not in _LIBRARIES:
                for root in roots:
                    scores[root] += tree.is_module(root, dotted)
    best = max(scores.values())
    return default if scores[default] == best else next(root for root in roots if scores[root] == best)


def _norm(path: str) -> str:
    normal = posixpath.normpath(path.strip().strip("/"))
    return "" if normal == "." else normal


def _excluded(path: str) -> bool:
    return any(part in _EXCLUDED for part in path.split("/")[:-1])
