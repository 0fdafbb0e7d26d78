"""End to end on the difylike sample: the seed upgrade v0.14.2 -> v0.15.3 and friends."""

from __future__ import annotations

import pytest

from conftest import diff_json, git, run_cli

SEED_CHANGES = [
    ("add_table", "child_chunks", None, None, None, None),
    ("add_index", "child_chunks", None, "child_chunk_dataset_id_idx", None, None),
    ("add_table", "dataset_auto_disable_logs", None, None, None, None),
    ("add_index", "dataset_auto_disable_logs", None, "dataset_auto_disable_log_created_atx", None, None),
    ("add_index", "dataset_auto_disable_logs", None, "dataset_auto_disable_log_dataset_idx", None, None),
    ("add_index", "dataset_auto_disable_logs", None, "dataset_auto_disable_log_tenant_idx", None, None),
    ("modify_type", "end_users", "session_id", None, "VARCHAR(255)", "VARCHAR"),
    ("modify_type", "workflow_runs", "total_tokens", None, "INTEGER", "BIGINT"),
]


def _tuples(result):
    return [(c["kind"], c["table"], c.get("column"), c.get("name"), c.get("old"), c.get("new")) for c in result["changes"]]


def test_seed_upgrade_gives_exactly_the_eight_changes(difylike):
    result = diff_json(str(difylike), "v0.14.2", "v0.15.3")
    assert _tuples(result) == SEED_CHANGES
    assert result["from"] == {"ref": "v0.14.2", "commit": git(difylike, "rev-parse", "v0.14.2^{commit}").strip()}
    assert result["to"] == {"ref": "v0.15.3", "commit": git(difylike, "rev-parse", "v0.15.3^{commit}").strip()}
    assert result["dialect"] == "postgresql"
    assert result["tables"] == {"from": 14, "to": 16}
    # The new composite index keeps its column order.
    index = next(c for c in result["changes"] if c.get("name") == "child_chunk_dataset_id_idx")
    assert index["detail"]["columns"] == ["tenant_id", "dataset_id", "document_id", "segment_id", "index_node_id"]


def test_invalid_server_default_warns_instead_of_aborting(difylike):
    result = diff_json(str(difylike), "v0.14.2", "v0.15.3")
    invalid = [w for w in result["warnings"] if w["code"] == "invalid-default"]
    assert {w["ref"] for w in invalid} == {"v0.14.2", "v0.15.3"}
    assert all("tidb_auth_bindings.status" in w["message"] and "CREATING" in w["message"] for w in invalid)
    # The table itself is still compared: it is not reported as added or removed.
    assert not [c for c in result["changes"] if c["table"] == "tidb_auth_bindings"]


def test_many_change_kinds(difylike):
    kinds = {(c["kind"], c["table"], c.get("column") or c.get("name")) for c in diff_json(str(difylike), "v0.15.3", "v1.0.0")["changes"]}
    assert {
        ("add_enum", None, "app_status"),
        ("add_column", "apps", "status"),
        ("add_column", "accounts", "last_active_at"),
        ("remove_column", "conversations", "read_account_id"),
        ("modify_nullable", "messages", "answer"),
        ("modify_default", "apps", "enable_site"),
        ("modify_comment", "workflow_runs", "graph"),
        ("add_table", "app_tags", None),
        ("remove_table", "tidb_auth_bindings", None),
        ("add_index", "end_users", "end_user_session_idx"),
        ("remove_index", "end_users", "end_user_session_id_idx"),
    } <= kinds


@pytest.mark.slow
def test_same_ref_gives_no_changes(difylike):
    for tag in ("v0.14.2", "v0.15.3", "v1.0.0"):
        assert diff_json(str(difylike), tag, tag)["changes"] == []


@pytest.mark.slow
def test_two_runs_are_byte_identical(difylike):
    first = run_cli("diff", str(difylike), "v0.14.2", "v1.0.0", "--format", "json")
    second = run_cli("diff", str(difylike), "v0.14.2", "v1.0.0", "--format", "json")
    assert first.returncode == 0 and first.stdout == second.stdout
    text1 = run_cli("diff", str(difylike), "v0.14.2", "v1.0.0")
    text2 = run_cli("diff", str(difylike), "v0.14.2", "v1.0.0")
    assert text1.stdout == text2.stdout and "\x1b[" not in text1.stdout  # no colour off a terminal


def test_text_output_groups_by_table(difylike):
    out = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3").stdout
    lines = out.splitlines()
    assert "8 changes in 4 tables" in lines[0]
    assert "layout: dify" in lines[1]
    runs = lines.index("workflow_runs")
    assert lines[runs + 1].strip() == "~ column total_tokens: type INTEGER → BIGINT"


def test_exit_code_option(difylike):
    assert run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--exit-code").returncode == 1
    assert run_cli("diff", str(difylike), "v0.15.3", "v0.15.3", "--exit-code").returncode == 0
    assert run_cli("diff", str(difylike), "v0.14.2", "v0.15.3").returncode == 0


def test_output_file_is_written_whole(difylike, tmp_path):
    target = tmp_path / "diff.json"
    proc = run_cli("diff", str(difylike), "v0.14.2", "v0.15.3", "--format", "json", "-o", str(target))
    assert proc.returncode == 0 and proc.stdout == ""
    assert '"kind": "modify_type"' in target.read_text()
    failed = run_cli("diff", str(difylike), "v0.14.2", "nope", "--format", "json", "-o", str(tmp_path / "bad.json"))
    assert failed.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diff.json"]


def test_an_unexpected_error_outside_the_guarded_part_is_one_line(difylike):
    """The console entry point is the last guard: a bug anywhere in a command gives one line
    and exit 2, never a traceback."""
    import subprocess
    import sys

    code = (
        "import sys, modeldiff.cli as cli\n"
        "def broken(*args, **kwargs): raise KeyError('oops')\n"
        "cli.make_request = broken\n"
        f"sys.argv = ['modeldiff', 'diff', {str(difylike)!r}, 'v0.14.2', 'v0.15.3']\n"
        "cli.run()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "modeldiff: error: internal error: KeyError: 'oops' (MODELDIFF_DEBUG=1 shows the traceback)\n"
