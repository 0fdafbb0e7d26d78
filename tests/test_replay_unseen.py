"""The replay on applications shaped unlike the ones it was built on (issue 13, unseen apps).

`pocketbook` (sample_repos/pocketbook) keeps Flask-Migrate's migrations inside its package and
its scripts import that package; its first revision asks for an admin account on the
terminal; one revision uses a column type of a package that is not installed, another is
written for SQLAlchemy 1.3. `tenantdesk` has two chains in one alembic.ini (`[core]`,
`[tenant]`, as package resources, first revisions with `down_revision = ""`), and installs
from its models: its oldest tenant revision expects the tables, swallows the error and leaves
the transaction aborted.
"""

from __future__ import annotations

import json

import pytest

from conftest import make_repo, run_cli
from modeldiff.db.server import shared_server
from modeldiff.replay.run import migrations
from modeldiff.replay.setup import find_setup, find_setups
from modeldiff.source.repository import Repository


@pytest.fixture(scope="module", autouse=True)
def one_server():
    with shared_server() as server:
        yield server


@pytest.fixture(scope="module")
def pocket(build_sample):
    return build_sample("pocketbook")


@pytest.fixture(scope="module")
def desk(build_sample):
    return build_sample("tenantdesk")


@pytest.fixture(scope="module")
def pocket_report(pocket) -> dict:
    return migrations(str(pocket), "v1", "v2")


def _revision(report: dict, revision: str) -> dict:
    return next(r for r in report["revisions"] if r["revision"] == revision)


def _warnings(report: dict, code: str) -> list[dict]:
    return [w for w in report["warnings"] if w["code"] == code]


def test_scripts_import_the_package_they_live_in(pocket, pocket_report):
    setup = find_setup(Repository(str(pocket)).snapshot("v2"))
    assert (setup.script_location, setup.import_root) == ("pocket/migrations", "")
    assert pocket_report["complete"], pocket_report["error"]
    ddl = [s["sql"] for s in _revision(pocket_report, "0003")["statements"] if s["kind"] == "ddl"]
    assert ddl == ["ALTER TABLE bills ADD COLUMN currency VARCHAR(3) DEFAULT 'XXX'"]  # pocket.currency, the real file
    stubbed = " ".join(w["message"] for w in _warnings(pocket_report, "modules-stubbed"))
    assert "pocket" not in stubbed.replace("fancytypes", "")


def test_a_prompt_is_answered_and_reported(pocket_report):
    assert pocket_report["from"]["heads"] == ["0002"]  # FROM's first revision ran, prompts and all
    prompts = {w["location"]: w["message"] for w in _warnings(pocket_report, "prompt-answered")}
    assert set(prompts) == {"pocket/setup.py:6", "pocket/setup.py:10"}
    assert "'replay@example.com'" in prompts["pocket/setup.py:6"] and "a synthetic password" in prompts["pocket/setup.py:10"]


def test_a_column_type_of_a_missing_package_is_text_and_reported(pocket_report):
    (warning,) = _warnings(pocket_report, "stub-type")
    assert warning["ref"] == "v1" and "fancytypes.types.token.TokenType" in warning["message"] and "(columns token)" in warning["message"]


def test_a_sqlalchemy_13_script_runs_as_13_ran_it(pocket_report):
    statements = [s for s in _revision(pocket_report, "0004")["statements"] if s["kind"] == "data"]
    assert statements[0]["sql"] == "UPDATE bills SET what = '' WHERE what IS NULL"  # conn.execute("...")
    per_row = statements[1:]  # MetaData(bind=), Table(autoload=True), select([...]), row["id"]
    assert len(per_row) == pocket_report["seeded"]["bills"] > 0
    assert all(s["rows"] == 1 and s["location"] == "pocket/migrations/versions/0004_what_trimmed.py:21" for s in per_row)


