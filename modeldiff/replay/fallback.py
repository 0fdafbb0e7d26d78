"""FROM's schema from FROM's models, when FROM's migrations cannot build it from base.

Many apps never run their oldest revisions on a new install: they create the tables from
the models (`db.create_all()`) and stamp the heads; their first revision may then expect
tables that exist (redash's catches the error and aborts its transaction), or ask for an
admin account (pgAdmin), or need a package the replay lacks. None of those revisions is in
the chain FROM -> TO, which is what the upgrade runs: the database it runs on can be stood
in for by FROM's models created and stamped at FROM's heads. The answer says so (its
`from_schema`, a warning and the first line): FROM's drift is not computed, and where the
models differ from what the migrations made, the chain may run differently from production.
"""

from __future__ import annotations

import re

from ..compare.materialize import create_schema


def heads_to_stamp(result: dict, snapshot, setup) -> list[str]:
    """FROM's heads, for a failed FROM replay the models can stand in for: one that failed
    while upgrading (alembic knew the heads) or loading its scripts (then read from the
    scripts' sources, never run); none when the child was stopped (time, output)."""
    stage = (result.get("error") or {}).get("stage")
    if stage == "upgrade" and result.get("to_heads"):
        return list(result["to_heads"])
    if stage != "chain":
        return []
    from ..draft.chain import HistoryError, read_history

    revisions: dict[str, tuple[str, ...]] = {}
    try:
        for path in setup.versions:
            history = read_history(snapshot, path)
            revisions.update(history.revisions if history else {})
    except HistoryError:
        return []
    parents = {p for downs in revisions.values() for p in downs}
    return sorted(r for r in revisions if r not in parents)


def create_from_models(server, database: str, schema, heads: list[str]) -> list:
    """`schema` (a LoadedSchema) created in the empty `database` as its owner (the replay
    role, so that the chain may alter it), stamped at `heads`; the creation's warnings."""
    conn = server.connect(database)
    try:
        warnings = create_schema(conn, schema, server.server_version(), admin_dsn=server.url(database, admin=True))
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
            for head in heads:
                cur.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", (head,))
        conn.commit()
    finally:
        conn.close()
    return warnings


def note(ref: str, error: dict) -> str:
    where = f" at {error['location']}" if error.get("location") else ""
    which = f"revision {error['revision']}" if error.get("revision") else "a revision"
    return (f"FROM's schema was created from {ref}'s models, not by its migrations: {which} failed{where} "
            f"replaying {ref} from base ({error['message']}); the chain ran on that schema")


def text_columns(schema) -> dict[str, str]:
    """"table.column" -> stub type name, for the columns FROM's models gave a type of a
    package that is not installed (created as TEXT)."""
    return {d["where"]: d["name"] for d in schema.stubs_in_schema if d["how"] == "stub-type" and "." in d["where"]}


def stub_hint(columns: dict[str, str], sql: str) -> str | None:
    """Why a statement may fail on the stand-in schema: it names a column created as TEXT
    in place of a type the replay does not have (a GIN index on a tsvector column)."""
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql or "")}
    hit = sorted(where for where in columns if all(part.lower() in words for part in where.rsplit(".", 1)))
    if not hit:
        return None
    shown = ", ".join(f"{where} ({columns[where]})" for where in hit[:3])
    return f"FROM's models made {shown} TEXT: the type's package is not installed (--python PATH: an interpreter that has it)"
