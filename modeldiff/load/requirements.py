"""What a ref declares it runs on, read from git objects (nothing is checked out or run).

The backend is the nearest directory, from the import root up to the repository root, that
declares dependencies (Dify: `api/`, beside `api/pyproject.toml` and its lock). From it:
`pyproject.toml` (`[project]`, Poetry), `uv.lock`, `poetry.lock`, `Pipfile.lock`/`Pipfile`,
`requirements*.txt` (with `-r`/`-c` includes), `setup.cfg` and `setup.py` (parsed with
`ast`, never executed). Lock files give exact pins; declarations give the names and ranges.
"""

from __future__ import annotations

import ast
import configparser
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LOCKS = ("uv.lock", "poetry.lock", "Pipfile.lock")
DECLARATIONS = ("pyproject.toml", "Pipfile", "setup.cfg", "setup.py")


class RequirementsError(Exception):
    """A dependency file that cannot be read: one line naming the file."""


@dataclass
class Declared:
    """The dependencies and Python requirement one ref declares."""

    backend: str = ""  # directory of the files below ("" = repository root)
    requires: dict[str, Requirement] = field(default_factory=dict)  # canonical name -> declared requirement
    pins: dict[str, str] = field(default_factory=dict)  # canonical name -> exact version (locks, ==)
    python: list[SpecifierSet] = field(default_factory=list)  # any one of them will do
    files: list[str] = field(default_factory=list)  # repo paths read
    problems: list[str] = field(default_factory=list)  # what could not be parsed, and where

    @property
    def empty(self) -> bool:
        return not self.requires and not self.pins

    def version_of(self, name: str) -> str | None:
        """The exact version `name` is pinned to, if any."""
        name = canonicalize_name(name)
        if name in self.pins:
            return self.pins[name]
        requirement = self.requires.get(name)
        return exact_version(requirement) if requirement is not None else None

    def python_allows(self, version: str) -> bool:
        return not self.python or any(spec.contains(version, prereleases=True) for spec in self.python)

    def describe_python(self) -> str:
        return " or ".join(str(s) for s in self.python) or "any"


def read_declared(snapshot, import_root: str) -> Declared:
    """The declarations of the backend `import_root` belongs to."""
    for directory in _upwards(import_root):
        names = _files_in(snapshot, directory)
        if not names:
            continue
        declared = Declared(backend=directory)
        for name in (*LOCKS, *DECLARATIONS, *_requirement_files(names)):
            if name in names:
                path = f"{directory}/{name}" if directory else name
                try:
                    _PARSERS.get(name, _parse_requirements_file)(snapshot, path, declared)
                except (ValueError, KeyError, TypeError, SyntaxError, InvalidRequirement, InvalidSpecifier, UnicodeDecodeError) as exc:
                    declared.problems.append(f"{path}: {type(exc).__name__}: {exc}".splitlines()[0])
                declared.files.append(path)
        if not declared.empty or declared.python:
            return declared
    return Declared()


def _upwards(import_root: str):
    parts = [p for p in import_root.strip("/").split("/") if p]
    for end in range(len(parts), -1, -1):
        yield "/".join(parts[:end])


def _files_in(snapshot, directory: str) -> set[str]:
    """Names of the dependency files directly in `directory`."""
    listing = snapshot.list_files(directory) if directory else snapshot.list_files("")
    prefix = f"{directory}/" if directory else ""
    names = set()
    for path in listing:
        rest = path[len(prefix):]
        if "/" not in rest and (rest in LOCKS or rest in DECLARATIONS or _is_requirements(rest)):
            names.add(rest)
        elif rest.startswith("requirements/") and rest.endswith(".txt") and rest.count("/") == 1:
            names.add(rest)
    return names


def _is_requirements(name: str) -> bool:
    return name.startswith("requirements") and name.endswith(".txt")


def _requirement_files(names: set[str]) -> list[str]:
    """requirements files, the ones an app runs on first (first pin wins)."""
    candidates = [n for n in names if _is_requirements(PurePosixPath(n).name) or n.startswith("requirements/")]
    return sorted(candidates, key=lambda n: (bool(re.search(r"dev|test|doc|lint|ci\b", n)), n != "requirements.txt", n))


def exact_version(requirement: Requirement) -> str | None:
    exact = [s.version for s in requirement.specifier if s.operator in ("==", "===") and "*" not in s.version]
    return exact[0] if len(exact) == 1 else None


def _text(snapshot, path: str) -> str:
    return snapshot.read(path).decode("utf-8")


def _add(declared: Declared, text: str, where: str) -> Requirement | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        declared.problems.append(f"{where}: {text!r}: {exc}".splitlines()[0])
        return None
    declared.requires.setdefault(canonicalize_name(requirement.name), requirement)
    return requirement


def _pin(declared: Declared, name: str, version: str) -> None:
    declared.pins.setdefault(canonicalize_name(name), str(version))


def _python(declared: Declared, text: str | None) -> None:
    if text and not declared.python:
        declared.python = [SpecifierSet(poetry_constraint(part)) for part in str(text).split("||") if part.strip()]


# -- lock files -----------------------------------------------------------------------------------
def _parse_uv_lock(snapshot, path: str, declared: Declared) -> None:
    data = tomllib.loads(_text(snapshot, path))
    _python(declared, data.get("requires-python"))
    for package in data.get("package", []):
        source = package.get("source", {})
        if "version" in package and not ({"editable", "virtual"} & set(source)):
            _pin(declared, package["name"], package["version"])


