"""Import hooks of the loader child.

`RepoImporter` serves the repository's modules from the ref's files (a module is written to
the child's private directory only when it is imported, so Dify's ~3000-file `api/` costs
only the ~200 files the models reach). `StubFinder`, last on `sys.meta_path`, answers every
module nothing else could find with a stub module.

Policy for repository code that raises while it is imported:
- a module inside the models package(s) runs as Python runs it: any exception is the user's
  to see (`LoadError` with file and line);
- every other repository module (an application package's `__init__` that builds the app,
  reads settings, connects to services...) runs statement by statement: a top-level
  statement that raises is skipped, the names it would have bound become stubs, and the
  module is reported as partly stubbed. Only a failing statement that itself defines schema
  (a `SQLAlchemy()`/`MetaData()`/declarative base, a `Table(...)`, a mapped class) is an
  error, since skipping it would silently lose tables.
"""

from __future__ import annotations

import __future__

import ast
import importlib.abc
import importlib.machinery
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Callable

from .stubs import OVERRIDES, RECORDER, Stub, StubModule, make_stub_module

# Source text that defines where tables are registered, or tables themselves: a statement
# (or an unparsable module) matching this must not be skipped.
SCHEMA_DEFINING = re.compile(
    rb"\bSQLAlchemy\s*\(|\bMetaData\s*\(|\bdeclarative_base\s*\(|\bDeclarativeBase\b|\bregistry\s*\("
    rb"|__tablename__|__table__\b|\bTable\s*\(|\bmapped_column\s*\(|\bColumn\s*\(|\bmap_imperatively\s*\(|\bmapper\s*\("
)
_FUTURE_FLAGS = {name: getattr(__future__, name).compiler_flag for name in __future__.all_feature_names}


class LoadError(BaseException):
    """A model module failed to import: carries the repo file and line.

    A BaseException, so that an application's `except Exception:` around its model imports
    (a common "import everything" idiom) cannot hide it."""

    def __init__(self, module: str, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message} (while importing {module})")
        self.module, self.file, self.line, self.message = module, file, line, message


def error_location(exc: BaseException, recorder=RECORDER) -> tuple[str, int]:
    """Innermost repository frame of an exception's traceback."""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = recorder.repo_path(exc.filename)
        if where:
            return where, exc.lineno or 0
    found = ("", 0)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        where = recorder.repo_path(frame.f_code.co_filename)
        if where:
            found = (where, lineno)
    if found == ("", 0) and getattr(exc, "file", None):  # SandboxViolation knows where it was raised
        return exc.file, exc.line
    return found


def describe_exception(exc: BaseException) -> str:
    from .sandbox import HardExit

    if isinstance(exc, HardExit):
        return f"module called os._exit({exc.code!r})" if exc.code != "abort" else "module called os.abort()"
    if isinstance(exc, SystemExit):
        return f"module called sys.exit({exc.code!r})"
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg}"  # file and line are given apart
    message = f"{type(exc).__name__}: {exc}".strip()
    if isinstance(exc, KeyError) and _from_environ(exc):
        message += f" (environment variable; the loader sees none of yours: pass --env {exc.args[0]}=...)"
    return message


def _from_environ(exc: KeyError) -> bool:
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_name == "__getitem__" and frame.f_code.co_filename.endswith(("os.py", "<frozen os>")):
            return True
    return False


def locate_frame(frame) -> tuple[str, int] | None:
    """Innermost repository file and line of a live frame stack."""
    while frame is not None:
        where = RECORDER.repo_path(frame.f_code.co_filename)
        if where is not None:
            return where, frame.f_lineno
        frame = frame.f_back
    return None


