"""Pre-flight of an upgrade against the live database: wiring and the JSON-ready answer.

1. the deployed revision (read-only connection) -> FROM (inferred or checked);
2. the live schema copied (schema only) into the embedded PostgreSQL; FROM's migrations
   replayed from base (the schema the application expects); drift = FROM's schema -> live;
3. TO's chain replayed on the copy: every statement the real upgrade will send, with its
   locks and rewrites; a statement that fails there is a blocking finding (and when the same
   chain runs on FROM's own schema, the failure is the drift's doing);
4. data pre-checks for the statements that can fail on existing rows (read-only counts);
5. the cost timeline on the live sizes (`timeline.py`).

The live database is only read (one connection with default_transaction_read_only, a
statement and a lock timeout, and pg_dump's own read-only session), `--calibrate` aside.
"""

from __future__ import annotations

import json
import re

from ..db import driver

from ..compare.schemas import Place, compare_databases
from ..db.server import EmbeddedPostgres, shared_server
from ..plan.calibrate import calibrate, load_calibration, row_width, save_calibration
from ..plan.estimate import DEFAULT_THROUGHPUT
from ..plan.live import connect, read_live_facts
from ..replay.cache import copy_database
from ..replay.run import ROLE, Phase, _base, child_options, ensure_role, report, role_url, run_phase
from ..replay.setup import SetupError, find_setup
from ..render.text import describe
from ..source.repository import Repository
from ..values import Change
from . import deployed as dep
from .checks import checks_for, run_checks
from .copy import dump_schema, restore
from .runbook import pre_steps, verify
from .timeline import timeline

_BOOKKEEPING = {"alembic_version"}


def preflight(repo: str, from_ref: str | None, to_ref: str, url: str, *, migrations_path: str | None = None, settings: dict | None = None,
              timeout: float = 300.0, python: str | None = None, env: dict | None = None, use_cache: bool = True,
              sample: float | None = None, check_timeout: str = "60s", do_calibrate: bool = False, calibrate_size: float = 256, with_runbook: bool = True, log=None) -> dict:
    log = log or (lambda message: None)
    repository = Repository(repo)
    to = repository.snapshot(to_ref)

    def setup_of(snapshot):
        return find_setup(snapshot, migrations_path)

    to_setup = setup_of(to)
    if to_setup is None:
        raise SetupError(f"{to.ref}: no alembic migrations found (no alembic.ini, env.py or preset); pass --migrations PATH")
    table = dep.version_table(to, to_setup)
    conn = connect(url, statement_timeout=check_timeout)
    try:
        revisions = dep.read_revisions(conn, table)
        dep.check_upgradable(repository, to, to_setup, revisions)
        notes = []
        if from_ref is None:
            source = dep.infer_from(repository, to, setup_of, revisions)
            if source is None:
                raise dep.DeployedError(f"the database is at {', '.join(revisions)}, the heads of no tag reachable from {to.ref}: pass FROM (the deployed ref)")
            found_by = f"deployed revision {', '.join(revisions)} = heads of {source.ref}"
        else:
            source = repository.snapshot(from_ref)
            found_by = "given"
        from_setup = setup_of(source)
        if from_setup is None:
            raise SetupError(f"{source.ref}: no alembic migrations found; pass --migrations PATH")
        from_heads = dep.heads_of(source, from_setup)
        if from_ref is not None and from_heads != sorted(revisions):
            notes.append(f"FROM {source.ref} has heads {', '.join(from_heads)}, but the database is at {', '.join(revisions)}: the upgrade runs from the database's revision; drift is measured against {source.ref}'s schema")
        log(f"deployed revision {', '.join(revisions)} ({found_by}); copying the live schema")
        dump = dump_schema(url)
        options = child_options({**dict(to_setup.settings), **(settings or {})}, timeout, python, env or {})
        with shared_server() as server:
            out = _on_copy(server, source, to, from_setup, to_setup, dump, table, revisions, options, use_cache)
            existing = set(out.pop("_existing"))
            checks = checks_for([{**s, "revision": r["revision"]} for r in out["chain"]["revisions"] for s in r["statements"]], existing, out.pop("_enum_labels"))
            touched = _touched(out["chain"], existing)
            out["checks"] = run_checks(conn, checks, sample)
            pristine = out.pop("_pristine")
            out["runbook"] = _runbook(server, pristine, out, existing, to, to_setup, options) if with_runbook else None
            # Last: a calibration measures the server as loaded now, when the plan is answered.
            live = read_live_facts(url, touched)
            throughput = _throughput(url, live, do_calibrate, calibrate_size, log)
            out["timeline"] = timeline(out["chain"]["revisions"], live, throughput, existing, lambda sql: _planned_rows(conn, sql), out["chain"]["transaction"])
    finally:
        conn.close()
    for d in out["drift"]:
        if "table" in d:
            d["affects_upgrade"] = d["table"] in touched
    out.update({
        "deployed": {"revisions": list(revisions), "version_table": table, "from": source.ref, "from_commit": source.commit, "from_heads": from_heads, "found_by": found_by},
        "to": {"ref": to.ref, "commit": to.commit, "heads": dep.heads_of(to, to_setup)},
        "notes": notes,
        "server": live.server.to_json(),
        "tables": {name: facts.to_json() for name, facts in sorted(live.tables.items())},
        "throughput": throughput.to_json(),
        "sample_percent": sample,
    })
    out["complete"] = out["chain"]["complete"] and not any(c["verdict"] == "not checked" for c in out["checks"])
    out["blocking"] = _blocking(out)
    return out


