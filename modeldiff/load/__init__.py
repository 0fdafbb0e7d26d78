"""Stage 2, load: one ref's model sources -> its schema, imported in a child process.

The parent side only prepares the request (a manifest of the ref's files under the import
root), runs `child.py` with a time limit in a scrubbed environment and a private temp
directory, and reads back JSON. Each ref gets its own process, so two refs never share
`sys.modules`, and no repository code ever runs in this process.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..result import Warning
from ..source import Snapshot

CHILD = Path(__file__).with_name("child.py")
OUTPUT_LIMIT = 64 * 1024 * 1024  # bytes model code may write (prints, files) before it is stopped


class LoadFailure(Exception):
    """The models of a ref could not be loaded: one line naming ref, file:line and module."""


@dataclass(frozen=True)
class LoadOptions:
    import_root: str
    models_path: str
    settings: dict = field(default_factory=dict)
    timeout: float = 120.0
    python: str = sys.executable
    keep_going: bool = False


@dataclass
class LoadedSchema:
    ref: str
    commit: str | None
    tables: dict  # table key -> {"name", "schema", "create", "create_plain", "defaults", "statements", "columns"}
    preamble: list[str]
    postamble: list[str]
    warnings: list[Warning]
    stubbed_modules: dict[str, str]
    files_read: dict[str, str]  # repo path -> git blob id of every file the import read
    metadatas: list[str]
    partial: bool = False
    seconds: float = 0.0
    absent: list[str] = field(default_factory=list)  # repo paths probed and not found

    def to_json(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "warnings"}
        data["warnings"] = [w.to_json() for w in self.warnings]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "LoadedSchema":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["warnings"] = [Warning(**w) for w in data["warnings"]]
        return cls(**fields)


def load_schema(snapshot: Snapshot, options: LoadOptions) -> LoadedSchema:
    if not snapshot.list_files(options.models_path):
        raise LoadFailure(f"{snapshot.ref}: models path {options.models_path!r} does not exist at this ref")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="modeldiff-load-"))
    try:
        request = {
            "workdir": str(workdir),
            "manifest": snapshot.list_files(options.import_root),
            "source": snapshot.reader_spec(),
            "import_root": options.import_root.strip("/"),
            "models_path": options.models_path.strip("/"),
            "settings": options.settings,
            "keep_going": options.keep_going,
        }
        request_path = workdir / "request.json"
        request_path.write_text(json.dumps(request))
        result = _run_child(snapshot.ref, options, workdir, request_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    error = result.get("error")
    if error:
        if error["kind"] == "import":
            raise LoadFailure(f"{snapshot.ref}: {error['file']}:{error['line']}: {error['message']} (module {error['module']})")
        raise LoadFailure(f"{snapshot.ref}: {error['message']}")
    return _to_schema(snapshot, options, result, time.monotonic() - started)


def load_pair(snapshots: list[Snapshot], options: LoadOptions) -> list[LoadedSchema]:
    """Load several refs at once: one child per ref, bounded by the CPU count."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(snapshots), os.cpu_count() or 1))) as pool:
        return list(pool.map(lambda s: load_schema(s, options), snapshots))


def _child_env(workdir: Path) -> dict[str, str]:
    # Nothing inherited but PATH: no credentials, no DATABASE_URL, no PYTHON* settings.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",  # set iteration order in model code must not vary between runs
        "PYTHONDONTWRITEBYTECODE": "1",
        "GIT_OPTIONAL_LOCKS": "0",
    }


def _limit_output() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_LIMIT, OUTPUT_LIMIT))


def _run_child(ref: str, options: LoadOptions, workdir: Path, request_path: Path) -> dict:
    log_path = workdir / "output.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [options.python, "-s", str(CHILD), str(request_path)],
            cwd=workdir,
            env=_child_env(workdir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: forks die with it
            preexec_fn=_limit_output,
        )
        try:
            proc.wait(timeout=options.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    result_path = workdir / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    progress = workdir / "progress"
    where = progress.read_text() if progress.exists() else ""
    where = f" while importing {where}" if where else ""
    if timed_out:
        raise LoadFailure(f"{ref}: model import timed out after {options.timeout:g}s{where}")
    if proc.returncode == -signal.SIGXFSZ:
        raise LoadFailure(f"{ref}: model code wrote more than {OUTPUT_LIMIT // 2**20} MB{where}")
    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
    detail = f": {tail[0][:200]}" if tail else ""
    raise LoadFailure(f"{ref}: model code ended the loader (exit code {proc.returncode}){where}{detail}")


def _to_schema(snapshot: Snapshot, options: LoadOptions, result: dict, seconds: float) -> LoadedSchema:
    ref = snapshot.ref
    warnings = [Warning(w["code"], w["message"], ref) for w in result["warnings"]]
    models_prefix = options.models_path.strip("/") + "/"
    for use in result["stub_uses"]:
        # Only uses in model files can shape the schema; app modules using stubs are expected.
        if use["file"].startswith(models_prefix):
            if use["how"] in ("compared", "truth-tested"):
                name = use.get("reached_as") or use["path"]
                origin = f" (a stub of {use['path']})" if name != use["path"] else ""
                message = f"{name}{origin} {_HOW[use['how']]}: the schema may depend on it; set it with --set {name}=VALUE"
            else:
                message = f"stubbed {use['path']} {_HOW.get(use['how'], use['how'])}"
            warnings.append(Warning(f"stub-{use['how']}", message, ref, f"{use['file']}:{use['line']}"))
    for key in result["unused_settings"]:
        warnings.append(Warning("unused-setting", f"--set {key}: no module or attribute of that name was loaded", ref))
    for failure in result["failures"]:
        warnings.append(Warning("import-failed", f"{failure['message']} (module {failure['module']}); its tables are missing", ref, f"{failure['file']}:{failure['line']}"))
    if not result["tables"]:
        warnings.append(Warning("no-tables", f"no tables found under {options.models_path}", ref))
    return LoadedSchema(
        ref=ref,
        commit=snapshot.commit,
        tables=result["tables"],
        preamble=result["preamble"],
        postamble=result["postamble"],
        warnings=warnings,
        stubbed_modules=result["stubbed_modules"],
        files_read=snapshot.blob_ids(result["files_read"]),
        absent=result["absent"],
        metadatas=result["metadatas"],
        partial=bool(result["failures"]),
        seconds=seconds,
    )


_HOW = {
    "compared": "was compared",
    "truth-tested": "was tested for truth",
    "value": "gave its name as an enum value",
    "base-class": "is used as a base class",
    "iterated": "was iterated (as empty)",
    "str": "was turned into a string",
    "int": "was used as a number (0)",
    "float": "was used as a number (0.0)",
}
