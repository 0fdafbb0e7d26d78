"""A runtime per ref, from the ref itself: the interpreter and libraries its models load with.

With no `--runtime` (the default), a ref whose pins differ from modeldiff's own runtime in
a way that changes the loaded schema (`mismatches`: SQLAlchemy major.minor, Flask-SQLAlchemy
major, SQLModel, the driver, a library that defines tables, the Python it allows) gets its
own runtime as `--runtime auto` would make it; every other ref loads with modeldiff's own.
When no runtime can be made (the package index unreachable, no interpreter fits, and no
interpreter is downloaded in this mode), the ref loads with modeldiff's own, with one
`runtime-fallback` warning per mismatch, and the result is marked partial; `--runtime
bundled` (or MODELDIFF_RUNTIME=bundled, or `runtime = "bundled"` in [tool.modeldiff]) is
how an offline user accepts modeldiff's own: warnings per package, not partial.

`--runtime auto` reads what the ref declares (`requirements.py`), picks SQLAlchemy, the
PostgreSQL driver, Flask-SQLAlchemy/SQLModel and the declared packages the models import
(`imports.py`) at the versions its lock pins, chooses an installed interpreter that meets its
`requires-python`, and installs them with uv into an environment in the cache, named after
the interpreter version and the resolved pins, so every ref with the same pins shares it.
Environments are built in a temporary directory and renamed into place under a lock, so
concurrent runs never see half of one. Only wheels are installed (no package's build code
runs: what a ref declares is as untrusted as its models), with their bytecode compiled once
(the loader never writes any); the one exception is SQLAlchemy (`BUILD_FROM_SOURCE`): 1.3
has no wheel for Python >= 3.10, and its sdist, from the index, is SQLAlchemy's own code
(built without its C extensions), not the ref's. `--runtime bundled` is modeldiff's own interpreter
and libraries (offline), with a warning for each declared package they do not match.
"""

from __future__ import annotations

import fcntl
import functools
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from pathlib import Path

from .. import settings
from ..source.repository import Snapshot, default_cache_dir
from . import LoadFailure

# What reads the ref's declarations (packaging, tomllib, ast) is imported by the modes that
# use it: a run without --runtime only asks this module for the bundled runtime.
if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from .requirements import Declared

MODES = settings.RUNTIME_MODES  # None (no --runtime): each ref's own runtime where it matters
FORMAT = 3  # bump when what goes into an environment changes
OLDEST_CHILD = (3, 9)  # the loader's own child-side code needs this much
# Installed whenever the ref declares them: they decide how models become tables.
SCHEMA_PACKAGES = ("sqlalchemy", "flask-sqlalchemy", "sqlmodel")
DRIVERS = ("psycopg2", "psycopg2-binary", "psycopg", "psycopg-binary", "asyncpg", "pg8000", "psycopg2cffi")
# Built from source (needs pg_config and a compiler); the binary wheel of the same version
# imports the same way.
SUBSTITUTES = {"psycopg2": "psycopg2-binary"}
INSTALL_TIMEOUT = 900
# Built from its sdist when the index has no wheel for the interpreter (see the docstring).
BUILD_FROM_SOURCE = ("sqlalchemy",)
# What uv says when it cannot reach the index: no use trying package by package.
UNREACHABLE = re.compile(r"error sending request|network connectivity is disabled|failed to fetch|dns error|connection refused|network is unreachable|timed out|offline", re.I)


class RuntimeFailure(LoadFailure):
    """No runtime for a ref: one line naming the ref, what it needs and how to give it."""


@dataclass
class Runtime:
    python: str | None  # interpreter to load with; None: modeldiff's own
    mode: str  # "auto", "bundled", "fallback" (no runtime could be made) or "python" (--python)
    python_version: str = ""
    packages: dict[str, str] = field(default_factory=dict)  # what the environment holds
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (code, message)

    @property
    def fingerprint(self) -> list:
        """What the runtime adds to a loaded schema's cache key."""
        if self.mode != "auto":  # its warnings (and a fallback's partial mark) are part of the schema
            return ["runtime-warnings", sorted(self.warnings)] if self.warnings else []
        return ["runtime", FORMAT, self.python_version, sorted(self.packages.items())]

    def describe(self) -> dict:
        """For the JSON stats: which versions this ref was loaded with."""
        if self.mode == "fallback":
            return {"fallback": "bundled", "mismatches": [message for _, message in self.warnings]}
        if self.mode != "auto":
            return {}
        return {"python": self.python_version, "packages": dict(sorted(self.packages.items()))}


