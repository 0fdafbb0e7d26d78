"""Where an application keeps its models: built-in presets, or found by looking.

A preset is shown to the user (`modeldiff layouts`, and in every report header) and each of
its parts can be overridden (`--models`, `--import-root`, `--set`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .repository import Snapshot


class LayoutError(Exception):
    """The models cannot be located: one line telling the user what to pass."""


@dataclass(frozen=True)
class Layout:
    name: str
    models_path: str
    import_root: str
    settings: dict = field(default_factory=dict)
    migrations_path: str | None = None  # the app's alembic versions directory, if any
    markers: tuple[str, ...] = ()  # files whose presence selects this preset

    def describe(self) -> str:
        paths = self.models_path.split(",")
        shown = self.models_path if len(paths) <= 3 else f"{', '.join(paths[:2])}, ... ({len(paths)} paths)"
        parts = [f"models {shown}", f"import root {self.import_root or '.'}"]
        parts += [f"--set {k}={v}" for k, v in sorted(self.settings.items())]
        return f"{self.name} ({', '.join(parts)})"


PRESETS = [
    Layout(
        name="dify",
        models_path="api/models",
        import_root="api",
        # Dify >= 1.10 creates some GIN indexes only when this holds; production is PostgreSQL.
        settings={"configs.dify_config.DB_TYPE": "postgresql"},
        migrations_path="api/migrations/versions",
        markers=("api/models/__init__.py", "api/configs/__init__.py", "api/migrations"),
    ),
]


def resolve_layout(
    snapshot: Snapshot,
    models: str | None,
    import_root: str | None,
    settings: dict,
    use_presets: bool = True,
    presets: tuple[Layout, ...] = (),
) -> Layout:
    """The layout to load `snapshot` with: explicit options over a preset over detection.

    `models` may name several paths, separated by commas. Without `import_root`, the import
    root is the directory the models' own absolute imports resolve from. `presets`: the
    project's own (its configuration), tried before the built-in ones."""
    base = _preset_for(snapshot, presets) if use_presets else None
    if base is None and models is None:
        base = _detect(snapshot)
    paths = split_models(models) if models is not None else None
    if paths is not None:
        joined = ",".join(paths)
        if base is None or joined != base.models_path:
            guessed = guess_import_root(snapshot, paths) if import_root is None else import_root
            base = Layout("custom", joined, guessed)
    if import_root is not None:
        base = replace(base, import_root=import_root.strip("/").removeprefix("."))
    for path in split_models(base.models_path):
        if base.import_root and not (path + "/").startswith(base.import_root + "/"):
            raise LayoutError(f"models path {path!r} is not inside import root {base.import_root!r}")
    return replace(base, settings={**base.settings, **settings})


def split_models(models: str) -> list[str]:
    """`--models a,b` (also given several times: the CLI joins them with commas)."""
    paths = [p.strip().strip("/") for p in models.split(",") if p.strip().strip("/")]
    if not paths:
        raise LayoutError("--models: empty path")
    return list(dict.fromkeys(paths))


def _preset_for(snapshot: Snapshot, presets: tuple[Layout, ...] = ()) -> Layout | None:
    for preset in (*presets, *PRESETS):
        snapshot.prefetch([*preset.markers, *split_models(preset.models_path)])  # one git call
        if all(snapshot.exists(marker) for marker in preset.markers):
            return preset
    return None


def _default_import_root(models_path: str) -> str:
    """The parent of the models package: `api/models` -> `api`, `models` -> ``."""
    return models_path.strip("/").rpartition("/")[0]


# -- detection --------------------------------------------------------------------------------
# Directories that hold no application models (vendored code, tests, docs, migrations).
_EXCLUDED_PARTS = {
    "test", "tests", "testing", "docs", "doc", "examples", "example", "migrations", "alembic",
    "venv", ".venv", "env", "site-packages", "node_modules", "build", "dist", "fixtures", "scripts",
}
# Source that defines tables (read, never executed, by the parent).
# (`table=True`: a SQLModel table class.)
TABLE_HINT = re.compile(
    rb"__tablename__|\bTable\s*\(|\bdb\.Model\b|\bmapped_column\s*\(|\bColumn\s*\(|\bmap_imperatively\s*\("
    rb"|[(,]\s*table\s*=\s*True\b"
)
# Names of the modules and packages that hold models (`model/`: pgAdmin's singular package).
_MODEL_NAMES = {"models", "model"}
_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+import\b|import[ \t]+([A-Za-z_][\w.]*))", re.M)
_MAX_READ = 400  # files read by detection, at most


def _excluded(path: str) -> bool:
    parts = path.split("/")
    return any(p.lower() in _EXCLUDED_PARTS or p.startswith("test_") or p.endswith("_test.py") for p in parts)


