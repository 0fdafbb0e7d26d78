"""Import hooks of the loader child.

`RepoFinder` serves the repository's modules from the ref's files (a module is written to
the child's private directory only when it is imported, so Dify's ~3000-file `api/` costs
only the ~200 files the models reach). `StubFinder`, last on `sys.meta_path`, answers every
module nothing else could find with a stub module.

Policy for a repository module that raises while it is imported:
- inside the models package, or defining the schema's `db`/`MetaData`/declarative base:
  the error is the user's to see (LoadError with file and line);
- anywhere else (an app module pulling in the whole app): it becomes a stub, and the
  reason is recorded.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
import traceback
from pathlib import Path
from typing import Callable

from .stubs import OVERRIDES, RECORDER, StubModule, make_stub_module

# A module whose source matches this defines where tables are registered; stubbing it
# would silently yield zero tables.
SCHEMA_DEFINING = re.compile(
    rb"\bSQLAlchemy\s*\(|\bMetaData\s*\(|\bdeclarative_base\s*\(|\bDeclarativeBase\b|\bregistry\s*\("
)


class LoadError(Exception):
    """A model module failed to import: carries the repo file and line."""

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
    return found


class RepoImporter(importlib.abc.MetaPathFinder):
    def __init__(
        self,
        manifest: dict[str, str],
        read: Callable[[str], bytes],
        import_root: str,
        models_package: str,
        workdir: Path,
        settings: dict[str, object],
    ) -> None:
        self.manifest = manifest  # repo path -> blob id or file path
        self.read = read
        self.root = import_root.strip("/")
        self.models_package = models_package
        self.src = workdir / "src"
        self.settings = dict(settings)
        self.applied: set[str] = set()
        self.loaded: list[str] = []  # repo modules, in import order
        self.files_read: dict[str, str] = {}
        # Repo paths looked up and not found: if one appears at another ref, the import
        # could resolve differently, so the cache key includes them.
        self.absent: set[str] = set()
        self.dirs = {str(Path(p).parent) for p in manifest}
        for d in list(self.dirs):
            while d not in ("", "."):
                d = str(Path(d).parent)
                self.dirs.add(d)
        RECORDER.add_root(str(self.src) + "/", "")
        OVERRIDES.update(self.settings)

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
        prefix = package_dir + "/"
        for relpath in self.manifest:
            if relpath.startswith(prefix) and "/" not in relpath[len(prefix):] and not relpath.endswith(".py"):
                try:
                    self.materialize(relpath)
                except OSError:
                    pass

    # -- policy ---------------------------------------------------------------------------
    def is_model_module(self, fullname: str) -> bool:
        return fullname == self.models_package or fullname.startswith(self.models_package + ".")

    def apply_settings(self, module) -> None:
        """Set `--set` values on real objects once the module holding them is loaded."""
        name = module.__name__
        for key, value in self.settings.items():
            if key in self.applied or not key.startswith(name + "."):
                continue
            *attrs, last = key[len(name) + 1:].split(".")
            target = module
            try:
                for attr in attrs:
                    target = getattr(target, attr)
            except AttributeError:
                continue
            if isinstance(target, StubModule) or type(target).__name__ == "Stub":
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
        must_load = imp.is_model_module(self.fullname) or SCHEMA_DEFINING.search(source)
        try:
            code = compile(source, str(path), "exec", dont_inherit=True)
            exec(code, module.__dict__)
        except LoadError:
            raise  # a model module this one imported: already located
        except BaseException as exc:  # noqa: BLE001 - SystemExit from model code included
            if must_load or isinstance(exc, KeyboardInterrupt):
                file, line = error_location(exc)
                message = f"{type(exc).__name__}: {exc}".strip()
                if isinstance(exc, SyntaxError):
                    message = f"SyntaxError: {exc.msg}"
                elif isinstance(exc, SystemExit):
                    message = f"module called sys.exit({exc.code!r})"
                raise LoadError(self.fullname, file or self.relpath, line, message) from exc
            # An app module we only needed a few names from: keep what it defined, stub the rest.
            file, line = error_location(exc)
            RECORDER.stubbed_modules[self.fullname] = f"{file}:{line}: {type(exc).__name__}: {exc}"
            module.__class__ = StubModule
            if not hasattr(module, "__path__") and self.relpath.endswith("__init__.py"):
                module.__path__ = []
            sys.modules[self.fullname] = module
        imp.loaded.append(self.fullname)
        imp.apply_settings(module)


class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last resort: a stub module for anything not importable."""

    def __init__(self, importer: RepoImporter) -> None:
        self.importer = importer

    def find_spec(self, fullname, path=None, target=None):
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        RECORDER.stubbed_modules.setdefault(spec.name, "not importable")
        return make_stub_module(spec.name)

    def exec_module(self, module) -> None:
        self.importer.apply_settings(module)


def install(importer: RepoImporter) -> None:
    sys.meta_path.insert(0, importer)
    sys.meta_path.append(StubFinder(importer))
