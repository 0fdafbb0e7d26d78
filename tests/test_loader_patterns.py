"""Application layouts and model patterns the loader must handle, on the sample repositories
(sample_repos/flaskbinds, typed20, classical, fragile), each with two or more tags.

One embedded PostgreSQL for the module; `load_schema` directly where no database is needed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modeldiff.source.layout import resolve_layout
from modeldiff.load import LoadFailure, LoadOptions, load_schema
from modeldiff.pipeline import open_session, DiffRequest, diff
from modeldiff.source.repository import Repository

ROOT = Path(__file__).resolve().parents[1]


def _build(dest: Path, name: str) -> Path:
    spec = importlib.util.spec_from_file_location("sample_repos_build", ROOT / "sample_repos" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(dest, name)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, Path]:
    dest = tmp_path_factory.mktemp("loader-samples")
    return {name: _build(dest, name) for name in ("flaskbinds", "typed20", "classical", "fragile")}


@pytest.fixture(scope="module")
def server():
    from modeldiff.db.server import EmbeddedPostgres

    with EmbeddedPostgres() as pg:
        yield pg


def changes(result) -> set[tuple]:
    return {(c.kind, c.table, c.column or c.name) for c in result.changes}


def load(repo: Path, ref: str, models: str | None = None, **options):
    snapshot = Repository(str(repo)).snapshot(ref)
    layout = resolve_layout(snapshot, models, None, options.pop("settings", {}))
    return load_schema(snapshot, LoadOptions(layout.import_root, layout.models_path, layout.settings, timeout=60, **options))


def codes(schema) -> dict[str, list]:
    out: dict[str, list] = {}
    for w in schema.warnings:
        out.setdefault(w.code, []).append(w)
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MODELDIFF_DEBUG"}
    return subprocess.run([sys.executable, "-m", "modeldiff.cli", *args], capture_output=True, text=True, env=env, timeout=300)


# -- Flask-SQLAlchemy ------------------------------------------------------------------------------
def test_flask_sqlalchemy_upgrade(samples, server):
    result = diff(DiffRequest(str(samples["flaskbinds"]), "v1.0", "v1.1"), server)
    pair, _ = open_session(DiffRequest(str(samples["flaskbinds"]), "v1.0", "v1.1"), [DiffRequest(str(samples["flaskbinds"]), "v1.0", "v1.1").to_ref])
    assert changes(result) == {
        ("modify_enum", None, "user_role"),
        ("add_table", "audit_export", None),
        ("add_column", "blog_post", "published"),
        ("add_column", "post_tags", "tagged_at"),
        ("add_column", "user", "last_login_at"),
    }
    enum = next(c for c in result.changes if c.kind == "modify_enum")
    assert enum.new == ("reader", "editor", "admin", "owner")  # the real enum from blog/enums.py
    assert pair.layout.models_path == "blog/models" and pair.layout.import_root == ""
    assert result.stats["tables"] == {"from": 5, "to": 6}
    # Both binds are loaded by default, each its own MetaData.
    assert result.stats["metadatas"]["to"] == ("blog.extensions.db", "blog.extensions.db[audit]")


def test_flask_automatic_names_association_table_and_binds(samples):
    schema = load(samples["flaskbinds"], "v1.0")
    assert set(schema.tables) == {"user", "blog_post", "tag", "post_tags", "audit_event"}
    assert {k: t["metadata"] for k, t in schema.tables.items()}["audit_event"] == "blog.extensions.db[audit]"
    post_tags = schema.tables["post_tags"]["create"]
    assert "PRIMARY KEY (post_id, tag_id)" in post_tags
    assert "REFERENCES blog_post (id) ON DELETE CASCADE" in post_tags and "REFERENCES tag (id) ON DELETE CASCADE" in post_tags
    # TITLE_LENGTH comes from os.environ.get(..., "200") in an app module: a real value.
    assert "title VARCHAR(200) NOT NULL" in schema.tables["blog_post"]["create"]
    assert "CREATE TYPE user_role AS ENUM ('reader', 'editor', 'admin')" in schema.preamble


@pytest.mark.parametrize(
    "wanted, tables",
    [
        (("audit",), {"audit_event", "audit_export"}),
        (("default",), {"user", "blog_post", "tag", "post_tags"}),
        (("blog.extensions.db[audit]", "default"), {"audit_event", "audit_export", "user", "blog_post", "tag", "post_tags"}),
    ],
)
def test_metadata_option_picks_binds(samples, wanted, tables):
    schema = load(samples["flaskbinds"], "v1.1", metadata=wanted)
    assert set(schema.tables) == tables


def test_metadata_option_unknown_name_lists_what_exists(samples):
    with pytest.raises(LoadFailure) as info:
        load(samples["flaskbinds"], "v1.1", metadata=("reporting",))
    message = str(info.value)
    assert "--metadata reporting: no such MetaData" in message
    assert "blog.extensions.db (4 tables)" in message and "blog.extensions.db[audit] (2 tables)" in message


def test_app_package_that_builds_the_app_is_stubbed_where_it_fails(samples):
    schema = load(samples["flaskbinds"], "v1.0")
    stubbed = schema.stubbed_app_modules
    # blog/__init__.py creates the app and calls db.create_all(); blog/config.py reads env vars.
    assert set(stubbed) == {"blog", "blog.config"}
    assert "KeyError: 'BLOG_SECRET_KEY'" in stubbed["blog.config"] and "--env BLOG_SECRET_KEY" in stubbed["blog.config"]
    skipped = {(s["module"], s["line"]): s["stubbed_names"] for s in schema.skipped_statements}
    assert skipped[("blog.config", 4)] == ["Config"]
    assert skipped[("blog.config", 11)] == ["DEFAULT_PLAN"]
    assert skipped[("blog", 18)] == ["app"]
    # The stubbed DEFAULT_PLAN reaches the schema, and says so.
    assert {"name": "blog.config.DEFAULT_PLAN", "where": "user", "how": "stub-in-ddl"} in schema.stubs_in_schema
    assert any(s["name"] == "blog.config.DEFAULT_PLAN" and s["where"] == "blog/models/user.py:16" for s in schema.stubs_in_schema)
    assert "DEFAULT '__modeldiff_stub__.blog.config.DEFAULT_PLAN'" in schema.tables["user"]["create"]


def test_set_replaces_a_stubbed_name(samples):
    schema = load(samples["flaskbinds"], "v1.0", settings={"blog.config.DEFAULT_PLAN": "free"})
    assert "plan VARCHAR(20) DEFAULT 'free' NOT NULL" in schema.tables["user"]["create"]
    assert not [s for s in schema.stubs_in_schema if s["name"] == "blog.config.DEFAULT_PLAN"]
    assert "unused-setting" not in codes(schema)


def test_enum_and_type_from_an_app_module_that_partly_fails_stay_real(tmp_path):
    repo = make_repo(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/types.py": (
                "import enum, os\n"
                "from sqlalchemy.types import Numeric, TypeDecorator\n"
                "from app.vault import client\n"  # a missing app module: stubbed, import works
                "API_KEY = client.fetch(os.environ['VAULT_TOKEN'])\n"  # raises: skipped
                "class Color(enum.Enum):\n    RED = 'red'\n    BLUE = 'blue'\n"
                "class Money(TypeDecorator):\n    impl = Numeric(12, 2)\n    cache_ok = True\n"
            ),
            "app/models/__init__.py": (
                "from sqlalchemy import Column, Enum, Integer, MetaData, Table\n"
                "from app.types import Color, Money, API_KEY\n"
                "metadata = MetaData()\n"
                "Table('paints', metadata, Column('id', Integer, primary_key=True),\n"
                "      Column('color', Enum(Color, name='color')), Column('price', Money()))\n"
            ),
        },
    )
    schema = load(repo, "v1")
    assert "CREATE TYPE color AS ENUM ('RED', 'BLUE')" in schema.preamble
    assert "price NUMERIC(12, 2)" in schema.tables["paints"]["create"]
    assert "KeyError: 'VAULT_TOKEN'" in schema.stubbed_app_modules["app.types"]
    assert [s["stubbed_names"] for s in schema.skipped_statements] == [["API_KEY"]]
    assert schema.stubs_in_schema == []  # API_KEY is imported by the models but shapes nothing


def test_duplicate_table_across_metadatas_is_reported(tmp_path):
    repo = make_repo(
        tmp_path,
        {
            "app/models/__init__.py": "from sqlalchemy import MetaData, Table, Column, Integer, Text\n"
            "main = MetaData()\naudit = MetaData()\n"
            "Table('settings', main, Column('id', Integer, primary_key=True))\n"
            "Table('settings', audit, Column('id', Integer, primary_key=True), Column('v', Text))\n",
        },
    )
    schema = load(repo, "v1")
    assert list(schema.tables) == ["settings"] and schema.tables["settings"]["metadata"] == "models.audit"
    (warning,) = codes(schema)["duplicate-table"]
    assert "models.audit and models.main" in warning.message
    assert set(load(repo, "v1", metadata=("main",)).tables) == {"settings"}


# -- SQLAlchemy 2.0 typed models, src layout, namespace packages -----------------------------------
def test_typed_models_upgrade(samples, server):
    result = diff(DiffRequest(str(samples["typed20"]), "v1", "v2"), server)
    pair, _ = open_session(DiffRequest(str(samples["typed20"]), "v1", "v2"), [DiffRequest(str(samples["typed20"]), "v1", "v2").to_ref])
    assert changes(result) == {
        ("modify_enum", None, "order_status"),
        ("add_table", "order_lines", None),
        ("add_index", "order_lines", "ix_order_lines_order_id"),
        ("add_column", "orders", "paid_at"),
        ("remove_column", "orders", "product_id"),
        ("remove_fk", "orders", "fk_orders_product_id_products"),
        ("add_column", "products", "weight_grams"),
        ("modify_type", "products", "description"),
    }
    assert (pair.layout.models_path, pair.layout.import_root) == ("src/shop/db/models", "src")
    modified = next(c for c in result.changes if c.kind == "modify_type")
    assert (modified.old, modified.new) == ("VARCHAR(120)", "TEXT")  # str -> String(120) via type_annotation_map


def test_typed_models_annotations_mixins_and_declared_attr(samples):
    schema = load(samples["typed20"], "v1")
    assert set(schema.tables) == {"categories", "products", "orders"}  # names from a declared_attr mixin
    products = schema.tables["products"]["create"]
    for column in (
        "sku VARCHAR(120) NOT NULL",
        "price NUMERIC(12, 2) NOT NULL",
        "description VARCHAR(120)",
        "attributes JSONB NOT NULL",
        "created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL",
        "updated_at TIMESTAMP WITH TIME ZONE",
    ):
        assert column in products
    assert "CONSTRAINT fk_products_category_id_categories FOREIGN KEY(category_id) REFERENCES categories (id)" in products
    assert "CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped')" in schema.preamble
    assert schema.metadatas == ["shop.db.base.Base"]


def test_parent_packages_that_connect_read_files_and_env_do_not_break_loading(samples):
    schema = load(samples["typed20"], "v1")
    found = codes(schema)
    blocked = found["blocked-database"]
    assert [w.location for w in blocked] == ["src/shop/db/__init__.py:5"]
    assert set(schema.stubbed_app_modules) == {"shop.db", "shop.settings"}
    assert "FileNotFoundError" in schema.stubbed_app_modules["shop.settings"] and "/etc/shop/shop.toml" in schema.stubbed_app_modules["shop.settings"]
    assert "fastapi" in schema.missing_modules
    assert not schema.stubs_in_schema  # nothing stubbed shapes the schema


def test_env_option_reaches_model_code(samples):
    schema = load(samples["typed20"], "v1", env={"SHOP_PRICE_SCALE": "4"})
    assert "price NUMERIC(12, 4) NOT NULL" in schema.tables["products"]["create"]


def test_import_everything_module_as_models_path(samples):
    detected = load(samples["typed20"], "v2")
    everything = load(samples["typed20"], "v2", models="src/shop/db/all_models.py")
    assert set(everything.tables) == set(detected.tables) == {"categories", "products", "orders", "order_lines"}
    assert {k: t["create"] for k, t in everything.tables.items()} == {k: t["create"] for k, t in detected.tables.items()}


# -- classical mapping, several top-level packages --------------------------------------------------
def test_classical_tables_imperative_mapping_and_declarative_base(samples, server):
    result = diff(DiffRequest(str(samples["classical"]), "r1", "r2"), server)
    pair, _ = open_session(DiffRequest(str(samples["classical"]), "r1", "r2"), [DiffRequest(str(samples["classical"]), "r1", "r2").to_ref])
    assert pair.layout.models_path == "billing/schema,core/schema"  # found without --models
    assert changes(result) == {
        ("add_column", "accounts", "email"),
        ("modify_fk", "invoice_lines", "fk_invoice_lines_invoice_id"),  # its ON DELETE changed
        ("add_column", "invoices", "currency"),
        ("add_table", "payments", None),
        ("modify_type", "preferences", "key"),
        ("add_column", "sessions", "user_agent"),
        ("add_index", "sessions", "ix_sessions_expires_at"),
    }
    schema = load(samples["classical"], "r1")
    assert set(schema.tables) == {"accounts", "sessions", "preferences", "invoices", "invoice_lines"}
    assert "CONSTRAINT ck_accounts_login_length CHECK (length(login) >= 3)" in schema.tables["accounts"]["create"]
    assert schema.metadatas == ["core.schema.tables.metadata"]


@pytest.mark.slow
@pytest.mark.parametrize("models", [["core/schema,billing/schema"], ["core/schema", "billing/schema"]])
def test_several_models_paths_comma_or_repeated(samples, models):
    args = [a for m in models for a in ("--models", m)]
    proc = cli("diff", str(samples["classical"]), "r1", "r2", *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["tables"] == {"from": 5, "to": 6}
    assert "models core/schema,billing/schema" in data["layout"]
    only_core = load(samples["classical"], "r2", models="core/schema")
    assert set(only_core.tables) == {"accounts", "sessions", "preferences"}


# -- failures per ref ------------------------------------------------------------------------------
def test_syntax_error_names_ref_file_and_line(samples):
    with pytest.raises(LoadFailure) as info:
        load(samples["fragile"], "v2")
    assert str(info.value).startswith("v2: app/models/orders.py:12: SyntaxError: '(' was never closed")


def test_import_time_exception_names_ref_file_line_and_env_hint(samples):
    with pytest.raises(LoadFailure) as info:
        load(samples["fragile"], "v3")
    message = str(info.value)
    assert message.startswith("v3: app/models/notes.py:8: KeyError: 'NOTES_BUCKET'")
    assert "--env NOTES_BUCKET=" in message
    assert set(load(samples["fragile"], "v3", env={"NOTES_BUCKET": "b"}).tables) == {"customers", "orders", "notes"}


def test_keep_going_loads_the_rest_and_marks_partial(samples):
    schema = load(samples["fragile"], "v2", keep_going=True)
    assert schema.partial
    assert set(schema.tables) == {"customers", "notes"}
    (failed,) = codes(schema)["import-failed"]
    assert failed.location == "app/models/orders.py:12" and failed.ref == "v2"


@pytest.mark.slow
def test_cli_exit_codes_for_a_broken_ref(samples):
    proc = cli("diff", str(samples["fragile"]), "v1", "v2")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("modeldiff: error: v2: app/models/orders.py:12: SyntaxError: '(' was never closed")
    assert line.endswith("(module app.models.orders)")
    proc = cli("diff", str(samples["fragile"]), "v1", "v2", "--keep-going", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["partial"] is True
    # orders is missing from v2 because its module failed, not because v2 dropped it: no
    # remove_table, the table is named as not compared.
    assert {(c["kind"], c["table"]) for c in data["changes"]} == {("add_column", "customers")}
    assert data["not_compared"] == [{"table": "orders", "ref": "v2", "reason": "its model module failed to import (app/models/orders.py:12)"}]
    # A partial result never passes --exit-code, changes or not.
    for refs in (("v1", "v2"), ("v2", "v2")):
        proc = cli("diff", str(samples["fragile"]), *refs, "--keep-going", "--exit-code")
        assert proc.returncode == 2, (refs, proc.stdout)
        assert "incomplete" in proc.stdout.splitlines()[0]


def test_a_side_with_no_tables_is_an_error_unless_keep_going(tmp_path):
    repo = make_repo(tmp_path, {"app/__init__.py": "", "app/models.py": "from sqlalchemy import MetaData\nmetadata = MetaData()\n"})
    proc = cli("diff", str(repo), "v1", "v1", "--models", "app/models.py")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["modeldiff: error: v1: no tables found under app/models.py; --keep-going compares anyway, marked partial"]
    proc = cli("diff", str(repo), "v1", "v1", "--models", "app/models.py", "--keep-going", "--format", "json", "--exit-code")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["partial"] is True and [w["code"] for w in data["warnings"]] == ["no-tables"]


def test_fixed_ref_diff_is_complete(samples, server):
    result = diff(DiffRequest(str(samples["fragile"]), "v1", "v4"), server)
    assert changes(result) == {
        ("add_column", "customers", "email"),
        ("add_column", "notes", "attachment"),
        ("add_column", "orders", "currency"),
        ("modify_type", "orders", "total"),
    }
    assert not result.stats["partial"]


# -- layout detection ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, ref, models, root",
    [
        ("flaskbinds", "v1.0", "blog/models", ""),
        ("typed20", "v1", "src/shop/db/models", "src"),  # namespace packages, src layout
        ("classical", "r1", "billing/schema,core/schema", ""),  # no `models`: where tables are defined
        ("fragile", "v1", "app/models", ""),
    ],
)
def test_detection_without_flags(samples, name, ref, models, root):
    layout = resolve_layout(Repository(str(samples[name])).snapshot(ref), None, None, {})
    assert (layout.name, layout.models_path, layout.import_root) == ("detected", models, root)


def test_detection_per_domain_models_modules_and_explicit_import_root_guess(tmp_path):
    table = "from app.db import Base\nfrom sqlalchemy import Column, Integer\nclass {0}(Base):\n    __tablename__ = '{1}'\n    id = Column(Integer, primary_key=True)\n"
    repo = make_repo(
        tmp_path,
        {
            "src/app/__init__.py": "",
            "src/app/db.py": "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n",
            "src/app/users/models.py": table.format("User", "users"),
            "src/app/billing/models.py": table.format("Invoice", "invoices"),
            "src/app/billing/schemas.py": "class InvoiceOut: pass\n",
            "tests/models.py": table.format("Fixture", "fixtures"),
        },
    )
    snapshot = Repository(str(repo)).snapshot("v1")
    layout = resolve_layout(snapshot, None, None, {})
    assert (layout.models_path, layout.import_root) == ("src/app/billing/models.py,src/app/users/models.py", "src")
    assert set(load(repo, "v1").tables) == {"users", "invoices"}
    # An explicit --models gets its import root from the models' own imports too.
    explicit = resolve_layout(snapshot, "src/app/users/models.py", None, {})
    assert explicit.import_root == "src"


def test_detection_refuses_to_guess_between_two_apps(tmp_path):
    model = "from sqlalchemy import Column, Integer, MetaData, Table\nTable('t', MetaData(), Column('id', Integer))\n"
    repo = make_repo(tmp_path, {"shop/models/__init__.py": model, "blog/models/__init__.py": model})
    from modeldiff.source.layout import LayoutError

    with pytest.raises(LayoutError, match=r"several models packages \(blog/models, shop/models\); pass --models"):
        resolve_layout(Repository(str(repo)).snapshot("v1"), None, None, {})


# -- the same ref twice is always empty ------------------------------------------------------------
@pytest.mark.parametrize("name, ref", [("flaskbinds", "v1.1"), ("typed20", "v2"), ("classical", "r2")])
def test_same_ref_twice_is_empty(samples, server, name, ref):
    result = diff(DiffRequest(str(samples[name]), ref, ref), server)
    assert result.changes == ()


# -- helpers ---------------------------------------------------------------------------------------
def make_repo(tmp_path: Path, files: dict[str, str], tag: str = "v1") -> Path:
    repo = tmp_path / "repo"
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", tag], ["tag", tag]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    return repo


def test_python_option_failures_are_one_line_errors(samples, tmp_path):
    with pytest.raises(LoadFailure, match=r"^v1: cannot run the interpreter '/nonexistent/python'"):
        load(samples["fragile"], "v1", python="/nonexistent/python")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    with pytest.raises(LoadFailure, match=r"^v1: the loader cannot start under .*No module named 'sqlalchemy'.*--python needs"):
        load(samples["fragile"], "v1", python=str(tmp_path / "bare" / "bin" / "python"))
