"""Entry point of the loader child: import one ref's models, write its schema as JSON.

Run as a script (`python -s child.py REQUEST.json`, started by `supervise.py`) so that it
also works under the application's own interpreter (`--python`). Reads the request, starts
the git blob reader, confines itself (`sandbox`), imports the models package(s) and all
their submodules through `importer`, and writes `result.json` beside the request.
Nothing but this process ever executes repository code.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

# Module names under a models path that are not models: tests and their fixtures.
_NOT_MODELS = {"tests", "test", "conftest", "testing"}


def _bootstrap() -> None:
    # Make our child-side modules importable without running `modeldiff/load/__init__.py`
    # (the parent side, which needs GitPython) and without putting our checkout on sys.path
    # where model code could import the rest of it.
    load_dir = Path(__file__).resolve().parent
    for name, path in (("modeldiff", load_dir.parent), ("modeldiff.load", load_dir)):
        package = types.ModuleType(name)
        package.__path__ = [str(path)]  # type: ignore[attr-defined]
        sys.modules[name] = package
    import modeldiff.load.ddl  # noqa: F401
    import modeldiff.load.importer  # noqa: F401
    import modeldiff.load.overlay  # noqa: F401
    import modeldiff.load.sandbox  # noqa: F401


def package_name(import_root: str, models_path: str) -> str:
    """`api/models` under `api` -> `models`; `src/app/db/base.py` under `src` -> `app.db.base`."""
    root = import_root.strip("/")
    inner = models_path.strip("/")[len(root) + 1 if root else 0:]
    inner = inner.removesuffix(".py").removesuffix("/__init__")
    return inner.replace("/", ".")


def model_modules(manifest: dict[str, str], import_root: str, models_path: str | list[str]) -> list[str]:
    """Module names of every .py file under the models path(s), packages first."""
    root = import_root.strip("/")
    paths = [models_path] if isinstance(models_path, str) else list(models_path)
    names = []
    for path in paths:
        path = path.strip("/")
        for relpath in manifest:
            if not relpath.endswith(".py") or not (relpath == path or relpath.startswith(path + "/")):
                continue
            inner = relpath[len(root) + 1:] if root else relpath
            parts = inner[: -len(".py")].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if not parts or not all(p.isidentifier() for p in parts):
                continue
            below = parts[len(package_name(import_root, path).split(".")):]
            if any(p in _NOT_MODELS or p.startswith("test_") for p in below):
                continue
            names.append(".".join(parts))
    return sorted(set(names), key=lambda n: (n.count("."), n))


def run(request: dict) -> dict:
    import faulthandler

    from modeldiff.load import ddl, importer, overlay, sandbox
    from modeldiff.source.blobs import make_reader
    from modeldiff.load.stubs import RECORDER

    workdir = Path(request["workdir"])
    manifest: dict[str, str] = request["manifest"]
    import_root = request["import_root"]
    models_paths = request.get("models_paths") or [request["models_path"]]
    modules = model_modules(manifest, import_root, models_paths)
    if not modules:
        return {"error": {"kind": "models-missing", "message": f"no Python files under {', '.join(models_paths)}"}}
    read = make_reader(request["source"])  # starts `git cat-file` before the sandbox closes
    if hasattr(read, "__self__"):
        _HELPERS.append(read.__self__)
    repo = importer.RepoImporter(
        manifest,
        read,
        import_root,
        models_package=[package_name(import_root, p) for p in models_paths],
        workdir=workdir,
        settings=request.get("settings", {}),
    )
    _answer_without_processes()
    confinement = sandbox.install(str(workdir), importer.locate_frame, tuple(request.get("hidden", ())), request.get("seccomp", True))
    # Writes outside the private directory succeed in a throwaway copy (settings that create
    # their data directories at import); files of the ref appear when first opened.
    overlay.install(str(workdir), on_missing=repo.materialize_path, record=lambda detail: sandbox._record("contained", detail))
    confinement["overlay"] = True
    timeout = float(request.get("timeout") or 0)
    stack_file = None
    if timeout > 0:
        # Where the import is stuck, if it is: dumped just before the supervisor kills us.
        stack_file = open(workdir / "stack.txt", "w")
        faulthandler.dump_traceback_later(max(timeout - min(1.0, timeout * 0.2), 0.1), exit=False, file=stack_file)
    importer.install(repo)
    _allow_legacy_annotations()
    _accept_legacy_select()

    failures = []
    for name in modules:
        for _attempt in range(3):
            try:
                __import__(name)
            except importer.LoadError as exc:
                failure = {"module": exc.module, "file": exc.file, "line": exc.line, "message": exc.message}
                if not request.get("keep_going"):
                    return {"error": {"kind": "import", **failure}}
                if failure not in failures:
                    failures.append(failure)
                # Modules importing the failed one get a stub for it; retry `name` if it only
                # failed because of that import.
                sys.modules.setdefault(exc.module, _failed_module(exc.module))
                if exc.module != name and name not in sys.modules:
                    continue
            except sandbox.SandboxViolation as exc:
                return {"error": {"kind": "sandbox", "module": exc.module or name, "file": exc.file, "line": exc.line, "message": exc.what}}
            break
    if timeout > 0:
        faulthandler.cancel_dump_traceback_later()

    metadatas = ddl.find_metadatas(repo.loaded)
    available = [{"label": label, "tables": len(md.tables)} for label, md in metadatas]
    wanted = request.get("metadata") or []
    if wanted:
        metadatas, problem = ddl.select_metadatas(metadatas, wanted)
        if problem:
            return {"error": {"kind": "metadata", "message": problem}}
    schema = ddl.schema_ddl(metadatas, request.get("dialect", "postgresql"))
    uses = sorted({(u.path, u.how, u.file, u.line, u.reached_as) for u in RECORDER.uses}, key=lambda u: (u[2], u[3], u[0], u[1]))
    return {
        "metadatas": [label for label, _ in metadatas],
        "metadatas_found": available,
        **schema,
        "failures": failures,
        "stub_uses": [{"path": p, "how": h, "file": f, "line": n, "reached_as": r} for p, h, f, n, r in uses],
        "stubbed_modules": dict(sorted(RECORDER.stubbed_modules.items())),
        "skipped_statements": repo.skipped,
        "blocked": sandbox.BLOCKED,
        "sandbox": confinement,
        "unused_settings": sorted(set(request.get("settings", {})) - repo.applied),
        "files_read": dict(sorted(repo.files_read.items())),
        "absent": sorted(repo.absent),
        "loaded_modules": sorted(repo.loaded),
    }


# Our own helper processes (the git blob reader): ended before we exit, so that the
# supervisor never mistakes them for processes model code left behind.
_HELPERS: list = []


def _close_helpers() -> None:
    for helper in _HELPERS:
        try:
            helper.close()
        except Exception:  # noqa: BLE001
            pass


def _answer_without_processes() -> None:
    """Libraries ask `platform.architecture()` and `ctypes.util.find_library()` at import
    (pycryptodome, celery), which run `file` and `ldconfig`; the sandbox refuses processes,
    so both are answered without one: from the interpreter, and from the library directories."""
    import ctypes.util
    import glob
    import platform

    platform._syscmd_file = lambda target, default="": default  # type: ignore[attr-defined]

    def find_library(name):
        for directory in ("/lib", "/usr/lib", "/usr/local/lib", "/lib64", "/usr/lib64", *glob.glob("/usr/lib/*-linux-gnu"), *glob.glob("/lib/*-linux-gnu")):
            found = sorted(glob.glob(f"{directory}/lib{name}.so.*")) or sorted(glob.glob(f"{directory}/lib{name}.so"))
            if found:
                return os.path.basename(found[0])
        return None

    if sys.platform.startswith("linux"):
        ctypes.util.find_library = find_library


def _failed_module(name: str):
    """With --keep-going, a model module that failed is a stub for the modules importing it."""
    from modeldiff.load.stubs import make_stub_module

    return make_stub_module(name)


def _allow_legacy_annotations() -> None:
    """SQLAlchemy 1.4 models on 2.x: a plain annotation beside a `Column()` (`id_field_path:
    str = "id"`) is ignored, as 1.4 did, instead of failing the class (MappedAnnotationError).
    Models written for 2.x are unaffected: their annotations are `Mapped[]`."""
    import sqlalchemy

    if not sqlalchemy.__version__.startswith("2."):
        return  # SQLAlchemy 1.x: nothing to allow (1.3 has no decl_api to import)
    from sqlalchemy.orm import decl_api

    for base in (decl_api.DeclarativeBase, decl_api.DeclarativeBaseNoMeta):
        base.__allow_unmapped__ = True
    generate_base = decl_api.registry.generate_base

    def generate(self, *args, **kwargs):
        base = generate_base(self, *args, **kwargs)
        if "__allow_unmapped__" not in vars(base):
            base.__allow_unmapped__ = True
        return base

    decl_api.registry.generate_base = generate


def _accept_legacy_select() -> None:
    """SQLAlchemy 1.x models on 2.x: `select([columns])`, `exists([1])`, `case([(cond, value)])`
    (a column_property's subquery, built at class creation) take the list as 1.x did."""
    try:
        import sqlalchemy
        from sqlalchemy.sql import expression
    except ImportError:
        return
    if not hasattr(sqlalchemy, "Double"):  # SQLAlchemy 1.x: its own functions take lists
        return

    def accepting_a_list(function):
        def legacy(*args, **kwargs):
            if len(args) == 1 and isinstance(args[0], (list, tuple)):
                args = tuple(args[0])
            return function(*args, **kwargs)

        return legacy

    for name in ("select", "exists", "case"):
        legacy = accepting_a_list(getattr(sqlalchemy, name))
        for module in (sqlalchemy, sqlalchemy.sql, expression):
            if hasattr(module, name):
                setattr(module, name, legacy)


def main(request_path: Path | None = None) -> None:
    """As a script (`child.py REQUEST`), or called in a worker forked by supervise.py."""
    request_path = Path(request_path or sys.argv[1])
    request = json.loads(request_path.read_text())
    sys.dont_write_bytecode = True
    os.chdir(request["workdir"])
    real_exit = os._exit
    try:
        if "modeldiff.load.importer" not in sys.modules:  # a fork of the server has them
            _bootstrap()
    except Exception as exc:  # noqa: BLE001 - e.g. --python without SQLAlchemy
        result = {"error": {"kind": "internal", "message": f"the loader cannot start under {sys.executable} ({type(exc).__name__}: {exc}); --python needs an interpreter with SQLAlchemy >= 1.4"}}
        _write_result(request_path, result)
        real_exit(0)
    _fewer_collections()
    try:
        if request.get("task") == "replay":  # a migrations replay (modeldiff.replay.child)
            from modeldiff.replay.child import run as run_replay

            result = run_replay(request)
        else:
            result = run(request)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never a traceback
        result = {"error": {"kind": "internal", "message": f"{type(exc).__name__}: {exc}"}}
    _close_helpers()
    _write_result(request_path, result)
    # Model code may have started threads or registered atexit handlers: don't wait for them.
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - model code may have broken stdout
        pass
    real_exit(0)


def _fewer_collections() -> None:
    """Importing models allocates objects that all live until the process ends; at the
    default thresholds the cyclic collector scans them again and again (a third of the CPU
    of loading 2,000 tables). This short-lived process collects rarely instead."""
    import gc

    gc.freeze()  # what the process (or the fork server) had before: never scanned again
    gc.set_threshold(100_000, 50, 1000)


def _write_result(request_path: Path, result: dict) -> None:
    out = request_path.with_name("result.json")
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, sort_keys=True, default=str))
    tmp.replace(out)


if __name__ == "__main__":
    main()
