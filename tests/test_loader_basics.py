"""The loader on the sample: config settings, stub reporting, files read, isolation."""

from __future__ import annotations

from modeldiff.source.layout import resolve_layout
from modeldiff.load import LoadOptions, load_schema
from modeldiff.source.repository import Repository


def _load(repo, ref, settings=None, use_presets=True):
    snapshot = Repository(str(repo)).snapshot(ref)
    layout = resolve_layout(snapshot, None, None, settings or {}, use_presets)
    if not use_presets:
        layout = resolve_layout(snapshot, "api/models", "api", settings or {}, use_presets=False)
    return load_schema(snapshot, LoadOptions(layout.import_root, layout.models_path, layout.settings))


def _has_index(schema, table, name):
    return any(f"INDEX {name} " in s for s in schema.tables[table]["statements"])


def test_config_dependent_index_follows_set_and_unset_is_warned(difylike):
    without = _load(difylike, "v0.15.3", use_presets=False)
    assert not _has_index(without, "documents", "document_metadata_idx")
    branch = [w for w in without.warnings if w.code == "stub-compared"]
    assert branch and branch[0].location.startswith("api/models/dataset.py:")
    assert "configs.dify_config.DB_TYPE" in branch[0].message

    with_setting = _load(difylike, "v0.15.3", {"configs.dify_config.DB_TYPE": "postgresql"}, use_presets=False)
    assert _has_index(with_setting, "documents", "document_metadata_idx")
    assert not [w for w in with_setting.warnings if w.code == "stub-compared"]

    preset = _load(difylike, "v0.15.3")  # the dify preset sets it
    assert _has_index(preset, "documents", "document_metadata_idx")


def test_unused_setting_is_reported(difylike):
    schema = _load(difylike, "v0.14.2", {"configs.nothing_here.X": 1, "nosuchmodule.Y": 2})
    unused = sorted(w.message for w in schema.warnings if w.code == "unused-setting")
    assert len(unused) == 2 and "nosuchmodule.Y" in unused[1]


def test_stubbed_modules_and_files_read(difylike):
    schema = _load(difylike, "v0.14.2")
    # Not installed third-party packages are stubbed; in-repo app modules that import them
    # still load for real (their own imports get stubs).
    assert {"flask_login", "pydantic_settings"} <= set(schema.stubbed_modules)
    assert "configs" not in schema.stubbed_modules
    # Only what the import needed was read from git: not the controllers, not app.py.
    assert "api/models/workflow.py" in schema.files_read
    assert "api/app.py" not in schema.files_read
    assert not any(p.startswith("api/controllers/") for p in schema.files_read)
    assert len(schema.tables) == 14


def test_base_class_stub_is_reported_with_location(difylike):
    schema = _load(difylike, "v0.14.2")
    bases = [w for w in schema.warnings if w.code == "stub-base-class"]
    assert [w.location.split(":")[0] for w in bases] == ["api/models/account.py"]
    assert "flask_login.UserMixin" in bases[0].message
