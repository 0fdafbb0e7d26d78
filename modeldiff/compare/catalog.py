"""Stage 3, compare: what PostgreSQL stores that alembic does not compare (or compares by a
rule of thumb), read from both scratch databases' catalogs in PostgreSQL's own normal form.

`pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_expr`, `pg_sequence` and `pg_attribute`
print both refs alike, so two definitions are the same object exactly when their texts are
equal: an index's WHERE, operator classes, sort and NULLS order; CHECK and exclusion
constraints; foreign-key actions and deferrability; sequences; identity and generated
columns; column collations. Where alembic's own answer is only a spelling difference (two
equal defaults written differently, an unchanged expression index it cannot reflect), the
server decides and the change is dropped. `reconcile` does all of that on the compare
stage's changes and alembic's operations; `statements` is the SQL of each new change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..sqltext import in_schema_of, literal, qualified, quote
from ..values import Change

# A table's name as modeldiff writes it (`events`, `audit.events`): pg_class c, pg_namespace n.
_NAME = "CASE WHEN n.nspname = current_schema() THEN c.relname ELSE n.nspname || '.' || c.relname END"
_OURS = "(n.nspname = current_schema() OR n.nspname = ANY(%(schemas)s))"

_INDEXES = f"""
SELECT {_NAME}, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE {_OURS} AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
"""
_CONSTRAINTS = f"""
SELECT {_NAME}, k.conname, k.contype, pg_get_constraintdef(k.oid),
       ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = k.conrelid AND attnum = ANY(k.conkey) ORDER BY attnum)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_OURS} AND k.contype IN ('c', 'f', 'x') AND k.conislocal
"""
_SEQUENCES = f"""
SELECT CASE WHEN n.nspname = current_schema() THEN c.relname ELSE n.nspname || '.' || c.relname END,
       format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
       (SELECT CASE WHEN on_.nspname = current_schema() THEN '' ELSE on_.nspname || '.' END || oc.relname || '.' || a.attname
        FROM pg_depend d JOIN pg_class oc ON oc.oid = d.refobjid JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'),
       EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_OURS}
"""
_COLUMNS = f"""
SELECT {_NAME}, a.attname, a.attidentity, a.attgenerated, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
       s.seqstart, s.seqincrement
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_depend dep ON a.attidentity <> '' AND dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
     AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
