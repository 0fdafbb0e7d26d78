"""Which third-party packages a ref's models reach, read statically from git objects.

Follows the module-level imports (not those inside functions or `if TYPE_CHECKING:`) from
every file under the models paths through the repository's own modules, and returns the
top-level names of what is neither in the repository nor in the standard library. An
over-approximation of what the import will run: enough to choose what to install.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# Distributions whose import name is not their project name with "-" -> "_" (lower case).
IMPORT_NAMES = {
    "psycopg2-binary": ("psycopg2",),
    "psycopg-binary": ("psycopg_binary",),
    "psycopg2cffi": ("psycopg2cffi",),
    "pyyaml": ("yaml",),
    "python-dateutil": ("dateutil",),
    "beautifulsoup4": ("bs4",),
    "pillow": ("PIL",),
    "pycryptodome": ("Crypto",),
    "pycryptodomex": ("Cryptodome",),
    "python-dotenv": ("dotenv",),
    "pyjwt": ("jwt",),
    "python-jose": ("jose",),
    "scikit-learn": ("sklearn",),
    "opencv-python": ("cv2",),
    "opencv-python-headless": ("cv2",),
    "attrs": ("attr", "attrs"),
    "mysqlclient": ("MySQLdb",),
    "pyopenssl": ("OpenSSL",),
    "python-slugify": ("slugify",),
    "python-magic": ("magic",),
    "msgpack-python": ("msgpack",),
    "argon2-cffi": ("argon2",),
    "ruamel-yaml": ("ruamel",),
    "protobuf": ("google",),
    "pymupdf": ("fitz",),
    "python-docx": ("docx",),
    "markdown": ("markdown",),
    "setuptools": ("setuptools", "pkg_resources"),
    "dnspython": ("dns",),
    "pyzmq": ("zmq",),
    "python-multipart": ("multipart",),
    "sqlalchemy-continuum": ("sqlalchemy_continuum",),
    "sqlalchemy-utils": ("sqlalchemy_utils",),
    "flask-sqlalchemy": ("flask_sqlalchemy",),
}


def import_names(distribution: str) -> tuple[str, ...]:
    """Top-level import names of a distribution (canonical name)."""
    return IMPORT_NAMES.get(distribution, (distribution.replace("-", "_").replace(".", "_"),))


def reached_imports(snapshot, listing: dict[str, str], import_root: str, models_paths: list[str]) -> set[str]:
    root = import_root.strip("/")
    prefix = f"{root}/" if root else ""
    todo = sorted(p for p in listing if p.endswith(".py") and any(p == m or p.startswith(m.rstrip("/") + "/") for m in models_paths))
    seen: set[str] = set()
    external: set[str] = set()
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
    directories = {p.rsplit("/", 1)[0] for p in listing if "/" in p}  # namespace packages too
    while todo:
        path = todo.pop()
        if path in seen or path not in listing:
            continue
        seen.add(path)
        module = path[len(prefix):-3].replace("/", ".")
        package = module.rpartition(".")[0] if not module.endswith("__init__") else module[: -len(".__init__")]
        try:
            tree = ast.parse(_read(snapshot, listing[path]))
        except (SyntaxError, ValueError):
            continue  # newer syntax than this interpreter's: the child may still import it
        for name in _module_level_imports(tree, package):
            found = _repo_paths(name, listing, prefix)
            if found:
                todo.extend(found)
            elif name and name.split(".")[0] not in stdlib and prefix + name.split(".")[0] not in directories:
                external.add(name.split(".")[0])
    return external


def _read(snapshot, entry: str) -> bytes:
    return Path(entry).read_bytes() if snapshot.is_worktree else snapshot.repo.read_blob(entry)


def _module_level_imports(tree: ast.AST, package: str):
    """Absolute names of what the module imports when it runs."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}" if base else alias.name
        stack.extend(ast.iter_child_nodes(node))


def _repo_paths(name: str, listing: dict, prefix: str) -> list[str]:
    """The repository files importing `name` runs (its packages' __init__ too)."""
    parts = name.split(".") if name else []
    found = []
    for end in range(1, len(parts) + 1):
        base = prefix + "/".join(parts[:end])
        for candidate in (f"{base}.py", f"{base}/__init__.py"):
            if candidate in listing:
                found.append(candidate)
    return found