class _Tree:
    """The files of a snapshot, with bounded reading."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.files = snapshot.list_files("")
        self.dirs = set()
        for path in self.files:
            parent = path.rpartition("/")[0]
            while parent and parent not in self.dirs:
                self.dirs.add(parent)
                parent = parent.rpartition("/")[0]
        self.budget = _MAX_READ

    def read(self, path: str) -> bytes:
        if self.budget <= 0:
            return b""
        self.budget -= 1
        try:
            return self.snapshot.read(path)
        except Exception:  # noqa: BLE001 - detection is best effort
            return b""

    def python_files(self, path: str) -> list[str]:
        if path.endswith(".py"):
            return [path] if path in self.files else []
        prefix = path + "/" if path else ""
        return sorted(f for f in self.files if f.startswith(prefix) and f.endswith(".py"))

    def grep(self, pattern: re.Pattern) -> list[str]:
        """Python files whose content matches; `git grep` on a commit (fast, and it never
        touches the work tree or index), bounded reading for the work tree."""
        snapshot = self.snapshot
        if snapshot.commit is not None:
            try:
                out = snapshot.repo.git("grep", "-l", "-I", "-E", pattern.pattern.decode(), snapshot.commit, "--", "*.py")
            except Exception:  # noqa: BLE001 - git grep exits 1 when nothing matches
                return []
            return sorted(line.split(":", 1)[1] for line in out.splitlines() if ":" in line)
        return [f for f in self.python_files("") if pattern.search(self.read(f))]

    def defines_tables(self, path: str) -> bool:
        return any(TABLE_HINT.search(self.read(f)) for f in self.python_files(path)[:50])

    def is_module(self, root: str, dotted: str) -> bool:
        base = "/".join(filter(None, [root, dotted.replace(".", "/")]))
        return f"{base}.py" in self.files or base in self.dirs


def _detect(snapshot: Snapshot) -> Layout | None:
    """Models found by looking: `models`/`model` packages (with or without `__init__.py`)
    and `models.py` modules that define tables, outside tests, docs and migrations.

    One package at the shallowest level wins, together with the other candidates of its
    top-level directory (per-domain `models.py` beside a small `models/` package); several
    `models.py` modules of one top-level package (a package per domain) are taken together;
    anything else is ambiguous."""
    tree = _Tree(snapshot)
    candidates = set()
    for path in tree.files:
        parts = path.split("/")
        if not path.endswith(".py") or _excluded(path):
            continue
        if parts[-1] == "models.py":
            candidates.add(path)
        else:  # a models package, or namespace directory, at any depth
            named = [i for i, part in enumerate(parts[:-1]) if part in _MODEL_NAMES]
            if named:
                candidates.add("/".join(parts[: named[0] + 1]))
    candidates = {c for c in candidates if tree.defines_tables(c)}
    chosen = _choose(sorted(candidates), snapshot.ref, tree.files) if candidates else _table_directories(tree, snapshot.ref)
    return Layout("detected", ",".join(chosen), guess_import_root(snapshot, chosen, tree))


def _table_directories(tree: _Tree, ref: str) -> list[str]:
    """No `models` anywhere: the directories of the files that define tables, if few."""
    files = [f for f in tree.grep(TABLE_HINT) if not _excluded(f)]
    dirs = sorted({f.rpartition("/")[0] for f in files})
    outer = [d for d in dirs if not any(d != o and d.startswith(o + "/") for o in dirs)]
    if not outer or "" in outer or len(outer) > 4:
        found = f" (tables are defined in {len(files)} files under {len(outer)} directories)" if files else ""
        raise LayoutError(f"{ref}: no models package found{found}; pass --models PATH (several: --models A,B)")
    return outer


def _choose(candidates: list[str], ref: str, files=frozenset()) -> list[str]:
    if len(candidates) == 1:
        return candidates
    depth = min(c.count("/") for c in candidates)
    packages = [c for c in candidates if not c.endswith(".py")]
    shallow_packages = [c for c in packages if c.count("/") == depth]
    if len(shallow_packages) == 1:
        # The other table-defining candidates of its top-level directory belong to the same
        # application: leaving them out would drop their tables without a word.
        chosen = shallow_packages[0]
        top = chosen.split("/")[0] + "/" if "/" in chosen else ""
        return sorted(c for c in candidates if c == chosen or (c.startswith(top) and not c.startswith(chosen + "/")))
    tops = {_application(c, files) for c in candidates}
    if len(tops) == 1:
        # One application with a models package or module per domain (Indico's
        # indico/modules/*/models/, Dispatch's src/dispatch/*/models.py): all of them.
        return [c for c in candidates if not any(c.startswith(o + "/") for o in candidates if o != c)]
    shallowest = [c for c in candidates if c.count("/") == depth]
    raise LayoutError(f"{ref}: several models packages ({', '.join(shallowest if len(shallowest) > 1 else candidates[:8])}); pass --models PATH (several: --models A,B)")


def _application(path: str, files) -> str:
    """The outermost Python package holding `path` (`src/dispatch`, `indico`), else its first
    directory: candidates under one of these are one application's."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) + "/__init__.py" in files:
            return "/".join(parts[:i])
    return parts[0] if len(parts) > 1 else ""


def guess_import_root(snapshot: Snapshot, models_paths: list[str], tree: _Tree | None = None) -> str:
    """The directory the models are imported from: the ancestor of the models path(s) from
    which the most of their absolute imports resolve to the repository's own files
    (`from app.db.base import Base` in app/db/models/user.py -> the repository root). Ties go
    to the directory above the outermost package (`__init__.py`) holding the models."""
    tree = tree or _Tree(snapshot)
    first = models_paths[0]
    ancestors = []
    current = _default_import_root(first)
    while True:
        ancestors.append(current)
        if not current:
            break
        current = _default_import_root(current)
    candidates = [a for a in ancestors if all(not a or (p + "/").startswith(a + "/") for p in models_paths)]
    scores = dict.fromkeys(candidates, 0)
    read = 0
    for path in models_paths:
        for file in tree.python_files(path):
            if read >= 60:
                break
            read += 1
            for match in _IMPORT.finditer(tree.read(file)):
                dotted = (match.group(1) or match.group(2)).decode()
                for root in candidates:
                    if tree.is_module(root, dotted):
                        scores[root] += 1
    fallback = _default_import_root(first)
    while fallback and (f"{fallback}/__init__.py" in tree.files or fallback not in scores):
        fallback = _default_import_root(fallback)  # above the packages, and above every path
    best = max(scores.values(), default=0)
    if best == 0 or scores.get(fallback, -1) == best:
        return fallback
    return next(root for root in candidates if scores[root] == best)  # the deepest of the best