# -- the entry point ------------------------------------------------------------------------------
_chosen: dict[tuple, Runtime] = {}
_chosen_lock = threading.Lock()


def runtime_for(snapshot: Snapshot, import_root: str, models_paths: list[str], mode: str | None = "auto", python: str | None = None, progress=None) -> Runtime:
    """The runtime `snapshot`'s models load with (once per process and ref)."""
    if python:
        return Runtime(python, "python")
    key = (snapshot.repo.git_dir, snapshot.commit or snapshot.ref, import_root, tuple(models_paths), mode)
    with _chosen_lock:
        if key in _chosen:
            return _chosen[key]
    if mode == "bundled":
        runtime = _bundled_kept(snapshot, import_root, models_paths)
    elif mode is None:
        runtime = _default(snapshot, import_root, models_paths, progress or _terminal_progress)
    else:
        runtime = _auto(snapshot, import_root, models_paths, progress or _terminal_progress)
    with _chosen_lock:
        return _chosen.setdefault(key, runtime)


def _bundled_kept(snapshot: Snapshot, import_root: str, models_paths: list[str]) -> Runtime:
    """`_bundled`, its warnings kept per commit: a warm run reads one small file, not the
    ref's lock files and import graph."""
    from .requirements import read_declared

    record_key = _digest("bundled", FORMAT, snapshot.commit, import_root, models_paths, bundled_versions()) if snapshot.commit else None
    record = _read_record(record_key) if record_key else None
    if record is not None:
        return Runtime(None, "bundled", warnings=[tuple(w) for w in record["warnings"]])
    runtime = _bundled(snapshot, read_declared(snapshot, import_root), import_root, models_paths)
    if record_key:
        _write_record(record_key, {"warnings": runtime.warnings})
    return runtime


def _bundled(snapshot: Snapshot, declared: Declared, import_root: str, models_paths: list[str]) -> Runtime:
    runtime = Runtime(None, "bundled")
    if declared.empty:
        return runtime
    from importlib.metadata import PackageNotFoundError, version as installed_version

    wanted = select(declared, _reached(snapshot, import_root, models_paths))
    for name, requirement in sorted(wanted.items()):
        try:
            have = installed_version(name)
        except PackageNotFoundError:
            have = None
        pinned = declared.version_of(name)
        if have is None:
            runtime.warnings.append(("runtime-mismatch", f"{_where(declared)} declares {requirement}; not installed with modeldiff (--runtime bundled): its modules are stubbed"))
        elif (pinned and pinned != have) or (not pinned and not requirement.specifier.contains(have, prereleases=True)):
            runtime.warnings.append(("runtime-mismatch", f"{_where(declared)} declares {requirement}; loaded with {name} {have} (--runtime bundled)"))
    return runtime


def _default(snapshot: Snapshot, import_root: str, models_paths: list[str], progress) -> Runtime:
    """The ref's own runtime where modeldiff's own would load it differently, else modeldiff's
    own; no interpreter is downloaded. The decision is kept per commit (and per set of
    modeldiff's own versions): a warm run reads one small file."""
    record_key = _digest("default", FORMAT, snapshot.commit, import_root, models_paths, bundled_versions()) if snapshot.commit else None
    record = _read_record(record_key) if record_key else None
    if record and record.get("bundled"):
        return Runtime(None, "bundled")
    if record and record.get("fallback"):
        return Runtime(None, "fallback", warnings=[tuple(w) for w in record["fallback"]])
    if record and Path(record["python"]).exists():
        return _kept(record)
    from .imports import import_names
    from .requirements import read_declared

    declared = read_declared(snapshot, import_root)
    # What the models import matters only for a declared library that defines tables: the
    # import graph (a quarter second on Dify) is followed only then.
    wanted = select(declared, set()) if not declared.empty else {}
    if any(set(import_names(name)) & _shaping_modules() for name in declared.requires.keys() | declared.pins.keys()):
        wanted = select(declared, _reached(snapshot, import_root, models_paths))
    differences = mismatches(declared, wanted) if not declared.empty else []
    if not differences:
        if record_key:
            _write_record(record_key, {"bundled": True})
        return Runtime(None, "bundled")
    try:
        runtime = _auto(snapshot, import_root, models_paths, progress, declared=declared, download_python=False)
    except (RuntimeFailure, subprocess.SubprocessError, OSError) as exc:  # not kept: the next run tries again
        why = str(exc).removeprefix(f"{snapshot.ref}: ")
        runtime = Runtime(None, "fallback")
        runtime.warnings = [("runtime-fallback", f"{_where(declared)} {difference}; loaded with modeldiff's own runtime instead, as its own could not be made ({why}): the result is partial (--runtime bundled accepts modeldiff's own)") for difference in differences]
        return runtime
    if record_key:
        _keep(record_key, runtime)
    return runtime


