"""Entry point of the loader child: import one ref's models, write its schema as JSON.

Run as a script (`python -I child.py REQUEST.json`) so that it also works under the
application's own interpreter (`--python`). Reads the request, imports the models package
and all its submodules through `importer`, and writes `result.json` beside the request.
Nothing but this process ever executes repository code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _bootstrap() -> None:
    # Make `modeldiff.load` importable without exposing the rest of our checkout to model
    # code: only our package directory's parent goes on the path, and it is taken off again.
    package_parent = str(Path(__file__).resolve().parents[2])
    sys.path.insert(0, package_parent)
    import modeldiff.load.ddl  # noqa: F401
    import modeldiff.load.importer  # noqa: F401

    sys.path.remove(package_parent)


def model_modules(manifest: dict[str, str], import_root: str, models_path: str) -> list[str]:
    """Module names of every .py file under the models path, package first."""
    root = import_root.strip("/")
    models_path = models_path.strip("/")
    names = []
    for relpath in manifest:
        if not relpath.endswith(".py") or not (relpath == models_path or relpath.startswith(models_path + "/")):
            continue
        inner = relpath[len(root) + 1:] if root else relpath
        parts = inner[: -len(".py")].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if all(p.isidentifier() for p in parts):
            names.append(".".join(parts))
    return sorted(set(names), key=lambda n: (n.count("."), n))


def run(request: dict) -> dict:
    from modeldiff.load import ddl, importer
    from modeldiff.load.gitblobs import make_reader
    from modeldiff.load.stubs import RECORDER

    workdir = Path(request["workdir"])
    manifest: dict[str, str] = request["manifest"]
    import_root = request["import_root"]
    models_path = request["models_path"]
    modules = model_modules(manifest, import_root, models_path)
    if not modules:
        return {"error": {"kind": "models-missing", "message": f"no Python files under {models_path}"}}
    root = import_root.strip("/")
    package = models_path.strip("/")[len(root) + 1 if root else 0:].removesuffix(".py").replace("/", ".")
    repo = importer.RepoImporter(
        manifest,
        make_reader(request["source"]),
        import_root,
        models_package=package,
        workdir=workdir,
        settings=request.get("settings", {}),
    )
    importer.install(repo)

    failures = []
    for name in modules:
        (workdir / "progress").write_text(name)
        try:
            __import__(name)
        except importer.LoadError as exc:
            failure = {"module": exc.module, "file": exc.file, "line": exc.line, "message": exc.message}
            if not request.get("keep_going"):
                return {"error": {"kind": "import", **failure}}
            failures.append(failure)
    (workdir / "progress").write_text("")

    metadatas = ddl.find_metadatas(repo.loaded)
    schema = ddl.schema_ddl(metadatas, request.get("dialect", "postgresql"))
    uses = sorted({(u.path, u.how, u.file, u.line, u.reached_as) for u in RECORDER.uses}, key=lambda u: (u[2], u[3], u[0], u[1]))
    return {
        "metadatas": [label for label, _ in metadatas],
        **schema,
        "failures": failures,
        "stub_uses": [{"path": p, "how": h, "file": f, "line": n, "reached_as": r} for p, h, f, n, r in uses],
        "stubbed_modules": dict(sorted(RECORDER.stubbed_modules.items())),
        "unused_settings": sorted(set(request.get("settings", {})) - repo.applied),
        "files_read": dict(sorted(repo.files_read.items())),
        "absent": sorted(repo.absent),
        "loaded_modules": sorted(repo.loaded),
    }


def main() -> None:
    request_path = Path(sys.argv[1])
    request = json.loads(request_path.read_text())
    sys.dont_write_bytecode = True
    os.chdir(request["workdir"])
    _bootstrap()
    try:
        result = run(request)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never a traceback
        result = {"error": {"kind": "internal", "message": f"{type(exc).__name__}: {exc}"}}
    out = request_path.with_name("result.json")
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, sort_keys=True, default=str))
    tmp.replace(out)
    # Model code may have started threads or registered atexit handlers: don't wait for them.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
