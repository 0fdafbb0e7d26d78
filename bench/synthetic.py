#!/usr/bin/env python3
"""A synthetic application of N tables in a git repository with two tags, v1 and v2, and
the exact changes modeldiff must report between them. Deterministic: the same arguments
give the same files, commits and expected changes on every machine.

    python bench/synthetic.py DEST --tables 2000 --changed 20    # prints the repo's path

Every table `t00042` has 10 columns, a primary key, two indexes, a unique key and a
foreign key to its parent table (`t00021`: the tables form a tree, so creation order
matters). Models live in `synth/models/` (import root `.`), 50 tables a module. Between
v1 and v2, `changed` tables spread evenly over the app each get 5 changes of one of four
variants (column added/removed/retyped, nullability, default, comment, index, unique key,
foreign key), so `changed` tables give exactly 5 × `changed` changes.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = "synth/models"
IMPORT_ROOT = "."
PER_MODULE = 50
CHANGES_PER_TABLE = 5


def _builder():
    spec = importlib.util.spec_from_file_location("sample_repos_build", ROOT / "sample_repos" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def name(i: int) -> str:
    return f"t{i:05d}"


def changed_tables(tables: int, changed: int) -> list[int]:
    """Which tables change: spread evenly, never table 0 (the tree's root)."""
    if changed > tables - 1:
        raise ValueError(f"at most {tables - 1} of {tables} tables can change")
    step = (tables - 1) / changed if changed else 0
    return sorted({1 + int(k * step) for k in range(changed)})


def _table(i: int, variant: int | None) -> str:
    """The model of table i; `variant` (0-3) is its v2 form, None its v1 form."""
    t, parent = name(i), name(i // 2)
    v = variant
    cols = {
        "id": "Column(Integer, primary_key=True)",
        "parent_id": f"Column(Integer, ForeignKey('{parent}.id', name='fk_{t}_parent'), nullable=True)",
        "name": f"Column(String({128 if v == 0 else 64}), nullable={v == 2})",
        "code": f"Column(String(32), nullable={v == 3})",
        "qty": "Column(Integer, nullable=False, server_default=text('0'))",
        "amount": f"Column(Numeric({14 if v == 2 else 12}, 2){', comment=' + repr('amount in cents') if v == 1 else ''})",
        "flag": "Column(Boolean, nullable=False, server_default=text('false'))",
        "status": f"Column(String(16), nullable=False, server_default=text(\"'{'open' if v == 1 else 'new'}'\"))",
        "note": f"Column(Text, nullable={v != 0})",
        "created_at": "Column(DateTime, nullable=False, server_default=func.now())",
    }
    if v == 0:
        cols["extra"] = "Column(Integer, nullable=True)"
    if v == 1:
        del cols["flag"]
    if v == 2:
        cols["parent_id"] = "Column(Integer, nullable=True)"
        cols["score"] = "Column(Integer, nullable=False, server_default=text('1'))"
    if v == 3:
        cols["ref_id"] = f"Column(Integer, ForeignKey('{name(0)}.id', name='fk_{t}_ref'), nullable=True)"
        cols["label"] = "Column(String(40), nullable=True)"
    args = [f"Index('ix_{t}_name', 'name')"]
    if v != 0:
        args.append(f"Index('ix_{t}_created', 'created_at')")
    else:
        args.append(f"Index('ix_{t}_qty', 'qty')")
    if v != 1:
        args.append(f"UniqueConstraint('code', name='uq_{t}_code')")
    if v == 2:
        args.append(f"UniqueConstraint('name', 'code', name='uq_{t}_name_code')")
    if v == 1:
        args.append(f"Index('ix_{t}_code_status', 'code', 'status')")
    if v == 3:
        args.append(f"Index('ix_{t}_label', 'label')")
    lines = [f"class {t.upper()}(Base):", f"    __tablename__ = '{t}'", f"    __table_args__ = ({', '.join(args)},)"]
    lines += [f"    {col} = {spec}" for col, spec in cols.items()]
    return "\n".join(lines) + "\n"


def expected_changes(tables: int, changed: int) -> list[tuple[str, str, str | None]]:
    """(kind, table, column or index/constraint name) of every change, sorted."""
    out = []
    for k, i in enumerate(changed_tables(tables, changed)):
        t = name(i)
        out += {
            0: [("add_column", t, "extra"), ("modify_type", t, "name"), ("modify_nullable", t, "note"), ("add_index", t, f"ix_{t}_qty"), ("remove_index", t, f"ix_{t}_created")],
            1: [("remove_column", t, "flag"), ("modify_default", t, "status"), ("modify_comment", t, "amount"), ("remove_constraint", t, f"uq_{t}_code"), ("add_index", t, f"ix_{t}_code_status")],
            2: [("modify_type", t, "amount"), ("modify_nullable", t, "name"), ("remove_fk", t, f"fk_{t}_parent"), ("add_column", t, "score"), ("add_constraint", t, f"uq_{t}_name_code")],
            3: [("add_column", t, "ref_id"), ("add_fk", t, f"fk_{t}_ref"), ("add_column", t, "label"), ("add_index", t, f"ix_{t}_label"), ("modify_nullable", t, "code")],
        }[k % 4]
    return sorted(out)


def _files(tables: int, changed: dict[int, int]) -> dict[str, str]:
    files = {
        "README.md": f"A synthetic application of {tables} tables (generated by modeldiff's bench/synthetic.py).\n",
        f"{MODELS}/base.py": "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n",
    }
    header = (
        "from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, func, text\n\n"
        "from .base import Base\n\n\n"
    )
    modules = []
    for start in range(0, tables, PER_MODULE):
        module = f"tables_{start // PER_MODULE:03d}"
        modules.append(module)
        body = "\n\n".join(_table(i, changed.get(i)) for i in range(start, min(start + PER_MODULE, tables)))
        files[f"{MODELS}/{module}.py"] = header + body
    files[f"{MODELS}/__init__.py"] = "from .base import Base\n" + "".join(f"from . import {m}  # noqa: F401\n" for m in modules)
    return files


def build(dest: Path, tables: int, changed: int) -> Path:
    """The repository at dest/synth-<tables>-<changed> (replaced if there)."""
    builder = _builder()
    target = Path(dest).resolve() / f"synth-{tables}-{changed}"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    variants = {i: k % 4 for k, i in enumerate(changed_tables(tables, changed))}
    with tempfile.TemporaryDirectory(prefix="synth-home-") as home:
        git = builder._Git(target, Path(home))
        git("init", "-q", "-b", "main")
        for index, (tag, files) in enumerate((("v1", _files(tables, {})), ("v2", _files(tables, variants)))):
            for path, text in files.items():
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                (target / path).write_text(text)
            git("add", "-A")
            date = builder.tag_date(index)
            git("commit", "-q", "--no-verify", "-m", f"release {tag}", env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
            git("tag", tag)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=10)
    args = parser.parse_args()
    print(build(args.dest, args.tables, args.changed))


if __name__ == "__main__":
    main()
