"""Where each table, column, index and constraint is defined in the model source of a ref
(`path:line`), read from the same files the loader imports, never executed.

The loader keeps no line numbers (SQLAlchemy does not record them), so the source is
parsed: a class with `__tablename__` (or Flask-SQLAlchemy's derived name), its column
assignments (`x = Column(...)`, `x: Mapped[..] = mapped_column(...)`, a first string
argument naming the column), columns of mixins defined in the scanned files, and
`Table("name", metadata, Column("c", ...), Index("ix", ...))` calls. What cannot be placed
more precisely is placed at its table; what has no table (an enum type) at its name."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

_COLUMN_CALLS = {"Column", "mapped_column", "column_property", "relationship_column"}
_NAMED_CALLS = {"Index", "UniqueConstraint", "CheckConstraint", "PrimaryKeyConstraint", "ForeignKeyConstraint", "Enum", "ForeignKey"}
_MAX_FILES = 2000
_HINT = re.compile(rb"__tablename__|\bTable\s*\(|Column\s*\(|mapped_column|Mapped\[|\bEnum\s*\(")


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def _first_str(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _keyword_str(call: ast.Call, name: str) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
            return keyword.value.value
    return None


def _is_mapped(annotation) -> bool:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):  # a string annotation
        return annotation.value.startswith(("Mapped[", "orm.Mapped["))
    return isinstance(annotation, ast.Subscript) and getattr(annotation.value, "id", getattr(annotation.value, "attr", None)) == "Mapped"


def _table_names(class_name: str) -> list[str]:
    """Names a table of this class may have when a base class derives it (Flask-SQLAlchemy's
    snake case, or a mixin's plural of it)."""
    snake = _snake(class_name)
    plural = snake[:-1] + "ies" if snake.endswith("y") else snake + ("es" if snake.endswith(("s", "x", "ch", "sh")) else "s")
    return [snake, plural]


def _snake(name: str) -> str:
    """Flask-SQLAlchemy's default table name of a model class."""
    return re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name).lower()


@dataclass
class _Class:
    name: str
    where: str
    table: str | None
    bases: list[str]
    columns: dict[str, str] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)  # index/constraint name -> where


@dataclass
class Locations:
    """One ref's definitions: table -> where, (table, column) -> where, name -> where."""

    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[tuple[str, str], str] = field(default_factory=dict)
    named: dict[tuple[str | None, str], str] = field(default_factory=dict)

    def of(self, table: str | None, column: str | None = None, name: str | None = None, on_column: str | None = None) -> str | None:
        """`on_column`: the one column an index or constraint is on (its line, when the
        name is generated and so nowhere in the source)."""
        bare = table.rpartition(".")[2] if table else table
        for key in (table, bare):
            if key is None:
                continue
            if column and (key, column) in self.columns:
                return self.columns[(key, column)]
            if name and (key, name) in self.named:
                return self.named[(key, name)]
        if name and (None, name) in self.named:
            return self.named[(None, name)]
        for key in (table, bare):
            if on_column and (key, on_column) in self.columns:
                return self.columns[(key, on_column)]
        return self.tables.get(table) or self.tables.get(bare)


def _named_in(node: ast.AST, where_of, into: "Locations | None" = None) -> dict[str, str]:
    """Names of the indexes, constraints and enum types declared in `node`; an enum type's
    also in `into` (it belongs to no table)."""
    out = {}
    for call in ast.walk(node):
        kind = _call_name(call)
        if kind in _NAMED_CALLS:
            name = _keyword_str(call, "name") or (_first_str(call) if kind == "Index" else None)
            if name:
                out.setdefault(name, where_of(call))
                if kind == "Enum" and into is not None:
                    into.named.setdefault((None, name), where_of(call))
    return out