def fall_back(snapshot: Snapshot, import_root: str, models_paths: list[str], failed: Runtime, why: str) -> Runtime:
    """The default's own runtime for `snapshot` could not load its models (pins that do not
    import together on this Python: Flask 1.x beside a Jinja2 it predates): modeldiff's own
    instead, said in a warning, the result partial; kept, so the next run does not try again."""
    runtime = Runtime(None, "fallback")
    versions = ", ".join(f"{n} {v}" for n, v in sorted(failed.packages.items()) if n in SCHEMA_PACKAGES)
    runtime.warnings = [("runtime-fallback", f"the models did not load with the ref's own runtime (Python {failed.python_version}, {versions}): {why}; loaded with modeldiff's own runtime instead: the result is partial (--runtime bundled accepts modeldiff's own)")]
    if snapshot.commit:
        _write_record(_digest("default", FORMAT, snapshot.commit, import_root, models_paths, bundled_versions()), {"fallback": runtime.warnings})
    with _chosen_lock:
        _chosen[(snapshot.repo.git_dir, snapshot.commit or snapshot.ref, import_root, tuple(models_paths), None)] = runtime
    return runtime


@functools.cache
def bundled_versions() -> tuple[tuple[str, str], ...]:
    """(name, version) of what modeldiff's own runtime has that `mismatches` looks at (read
    on every run that chooses a runtime: from dist-info names, not importlib.metadata)."""
    from ..cache import installed_versions

    names = (*SCHEMA_PACKAGES, *DRIVERS)
    found = [(name, have) for name, have in zip(names, installed_versions(names, ask_metadata=False)) if have != "-"]
    return (("python", ".".join(map(str, sys.version_info[:3]))), *found)


def mismatches(declared: Declared, wanted: dict[str, Requirement]) -> list[str]:
    """How modeldiff's own runtime differs from what the ref pins, where that changes the
    schema: SQLAlchemy or SQLModel major.minor, Flask-SQLAlchemy major (each also when the
    ref's range excludes ours, or ours is missing), a declared driver we lack (psycopg2 and
    psycopg 3 compile some types differently), a library that defines tables we lack, and
    a Python the ref does not allow. One line each: the Python first, then by package."""
    from packaging.version import InvalidVersion, Version

    from .imports import import_names

    ours = dict(bundled_versions())
    found = []
    if not declared.python_allows(ours["python"]):
        found.append(f"requires Python {declared.describe_python()}; modeldiff runs on {ours['python']}")
    have_driver = {m for n in DRIVERS if n in ours for m in import_names(n)}
    for name, requirement in sorted(wanted.items()):
        pinned = declared.version_of(name)
        if name in DRIVERS:
            if not set(import_names(SUBSTITUTES.get(name, name))) & have_driver:
                found.append(f"declares the driver {requirement}; modeldiff's own runtime has no {import_names(name)[0]}")
            continue
        if name in ("sqlalchemy", "sqlmodel", "flask-sqlalchemy"):
            have = ours.get(name)
            if have is None:
                if name != "sqlalchemy":
                    found.append(f"declares {requirement}; modeldiff's own runtime has no {name}")
                continue
            width = 1 if name == "flask-sqlalchemy" else 2
            try:
                differs = Version(pinned).release[:width] != Version(have).release[:width] if pinned else not requirement.specifier.contains(have, prereleases=True)
            except InvalidVersion:
                differs = True
            if differs:
                found.append(f"declares {name} {pinned or requirement.specifier}; modeldiff's own runtime has {have}")
        elif set(import_names(name)) & _shaping_modules() and not _installed(name):
            found.append(f"declares {requirement}, which defines tables; modeldiff's own runtime does not have it")
    return found


