"""A runtime per ref: what a ref declares (every file format), which interpreter and
packages it gets, and one diff whose two refs load with different SQLAlchemy majors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import make_repo, run_cli
from modeldiff.load.imports import reached_imports
from modeldiff.load.requirements import poetry_constraint, read_declared
from modeldiff.load.runtime import RuntimeFailure, choose_interpreter, interpreters, runtime_for, runtimes_dir, select
from modeldiff.source.repository import Repository


def declared_at(tmp_path: Path, files: dict[str, str], import_root: str = "app"):
    repo = make_repo(tmp_path / "repo", {"v1": files})
    return read_declared(Repository(str(repo)).snapshot("v1"), import_root)


# -- what a ref declares -------------------------------------------------------------------------
def test_pyproject_project_table_and_nested_backend(tmp_path):
    declared = declared_at(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "tooling"\n',  # the root's, no dependencies: not the backend
            "api/pyproject.toml": '[project]\nname = "api"\nrequires-python = ">=3.10,<3.13"\ndependencies = ["SQLAlchemy==2.0.36", "Flask-SQLAlchemy>=3.1", "psycopg2-binary~=2.9"]\n',
            "api/models/__init__.py": "",
        },
        import_root="api",
    )
    assert declared.backend == "api"
    assert sorted(declared.requires) == ["flask-sqlalchemy", "psycopg2-binary", "sqlalchemy"]
    assert declared.version_of("sqlalchemy") == "2.0.36"
    assert declared.version_of("flask-sqlalchemy") is None
    assert declared.python_allows("3.11.7") and not declared.python_allows("3.13.0")


def test_uv_lock_pins_win_over_ranges(tmp_path):
    declared = declared_at(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\ndependencies = ["sqlalchemy>=2"]\n',
            "uv.lock": 'version = 1\nrequires-python = ">=3.11"\n\n[[package]]\nname = "x"\nversion = "0.1"\nsource = { editable = "." }\n\n'
            '[[package]]\nname = "SQLAlchemy"\nversion = "2.0.35"\nsource = { registry = "https://pypi.org/simple" }\n',
            "app/models.py": "",
        },
        import_root="",
    )
    assert declared.pins == {"sqlalchemy": "2.0.35"}  # the project itself is not a pin
    assert declared.version_of("SQLAlchemy") == "2.0.35"
    assert declared.describe_python() == ">=3.11"


def test_poetry_declarations_and_lock(tmp_path):
    declared = declared_at(
        tmp_path,
        {
            "pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\nsqlalchemy = "~1.4.50"\nflask-sqlalchemy = { version = "^2.5", extras = ["x"] }\n'
            "[tool.poetry.group.dev.dependencies]\npytest = \"*\"\n",
            "poetry.lock": '[[package]]\nname = "sqlalchemy"\nversion = "1.4.52"\n\n[[package]]\nname = "flask-sqlalchemy"\nversion = "2.5.1"\n\n[metadata]\npython-versions = "^3.10"\n',
        },
        import_root="",
    )
    assert str(declared.requires["sqlalchemy"].specifier) == "<1.5,>=1.4.50"
    assert str(declared.requires["flask-sqlalchemy"].specifier) == "<3,>=2.5"
    assert "pytest" in declared.requires
    assert declared.pins == {"sqlalchemy": "1.4.52", "flask-sqlalchemy": "2.5.1"}
    assert declared.python_allows("3.12.1") and not declared.python_allows("4.0") and not declared.python_allows("3.9.18")


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [("^1.4", ">=1.4,<2"), ("^0.3.1", ">=0.3.1,<0.4"), ("~2.0.1", ">=2.0.1,<2.1"), ("~=2.0", "~=2.0"), ("1.2.3", "==1.2.3"), (">=3.8,<4.0", ">=3.8,<4.0"), ("*", "")],
)
def test_poetry_constraints(poetry, pep440):
    assert poetry_constraint(poetry) == pep440


def test_pipfile_lock(tmp_path):
    lock = {"_meta": {"requires": {"python_version": "3.11"}}, "default": {"sqlalchemy": {"version": "==1.4.49"}, "psycopg2": {"version": "==2.9.9"}}, "develop": {"pytest": {"version": "==8.0"}}}
    declared = declared_at(tmp_path, {"Pipfile.lock": json.dumps(lock)}, import_root="")
    assert declared.pins == {"sqlalchemy": "1.4.49", "psycopg2": "2.9.9"}
    assert declared.python_allows("3.11.7") and not declared.python_allows("3.12.0")


def test_requirements_with_includes_hashes_and_markers(tmp_path):
    declared = declared_at(
        tmp_path,
        {
            "requirements.txt": "-r requirements/base.txt\n-e .\nhttps://example.invalid/x.whl\npsycopg2==2.9.9 --hash=sha256:00\n",
            "requirements/base.txt": "# core\nSQLAlchemy==1.3.24  # pinned\nalembic>=1.4 ; python_version >= '3.6'\n-c ../constraints.txt\n",
            "constraints.txt": "mako==1.3.0\n",
            "requirements-dev.txt": "SQLAlchemy==2.0.0\npytest\n",  # dev files come last: the first pin wins
        },
        import_root="",
    )
    assert declared.pins == {"psycopg2": "2.9.9", "sqlalchemy": "1.3.24", "mako": "1.3.0"}
    assert str(declared.requires["alembic"].marker) == 'python_version >= "3.6"'
    assert "requirements/base.txt" in declared.files and "constraints.txt" in declared.files


def test_setup_py_is_parsed_never_run(tmp_path):
    marker = tmp_path / "ran"
    declared = declared_at(
        tmp_path,
        {
            "setup.py": f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\nfrom setuptools import setup\n"
            "REQUIRES = ['SQLAlchemy>=1.3,<1.4', 'psycopg2-binary']\n"
            "setup(name='x', install_requires=REQUIRES, python_requires='>=3.8', extras_require=dict(a=open('x').read()))\n",
        },
        import_root="",
    )
    assert not marker.exists()
    assert sorted(declared.requires) == ["psycopg2-binary", "sqlalchemy"]
    assert declared.describe_python() == ">=3.8"
    assert any("extras_require is computed" in p for p in declared.problems)


def test_setup_cfg(tmp_path):
    declared = declared_at(tmp_path, {"setup.cfg": "[options]\npython_requires = >=3.9\ninstall_requires =\n    sqlalchemy==1.4.54\n    flask-sqlalchemy<3\n"}, import_root="")
    assert declared.pins == {} and declared.version_of("sqlalchemy") == "1.4.54"
    assert sorted(declared.requires) == ["flask-sqlalchemy", "sqlalchemy"]


# -- what gets installed ------------------------------------------------------------------------
def test_models_import_graph_chooses_the_packages(tmp_path):
    files = {
        "pyproject.toml": '[project]\nname = "x"\ndependencies = ["sqlalchemy", "psycopg2", "pyyaml", "httpx", "flask-login", "celery"]\n',
        "app/models/__init__.py": "from .user import User\nfrom ..helpers import load\n",
        "app/models/user.py": "import sqlalchemy as sa\nfrom flask_login import UserMixin\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import celery\n\n"
        "class User(UserMixin):\n    pass\n\ndef later():\n    import httpx\n",
        "app/helpers.py": "import yaml, json\ndef load(): pass\n",
        "app/unrelated.py": "import httpx\n",
    }
    repo = make_repo(tmp_path / "repo", {"v1": files})
    snapshot = Repository(str(repo)).snapshot("v1")
    reached = reached_imports(snapshot, snapshot.list_files(""), "", ["app/models"])
    assert reached == {"sqlalchemy", "flask_login", "yaml"}  # not in functions, TYPE_CHECKING or unreached files
    chosen = select(read_declared(snapshot, ""), reached)
    assert sorted(chosen) == ["alembic", "flask-login", "psycopg2", "pyyaml", "sqlalchemy"]  # the declared driver too; alembic for the loader


# -- interpreters ---------------------------------------------------------------------------------
def test_interpreter_choice_prefers_our_own_version_and_meets_requires_python(tmp_path):
    found = interpreters()
    assert found and all(version >= (3, 9) for version, _ in found)
    own = ".".join(map(str, sys.version_info[:3]))
    declared = declared_at(tmp_path / "a", {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.9"\ndependencies = ["sqlalchemy"]\n'}, "")
    assert choose_interpreter(declared, "v1")[1] == own
    others = [v for v, _ in found if v[:2] != sys.version_info[:2]]
    if others:  # another interpreter on this machine: a ref that excludes ours gets it
        wanted = ".".join(map(str, others[0][:2]))
        declared = declared_at(tmp_path / "b", {"pyproject.toml": f'[project]\nname = "x"\nrequires-python = "=={wanted}.*"\ndependencies = ["sqlalchemy"]\n'}, "")
        assert choose_interpreter(declared, "v1")[1].startswith(wanted + ".")


def test_no_interpreter_for_requires_python_is_one_line_naming_version_and_option(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELDIFF_OFFLINE", "1")
    declared = declared_at(tmp_path, {"api/pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.99"\ndependencies = ["sqlalchemy"]\n'}, "api")
    with pytest.raises(RuntimeFailure) as failure:
        choose_interpreter(declared, "v7")
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("v7: api/ (pyproject.toml) needs Python >=3.99; none is installed")
    assert "MODELDIFF_OFFLINE" in message and message.endswith("give an interpreter with --python PATH")


def test_cli_reports_a_missing_interpreter_as_exit_2(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "repo", {"v1": {"pyproject.toml": '[project]\nname = "x"\nrequires-python = "<3.0"\ndependencies = ["sqlalchemy"]\n', "models.py": "from sqlalchemy import MetaData\nmetadata = MetaData()\n"}})
    monkeypatch.setenv("MODELDIFF_OFFLINE", "1")
    proc = run_cli("diff", str(repo), "v1", "v1", "--models", "models.py", "--runtime", "auto")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["modeldiff: error: v1: ./ (pyproject.toml) needs Python <3.0; none is installed (PATH, pyenv, uv) and uv could not provide one (MODELDIFF_OFFLINE is set); give an interpreter with --python PATH"]


# -- one diff, two runtimes -----------------------------------------------------------------------
def test_two_refs_pinning_different_sqlalchemy_majors_each_load_with_their_own(build_sample):
    repo = build_sample("pinned")
    proc = run_cli("diff", str(repo), "v1", "v2", "--runtime", "auto", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    runtime = result["runtime"]
    assert runtime["from"]["packages"]["sqlalchemy"] == "1.4.54"  # v1: requirements/base.txt, via -r
    assert runtime["to"]["packages"]["sqlalchemy"] == "2.0.36"  # v2: uv.lock
    assert runtime["from"]["packages"]["psycopg2-binary"] == "2.9.9" and runtime["to"]["packages"]["psycopg"] == "3.2.3"
    assert "python-dateutil" in runtime["to"]["packages"] and "httpx" not in runtime["to"]["packages"]  # declared but not imported by the models
    changes = sorted((c["table"], c["kind"], c.get("column") or "") for c in result["changes"])
    assert changes == [("accounts", "modify_type", "name"), ("entries", "add_column", "memo"), ("tags", "add_table", "")]
    assert result["stubbed_modules"] == {"from": [], "to": []}
    # Each environment was built once, named after its pins; a second run reuses them.
    envs = sorted(p.name for p in (runtimes_dir() / "envs").iterdir() if p.is_dir())
    again = run_cli("diff", str(repo), "v1", "v2", "--runtime", "auto", "--format", "json", "--no-cache")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["changes"] == result["changes"]
    assert sorted(p.name for p in (runtimes_dir() / "envs").iterdir() if p.is_dir()) == envs


def test_bundled_runtime_warns_per_declared_package_it_does_not_match(build_sample):
    repo = build_sample("pinned")
    snapshot = Repository(str(repo)).snapshot("v2")
    runtime = runtime_for(snapshot, "backend", ["backend/ledger/models"], "bundled")
    assert runtime.python is None and runtime.describe() == {}
    messages = sorted(message for code, message in runtime.warnings if code == "runtime-mismatch")
    # psycopg 3 is modeldiff's own driver now: installed, at another version than the lock's.
    assert any(m.startswith("backend/ (uv.lock, pyproject.toml) declares psycopg") and "loaded with psycopg 3." in m for m in messages), messages
    assert not any("httpx" in m for m in messages)
    # Its warnings are part of the loaded schema: not served to a run without them (cache).
    default = runtime_for(snapshot, "backend", ["backend/ledger/models"], None)
    assert default.mode == "bundled" and default.warnings == [] and default.fingerprint != runtime.fingerprint
    # v1 maps classically (mapper(), gone in SQLAlchemy 2.0): only its own runtime loads it.
    proc = run_cli("diff", str(repo), "v1", "v2", "--runtime", "bundled")
    assert proc.returncode == 2 and "v1: backend/ledger/models/__init__.py" in proc.stderr


def test_concurrent_preparations_of_one_environment_build_it_once(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from modeldiff.load import runtime

    monkeypatch.setenv("MODELDIFF_CACHE_DIR", str(tmp_path / "cache"))
    builds = []
    real_build = runtime._build
    monkeypatch.setattr(runtime, "_build", lambda *args: builds.append(args[1]) or real_build(*args))
    declared = declared_at(tmp_path, {"requirements.txt": "sqlalchemy==2.0.36\n"}, "")
    python, version = choose_interpreter(declared, "v1")
    wanted = select(declared, {"sqlalchemy"})
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: runtime.prepare_environment(python, version, declared, wanted, "v1", lambda message: None), range(4)))
    assert len({str(path) for path, _, _ in results}) == 1 and len(builds) == 1
    path, packages, failed = results[0]
    assert packages["sqlalchemy"] == "2.0.36" and failed == []
    assert sorted(p.name for p in path.parent.iterdir() if p.is_dir()) == [path.name]  # no half-built directory left
    import subprocess

    out = subprocess.run([str(path / "bin" / "python"), "-c", "import sqlalchemy; print(sqlalchemy.__version__)"], capture_output=True, text=True)
    assert out.stdout.strip() == "2.0.36"


# -- the default: a ref's own runtime where its pins differ in a way that matters ------------------
def _declared(requires: dict[str, str] | None = None, pins: dict[str, str] | None = None, python: str | None = None):
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    from modeldiff.load.requirements import Declared

    return Declared(requires={n: Requirement(f"{n}{s}") for n, s in (requires or {}).items()}, pins=pins or {}, python=[SpecifierSet(python)] if python else [])


def test_what_counts_as_a_mismatch_with_the_bundled_runtime():
    from importlib.metadata import version

    from modeldiff.load.runtime import mismatches

    sa = version("sqlalchemy")
    major, minor, patch = (sa.split(".") + ["0"])[:3]
    other_patch = f"{major}.{minor}.{int(patch.split('rc')[0]) + 1}"
    same = _declared({"sqlalchemy": "", "flask-sqlalchemy": "~=3.1", "psycopg2-binary": ""}, {"sqlalchemy": other_patch})
    assert mismatches(same, select(same, set())) == []  # another patch release, a range we meet, a driver we have
    old = _declared({"sqlalchemy": "", "flask-sqlalchemy": "<3", "asyncpg": "", "sqlmodel": ""}, {"sqlalchemy": "1.4.54"}, python="<3.9")
    assert mismatches(old, select(old, set())) == [  # the Python first, then by package
        f"requires Python <3.9; modeldiff runs on {'.'.join(map(str, sys.version_info[:3]))}",
        "declares the driver asyncpg; modeldiff's own runtime has no asyncpg",
        f"declares flask-sqlalchemy <3; modeldiff's own runtime has {version('flask-sqlalchemy')}",
        "declares sqlalchemy 1.4.54; modeldiff's own runtime has " + sa,
        "declares sqlmodel; modeldiff's own runtime has no sqlmodel",
    ]
    shaping = _declared({"sqlalchemy-continuum": "==1.4.2", "pyyaml": ""})
    assert mismatches(shaping, select(shaping, {"sqlalchemy_continuum", "yaml"})) == ["declares sqlalchemy-continuum==1.4.2, which defines tables; modeldiff's own runtime does not have it"]


def test_by_default_each_ref_loads_with_its_own_runtime_where_it_matters(build_sample):
    repo = build_sample("pinned")
    proc = run_cli("-v", "diff", str(repo), "v1", "v2", "--format", "json")  # no --runtime
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # v1 pins SQLAlchemy 1.4 and maps classically: its own runtime. v2's pins (SQLAlchemy
    # 2.0, psycopg 3) are modeldiff's own major.minor and driver: the bundled runtime.
    assert result["runtime"]["from"]["packages"]["sqlalchemy"] == "1.4.54"
    assert result["runtime"]["to"] == {"bundled": True}
    changes = sorted((c["table"], c["kind"], c.get("column") or "") for c in result["changes"])
    assert changes == [("accounts", "modify_type", "name"), ("entries", "add_column", "memo"), ("tags", "add_table", "")]
    assert result["partial"] is False and not [w for w in result["warnings"] if w["code"].startswith("runtime")]
    assert any(line.split()[:2] == ["runtime", "v1"] for line in proc.stderr.splitlines())  # -v: the preparation's time


@pytest.mark.slow
def test_flask_sqlalchemy_2_on_sqlalchemy_13_loads_with_its_own_runtime(build_sample):
    """SQLAlchemy 1.3 has no wheel for this Python: it is built from its sdist (pure Python)."""
    repo = build_sample("flask13")
    proc = run_cli("diff", str(repo), "v1", "v2", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    packages = result["runtime"]["from"]["packages"]
    assert (packages["sqlalchemy"], packages["flask-sqlalchemy"], packages["flask"]) == ("1.3.24", "2.5.1", "2.2.5")
    assert sorted((c["table"], c["kind"], c.get("column") or "") for c in result["changes"]) == [("post", "add_column", "pinned"), ("topic", "modify_type", "title")]
    assert result["stubbed_modules"] == {"from": [], "to": []} and result["partial"] is False
    # Its 1.3-only API (String(convert_unicode=...)) fails on the bundled SQLAlchemy 2.0.
    bundled = run_cli("diff", str(repo), "v1", "v2", "--runtime", "bundled")
    assert bundled.returncode == 2 and "convert_unicode" in bundled.stderr


def test_unreachable_index_falls_back_to_the_bundled_runtime_marked_partial(tmp_path, monkeypatch):
    files = {
        "requirements.txt": "SQLAlchemy==1.4.54\nasyncpg==0.30.0\n",
        "models.py": "from sqlalchemy import Column, Integer, MetaData, Table\nmetadata = MetaData()\nitems = Table('items', metadata, Column('id', Integer, primary_key=True))\n",
    }
    repo = make_repo(tmp_path / "repo", {"v1": files})
    for var in ("UV_INDEX_URL", "UV_DEFAULT_INDEX"):  # nothing listens there: connection refused
        monkeypatch.setenv(var, "http://127.0.0.1:9/simple")
    proc = run_cli("diff", str(repo), "v1", "v1", "--models", "models.py", "--format", "json", "--exit-code")
    assert proc.returncode == 2, proc.stderr  # partial: never 0 with --exit-code
    result = json.loads(proc.stdout)
    assert result["partial"] is True and result["changes"] == []
    fallback = sorted({w["message"] for w in result["warnings"] if w["code"] == "runtime-fallback"})
    assert len(fallback) == 2, result["warnings"]  # one per difference (both refs say the same)
    assert fallback[0].startswith("./ (requirements.txt) declares sqlalchemy 1.4.54; modeldiff's own runtime has 2.")
    assert fallback[1].startswith("./ (requirements.txt) declares the driver asyncpg==0.30.0; modeldiff's own runtime has no asyncpg")
    assert all("the package index is unreachable" in m and m.endswith("(--runtime bundled accepts modeldiff's own)") for m in fallback)
    assert result["runtime"]["from"]["fallback"] == "bundled"
    text = run_cli("diff", str(repo), "v1", "v1", "--models", "models.py")
    assert "incomplete (see below)" in text.stdout.splitlines()[0]
    # Offline, the bundled runtime is chosen explicitly (flag or environment): warnings, not partial.
    for how in (["--runtime", "bundled"], []):
        if not how:
            monkeypatch.setenv("MODELDIFF_RUNTIME", "bundled")
        chosen = run_cli("diff", str(repo), "v1", "v1", "--models", "models.py", "--format", "json", "--exit-code", *how)
        assert chosen.returncode == 0, chosen.stderr
        data = json.loads(chosen.stdout)
        assert data["partial"] is False and "runtime" not in data
        assert {w["code"] for w in data["warnings"]} == {"runtime-mismatch"}


def test_child_side_code_parses_for_the_oldest_python_it_claims():
    """Only CPython 3.11 is on this machine: the loader child's own modules are at least
    checked to parse as Python 3.9 (OLDEST_CHILD) source; running them there is not tested."""
    import ast
    import subprocess

    from modeldiff.load.runtime import OLDEST_CHILD

    code = (
        "import sys, modeldiff.load.child, modeldiff.load.ddl, modeldiff.load.importer, modeldiff.load.stubs, modeldiff.load.sandbox, modeldiff.load.overlay\n"
        "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items() if n.startswith('modeldiff') and getattr(m, '__file__', None))))"
    )
    files = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert len(files) >= 8
    for path in files:
        ast.parse(Path(path).read_text(), path, feature_version=OLDEST_CHILD)


def test_optional_dependencies_the_ref_declares_are_installed_with_their_package(tmp_path):
    """sqlalchemy-utils imports `cryptography` only when an encrypted column type is built:
    a ref that declares both gets both (Netflix Dispatch's models failed without it), while
    an optional dependency the ref does not declare, or a plain dependency, is left out."""
    from modeldiff.load.runtime import _optional_declared

    dist = tmp_path / "lib" / "python3.11" / "site-packages" / "sqlalchemy_utils-0.41.2.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: SQLAlchemy-Utils\nVersion: 0.41.2\n"
        "Requires-Dist: SQLAlchemy>=1.3\n"
        'Requires-Dist: cryptography>=0.6; extra == "encrypted"\n'
        'Requires-Dist: arrow>=0.3.4; extra == "arrow"\n'
        'Requires-Dist: Babel>=1.3; extra == "babel"\n'
    )
    declared = _declared(pins={"sqlalchemy": "1.3.24", "sqlalchemy-utils": "0.41.2", "cryptography": "39.0.2", "babel": "2.9.1"})
    assert _optional_declared(tmp_path, declared) == {"cryptography", "babel"}
    assert _optional_declared(tmp_path, _declared(pins={"sqlalchemy": "1.3.24"})) == set()


def test_models_that_do_not_load_on_their_own_runtime_fall_back_to_the_bundled_one_marked_partial(tmp_path):
    """Pins that do not import together on this Python (Zou v0.12.0: Flask 1.x beside a Jinja2
    it predates, so every module was stubbed and no table found) must not turn a load that
    works on modeldiff's own runtime into an error: modeldiff's own loads it, said in a
    warning, the result partial; the choice is kept, so the next run answers the same."""
    files = {
        "requirements.txt": "SQLAlchemy==1.4.54\n",  # but the models use 2.0's API
        "models.py": "from sqlalchemy import Integer\nfrom sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\nclass Base(DeclarativeBase):\n    pass\n\n\nclass Item(Base):\n    __tablename__ = 'items'\n    id: Mapped[int] = mapped_column(Integer, primary_key=True)\n",
    }
    repo = make_repo(tmp_path / "repo", {"v1": files})
    runs = [run_cli("diff", str(repo), "v1", "v1", "--models", "models.py", "--format", "json", "--exit-code") for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 2, proc.stderr  # partial: never 0 with --exit-code
    assert runs[0].stdout == runs[1].stdout
    result = json.loads(runs[0].stdout)
    assert result["partial"] is True and result["changes"] == [] and result["tables"] == {"from": 1, "to": 1}
    fallback = [w["message"] for w in result["warnings"] if w["code"] == "runtime-fallback"]
    assert fallback and all(m.startswith("the models did not load with the ref's own runtime (Python ") and "sqlalchemy 1.4.54): no tables found under models.py;" in m for m in fallback), result["warnings"]
    # Asked for explicitly, the ref's own runtime's failure is the answer.
    asked = run_cli("diff", str(repo), "v1", "v1", "--models", "models.py", "--runtime", "auto")
    assert asked.returncode == 2 and "no tables found under models.py" in asked.stderr and len(asked.stderr.strip().splitlines()) == 1