def _on_copy(server: EmbeddedPostgres, source, to, from_setup, to_setup, dump: str, table: str, revisions, options, use_cache: bool) -> dict:
    ensure_role(server)
    copy, warnings = restore(server, dump, table, revisions)
    expected, base = _base(source, from_setup, server, options, use_cache)
    if base.error is not None:
        drift = [{"error": f"{source.ref}'s migrations do not replay from base: {base.error['message']}"}]
    else:
        changes, _ = compare_databases(Place(server.sqlalchemy_url(expected)), Place(server.sqlalchemy_url(copy)))
        drift = [_drift(c) for c in changes if c.table not in {*_BOOKKEEPING, table}]  # the app's own version table too
    pristine = copy_database(server, copy, ROLE)  # for the runbook's verification
    chain = run_phase(to, to_setup, role_url(server, copy), observe=True, options=options)
    shaped = report(source, to, from_setup, to_setup, Phase(source.ref, from_setup, {}, 0.0), chain)
    shaped["warnings"] += [{"code": "schema-copy", "message": w, "ref": "live"} for w in warnings]
    reference = None
    if chain.error is not None and base.error is None:  # the same chain on FROM's own schema
        clean = copy_database(server, expected, ROLE)
        reference = run_phase(to, to_setup, role_url(server, clean), observe=False, options=options).error
    return {
        "drift": drift,
        "chain": shaped,
        "chain_on_expected_schema": None if chain.error is None else ("fails too" if reference else "runs"),
        "_existing": chain.result.get("existing_tables", []),
        "_enum_labels": _enum_lookup(server, copy),
        "_pristine": pristine,
    }


def _runbook(server: EmbeddedPostgres, pristine: str, out: dict, existing: set[str], to, to_setup, options) -> dict:
    """Online pre-steps for the costly statements, verified on a clone of the schema copy."""
    conn = server.connect(pristine)
    conn.autocommit = True

    def catalog(sql, args):
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    plain = [{**s, "order": i} for i, s in enumerate((s for r in out["chain"]["revisions"] for s in r["statements"]), 1)]
    try:
        steps = pre_steps(plain, existing, catalog)
    finally:
        conn.close()
    if not steps:
        return {"steps": [], "verification": None}
    return {"steps": steps, "verification": verify(server, pristine, steps, plain, existing, to, to_setup, options)}


def _touched(chain: dict, existing: set[str]) -> list[str]:
    """Existing tables the chain's statements touch (a failed statement reports none: the
    tables its SQL names)."""
    found = set()
    for revision in chain["revisions"]:
        for statement in revision["statements"]:
            found.update(statement.get("tables") or [])
            if statement.get("error"):
                found.update(t for t in existing if re.search(rf'(?<![\w"]){re.escape(t)}(?![\w"])|"{re.escape(t)}"', statement["sql"]))
    return sorted(found & existing)


def _drift(change: Change) -> dict:
    return {**change.to_json(), "table": change.table, "text": describe(change)}


def _enum_lookup(server: EmbeddedPostgres, database: str):
    conn = server.connect(database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname")
        enums = {name.lower(): list(labels) for name, labels in cur.fetchall()}
    conn.close()
    return lambda type_text: enums.get(type_text.strip().strip('"').split(".")[-1].lower())


def _throughput(url: str, live, do_calibrate: bool, size: float, log):
    if do_calibrate:
        key, measured = calibrate(url, size, log, row_width(live))
        save_calibration(key, measured)
        return measured
    return load_calibration(live.server.key) or DEFAULT_THROUGHPUT


_UPDATE = re.compile(r"^\s*UPDATE\s+(?:ONLY\s+)?(\S+)\s+(?:AS\s+\w+\s+)?SET\s.*?(?:\sWHERE\s(.*))?$", re.I | re.S)
_DELETE = re.compile(r"^\s*DELETE\s+FROM\s+(?:ONLY\s+)?(\S+)(?:\s+WHERE\s(.*))?$", re.I | re.S)


def _planned_rows(conn, sql: str) -> float | None:
    """Rows the live planner expects a data statement to touch. EXPLAIN runs nothing, but it
    needs the statement's privileges, which a read-only role lacks: an UPDATE or DELETE is
    then asked as the SELECT of the rows it would touch."""
    for text in (sql, _as_select(sql)):
        if text is None:
            continue
        try:
            with conn.cursor() as cur:
                cur.execute(f"EXPLAIN (FORMAT JSON) {text}")
                plan = cur.fetchone()[0][0]["Plan"]
        except driver.Error:
            continue
        while plan.get("Node Type") == "ModifyTable" and plan.get("Plans"):
            plan = plan["Plans"][0]
        return float(plan.get("Plan Rows", 0))
    return None


def _as_select(sql: str) -> str | None:
    match = _UPDATE.match(sql) or _DELETE.match(sql)
    if match is None or " FROM " in (match[2] or "").upper() and match.re is _UPDATE:
        return None
    return f"SELECT 1 FROM {match[1]}" + (f" WHERE {match[2]}" if match[2] else "")


def _blocking(out: dict) -> list[dict]:
    found = []
    error = out["chain"].get("error")
    if error is not None:
        cause = " (the same chain runs on the schema FROM's migrations make: the live schema's drift causes this)" if out["chain_on_expected_schema"] == "runs" else ""
        found.append({"kind": "upgrade-fails", "revision": error.get("revision"), "location": error.get("location"), "message": f"{error['message']}{cause}",
                      "sql": (error.get("statement") or {}).get("sql")})
    for check in out["checks"]:
        if check["verdict"] == "will fail":
            found.append({"kind": f"data-{check['check']}", "revision": check["revision"], "location": check["location"], "message": check["message"], "sql": check["sql"]})
    return found


def to_json(out: dict) -> str:
    return json.dumps(out, indent=2, sort_keys=True, default=str) + "\n"