def test_several_chains_and_an_install_from_the_models(desk, tmp_path):
    snapshots = [Repository(str(desk)).snapshot(ref) for ref in ("v1", "v2")]
    _, setup = find_setups(*snapshots)
    assert setup.found_by == "src/tenantdesk/alembic.ini [tenant]" and setup.others == ("src/tenantdesk/alembic.ini [core]",)
    assert setup.script_location == "src/tenantdesk/database/revisions/tenant" and setup.import_root == "src"
    out = tmp_path / "report.json"
    proc = run_cli("migrations", str(desk), "v1", "v2", "--format", "json", "-o", str(out))
    text = run_cli("migrations", str(desk), "v1", "v2")
    assert proc.returncode == 0 and text.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["complete"] and [r["revision"] for r in report["revisions"]] == ["t0000003"]
    assert report["from"]["heads"] == ["t0000002"]
    (added,) = [s for s in report["revisions"][0]["statements"] if s["kind"] == "ddl"]
    assert added["sql"].startswith("ALTER TABLE tickets ADD COLUMN priority INTEGER")
    # FROM's migrations cannot build FROM's schema: its models stand in, said loudly.
    made = report["from_schema"]
    assert made["made_by"] == "models"
    # The error the script swallowed is named, not only "current transaction is aborted".
    assert made["replay_error"]["location"] == "src/tenantdesk/database/revisions/tenant/versions/2024-02-10_t0000002.py:17"
    assert made["replay_error"]["message"].startswith('UndefinedTable: relation "tickets" does not exist')
    assert {"from-schema-from-models", "several-chains"} <= {w["code"] for w in report["warnings"]}
    assert text.stdout.splitlines()[0].startswith("APPROXIMATE: FROM's schema was created from v1's models")
    markdown = run_cli("migrations", str(desk), "v1", "v2", "--format", "markdown")
    assert markdown.stdout.startswith("> **APPROXIMATE**: FROM's schema was created from v1's models")


def test_the_plan_says_its_from_schema_is_approximate(desk):
    text = run_cli("plan", str(desk), "v1", "v2")
    data = run_cli("plan", str(desk), "v1", "v2", "--format", "json")
    assert text.returncode == 0 and data.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith("APPROXIMATE: FROM's schema was created from v1's models")
    plan = json.loads(data.stdout)
    assert plan["source"] == "migrations" and plan["complete"] and plan["from_schema"] == "models"
    assert "t0000002" in plan["from_schema_note"] and [s["revision"] for s in plan["steps"]] == ["t0000003"]


def test_an_old_script_that_cannot_load_is_stood_in_for(tmp_path):
    """FROM's oldest script reads a setting when imported (alembic cannot even load the
    chain): FROM's models stand in, stamped at the heads read from the scripts' sources; the
    chain runs, with that script left out as already applied."""
    script = (
        'import sqlalchemy as sa\nfrom alembic import op\n{extra}\nrevision = "{rev}"\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade():\n    {body}\n\n\ndef downgrade():\n    pass\n"
    )
    models = "import sqlalchemy as sa\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Item(Base):\n    __tablename__ = 'items'\n    id = sa.Column(sa.Integer, primary_key=True)\n"
    repo = make_repo(tmp_path / "repo", {
        "v1": {
            "alembic.ini": "[alembic]\nscript_location = migrations\n",
            "migrations/env.py": "from alembic import context\n",
            "app/__init__.py": "",
            "app/models.py": models,
            "migrations/versions/0001_init.py": script.format(extra='import os\n\nOWNER = os.environ["APP_DB_OWNER"]', rev="0001", down="None", body='op.create_table("items", sa.Column("id", sa.Integer(), primary_key=True))'),
        },
        "v2": {
            "app/models.py": models + "    n = sa.Column(sa.Integer)\n",
            "migrations/versions/0002_n.py": script.format(extra="", rev="0002", down='"0001"', body='op.add_column("items", sa.Column("n", sa.Integer()))'),
        },
    })
    report = migrations(str(repo), "v1", "v2")
    assert report["complete"], report["error"]
    assert report["from_schema"]["made_by"] == "models" and report["from"]["heads"] == ["0001"]
    assert "APP_DB_OWNER" in report["from_schema"]["replay_error"]["message"]
    (added,) = [s["sql"] for s in _revision(report, "0002")["statements"] if s["kind"] == "ddl"]
    assert added == "ALTER TABLE items ADD COLUMN n INTEGER"