def _shaping_modules() -> set[str]:
    from .schema_packages import SCHEMA_PACKAGES as SHAPING

    return {module.split(".")[0] for module in SHAPING}


def _installed(name: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(name)
    except PackageNotFoundError:
        return False
    return True


def _auto(snapshot: Snapshot, import_root: str, models_paths: list[str], progress, declared: Declared | None = None, wanted: dict | None = None, download_python: bool = True) -> Runtime:
    # A commit's choice is kept: a warm run reads one small file, not the ref's lock files.
    record_key = _digest("choice", FORMAT, snapshot.commit, import_root, models_paths) if snapshot.commit else None
    record = _read_record(record_key) if record_key else None
    if record and Path(record["python"]).exists():
        return _kept(record)
    from .requirements import read_declared

    declared = declared or read_declared(snapshot, import_root)
    if declared.empty:
        runtime = Runtime(None, "bundled")
        runtime.warnings.append(("runtime-undeclared", f"no declared dependencies found from {import_root or '.'} up to the repository root; loaded with modeldiff's own libraries"))
        return runtime
    wanted = wanted if wanted is not None else select(declared, _reached(snapshot, import_root, models_paths))
    interpreter, interpreter_version = choose_interpreter(declared, snapshot.ref, download=download_python)
    warnings = [("runtime-unparsed", problem) for problem in declared.problems]
    environment, packages, failed = prepare_environment(interpreter, interpreter_version, declared, wanted, snapshot.ref, progress)
    warnings += [("runtime-install-failed", f"{_where(declared)}: {name} could not be installed ({why}); its modules are stubbed") for name, why in failed]
    runtime = Runtime(str(environment / "bin" / "python"), "auto", interpreter_version, packages, warnings)
    if record_key:
        _keep(record_key, runtime)
    return runtime


def _kept(record: dict) -> Runtime:
    return Runtime(record["python"], "auto", record["python_version"], record["packages"], [tuple(w) for w in record["warnings"]])


def _keep(record_key: str, runtime: Runtime) -> None:
    _write_record(record_key, {"python": runtime.python, "python_version": runtime.python_version, "packages": runtime.packages, "warnings": runtime.warnings})


def _where(declared: Declared) -> str:
    return f"{declared.backend or '.'}/ ({', '.join(f.rpartition('/')[2] for f in declared.files)})" if declared.files else "the repository"


def _reached(snapshot: Snapshot, import_root: str, models_paths: list[str]) -> set[str]:
    from .imports import reached_imports

    return reached_imports(snapshot, snapshot.list_files(import_root), import_root, models_paths)


def select(declared: Declared, reached: set[str]) -> dict[str, Requirement]:
    """What to install: the schema packages and drivers the ref declares, and every
    declared or locked package whose modules the models import."""
    from packaging.requirements import Requirement

    from .imports import import_names

    known = {**{n: Requirement(n) for n in declared.pins}, **declared.requires}
    direct = declared.requires or known
    reached_lower = {name.lower() for name in reached}
    wanted = {}
    for name, requirement in known.items():
        if (name in SCHEMA_PACKAGES or name in DRIVERS) and name in direct:
            wanted[name] = requirement
        elif any(module.lower() in reached_lower for module in import_names(name)):
            wanted[name] = requirement
    # The loader's own DDL code needs both (ddl -> sqltext -> compat imports alembic).
    for name in ("sqlalchemy", "alembic"):
        wanted.setdefault(name, known.get(name, Requirement(name)))
    return wanted


# -- interpreters ---------------------------------------------------------------------------------
@functools.cache
def interpreters() -> tuple[tuple[tuple[int, int, int], str], ...]:
    """(version, path) of every CPython found: this one, PATH, pyenv, uv's."""
    own = getattr(sys, "_base_executable", sys.executable)  # not modeldiff's virtualenv
    candidates = [own if os.path.exists(own) else sys.executable]
    candidates += [shutil.which(f"python3.{minor}") or "" for minor in range(OLDEST_CHILD[1], 16)]
    uv = uv_binary()
    if uv:
        try:
            out = subprocess.run([uv, "python", "list", "--only-installed", "--python-preference", "only-managed", "--output-format", "json"], capture_output=True, text=True, timeout=30).stdout
            candidates += [entry["path"] for entry in json.loads(out or "[]") if entry.get("implementation") == "cpython" and entry.get("path")]
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
    found: dict[str, tuple[tuple[int, int, int], str]] = {}
    # pyenv's own versions, named by version (no need to run them); its shims are skipped
    # (they run whichever version pyenv is set to, slowly).
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for path in sorted(glob.glob(str(pyenv / "versions" / "*" / "bin" / "python3"))):
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", Path(path).parent.parent.name)
        if match and tuple(map(int, match.groups()))[:2] >= OLDEST_CHILD and os.access(path, os.X_OK):
            found.setdefault(os.path.realpath(path), (tuple(map(int, match.groups())), path))
    for path in candidates:
        if not path or "/shims/" in path or not os.access(path, os.X_OK):
            continue
        real = os.path.realpath(path)
        if real in found:
            continue
        version = _probe(path)
        if version and version[:2] >= OLDEST_CHILD:
            found[real] = (version, path)
    return tuple(sorted(found.values()))


def _probe(path: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([path, "-I", "-c", "import sys, platform; print(platform.python_implementation(), *sys.version_info[:3])"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 4 or parts[0] != "CPython":
        return None
    return tuple(int(p) for p in parts[1:])  # type: ignore[return-value]


def choose_interpreter(declared: Declared, ref: str, download: bool = True) -> tuple[str, str]:
    """(path, version) of an interpreter the ref allows: modeldiff's own when it may, else
    the oldest allowed (old pins have wheels for it); uv installs one when none is found
    (if `download`)."""
    allowed = [(v, p) for v, p in interpreters() if declared.python_allows(".".join(map(str, v)))]
    own = [(v, p) for v, p in allowed if v[:2] == sys.version_info[:2]]
    if own or allowed:
        version, path = (own or allowed)[0]
        return path, ".".join(map(str, version))
    spec = declared.describe_python()
    reason = _uv_install_python(spec) if download else "not downloaded without --runtime auto"
    if reason is None:
        interpreters.cache_clear()
        allowed = [(v, p) for v, p in interpreters() if declared.python_allows(".".join(map(str, v)))]
        if allowed:
            return allowed[0][1], ".".join(map(str, allowed[0][0]))
        reason = "uv installed one that is not found"
    raise RuntimeFailure(f"{ref}: {_where(declared)} needs Python {spec}; none is installed (PATH, pyenv, uv) and uv could not provide one ({reason}); give an interpreter with --python PATH")


def _uv_install_python(spec: str) -> str | None:
    """Let uv download an interpreter; why not, or None when it did."""
    uv = uv_binary()
    if uv is None:
        return "uv is not installed"
    if settings.offline():
        return "MODELDIFF_OFFLINE is set"
    try:
        out = subprocess.run([uv, "python", "install", spec.split(" or ")[0]], capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if out.returncode == 0 else _last_line(out.stderr)


# -- environments ---------------------------------------------------------------------------------
def uv_binary() -> str | None:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def runtimes_dir() -> Path:
    return default_cache_dir() / "runtimes"


def prepare_environment(python: str, python_version: str, declared: Declared, wanted: dict[str, Requirement], ref: str, progress) -> tuple[Path, dict[str, str], list[tuple[str, str]]]:
    """(environment, its packages, [(package, why it failed)]) for `wanted` on `python`."""
    lines = {}
    for name, requirement in wanted.items():
        target = SUBSTITUTES.get(name, name)
        pinned = declared.version_of(name)
        lines[target] = f"{target}=={pinned}" if pinned else f"{target}{requirement.specifier}" + (f"; {requirement.marker}" if requirement.marker else "")
    started = time.monotonic()
    target, pins, failed = _environment(python, python_version, declared, lines, ref, progress)
    # A package the models use may import an optional dependency of its own only when a
    # column type needs it (sqlalchemy-utils' encrypted types and `cryptography`): those
    # the ref itself declares are installed too, in a second environment.
    optional = {name: f"{name}=={declared.version_of(name)}" if declared.version_of(name) else name for name in _optional_declared(target, declared) if name not in pins}
    if optional:
        lines = {**lines, **optional}
        target, pins, failed = _environment(python, python_version, declared, lines, ref, progress)
    progress(f"{ref}: runtime ready in {time.monotonic() - started:.1f}s (Python {python_version}, {', '.join(f'{n} {v}' for n, v in sorted(pins.items()) if n in lines)})")
    return target, pins, failed


def _environment(python: str, python_version: str, declared: Declared, lines: dict[str, str], ref: str, progress) -> tuple[Path, dict[str, str], list[tuple[str, str]]]:
    """The environment of `lines` resolved (the lock's other pins as constraints) and built,
    both kept: (its directory, its packages, [(package, why it failed)])."""
    constraints = [f"{n}=={v}" for n, v in sorted(declared.pins.items()) if n not in lines]
    progress(f"{ref}: resolving {len(lines)} packages for Python {python_version} ({', '.join(sorted(lines.values()))})")
    resolution_key = _digest("resolution", FORMAT, python_version, sorted(lines.values()), constraints)
    resolution = _read_record(resolution_key)
    if resolution is None:
        pins, failed = _resolve(python, lines, constraints)
        _write_record(resolution_key, {"pins": pins, "failed": failed})
    else:
        pins, failed = resolution["pins"], [tuple(f) for f in resolution["failed"]]
    key = _digest("env", FORMAT, python_version, sorted(pins.items()))[:24]
    target = runtimes_dir() / "envs" / key
    if not (target / "ready").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{target}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one builder per environment, across processes
            if not (target / "ready").exists():
                progress(f"{ref}: installing {len(pins)} packages into a new environment (once)")
                _build(python, target, pins)
    failed += [tuple(f) for f in json.loads((target / "failed.json").read_text())]
    for name, _why in failed:
        pins.pop(name, None)
    return target, pins, failed


def _optional_declared(target: Path, declared: Declared) -> set[str]:
    """The packages the ref declares that a package installed in `target` lists as an
    optional dependency (`Requires-Dist: x; extra == "..."`)."""
    from email.parser import HeaderParser

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    known = set(declared.pins) | set(declared.requires)
    found = set()
    for metadata in target.glob("lib/python*/site-packages/*.dist-info/METADATA"):
        for line in HeaderParser().parsestr(metadata.read_text(errors="replace")).get_all("Requires-Dist") or ():
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            name = canonicalize_name(requirement.name)
            if name in known and requirement.marker is not None and "extra" in str(requirement.marker):
                found.add(name)
    return found


def _resolve(python: str, lines: dict[str, str], constraints: list[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Exact pins for `lines` (and what they depend on): with the lock's other pins as
    constraints, else without them; a package that cannot be resolved is left out."""
    pins, error = _compile(python, list(lines.values()), constraints)
    if pins is not None:
        return pins, []
    if UNREACHABLE.search(error):
        raise RuntimeFailure(f"the package index is unreachable ({error})")
    for constraints in (constraints, []):  # the lock's other pins may be what conflicts
        failed, kept, pins = [], {}, {}
        for name in sorted(lines, key=lambda n: (n != "sqlalchemy", n)):  # one at a time, SQLAlchemy first
            trial, why = _compile(python, [*kept.values(), lines[name]], constraints)
            if trial is None and name in DRIVERS:  # its version does not change the DDL; an old pin may have no wheel
                trial, _ = _compile(python, [*kept.values(), name], constraints)
                lines = {**lines, name: name} if trial is not None else lines
            if trial is None:
                failed.append((name, why))
            else:
                kept[name], pins = lines[name], trial
        if "sqlalchemy" in kept:
            return pins, failed
    raise RuntimeFailure(f"cannot resolve {lines['sqlalchemy']} for {python}: {error}")


def _compile(python: str, requirements: list[str], constraints: list[str]) -> tuple[dict[str, str] | None, str]:
    from packaging.utils import canonicalize_name

    with tempfile.TemporaryDirectory(prefix="modeldiff-resolve-") as tmp:
        Path(tmp, "requirements.in").write_text("\n".join(requirements) + "\n")
        Path(tmp, "constraints.txt").write_text("\n".join(constraints) + "\n")
        uv = uv_binary()
        if uv:
            command = [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--no-build", "--python", python, "-c", f"{tmp}/constraints.txt", f"{tmp}/requirements.in"]
        else:  # pip's resolver: a dry-run install reports what it would install
            command = [python, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--only-binary", ":all:", "--report", f"{tmp}/report.json", "-c", f"{tmp}/constraints.txt", "-r", f"{tmp}/requirements.in"]
        out = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        sdist = re.search(r"\b([A-Za-z0-9_.\-]+)==\S+ has no usable wheels", out.stderr) if uv and out.returncode else None
        if sdist and canonicalize_name(sdist.group(1)) in BUILD_FROM_SOURCE:  # its metadata needs its sdist
            command[command.index("--no-build")] = "--only-binary=:all:"
            out = subprocess.run([*command, "--no-binary", canonicalize_name(sdist.group(1))], capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=_build_env())
        if out.returncode != 0:
            return None, _last_line(out.stderr)
        if uv:
            found = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", out.stdout, re.M)
            return {canonicalize_name(n): v for n, v in found}, ""
        report = json.loads(Path(tmp, "report.json").read_text())
        return {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}, ""


def _build(python: str, target: Path, pins: dict[str, str]) -> None:
    """Create the environment in a temporary directory, then rename it to `target`; the
    packages that could not be installed (the others are) are listed in its failed.json."""
    from packaging.utils import canonicalize_name

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        uv = uv_binary()
        if uv:
            _run([uv, "venv", "--quiet", "--relocatable", "--python", python, str(tmp)])
            install = [uv, "pip", "install", "--quiet", "--no-deps", "--no-build", "--compile-bytecode", "--python", str(tmp / "bin" / "python")]
        else:
            _run([python, "-m", "venv", "--without-pip", str(tmp)])
            install = [python, "-m", "pip", "--python", str(tmp / "bin" / "python"), "install", "--quiet", "--no-deps", "--only-binary", ":all:"]
        requirements = [f"{n}=={v}" for n, v in sorted(pins.items())]
        failed = []
        if subprocess.run([*install, *requirements], capture_output=True, text=True, timeout=INSTALL_TIMEOUT).returncode != 0:
            for requirement in requirements:  # one at a time: keep what installs
                out = subprocess.run([*install, requirement], capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
                name = canonicalize_name(requirement.split("==")[0])
                if out.returncode != 0 and uv and name in BUILD_FROM_SOURCE:  # no wheel for this Python
                    build = [arg for arg in install if arg != "--no-build"]
                    out = subprocess.run([*build, requirement], capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=_build_env())
                if out.returncode != 0:
                    failed.append((canonicalize_name(requirement.split("==")[0]), _last_line(out.stderr)))
        (tmp / "failed.json").write_text(json.dumps(failed))
        (tmp / "ready").write_text("")
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build_env() -> dict[str, str]:
    # SQLAlchemy's C extensions are optional: pure Python builds without a compiler.
    return {**os.environ, "DISABLE_SQLALCHEMY_CEXT": "1"}


def _run(command: list[str]) -> None:
    out = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeFailure(f"{' '.join(command[:3])}: {_last_line(out.stderr)}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


# -- small records --------------------------------------------------------------------------------
def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _read_record(key: str) -> dict | None:
    try:
        return json.loads((runtimes_dir() / "records" / f"{key[:32]}.json").read_text())
    except (OSError, ValueError):
        return None


def _write_record(key: str, record: dict) -> None:
    path = runtimes_dir() / "records" / f"{key[:32]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..cache import atomic_write

    atomic_write(path, json.dumps(record))


def _terminal_progress(message: str) -> None:
    click = sys.modules.get("click")  # the CLI's -q silences it; library callers have no context
    context = click.get_current_context(silent=True) if click else None
    if sys.stderr.isatty() and not (context and context.meta.get("modeldiff.quiet")):
        print(f"modeldiff: {message}", file=sys.stderr, flush=True)
