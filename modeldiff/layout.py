"""Where an application keeps its models: built-in presets, or found by looking.

A preset is shown to the user (`modeldiff layouts`, and in every report header) and each of
its parts can be overridden (`--models`, `--import-root`, `--set`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .source import Snapshot


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
        parts = [f"models {self.models_path}", f"import root {self.import_root or '.'}"]
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
) -> Layout:
    """The layout to load `snapshot` with: explicit options over a preset over detection."""
    base = _preset_for(snapshot) if use_presets else None
    if base is None and models is None:
        base = _detect(snapshot)
    if base is None:
        base = Layout("custom", models.strip("/"), _default_import_root(models))
    if models is not None:
        base = replace(base, name="custom" if base.name != "custom" and models.strip("/") != base.models_path else base.name, models_path=models.strip("/"))
        if import_root is None and not base.models_path.startswith(base.import_root + "/"):
            base = replace(base, import_root=_default_import_root(base.models_path))
    if import_root is not None:
        base = replace(base, import_root=import_root.strip("/").removeprefix("."))
    if base.import_root and not (base.models_path + "/").startswith(base.import_root + "/"):
        raise LayoutError(f"models path {base.models_path!r} is not inside import root {base.import_root!r}")
    return replace(base, settings={**base.settings, **settings})


def _preset_for(snapshot: Snapshot) -> Layout | None:
    for preset in PRESETS:
        if all(snapshot.exists(marker) for marker in preset.markers):
            return preset
    return None


def _default_import_root(models_path: str) -> str:
    """The parent of the models package: `api/models` -> `api`, `models` -> ``."""
    return models_path.strip("/").rpartition("/")[0]


def _detect(snapshot: Snapshot) -> Layout | None:
    """The shallowest `models` package or module of the tree, if there is exactly one."""
    files = snapshot.list_files("")
    candidates = set()
    for path in files:
        parts = path.split("/")
        if parts[-1] == "__init__.py" and len(parts) >= 2 and parts[-2] == "models":
            candidates.add("/".join(parts[:-1]))
        elif parts[-1] == "models.py":
            candidates.add(path)
    candidates = {c for c in candidates if "test" not in c.lower() and "/migrations/" not in c}
    if not candidates:
        raise LayoutError(f"{snapshot.ref}: no models package found; pass --models PATH (and --import-root)")
    depth = min(c.count("/") for c in candidates)
    shallowest = sorted(c for c in candidates if c.count("/") == depth)
    if len(shallowest) > 1:
        raise LayoutError(f"{snapshot.ref}: several models packages ({', '.join(shallowest)}); pass --models PATH")
    models = shallowest[0]
    root = _default_import_root(models)
    # Climb while the parent is itself a package: the import root is above the top package.
    while root and f"{root}/__init__.py" in files:
        root = _default_import_root(root)
    return Layout("detected", models, root)