class RepoImporter(importlib.abc.MetaPathFinder):
    def __init__(
        self,
        manifest: dict[str, str],
        read: Callable[[str], bytes],
        import_root: str,
        models_package: str | list[str],
        workdir: Path,
        settings: dict[str, object],
    ) -> None:
        self.manifest = manifest  # repo path -> blob id or file path
        self.read = read
        self.root = import_root.strip("/")
        self.models_packages = [models_package] if isinstance(models_package, str) else list(models_package)
        self.src = workdir / "src"
        self._progress_fd: int | None = None
        self._progress_width = 0
        self._data_files: dict[str, list[str]] | None = None  # package dir -> its non-Python files
        self._by_dir: dict[str, list[str]] | None = None  # directory -> its files
        self._progress_path = workdir / "progress"
        self.settings = dict(settings)
        self.applied: set[str] = set()
        self.loaded: list[str] = []  # repo modules, in import order
        self.files_read: dict[str, str] = {}
        # Repo paths looked up and not found: if one appears at another ref, the import
        # could resolve differently, so the cache key includes them.
        self.absent: set[str] = set()
        self.skipped: list[dict] = []  # statements of app modules that raised and were skipped
        self._stack: list[str] = []
        self.dirs: set[str] = set()
        for relpath in manifest:
            d = relpath.rpartition("/")[0]
            while d and d not in self.dirs:
                self.dirs.add(d)
                d = d.rpartition("/")[0]
        RECORDER.add_root(str(self.src) + "/", "")
        OVERRIDES.update(self.settings)

    @property
    def models_package(self) -> str:
        return self.models_packages[0]

    # -- locating -------------------------------------------------------------------------
    def _repo_prefix(self, fullname: str) -> str:
        rel = fullname.replace(".", "/")
        return f"{self.root}/{rel}" if self.root else rel

    def find_spec(self, fullname, path=None, target=None):
        base = self._repo_prefix(fullname)
        if f"{base}/__init__.py" in self.manifest:
            return self._spec(fullname, f"{base}/__init__.py", package_dir=base)
        if f"{base}.py" in self.manifest:
            return self._spec(fullname, f"{base}.py", package_dir=None)
        if base in self.dirs:  # namespace package (no __init__.py)
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(self.src / base)]
            return spec
        self.absent.add(base)
        return None

    def _spec(self, fullname: str, relpath: str, package_dir: str | None):
        loader = RepoLoader(self, fullname, relpath)
        spec = importlib.machinery.ModuleSpec(
            fullname, loader, origin=str(self.src / relpath), is_package=package_dir is not None
        )
        spec.has_location = True
        if package_dir is not None:
            spec.submodule_search_locations = [str(self.src / package_dir)]
            self._materialize_data_files(package_dir)
        return spec

    # -- files ----------------------------------------------------------------------------
    def materialize(self, relpath: str) -> tuple[Path, bytes]:
        target = self.src / relpath
        data = self.read(self.manifest[relpath])
        self.files_read[relpath] = self.manifest[relpath]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target, data

    def _materialize_data_files(self, package_dir: str) -> None:
        """Non-Python files beside a package's modules, for code that opens them."""
        if self._data_files is None:  # one pass over the manifest, not one per package
            self._data_files = {}
            for relpath in self.manifest:
                if not relpath.endswith(".py"):
                    self._data_files.setdefault(relpath.rpartition("/")[0], []).append(relpath)
        for relpath in self._data_files.get(package_dir, ()):
            try:
                self.materialize(relpath)
            except OSError:
                pass

    def materialize_path(self, full: str) -> None:
        """A file or directory of the ref that model code opens, lists or tests for before
        any import wrote it (a config in a data directory without `__init__.py`)."""
        prefix = str(self.src) + os.sep
        if not full.startswith(prefix):
            return
        relpath = full[len(prefix):]
        if self._by_dir is None:
            self._by_dir = {}
            for path in self.manifest:
                self._by_dir.setdefault(path.rpartition("/")[0], []).append(path)
        wanted = [relpath] if relpath in self.manifest else self._by_dir.get(relpath, []) if relpath in self.dirs else []
        for path in wanted:
            try:
                self.materialize(path)
            except OSError:
                pass
        if not wanted and relpath in self.dirs:
            (self.src / relpath).mkdir(parents=True, exist_ok=True)  # holds only directories

    # -- progress (read by the parent when the child hangs or dies) -------------------------
    def enter(self, fullname: str, relpath: str) -> None:
        self._stack.append(f"{fullname} ({relpath})")
        self._write_progress()

    def leave(self) -> None:
        self._stack.pop()
        self._write_progress()

    def _write_progress(self) -> None:
        # One descriptor rewritten in place (an open and a truncate per module cost a
        # tenth of a second on Dify); the parent strips the padding.
        text = (self._stack[-1] if self._stack else "").encode("utf-8", "replace")
        try:
            if self._progress_fd is None:
                self._progress_fd = os.open(self._progress_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.pwrite(self._progress_fd, text.ljust(self._progress_width), 0)
            self._progress_width = max(self._progress_width, len(text))
        except OSError:
            pass

    # -- policy ---------------------------------------------------------------------------
    def is_model_module(self, fullname: str) -> bool:
        return any(fullname == p or fullname.startswith(p + ".") for p in self.models_packages)

    def _is_repo_module(self, fullname: str) -> bool:
        base = self._repo_prefix(fullname)
        return f"{base}.py" in self.manifest or f"{base}/__init__.py" in self.manifest

    def apply_settings(self, module) -> None:
        """Set `--set` values on real objects once the module holding them is loaded."""
        name = module.__name__
        for key, value in self.settings.items():
            if key in self.applied or not key.startswith(name + "."):
                continue
            *attrs, last = key[len(name) + 1:].split(".")
            if attrs and self._is_repo_module(f"{name}.{attrs[0]}"):
                continue  # set when that submodule loads (a stubbed package would hide it)
            target = module
            try:
                for attr in attrs:
                    target = getattr(target, attr)
            except AttributeError:
                continue
            if isinstance(target, Stub):
                self.applied.add(key)  # served by OVERRIDES
                continue
            try:
                setattr(target, last, value)
            except Exception:
                object.__setattr__(target, last, value)
            self.applied.add(key)


class RepoLoader(importlib.abc.Loader):
    def __init__(self, importer: RepoImporter, fullname: str, relpath: str) -> None:
        self.importer, self.fullname, self.relpath = importer, fullname, relpath

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        imp = self.importer
        path, source = imp.materialize(self.relpath)
        module.__file__ = str(path)
        imp.enter(self.fullname, self.relpath)
        try:
            if imp.is_model_module(self.fullname):
                self._exec_whole(module, source, path)
            else:
                self._exec_by_statement(module, source, path)
        except BaseException as exc:
            if getattr(exc, "module", "") is None:  # a SandboxViolation: name the innermost module
                exc.module = self.fullname
            raise
        finally:
            imp.leave()
        imp.loaded.append(self.fullname)
        imp.apply_settings(module)

    def _fail(self, exc: BaseException) -> LoadError:
        file, line = error_location(exc)
        return LoadError(self.fullname, file or self.relpath, line, describe_exception(exc))

    def _exec_whole(self, module, source: bytes, path: Path) -> None:
        """A model module: exactly as Python would run it."""
        from .sandbox import SandboxViolation

        try:
            code = compile(source, str(path), "exec", dont_inherit=True)
            exec(code, module.__dict__)
        except (LoadError, SandboxViolation):
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit from model code included
            raise self._fail(exc) from exc

    def _exec_by_statement(self, module, source: bytes, path: Path) -> None:
        """An application module: run each top-level statement, skip the ones that raise."""
        from .sandbox import SandboxViolation

        try:
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError) as exc:
            if SCHEMA_DEFINING.search(source):
                raise self._fail(exc) from exc
            self._stub_whole(module, exc)
            return
        flags = 0
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                flags |= sum(_FUTURE_FLAGS.get(alias.name, 0) for alias in stmt.names)
        lines = source.splitlines()
        skipped = False
        for index, stmt in enumerate(tree.body):
            if index and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # a bare string: only the first one is the module docstring
            code = compile(ast.Module([stmt], type_ignores=[]), str(path), "exec", flags=flags, dont_inherit=True)
            try:
                exec(code, module.__dict__)
            except (LoadError, SandboxViolation, KeyboardInterrupt):
                raise
            except BaseException as exc:  # noqa: BLE001 - SystemExit included
                text = b"\n".join(lines[stmt.lineno - 1 : (stmt.end_lineno or stmt.lineno)])
                if SCHEMA_DEFINING.search(text):
                    raise self._fail(exc) from exc
                self._skip(module, stmt, exc)
                skipped = True
        if skipped:
            module.__class__ = StubModule  # names it never defined are stubs too

    def _skip(self, module, stmt: ast.stmt, exc: BaseException) -> None:
        file, line = error_location(exc)
        message = describe_exception(exc)
        names = []
        for name, stub_path in _bound_names(stmt, module):
            if name not in module.__dict__:
                module.__dict__[name] = Stub(stub_path)
                names.append(name)
        self.importer.skipped.append(
            {
                "module": self.fullname,
                "file": self.relpath,
                "line": stmt.lineno,
                "error": message,
                "error_at": f"{file}:{line}" if file else "",
                "stubbed_names": names,
            }
        )
        RECORDER.stubbed_modules.setdefault(self.fullname, f"{self.relpath}:{stmt.lineno}: {message}")

    def _stub_whole(self, module, exc: BaseException) -> None:
        file, line = error_location(exc)
        RECORDER.stubbed_modules[self.fullname] = f"{file or self.relpath}:{line}: {describe_exception(exc)}"
        self.importer.skipped.append(
            {"module": self.fullname, "file": self.relpath, "line": line, "error": describe_exception(exc), "error_at": f"{file}:{line}", "stubbed_names": ["*"]}
        )
        module.__class__ = StubModule
        if not hasattr(module, "__path__") and self.relpath.endswith("__init__.py"):
            module.__path__ = []


