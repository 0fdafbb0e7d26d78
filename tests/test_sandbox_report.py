"""The output says which sandbox layers a load had (JSON `sandbox`, per ref; `-v`), and a
layer that is missing is a loud warning, not a silent false."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import make_repo

MODELS = "from sqlalchemy import Column, Integer, MetaData, Table\nmetadata = MetaData()\nTable('things', metadata, Column('id', Integer, primary_key=True){})\n"
LAYERS = ["seccomp", "landlock", "pid_namespace", "non_dumpable", "overlay", "audit_hook"]


def run(repo, *args, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("MODELDIFF_DEBUG", "MODELDIFF_SECCOMP")}
    command = [sys.executable, "-m", "modeldiff.cli", *args[:1], "diff", str(repo), "v1", "v2", "--models", "models.py", "--format", "json", "--no-cache", *args[1:]]
    return subprocess.run(command, env={**environ, **env}, capture_output=True, text=True, timeout=300)


def test_the_layers_of_each_load_are_reported_and_a_missing_one_is_loud(tmp_path):
    repo = make_repo(tmp_path / "repo", {"v1": {"models.py": MODELS.format("")}, "v2": {"models.py": MODELS.format(", Column('n', Integer)")}})
    full = run(repo, "-v")
    assert full.returncode == 0, full.stderr
    report = json.loads(full.stdout)["sandbox"]
    assert list(report) == ["from", "to"] and all(list(layers) == LAYERS for layers in report.values())
    # On this kernel (Linux with Landlock and seccomp): every layer modeldiff makes is on;
    # no PID namespace is made (Landlock hides other processes' /proc entries).
    assert report["to"] == {**dict.fromkeys(LAYERS, True), "pid_namespace": False}
    assert report["from"] == report["to"]
    assert "sandbox v1: seccomp, landlock, non_dumpable, overlay, audit_hook; off: pid_namespace" in full.stderr.splitlines()
    assert "sandbox-limited" not in full.stdout + full.stderr
    # A layer missing (here seccomp, turned off): false in the JSON and a warning per ref.
    limited = run(repo, "-q", MODELDIFF_SECCOMP="0")
    assert limited.returncode == 0, limited.stderr
    data = json.loads(limited.stdout)
    assert [layers["seccomp"] for layers in data["sandbox"].values()] == [False, False]
    warned = sorted(w["ref"] for w in data["warnings"] if w["code"] == "sandbox-limited" and w["message"].startswith("seccomp unavailable (turned off"))
    assert warned == ["v1", "v2"]