def _parse_poetry_lock(snapshot, path: str, declared: Declared) -> None:
    data = tomllib.loads(_text(snapshot, path))
    for package in data.get("package", []):
        if package.get("category", "main") == "main" or "groups" in package:
            _pin(declared, package["name"], package["version"])
    _python(declared, data.get("metadata", {}).get("python-versions"))


def _parse_pipfile_lock(snapshot, path: str, declared: Declared) -> None:
    data = json.loads(_text(snapshot, path))
    for name, entry in data.get("default", {}).items():
        version = entry.get("version", "") if isinstance(entry, dict) else ""
        if version.startswith("=="):
            _pin(declared, name, version[2:])
    python = data.get("_meta", {}).get("requires", {}).get("python_version")
    _python(declared, f"=={python}.*" if python else None)


# -- declarations ---------------------------------------------------------------------------------
def _parse_pyproject(snapshot, path: str, declared: Declared) -> None:
    data = tomllib.loads(_text(snapshot, path))
    project = data.get("project", {})
    for text in project.get("dependencies", []):
        _add(declared, text, path)
    _python(declared, project.get("requires-python"))
    poetry = data.get("tool", {}).get("poetry", {})
    _parse_poetry_table(poetry.get("dependencies", {}), path, declared)
    for group in poetry.get("group", {}).values():  # Poetry >= 1.2 groups: dev tools mostly, still declared
        _parse_poetry_table(group.get("dependencies", {}), path, declared)


def _parse_poetry_table(table: dict, path: str, declared: Declared) -> None:
    for name, value in table.items():
        if name.lower() == "python":
            _python(declared, value if isinstance(value, str) else value.get("version"))
            continue
        if isinstance(value, list):  # several constraints by marker: the first one
            value = value[0] if value else {}
        version = value if isinstance(value, str) else value.get("version", "*")
        if not isinstance(version, str):
            continue
        constraint = poetry_constraint(version)
        _add(declared, f"{name}{constraint}" if constraint else name, path)


def _parse_pipfile(snapshot, path: str, declared: Declared) -> None:
    data = tomllib.loads(_text(snapshot, path))
    for name, value in data.get("packages", {}).items():
        version = value if isinstance(value, str) else value.get("version", "*")
        _add(declared, name if version in ("*", "") else f"{name}{version}", path)
    python = data.get("requires", {}).get("python_version")
    _python(declared, f"=={python}.*" if python else None)


def _parse_setup_cfg(snapshot, path: str, declared: Declared) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(_text(snapshot, path))
    if not parser.has_section("options"):
        return
    for line in parser.get("options", "install_requires", fallback="").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            _add(declared, line, path)
    _python(declared, parser.get("options", "python_requires", fallback=None))


def _parse_setup_py(snapshot, path: str, declared: Declared) -> None:
    """`setup(install_requires=[...], python_requires=...)` with literal values, or names
    bound to literals at module level; anything computed is skipped."""
    tree = ast.parse(_text(snapshot, path))
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup":
            for keyword in node.keywords:
                value = names.get(keyword.value.id, keyword.value) if isinstance(keyword.value, ast.Name) else keyword.value
                try:
                    literal = ast.literal_eval(value)
                except ValueError:
                    declared.problems.append(f"{path}:{keyword.value.lineno}: {keyword.arg} is computed; not read")
                    continue
                if keyword.arg == "install_requires":
                    for text in [literal] if isinstance(literal, str) else literal:
                        _add(declared, text, path)
                elif keyword.arg == "python_requires":
                    _python(declared, literal)


def _parse_requirements_file(snapshot, path: str, declared: Declared, seen: set | None = None) -> None:
    seen = seen if seen is not None else set()
    if path in seen:
        return
    seen.add(path)
    for raw in _text(snapshot, path).splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        include = re.match(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)", line)
        if include:
            target = str(PurePosixPath(path).parent / include.group(2))
            target = _normalize(target)
            if target not in declared.files and snapshot.exists(target):
                declared.files.append(target)
                _parse_requirements_file(snapshot, target, declared, seen)
            continue
        if line.startswith("-") or "://" in line or line.startswith((".", "/")):
            continue  # options, editable installs, URLs and paths: nothing to pin
        line = line.split(" --", 1)[0].strip()  # per-requirement options (--hash=...)
        requirement = _add(declared, line, path)
        if requirement is not None and exact_version(requirement):
            _pin(declared, requirement.name, exact_version(requirement))


def _normalize(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def poetry_constraint(text: str) -> str:
    """A Poetry version constraint (`^1.4`, `~2.0.1`, `1.2.3`, `>=3.8,<4`) as PEP 440."""
    parts = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text.strip()):
        part = part.strip()
        if not part or part == "*":
            continue
        if part.startswith("^"):
            parts += _caret(part[1:])
        elif part.startswith("~") and not part.startswith("~="):
            parts += _tilde(part[1:])
        elif re.match(r"^\d", part):
            parts.append(f"=={part}")
        else:
            parts.append(part)
    return ",".join(parts)


def _release(version: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", version.split("+")[0])[:3]] or [0]


def _caret(version: str) -> list[str]:
    release = _release(version)
    for index, number in enumerate(release):
        if number != 0 or index == len(release) - 1:
            upper = release[:index] + [number + 1]
            break
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


def _tilde(version: str) -> list[str]:
    release = _release(version)
    upper = [release[0] + 1] if len(release) == 1 else [release[0], release[1] + 1]
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


_PARSERS = {
    "uv.lock": _parse_uv_lock,
    "poetry.lock": _parse_poetry_lock,
    "Pipfile.lock": _parse_pipfile_lock,
    "pyproject.toml": _parse_pyproject,
    "Pipfile": _parse_pipfile,
    "setup.cfg": _parse_setup_cfg,
    "setup.py": _parse_setup_py,
}