def _bound_names(stmt: ast.stmt, module) -> list[tuple[str, str]]:
    """(name, stub path) for each module-level name a statement binds."""
    package = module.__dict__.get("__package__") or ""
    out: list[tuple[str, str]] = []

    def visit(node) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    out.append((alias.asname, alias.name))
                else:
                    top = alias.name.split(".")[0]
                    out.append((top, top))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                if alias.name != "*":
                    out.append((alias.asname or alias.name, f"{base}.{alias.name}" if base else alias.name))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node.name, f"{module.__name__}.{node.name}"))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.append((node.id, f"{module.__name__}.{node.id}"))
        elif isinstance(node, ast.Lambda):
            return
        else:
            for child in ast.iter_child_nodes(node):
                visit(child)

    visit(stmt)
    seen: dict[str, str] = {}
    for name, path in out:
        seen.setdefault(name, path)
    return list(seen.items())


class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last resort: a stub module for anything not importable."""

    def __init__(self, importer: RepoImporter) -> None:
        self.importer = importer

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith("_"):
            return None  # private modules are probed for with `try: import _x` (distutils hack)
        if _imported_by_library():
            return None  # an installed library probing for an optional module: ImportError, as usual
        parent_name, _, attr = fullname.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None and not isinstance(parent, StubModule) and _from_import():
            # `from flask_sqlalchemy import BaseQuery`, a name the real module lacks (here):
            # a stub attribute, not a stub module, so it can still be subclassed or called.
            # Python falls back to the attribute when the submodule is not found.
            setattr(parent, attr, Stub(fullname))
            RECORDER.stubbed_modules.setdefault(fullname, "not importable")
            return None
        # Finders appended after us (pkg_resources' VendorImporter...) get their turn first.
        later = sys.meta_path[sys.meta_path.index(self) + 1 :] if self in sys.meta_path else []
        for finder in later:
            try:
                if finder.find_spec(fullname, path, target) is not None:
                    return None
            except Exception:  # noqa: BLE001 - a broken finder is not ours to fix
                continue
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        RECORDER.stubbed_modules.setdefault(spec.name, "not importable")
        return make_stub_module(spec.name)

    def exec_module(self, module) -> None:
        self.importer.apply_settings(module)


def _from_import() -> bool:
    """Is the import machinery looking for a name of a `from module import name` that the
    module does not have (`_handle_fromlist` tries it as a submodule)?"""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
        if frame.f_code.co_name == "_handle_fromlist":
            return True
        frame = frame.f_back
    return False


def _imported_by_library() -> bool:
    """Is the module being imported by an installed library's code (not the repository's)?"""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<") or filename == __file__ or os.path.dirname(filename) == os.path.dirname(importlib.__file__):
            frame = frame.f_back  # the import machinery
            continue
        return RECORDER.repo_path(filename) is None and ("/site-packages/" in filename or "/dist-packages/" in filename)
    return False


def install(importer: RepoImporter) -> None:
    sys.meta_path.insert(0, importer)
    sys.meta_path.append(StubFinder(importer))
