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
from dataclasses import dataclass, replace

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
    others: tuple[str, ...] = ()  # the ini's other chains (sections), not replayed

    def to_json(self) -> dict:
        return {
            "script_location": self.script_location,
            "versions": list(self.versions),
            "import_root": self.import_root,
            "transaction": self.transaction,
            "found_by": self.found_by,
            **({"not_replayed": list(self.others)} if self.others else {}),
        }


_PER_MIGRATION = re.compile(rb"transaction_per_migration\s*=\s*True")
_EXCLUDED = {"tests", "test", "docs", "examples", "node_modules", "site-packages", ".venv", "venv"}


def find_setup(snapshot: Snapshot, override: str | None = None) -> AlembicSetup | None:
    """The alembic setup at `snapshot`, or None when the app has none (of several, the
    first: `find_setups` picks the one a pair of refs upgrades)."""
    found = all_setups(snapshot, override)
    return found[0] if found else None


def find_setups(from_snapshot: Snapshot, to_snapshot: Snapshot, override: str | None = None) -> tuple[AlembicSetup | None, AlembicSetup | None]:
    """The setups of both refs. An ini with several chains (`[core]`, `[tenant]`): the
    first, in the file's order, that gains revisions between the refs (else whose scripts
    differ), with the others named in `others` (reported, not replayed)."""
    from .run import phase_inputs

    old, new = all_setups(from_snapshot, override), all_setups(to_snapshot, override)
    if len(new) <= 1:
        return (old[0] if old else None), (new[0] if new else None)
    by_name = {s.found_by: s for s in old}

    def changes(setup: AlembicSetup) -> int:
        """2: scripts FROM lacks (revisions to run); 1: scripts edited; 0: none."""
        before = by_name.get(setup.found_by)
        if before is None:
            return 2
        (a, _), (b, scripts) = phase_inputs(from_snapshot, before), phase_inputs(to_snapshot, setup)
        return 2 if any(path not in a for path in scripts) else int(any(a[path] != b[path] for path in scripts))

    chosen = max(new, key=changes)  # the first of the most changed
    others = tuple(s.found_by for s in new if s is not chosen)
    before = by_name.get(chosen.found_by)
    return (replace(before, others=others) if before else None), replace(chosen, others=others)


def all_setups(snapshot: Snapshot, override: str | None = None) -> list[AlembicSetup]:
    files = snapshot.list_files("")
    if override:
        path = _norm(override)
        if not any(f.startswith(path + "/") for f in files):
            raise SetupError(f"{snapshot.ref}: --migrations {override}: no such directory at this ref")
        if any(f.startswith(path + "/versions/") for f in files):
            return [_setup(snapshot, files, path, (f"{path}/versions",), None, "--migrations")]
        return [_setup(snapshot, files, posixpath.dirname(path), (path,), None, "--migrations")]
    for preset in PRESETS:
        if preset.migrations_path and all(snapshot.exists(m) for m in preset.markers):
            versions = preset.migrations_path
            setup = _setup(snapshot, files, posixpath.dirname(versions), (versions,), preset.import_root, f"preset {preset.name}")
            return [AlembicSetup(**{**setup.__dict__, "settings": tuple(sorted(preset.settings.items()))})]
    inis = sorted((f for f in files if posixpath.basename(f) == "alembic.ini" and not _excluded(f)), key=lambda f: (f.count("/"), f))
    for ini in inis:
        found = _ini_setups(snapshot, files, ini)
        if found:
            return found
    envs = sorted((f for f in files if posixpath.basename(f) == "env.py" and not _excluded(f)), key=lambda f: (f.count("/"), f))
    for env in envs:
        location = posixpath.dirname(env)
        if any(f.startswith(f"{location}/versions/") for f in files):
            return [_setup(snapshot, files, location, (f"{location}/versions",), None, f"{env} (Flask-Migrate layout)")]
    return []


def _ini_setups(snapshot: Snapshot, files: dict, ini: str) -> list[AlembicSetup]:
    """One setup per section of `ini` that alembic can run (`alembic -n NAME`): `[alembic]`
    first, then every other section with a `script_location` (dispatch: `[core]` and
    `[tenant]`, each its own chain), in the file's order. Flask-Migrate's ini has none: the
    directory holding it is the script location."""
    here = posixpath.dirname(ini)
    parser = configparser.ConfigParser(defaults={"here": "@HERE@"}, interpolation=configparser.BasicInterpolation())
    try:
        parser.read_string(snapshot.read(ini).decode("utf-8", errors="replace"))
        names = [n for n in parser.sections() if n == "alembic" or parser.has_option(n, "script_location")]
        names.sort(key=lambda n: n != "alembic")
        sections = [(name, dict(parser.items(name))) for name in names] or [("alembic", {})]
    except (configparser.Error, KeyError, ValueError):
        return []
    located = sum(1 for _, section in sections if section.get("script_location"))
    several = located > 1
    out = []
    for name, section in sections:
        if located and not section.get("script_location"):
            continue
        found = _section_setup(snapshot, files, ini, here, section, f"{ini} [{name}]" if several else ini)
        if found is not None:
            out.append(found)
    return out


