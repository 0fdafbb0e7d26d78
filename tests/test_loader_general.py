"""Applications modeldiff was not tuned on, loaded with the default command: shapes found on
CTFd, Redash, FlaskBB, I Hate Money, Zou, pgAdmin and Netflix Dispatch (sample_repos/
legacyflask and sprawl), and results that must say they are incomplete."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from modeldiff.pipeline import DiffRequest, diff
from modeldiff.source.layout import resolve_layout
from modeldiff.source.repository import Repository

from conftest import run_cli
from test_loader_patterns import codes, load, make_repo

DATA_DIR = Path("/var/lib/tracker-sample")  # where legacyflask's settings write at import


@pytest.fixture(scope="module")
def samples(build_sample) -> dict[str, Path]:
    return {name: build_sample(name) for name in ("legacyflask", "sprawl")}


def changes(result) -> set[tuple]:
    return {(c.kind, c.table, c.column or c.name) for c in result.changes}


# -- a Flask-SQLAlchemy 2.x-era application --------------------------------------------------------
def test_legacy_flask_app_loads_with_settings_that_write_files(samples):
    assert not DATA_DIR.exists()
    schema = load(samples["legacyflask"], "v1")
    assert set(schema.tables) == {"project", "bill"}
    # settings.py made its data directory and secret file, then read conf/logging.json (a data
    # directory without __init__.py): the column length it gives reached the schema.
    assert "VARCHAR(200)" in schema.tables["project"]["create"]
    assert not DATA_DIR.exists()
    found = codes(schema)
    assert "module-stubbed" not in found and "blocked-write" not in found
    contained = sorted(w.message.split(" (", 1)[1].split("): ", 1)[0] for w in found["blocked-contained"])
    assert contained == [f"mkdir({DATA_DIR})", f"mkdir({DATA_DIR / 'uploads'})", f"write({DATA_DIR / 'secret.key'})"]
    # BaseQuery (gone in Flask-SQLAlchemy 3.1) is a stub class, not a stub module.
    assert "flask_sqlalchemy.BaseQuery is used as a base class" in " ".join(w.message for w in found["stub-base-class"])
    # A subclass of a stubbed column type is a column type (TEXT, reported).
    (typed,) = found["stub-type"]
    assert "sqlalchemy_utils.EncryptedType" in typed.message and "project.password" in typed.message
    # SQLAlchemy-Continuum adds tables: stubbed, the schema is incomplete, loudly.
    (continuum,) = found["schema-package-stubbed"]
    assert continuum.message.startswith("sqlalchemy_continuum is not installed for the loader and was stubbed: the *_version tables")
    assert schema.partial


def test_legacy_flask_diff_is_right_and_marked_incomplete(samples):
    repo = str(samples["legacyflask"])
    # The bundled runtime (its pins, Flask 1.1 without MarkupSafe < 2.1, do not import on
    # their own runtime): what is stubbed makes the result partial.
    proc = run_cli("diff", repo, "v1", "v2", "--format", "json", "--exit-code", "--runtime", "bundled")
    assert proc.returncode == 2, proc.stderr  # partial: never 0 or 1 with --exit-code
    data = json.loads(proc.stdout)
    assert data["partial"] is True
    assert {(c["kind"], c["table"], c["column"]) for c in data["changes"]} == {("add_column", "bill", "currency"), ("modify_type", "project", "name")}
    text = run_cli("diff", repo, "v1", "v2", "--runtime", "bundled")
    assert text.returncode == 0, text.stderr
    first = text.stdout.splitlines()[0]
    assert "postgresql: incomplete (see below): 2 changes in 2 tables" in first
    plan = run_cli("plan", repo, "v1", "v2", "--format", "json", "--runtime", "bundled")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["summary"][0].startswith("incomplete: parts of the schema could not be loaded")
    assert not DATA_DIR.exists()


@pytest.mark.slow
def test_legacy_flask_pins_that_do_not_import_together_say_so(samples):
    """By default v1 gets the runtime it pins (SQLAlchemy 1.3): its Flask 1.1 needs a
    MarkupSafe < 2.1 it does not pin. The default falls back to modeldiff's own runtime,
    saying which runtime failed and why, the result partial; asked for (--runtime auto),
    the error says which runtime failed and the way out."""
    proc = run_cli("diff", str(samples["legacyflask"]), "v1", "v2", "--format", "json", "--exit-code")
    assert proc.returncode == 2, proc.stderr
    result = json.loads(proc.stdout)
    assert result["partial"] is True and result["tables"] == {"from": 2, "to": 2}
    fallback = {w["message"] for w in result["warnings"] if w["code"] == "runtime-fallback" and w["ref"] == "v1"}
    assert len(fallback) == 1 and "(Python %s, flask-sqlalchemy 2.5.1, sqlalchemy 1.3.24): tracker/models.py:1: ImportError: cannot import name 'soft_unicode'" % ".".join(map(str, sys.version_info[:3])) in fallback.pop()
    asked = run_cli("diff", str(samples["legacyflask"]), "v1", "v2", "--runtime", "auto")
    assert asked.returncode == 2
    assert asked.stderr.strip().endswith("(module tracker.models); loaded with the runtime the ref pins (Python %s, SQLAlchemy 1.3.24): --runtime bundled loads it with modeldiff's own" % ".".join(map(str, sys.version_info[:3])))
    assert "soft_unicode" in asked.stderr and not DATA_DIR.exists()


# -- layouts: a singular model/ package, per-domain models.py beside it, models that move ---------
@pytest.mark.parametrize(
    "ref, paths",
    [
        ("r1", "web/portal/audit/models.py,web/portal/billing/models.py,web/portal/model"),
        ("r2", "web/portal/billing/models.py,web/portal/model"),
    ],
)
def test_detection_of_a_singular_model_package_with_per_domain_modules(samples, ref, paths):
    layout = resolve_layout(Repository(str(samples["sprawl"])).snapshot(ref), None, None, {})
    assert (layout.models_path, layout.import_root) == (paths, "web")


def test_models_moving_between_refs_are_found_at_each_ref(samples):
    request = DiffRequest(str(samples["sprawl"]), "r1", "r2")
    result = diff(request)
    # `event` moved from audit/models.py into model/events.py: not a new table.
    assert changes(result) == {("add_column", "invoice", "currency")}
    assert result.stats["tables"] == {"from": 3, "to": 3}
    assert " -> " in result.stats["layout"]
    for ref in ("r1", "r2"):
        assert diff(DiffRequest(str(samples["sprawl"]), ref, ref)).changes == ()
    # A --models path that one ref does not have: that ref's models are found by looking
    # (not an error); r1 loads what was given, which leaves billing out.
    given = diff(DiffRequest(str(samples["sprawl"]), "r1", "r2", models="web/portal/model,web/portal/audit/models.py"))
    assert changes(given) == {("add_table", "invoice", None)}
    assert given.stats["layout"].startswith("custom (models web/portal/model,web/portal/audit/models.py") and "-> detected" in given.stats["layout"]


def test_sqlmodel_table_classes_are_detected(tmp_path):
    repo = make_repo(
        tmp_path,
        {
            "backend/app/__init__.py": "",
            "backend/app/models.py": "from sqlmodel import Field, SQLModel\n\n\nclass Item(SQLModel, table=True):\n    id: int = Field(primary_key=True)\n",
        },
    )
    layout = resolve_layout(Repository(str(repo)).snapshot("v1"), None, None, {})
    assert (layout.models_path, layout.import_root) == ("backend/app/models.py", "backend")
    # SQLModel is not installed for the bundled loader: the error says so, not just "no tables".
    proc = run_cli("diff", str(repo), "v1", "v1")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "modeldiff: error: v1: no tables found under backend/app/models.py (sqlmodel, which defines tables, "
        "is not installed for the loader: --runtime auto or --python PATH); --keep-going compares anyway, marked partial"
    )


def test_newer_python_syntax_names_the_python_the_ref_requires(tmp_path):
    repo = make_repo(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "1"\nrequires-python = ">=3.99"\ndependencies = ["sqlalchemy"]\n',
            "app/__init__.py": "",
            "app/models.py": "from sqlalchemy import Column, Integer, MetaData, Table\nt = Table('t', MetaData(), Column('id', Integer))\nx = undefined_name\n",
        },
    )
    proc = run_cli("diff", str(repo), "v1", "v1")
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("(module app.models); pyproject.toml requires Python >=3.99, loaded with %s: try --runtime auto or --python PATH" % ".".join(map(str, __import__("sys").version_info[:3])))


def test_sqlalchemy_14_annotations_load_on_20(tmp_path):
    """`kids: list = relationship(...)` ran on 1.4; SQLAlchemy 2 refuses the class unless
    `__allow_unmapped__`, which the loader grants (2.x models use Mapped[] and see no change)."""
    models = (
        "from sqlalchemy import Column, ForeignKey, Integer\n"
        "from sqlalchemy.orm import declarative_base, relationship\n"
        "Base = declarative_base()\n\n\n"
        "class Parent(Base):\n    __tablename__ = 'parent'\n    id = Column(Integer, primary_key=True)\n    kids: list = relationship('Kid')\n\n\n"
        "class Kid(Base):\n    __tablename__ = 'kid'\n    id = Column(Integer, primary_key=True)\n    parent_id = Column(ForeignKey('parent.id'))\n"
    )
    repo = make_repo(tmp_path, {"app/__init__.py": "", "app/models.py": models})
    assert set(load(repo, "v1").tables) == {"parent", "kid"}


def test_sqlalchemy_14_select_with_a_list_loads_on_20(tmp_path):
    models = (
        "from sqlalchemy import Column, ForeignKey, Integer, exists, func, select\n"
        "from sqlalchemy.orm import column_property, declarative_base\n"
        "Base = declarative_base()\n\n\n"
        "class Kid(Base):\n    __tablename__ = 'kid'\n    id = Column(Integer, primary_key=True)\n    parent_id = Column(ForeignKey('parent.id'))\n\n\n"
        "class Parent(Base):\n    __tablename__ = 'parent'\n    id = Column(Integer, primary_key=True)\n"
        "    kids = column_property(select([func.count(Kid.id)]).where(Kid.parent_id == id).scalar_subquery())\n"
        "    has_kids = column_property(exists([1]).where(Kid.parent_id == id))\n"
    )
    repo = make_repo(tmp_path, {"app/__init__.py": "", "app/models.py": models})
    assert set(load(repo, "v1").tables) == {"parent", "kid"}


def test_detection_of_a_models_package_per_domain_in_one_application(tmp_path):
    table = "from sqlalchemy import Column, Integer, MetaData, Table\nTable('{0}', MetaData(), Column('id', Integer))\n"
    repo = make_repo(
        tmp_path,
        {
            "indico/__init__.py": "",
            "indico/modules/__init__.py": "",
            "indico/modules/rooms/__init__.py": "",
            "indico/modules/rooms/models/__init__.py": table.format("rooms"),
            "indico/modules/events/__init__.py": "",
            "indico/modules/events/models/__init__.py": table.format("events"),
            "indico/modules/events/models/sessions.py": table.format("sessions"),
            "indico/core/__init__.py": "",
            "indico/core/settings/models.py": table.format("settings"),
            # Two applications side by side in one src/ (no package above them): ambiguous.
            "tools/src/shop/__init__.py": "",
        },
    )
    layout = resolve_layout(Repository(str(repo)).snapshot("v1"), None, None, {})
    assert layout.models_path == "indico/core/settings/models.py,indico/modules/events/models,indico/modules/rooms/models"
    two = make_repo(tmp_path / "two", {f"src/{app}/__init__.py": "" for app in ("shop", "blog")} | {f"src/{app}/models/__init__.py": table.format(app) for app in ("shop", "blog")})
    from modeldiff.source.layout import LayoutError

    with pytest.raises(LayoutError, match="several models packages"):
        resolve_layout(Repository(str(two)).snapshot("v1"), None, None, {})