LEFT JOIN pg_sequence s ON s.seqrelid = dep.objid
WHERE {_OURS} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
"""
_TABLE_COMMENTS = f"""
SELECT {_NAME}, obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_OURS} AND c.relkind IN ('r', 'p')
"""
_IDENTITY = {"a": "always", "d": "by default"}
_KINDS = {"c": "check", "x": "exclude"}


@dataclass
class Catalog:
    """One schema's objects, each keyed by where it lives, in PostgreSQL's normal form."""

    tables: set = field(default_factory=set)
    indexes: dict = field(default_factory=dict)  # (table, name) -> (definition, unique)
    constraints: dict = field(default_factory=dict)  # (table, name) -> (contype, definition, columns)
    sequences: dict = field(default_factory=dict)  # name -> parameters
    columns: dict = field(default_factory=dict)  # (table, column) -> {identity, generated, expression, collation, type}
    comments: dict = field(default_factory=dict)  # table -> comment


def read_catalog(conn, schemas: list[str]) -> Catalog:
    """`conn`: a SQLAlchemy connection whose search_path starts with the schema to read."""

    def rows(sql):
        return conn.exec_driver_sql(sql, {"schemas": list(schemas)}).fetchall()

    cat = Catalog()
    for table, name, definition, unique in rows(_INDEXES):
        # What follows the table's name (always schema-qualified here): method, keys, WHERE.
        cat.indexes[(table, name)] = ("USING " + definition.split(" USING ", 1)[1], unique)
    for table, name, contype, definition, columns in rows(_CONSTRAINTS):
        # NOT VALID is a state of the data, not of the schema (verify reports it on its own).
        cat.constraints[(table, name)] = (contype, definition.removesuffix(" NOT VALID"), list(columns))
    for name, typ, start, inc, lo, hi, cache, cycle, owner, identity in rows(_SEQUENCES):
        if not identity:  # an identity column's sequence is part of the column (modify_identity)
            cat.sequences[name] = {"type": typ, "start": start, "increment": inc, "min": lo, "max": hi, "cache": cache, "cycle": cycle, "owned_by": owner}
    for table, column, identity, generated, typ, expression, collation, start, inc in rows(_COLUMNS):
        cat.tables.add(table)
        cat.columns[(table, column)] = {
            "type": typ,
            "identity": {"generated": _IDENTITY[identity], "start": start, "increment": inc} if identity else None,
            "generated": expression if generated else None,
            "storage": {"s": "stored", "v": "virtual"}.get(generated),
            "collation": collation,
        }
    for table, comment in rows(_TABLE_COMMENTS):
        cat.comments[table] = comment
    return cat


# --- the changes -------------------------------------------------------------------------


def catalog_changes(old: Catalog, new: Catalog, reported: list[Change]) -> list[Change]:
    """What the catalogs show and alembic did not report, for tables both sides have."""
    both = old.tables & new.tables
    added = {(c.table, c.column) for c in reported if c.kind == "add_column"}
    removed = {(c.table, c.column) for c in reported if c.kind == "remove_column"}
    out = []
    for key in sorted(set(old.indexes) & set(new.indexes)):
        if key[0] in both and old.indexes[key][0] != new.indexes[key][0]:
            out.append(Change("modify_index", key[0], name=key[1], old=old.indexes[key][0], new=new.indexes[key][0], detail={"unique": bool(new.indexes[key][1])}))
    for key in sorted(set(old.constraints) | set(new.constraints)):
        table, name = key
        if table not in both:
            continue
        a, b = old.constraints.get(key), new.constraints.get(key)
        if a and b and a[:2] == b[:2]:
            continue
        if a and b and a[0] == b[0] == "f":
            if _fk_target(a[1]) == _fk_target(b[1]):
                out.append(Change("modify_fk", table, name=name, old=a[1], new=b[1], detail={"columns": b[2], "how": _fk_how(a[1], b[1])}))
            continue  # another key under the same name: alembic reports it as remove + add
        if a and b and a[0] == b[0]:
            out.append(Change("modify_constraint", table, name=name, old=a[1], new=b[1], detail={"type": _KINDS[a[0]], "columns": b[2]}))
            continue
        for kind, side in (("remove_constraint", a), ("add_constraint", b)):
            if side and side[0] in _KINDS and not (kind == "remove_constraint" and any((table, c) in removed for c in side[2])):
                out.append(Change(kind, table, name=name, detail=_constraint_detail(side)))
    for name in sorted(set(old.sequences) | set(new.sequences)):
        a, b = old.sequences.get(name), new.sequences.get(name)
        owner = (a or b)["owned_by"]
        if a is None or b is None:
            owner_table = owner.rsplit(".", 1)[0] if owner else None
            if owner_table and (owner_table not in both or tuple(owner.rsplit(".", 1)) in added | removed):
                continue  # created or dropped with its table or column (SERIAL)
            out.append(Change("add_sequence" if a is None else "remove_sequence", None, name=name, old=a, new=b))
        elif a != b:
            out.append(Change("modify_sequence", None, name=name, old=a, new=b))
    for key in sorted(set(old.columns) & set(new.columns)):
        table, column = key
        if table not in both:
            continue
        a, b = old.columns[key], new.columns[key]
        if a["identity"] != b["identity"]:
            out.append(Change("modify_identity", table, column=column, old=a["identity"], new=b["identity"]))
        if a["generated"] != b["generated"]:
            out.append(Change("modify_generated", table, column=column, old=a["generated"], new=b["generated"], detail={"type": b["type"], "storage": b["storage"] or a["storage"]}))
        if a["collation"] != b["collation"]:
            out.append(Change("modify_collation", table, column=column, old=a["collation"], new=b["collation"], detail={"type": b["type"]}))
    return out


def _constraint_detail(side) -> dict:
    contype, definition, columns = side
    detail = {"type": _KINDS[contype], "columns": columns}
    if contype == "c":
        detail["condition"] = check_condition(definition)
    else:
        detail["definition"] = definition
    return detail


def index_definition(conn, table: str, name: str) -> str | None:
    """An index's method, keys and options as PostgreSQL prints them (`USING btree (email)
    WHERE ...`), read through `conn`'s search_path."""
    row = conn.exec_driver_sql("SELECT pg_get_indexdef(to_regclass(%s))", (in_schema_of(table, name),)).first()
    return "USING " + row[0].split(" USING ", 1)[1] if row and row[0] else None


def check_condition(definition: str) -> str:
    """`CHECK ((qty > 0))` -> `qty > 0`."""
    return strip_parens(definition.removeprefix("CHECK ").split(" NO INHERIT")[0])


def strip_parens(text: str) -> str:
    """`text` without the parentheses that enclose all of it."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


_FK_OPTIONS = re.compile(r" (?=ON DELETE|ON UPDATE|MATCH|DEFERRABLE|NOT DEFERRABLE|INITIALLY|NOT VALID)")


def _fk_target(definition: str) -> str:
    """`FOREIGN KEY (a) REFERENCES t(id)` without its actions and deferrability."""
    return _FK_OPTIONS.split(definition, maxsplit=1)[0]


def fk_options(definition: str) -> str:
    """A foreign key's actions, match type and deferrability (`ON DELETE CASCADE`)."""
    return definition[len(_fk_target(definition)):].strip()


def _names(text: str) -> list[str]:
    return [n.strip().strip('"').replace('""', '"') for n in text.split(",")]


def fk_parts(definition: str) -> tuple[list[str], str, list[str]]:
    """(columns, referred table, referred columns) of `FOREIGN KEY (a) REFERENCES t(id) ...`."""
    m = re.match(r"FOREIGN KEY \((.*?)\) REFERENCES (.*?)\((.*?)\)", definition)
    if m is None:
        return [], "", []
    table = ".".join(_names(m.group(2).replace(".", ",")))
    return _names(m.group(1)), table, _names(m.group(3))


def _deferral(definition: str) -> str:
    return " ".join(re.findall(r"(?:NOT )?DEFERRABLE|INITIALLY \w+", definition)) or "NOT DEFERRABLE"


def _fk_how(old: str, new: str) -> str:
    """"deferrability" when only DEFERRABLE / INITIALLY differ (ALTER CONSTRAINT does it in
    place), else "actions" (the key is dropped and added again)."""
    strip = re.compile(r" (?:NOT )?DEFERRABLE| INITIALLY \w+")
    return "deferrability" if strip.sub("", old) == strip.sub("", new) else "actions"


# --- fitting them into alembic's answer ------------------------------------------------------


def reconcile(old_conn, old: Catalog, new: Catalog, changes: list[Change], upgrade_ops) -> list[Change]:
    """`changes` (alembic's, and our detectors') with the catalog's answer: spelling-only
    changes dropped (their operations too), alembic's remove + add of one foreign key or a
    modify_type that only changes the collation told as what they are, and what alembic
    does not compare added, each with its operation (CatalogOp) in `upgrade_ops`."""
    from .catalog_ops import add_op, drop_default_op, drop_ops
    retyped = {(c.table, c.column) for c in changes if c.kind == "modify_type"}  # the old default is cast anew
    same = [c for c in changes if (c.table, c.column) not in retyped and _same_default(old_conn, c)]
    for change in same:
        drop_default_op(upgrade_ops, change)
    changes = [c for c in changes if c not in same]
    found = [f for f in catalog_changes(old, new, changes) if not _same_reparsed(old_conn, f)]
    by_key = {(c.kind, c.table, c.name or c.column): c for c in changes}
    out = []
    for change in changes:
        key = (change.table, change.name)
        if change.kind in ("add_index", "remove_index") and key in old.indexes and key in new.indexes:
            if old.indexes[key][0] == new.indexes[key][0]:
                drop_ops(upgrade_ops, change)  # alembic cannot reflect it (an expression with DESC): unchanged
                continue
            found = [f for f in found if not (f.kind == "modify_index" and (f.table, f.name) == key)]
        if change.kind in ("add_fk", "remove_fk") and any(f.kind == "modify_fk" and (f.table, f.name) == key for f in found):
            drop_ops(upgrade_ops, change)
            continue
        if change.kind in ("add_constraint", "remove_constraint"):
            found = [f for f in found if not (f.kind == change.kind and (f.table, f.name) == key)]
        if change.kind == "modify_type" and _only_collation(change):
            continue  # told by modify_collation below; alembic's ALTER ... TYPE ... COLLATE stays
        if change.kind == "modify_table_comment" and change.old is None:
            change = Change(change.kind, change.table, old=old.comments.get(change.table), new=change.new)
        out.append(change)
    for change in found:
        if change.kind == "modify_collation" and ("modify_type", change.table, change.column) in by_key:
            if not _only_collation(by_key[("modify_type", change.table, change.column)]):
                continue  # the type changes too: modify_type tells both
            out.append(change)  # alembic's operation does it
            continue
        out.append(change)
        add_op(upgrade_ops, change)
    return out


_COLLATE = re.compile(r' COLLATE "[^"]*"$')


def _only_collation(change: Change) -> bool:
    return change.old != change.new and _COLLATE.sub("", change.old or "") == _COLLATE.sub("", change.new or "")


def _sql(conn, sql: str):
    """Run SQL text that may hold `%` (LIKE 'a%'): the driver formats parameters into it."""
    return conn.exec_driver_sql(sql.replace("%", "%%"), ())


# SQL's own value functions, printed with a precision (CURRENT_TIMESTAMP(0)): stable.
_VALUE_FUNCTIONS = {"current_timestamp", "current_time", "localtimestamp", "localtime"}


def _calls_are_stable(conn, expressions: str) -> bool:
    """Whether every function the default expressions call is one the server marks stable
    or immutable: one value within a transaction, no side effects (`nextval`, `random`,
    `clock_timestamp` are volatile: never evaluated). A name the server does not know as a
    function (a type modifier, `character varying(10)`) counts as volatile."""
    names = {m.group(1).lower() for m in _CALLED.finditer(expressions)} - _VALUE_FUNCTIONS
    if not names:
        return True
    found = conn.exec_driver_sql(
        "SELECT count(DISTINCT proname), coalesce(bool_and(provolatile <> 'v'), false) FROM pg_proc WHERE proname = ANY(%(names)s)",
        {"names": sorted(names)},
    ).one()
    return found[0] == len(names) and found[1]


_CALLED = re.compile(r"(\w+)\s*\(")


def _same_default(conn, change: Change) -> bool:
    """True when a modify_default is two spellings of one value (`5` and `5.0` on a double
    precision column; `now()` and `CURRENT_TIMESTAMP`, both the transaction's start), as the
    server decides: SELECT a IS NOT DISTINCT FROM b, cast to the column's type, when neither
    calls a volatile function (`CURRENT_TIMESTAMP(0)` and `CURRENT_TIMESTAMP` on a timestamp
    column differ: one is rounded to the second)."""
    if change.kind != "modify_default" or change.old is None or change.new is None or not change.detail.get("type"):
        return False
    if not _calls_are_stable(conn, change.old + " " + change.new):
        return False
    typ = change.detail["type"]
    conn.exec_driver_sql("SAVEPOINT same_default")
    try:
        same = _sql(conn, f"SELECT ({change.old})::{typ} IS NOT DISTINCT FROM ({change.new})::{typ}").scalar()
        conn.exec_driver_sql("RELEASE SAVEPOINT same_default")
        return bool(same)
    except Exception:  # noqa: BLE001 - not a constant the server can evaluate here: a real change
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT same_default")
        return False


def _same_reparsed(conn, change: Change) -> bool:
    """True when two CHECK or index definitions differ only as text PostgreSQL printed and
    reads back differently (`x = ANY ((ARRAY[...])::text[])` becomes `ANY (ARRAY[(...)::text])`
    when the printed form is parsed again): both are parsed again on a scratch copy of the
    table and compared in that form. A definition that does not parse there is a change."""
    if change.kind not in ("modify_index", "modify_constraint") or change.detail.get("type") == "exclude":
        return False
    conn.exec_driver_sql("SAVEPOINT reparse")
    try:
        _sql(conn, f"CREATE TEMP TABLE modeldiff_reparse (LIKE {qualified(change.table)})")
        forms = []
        for i, definition in enumerate((change.old, change.new)):
            if change.kind == "modify_index":
                _sql(conn, f"CREATE INDEX modeldiff_reparse_{i} ON modeldiff_reparse {definition}")
                sql = f"SELECT pg_get_indexdef('modeldiff_reparse_{i}'::regclass)"
            else:
                _sql(conn, f"ALTER TABLE modeldiff_reparse ADD CONSTRAINT modeldiff_reparse_{i} {definition} NOT VALID")
                sql = f"SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'modeldiff_reparse_{i}' AND conrelid = 'modeldiff_reparse'::regclass"
            forms.append(_sql(conn, sql).scalar().replace(f"modeldiff_reparse_{i}", ""))
        return forms[0] == forms[1]
    except Exception:  # noqa: BLE001 - does not parse against the FROM table: a real change
        return False
    finally:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT reparse")


# --- their SQL --------------------------------------------------------------------------------


def statements(change: Change, reverse: bool = False) -> list[str]:
    """The SQL that makes a catalog change (or, `reverse`, undoes it)."""
    old, new = (change.new, change.old) if reverse else (change.old, change.new)
    kind = {"add_sequence": "remove_sequence", "remove_sequence": "add_sequence", "add_constraint": "remove_constraint", "remove_constraint": "add_constraint"}.get(change.kind, change.kind) if reverse else change.kind
    t = qualified(change.table) if change.table else ""
    col = quote(change.column) if change.column else ""
    if kind == "modify_index":
        unique = "UNIQUE " if change.detail.get("unique") else ""
        return [f"DROP INDEX {in_schema_of(change.table, change.name)}", f"CREATE {unique}INDEX {quote(change.name)} ON {t} {new}"]
    if kind in ("add_constraint", "remove_constraint"):
        if kind == "remove_constraint":
            return [f"ALTER TABLE {t} DROP CONSTRAINT {quote(change.name)}"]
        d = change.detail
        body = d.get("definition") or f"CHECK ({d.get('condition', '')})"
        return [f"ALTER TABLE {t} ADD CONSTRAINT {quote(change.name)} {body}"]
    if kind == "modify_fk" and change.detail.get("how") == "deferrability":
        return [f"ALTER TABLE {t} ALTER CONSTRAINT {quote(change.name)} {_deferral(new)}"]
    if kind in ("modify_constraint", "modify_fk"):
        return [f"ALTER TABLE {t} DROP CONSTRAINT {quote(change.name)}", f"ALTER TABLE {t} ADD CONSTRAINT {quote(change.name)} {new}"]
    seq = change.new or change.old or {}
    owner = seq.get("owned_by") if kind in ("add_sequence", "remove_sequence") else None
    # A sequence owned by a column (SERIAL) is that column's default: set and dropped with it.
    default = owner and f"ALTER TABLE {qualified(owner.rsplit('.', 1)[0])} ALTER COLUMN {quote(owner.rsplit('.', 1)[1])}"
    if kind == "add_sequence":
        out = [f"CREATE SEQUENCE {qualified(change.name)} {_sequence_options(seq)}", *_owned_by(change.name, seq)]
        return out + ([f"{default} SET DEFAULT nextval({literal(change.name)}::regclass)"] if default else [])
    if kind == "remove_sequence":
        return ([f"{default} DROP DEFAULT"] if default else []) + [f"DROP SEQUENCE {qualified(change.name)}"]
    if kind == "modify_sequence":
        owner = _owned_by(change.name, new, always=True) if old.get("owned_by") != new.get("owned_by") else []
        return [f"ALTER SEQUENCE {qualified(change.name)} {_sequence_options(new)}", *owner]
    if kind == "modify_identity":
        target = f"ALTER TABLE {t} ALTER COLUMN {col}"
        if new is None:
            return [f"{target} DROP IDENTITY"]
        options = f"START WITH {new['start']} INCREMENT BY {new['increment']}"
        if old is None:
            return [f"{target} ADD GENERATED {new['generated'].upper()} AS IDENTITY ({options})"]
        return [f"{target} SET GENERATED {new['generated'].upper()} SET {options.replace(' INCREMENT', ' SET INCREMENT')}"]
    if kind == "modify_generated":
        target = f"ALTER TABLE {t} ALTER COLUMN {col}"
        if new is None:
            return [f"{target} DROP EXPRESSION"]
        if old is not None:
            return [f"{target} SET EXPRESSION AS ({new})"]
        return [f"ALTER TABLE {t} DROP COLUMN {col}", f"ALTER TABLE {t} ADD COLUMN {col} {change.detail['type']} GENERATED ALWAYS AS ({new}) {change.detail.get('storage', 'stored').upper()}"]
    if kind == "modify_collation":
        collate = f" COLLATE {quote(new)}" if new else ' COLLATE "default"'
        return [f"ALTER TABLE {t} ALTER COLUMN {col} TYPE {change.detail['type']}{collate}"]
    raise ValueError(f"no catalog statement for {kind}")


def _sequence_options(seq: dict) -> str:
    cycle = "CYCLE" if seq["cycle"] else "NO CYCLE"
    return f"AS {seq['type']} INCREMENT BY {seq['increment']} MINVALUE {seq['min']} MAXVALUE {seq['max']} START WITH {seq['start']} CACHE {seq['cache']} {cycle}"


def _owned_by(name: str, seq: dict, always: bool = False) -> list[str]:
    owner = seq.get("owned_by")
    if owner:
        table, column = owner.rsplit(".", 1)
        return [f"ALTER SEQUENCE {qualified(name)} OWNED BY {qualified(table)}.{quote(column)}"]
    return [f"ALTER SEQUENCE {qualified(name)} OWNED BY NONE"] if always else []