def _section_setup(snapshot: Snapshot, files: dict, ini: str, here: str, section: dict, found_by: str) -> AlembicSetup | None:
    location = section.get("script_location")
    locations = section.get("version_locations")
    separator = section.get("path_separator") or section.get("version_path_separator")
    prepend = section.get("prepend_sys_path")
    recursive = str(section.get("recursive_version_locations", "false")).lower() in ("true", "1", "yes")

    def resolve(value: str) -> str:
        value = value.strip().replace("@HERE@", "/" + here if here else "/")
        package, colon, inside = value.partition(":")
        if colon and not value.startswith("/") and "/" not in package:
            return _package_resource(files, package, inside, here)  # `package:migrations`
        return _norm(value if value.startswith("/") else posixpath.join(here, value))

    script_location = resolve(location) if location else here  # Flask-Migrate: the ini's own directory
    if not any(f.startswith(f"{script_location}/") for f in files):
        return None
    versions = (f"{script_location}/versions",)
    if locations:
        split = {"os": ":", "colon": ":", "semicolon": ";", "space": None, "newline": "\n"}.get(separator or "", None)
        parts = locations.split(split) if split else re.split(r"[\s,]+", locations)
        versions = tuple(resolve(p) for p in parts if p.strip())
    prepended = None
    if prepend:  # relative to where alembic runs: the ini's directory, as a rule
        prepended = resolve(re.split(r"[\s,:]+", prepend.strip())[0])
    return _setup(snapshot, files, script_location, versions, None, found_by, recursive, prepended)


def _package_resource(files: dict, package: str, inside: str, here: str) -> str:
    """`dispatch:database/revisions/core` as alembic resolves it (a directory inside the
    importable package `dispatch`): the package directory of that name holding the path,
    nearest to the ini first."""
    dotted = package.replace(".", "/")
    inside = inside.strip("/")
    roots = sorted(
        {f[: -len("/__init__.py")] for f in files if f.endswith(f"{dotted}/__init__.py") and (f == f"{dotted}/__init__.py" or f.endswith(f"/{dotted}/__init__.py"))},
        key=lambda d: (not (d + "/").startswith(here + "/") and d != here, d.count("/"), d),
    )
    for root in roots:
        if any(f.startswith(f"{root}/{inside}/") for f in files):
            return _norm(f"{root}/{inside}")
    return _norm(f"{roots[0] if roots else dotted}/{inside}")


def _setup(snapshot: Snapshot, files: dict, location: str, versions: tuple[str, ...], import_root: str | None, found_by: str, recursive: bool = False, prepended: str | None = None) -> AlembicSetup:
    for path in versions:
        if not any(f.startswith(path + "/") for f in files):
            raise SetupError(f"{snapshot.ref}: the alembic versions directory {path!r} ({found_by}) does not exist; pass --migrations PATH")
    env = f"{location}/env.py" if location else "env.py"
    source = snapshot.read(env) if env in files else b""
    transaction = "per-migration" if _PER_MIGRATION.search(source) else "one"
    if import_root is None:
        import_root = _scripts_import_root(snapshot, location, versions, prepended)
    return AlembicSetup(location, versions, import_root, transaction, found_by, recursive)


# What the scripts import that is never the app's own (a directory named `alembic` holding
# the migrations would otherwise claim every `from alembic import op`).
_LIBRARIES = {"alembic", "sqlalchemy", "sqlmodel", "__future__", "typing"}


def _scripts_import_root(snapshot: Snapshot, location: str, versions: tuple[str, ...], prepended: str | None = None) -> str:
    """Where the scripts' (and env.py's) absolute imports of the app resolve, as the models
    loader finds its own root: the ancestor of the script location from which most of them
    resolve to the repository's files (migrations inside the app's package,
    `ihatemoney/migrations` importing `ihatemoney.utils`: the repository root; a backend's
    `backend/app/alembic` importing `app.models`: `backend`). Without such imports, the
    directory holding the script location (`api/migrations` -> `api`), or the ini's
    `prepend_sys_path`, which also wins ties (an app run from elsewhere: the imports tell)."""
    from ..source.layout import _IMPORT, _Tree

    default = posixpath.dirname(location) if prepended is None else prepended
    tree = _Tree(snapshot)
    roots = [posixpath.dirname(location)]
    while roots[-1]:
        roots.append(posixpath.dirname(roots[-1]))
    roots = [default] + [r for r in roots if r != default]
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