def _top_level(body):
    """The statements that run at import: not function bodies (a schema is declared at
    module or class level), but inside `if` and `try`."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield stmt
        for block in ("body", "orelse", "finalbody"):
            if isinstance(stmt, (ast.If, ast.Try)) and getattr(stmt, block, None):
                yield from _top_level(getattr(stmt, block))
        for handler in getattr(stmt, "handlers", ()):
            yield from _top_level(handler.body)


def _scan_class(node: ast.ClassDef, into: "Locations", classes: dict[str, _Class], where_of) -> None:
    info = _Class(node.name, where_of(node), None, [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases])
    for stmt in _top_level(node.body):
        if isinstance(stmt, ast.ClassDef):
            _scan_class(stmt, into, classes, where_of)
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        value = getattr(stmt, "value", None)
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            if target.id == "__tablename__" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                info.table = value.value
            elif target.id == "__table_args__" and value is not None:
                info.named.update(_named_in(value, where_of))
            elif _call_name(value) in _COLUMN_CALLS:
                info.columns[_first_str(value) or target.id] = where_of(stmt)
                info.named.update(_named_in(value, where_of, into))
            elif value is None and _is_mapped(getattr(stmt, "annotation", None)):  # `name: Mapped[str]`
                info.columns[target.id] = where_of(stmt)
    classes.setdefault(node.name, info)


def scan_source(path: str, source: bytes, into: Locations, classes: dict[str, _Class]) -> None:
    if not _HINT.search(source):
        return
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        return
    where_of = lambda node: f"{path}:{node.lineno}"  # noqa: E731
    for stmt in _top_level(tree.body):
        if isinstance(stmt, ast.ClassDef):
            _scan_class(stmt, into, classes, where_of)
            continue
        for node in ast.walk(stmt):
            if _call_name(node) == "Table" and _first_str(node):
                table = _first_str(node)
                into.tables.setdefault(table, where_of(node))
                for arg in node.args[1:]:
                    if _call_name(arg) == "Column" and _first_str(arg):
                        into.columns.setdefault((table, _first_str(arg)), where_of(arg))
                for name, where in _named_in(node, where_of, into).items():
                    into.named.setdefault((table, name), where)
            elif _call_name(node) == "Enum" and _keyword_str(node, "name"):
                into.named.setdefault((None, _keyword_str(node, "name")), where_of(node))


def _resolve_classes(classes: dict[str, _Class], into: Locations) -> None:
    def inherited(info: _Class, seen: set[str]) -> tuple[dict, dict]:
        columns, named = {}, {}
        for base in info.bases:
            parent = classes.get(base)
            if parent is not None and base not in seen:
                c, n = inherited(parent, seen | {base})
                columns.update(c), named.update(n)
        return {**columns, **info.columns}, {**named, **info.named}

    for info in classes.values():
        # No __tablename__ of its own: a base derives it (placed by the names it may have;
        # only names of the schema's tables are ever looked up).
        derived = info.table is None and info.bases and "Mixin" not in info.name
        tables = [info.table] if info.table else _table_names(info.name) if derived else []
        columns, named = inherited(info, {info.name})
        for table in tables:
            into.tables.setdefault(table, info.where)
            for column, where in columns.items():
                into.columns.setdefault((table, column), where)
            for name, where in named.items():
                into.named.setdefault((table, name), where)


def locate(snapshot, paths: list[str]) -> Locations:
    """The definitions in the Python files under `paths` (the models) of `snapshot`."""
    into, classes = Locations(), {}
    files: dict[str, str] = {}
    for prefix in paths:
        files.update({p: e for p, e in snapshot.list_files(prefix).items() if p.endswith(".py")})
    for path in sorted(files)[:_MAX_FILES]:  # the listing's blob ids (paths in the work tree): no lookup per file
        entry = files[path]
        source = Path(entry).read_bytes() if snapshot.is_worktree else snapshot.repo.read_blob(entry)
        try:
            scan_source(path, source, into, classes)
        except RecursionError:  # a pathologically nested file: its definitions stay unplaced
            continue
    _resolve_classes(classes, into)
    return into


# Kinds whose definition is gone at TO: their place is at FROM.
_REMOVED = {"remove_table", "remove_column", "remove_index", "remove_constraint", "remove_fk", "remove_enum"}


def change_sites(change, old: Locations, new: Locations) -> dict[str, str]:
    """{"from": path:line, "to": path:line} of one change, each where it is known."""
    sites = {}
    name = change.name or (change.old if change.kind in ("modify_enum",) else None)
    columns = (change.detail or {}).get("columns") or ()
    on_column = columns[0] if len(columns) == 1 and isinstance(columns[0], str) else None
    for role, locations in (("from", old), ("to", new)):
        if role == "to" and change.kind in _REMOVED or role == "from" and change.kind.startswith("add_"):
            where = locations.tables.get(change.table) if change.table else None
        else:
            where = locations.of(change.table, change.column, name if isinstance(name, str) else None, on_column)
        if where:
            sites[role] = where
    return sites


def primary_site(change, sites: dict[str, str]) -> str | None:
    """The one place an annotation points at: FROM for what was removed, TO otherwise."""
    return sites.get("from" if change.kind in _REMOVED else "to") or sites.get("to") or sites.get("from")


def sites_for(request, result) -> list[dict[str, str]]:
    """`change_sites` of every change of `result` (the diff of `request`'s pair), read
    with the layout each ref was loaded with."""
    from ..pipeline import open_session
    from ..source.layout import split_models

    from ..cache import _code_digest, _digest

    session, snapshots = open_session(request, [request.from_ref, request.to_ref])
    paths = [split_models(session.layout_for(s).models_path) for s in snapshots]
    key = None
    if all(s.commit for s in snapshots):  # commits never change: the sites of a pair neither
        changes = [c.to_json() for c in result.changes]
        key = _digest("sites", [s.commit for s in snapshots], paths, changes, _code_digest([Path(__file__)]))
        cached = session.cache.get("sites", key)
        if cached is not None:
            return cached
    old, new = (locate(s, p) for s, p in zip(snapshots, paths))
    sites = [change_sites(change, old, new) for change in result.changes]
    if key is not None:
        session.cache.put("sites", key, sites)
    return sites
