"""The hazard catalogue carries everything about a code, and everything else agrees with it:
the rules emit every code with the catalogue's lock and a recipe it lists, the plan's order,
summary and colours come from it, and the README table, docs/hazards.md and
`modeldiff hazards` are generated from it. Pure Python: no database, no repository."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from modeldiff.cli import main
from modeldiff.plan import make_plan, parse_pg_version
from modeldiff.plan.hazards import (
    ACCESS_EXCLUSIVE,
    ANY_DEFAULT_REWRITES,
    CATALOGUE,
    ENUM_ADD_VALUE_NEEDS_AUTOCOMMIT,
    GROUPS,
    NOT_NULL_PROVED_BY_CHECK,
    SEVERITY_COLOURS,
    Hazard,
    Versions,
)
from modeldiff.plan.build import _SUMMARY_GROUPS
from modeldiff.plan.recipes import RECIPES
from modeldiff.render import hazards as hazard_docs
from modeldiff.render.plan import render_plan_text
from modeldiff.values import Change, Diff, RefInfo

ROOT = Path(__file__).resolve().parents[1]
LOCK_MODES = {ACCESS_EXCLUSIVE, "SHARE", "SHARE ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE"}

# One diff per code on which the rules emit it (changes, PostgreSQL version): a new code
# without a rule, or whose rule stops firing, fails here.
EXAMPLES: dict[str, tuple[list[Change], int]] = {
    "MD101": ([Change("modify_type", "t", column="c", old="VARCHAR(255)", new="VARCHAR")], 16),
    "MD102": ([Change("modify_type", "t", column="c", old="INTEGER", new="BIGINT")], 16),
    "MD103": ([Change("modify_nullable", "t", column="c", old=True, new=False, detail={"has_default": True})], 16),
    "MD104": ([Change("add_index", "t", name="ix", detail={"columns": ["a"], "unique": False})], 16),
    "MD105": ([Change("add_constraint", "t", name="uq", detail={"type": "unique", "columns": ["a"]})], 16),
    "MD106": ([Change("add_fk", "m", name="fk", detail={"columns": ["c_id"], "referred_table": "c", "referred_columns": ["id"]})], 16),
    "MD107": ([Change("modify_enum", None, name="status", old=["a"], new=["a", "b"], detail={"used_by": ["t.s"]})], 11),
    "MD108": ([Change("modify_collation", "t", column="c", old="C", new="POSIX", detail={"type": "character varying(20)"})], 16),
    "MD109": ([Change("add_trigger", "t", name="tg", new="CREATE TRIGGER tg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", detail={"function": "f()"})], 16),
    "MD201": ([Change("remove_column", "t", column="c", old="INTEGER", detail={"nullable": True})], 16),
    "MD202": ([Change("modify_type", "t", column="c", old="BIGINT", new="INTEGER")], 16),
    "MD203": ([Change("add_column", "t", column="c", new="INTEGER", detail={"nullable": False})], 16),
    "MD204": ([Change("add_index", "t", name="ux", detail={"columns": ["a"], "unique": True})], 16),
    "MD205": ([Change("add_constraint", "t", name="ck", detail={"type": "check", "condition": "n > 0"})], 16),
    "MD301": ([Change("remove_table", "t", detail={"columns": ["id"]})], 16),
    "MD302": (
        [
            Change("remove_column", "t", column="name", old="TEXT", detail={"nullable": True}),
            Change("add_column", "t", column="title", new="TEXT", detail={"nullable": True}),
        ],
        16,
    ),
    "MD303": ([Change("modify_default", "t", column="c", old="true", new=None, detail={"nullable": False})], 16),
    "MD304": ([Change("modify_enum", None, name="status", old=["a", "b"], new=["a"], detail={"used_by": ["t.s"]})], 16),
}


def plan_of(changes: list[Change], pg: int | str = 16):
    """The plan stage's answer for these changes (the only place the tests call into it)."""
    result = Diff(RefInfo("a", "1111111"), RefInfo("b", "2222222"), "postgresql", changes, [])
    return make_plan(result, pg_version=pg)


def emitted(code: str, pg: int | str | None = None) -> list[Hazard]:
    """The hazards the rules find in `code`'s example (on its PostgreSQL version, or `pg`)."""
    return [h for step in plan_of(EXAMPLES[code][0], pg or EXAMPLES[code][1]).steps for h in step.hazards]


# --------------------------------------------------------------------------- the entries


def test_every_code_has_every_field():
    names = [h.name for h in CATALOGUE.values()]
    ranks = [h.rank for h in CATALOGUE.values()]
    assert len(set(names)) == len(names) and len(set(ranks)) == len(ranks)
    assert list(CATALOGUE) == sorted(CATALOGUE)
    for code, h in CATALOGUE.items():
        assert h.code == code and re.fullmatch(r"MD[123]\d\d", code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", h.name), code
        assert h.title and h.what and h.why and h.fix, code
        assert h.group in GROUPS and h.severity in SEVERITY_COLOURS, code
        assert h.recipes and all(r in RECIPES for r in h.recipes), code
        assert h.references and all(url.startswith("https://") for url in h.references), code
        # a lock comes with how long it is held; only a lock held for the operation has a cost
        assert h.lock is None or h.lock in LOCK_MODES, code
        assert (h.lock is None) == (h.holds is None) == (h.group != "lock"), code
        assert (h.cost is not None) == (h.holds == "operation"), code
        assert h.cost is None or h.cost in hazard_docs._COST_WORDS, code


def test_severity_follows_what_the_code_does_and_maps_to_a_colour():
    for code, h in CATALOGUE.items():
        blocks_everything = h.holds == "operation" and h.blocks == "reads and writes"
        assert (h.severity == "critical") == (blocks_everything or h.group == "deletes-data"), code
        assert h.colour == SEVERITY_COLOURS[h.severity]
    assert {h.colour for h in CATALOGUE.values()} == set(SEVERITY_COLOURS.values())


def test_every_recipe_belongs_to_a_code():
    assert {r for h in CATALOGUE.values() for r in h.recipes} == set(RECIPES)


def test_version_ranges():
    assert 100000 in ANY_DEFAULT_REWRITES and 90605 in ANY_DEFAULT_REWRITES and 110000 not in ANY_DEFAULT_REWRITES
    assert 120000 in NOT_NULL_PROVED_BY_CHECK and 110022 not in NOT_NULL_PROVED_BY_CHECK
    bug = Versions(since=(14, 0), before=(14, 4))
    assert [v in bug for v in (130020, 140000, 140003, 140004, 150000)] == [False, True, True, False, False]
    assert bug.text() == "PostgreSQL >= 14.0, < 14.4" and Versions().text() == "every PostgreSQL version"
    assert CATALOGUE["MD107"].versions == ENUM_ADD_VALUE_NEEDS_AUTOCOMMIT


# --------------------------------------------------------------------------- rules agree with it


def test_every_code_is_emitted_by_a_rule_as_the_catalogue_describes_it():
    assert set(EXAMPLES) == set(CATALOGUE)
    for code, entry in CATALOGUE.items():
        found = [h for h in emitted(code) if h.code == code]
        assert found, f"no rule emits {code} for its example"
        for h in found:
            assert (h.lock, h.holds, h.cost) == (entry.lock, entry.holds, entry.cost), code
            assert h.recipe is None or h.recipe in entry.recipes, code
            assert (h.lock is None) or h.tables, code


def test_a_version_restricted_code_is_emitted_only_on_its_versions():
    for version in ("9.6", "10", "11", "12", "16"):
        pg = parse_pg_version(version)
        assert ("MD107" in [h.code for h in emitted("MD107", pg)]) == (pg in CATALOGUE["MD107"].versions), version


def test_a_hazard_that_disagrees_with_its_entry_is_refused():
    with pytest.raises(ValueError, match="catalogue"):
        Hazard("MD102", "no lock given")
    with pytest.raises(ValueError, match="does not list recipe"):
        Hazard("MD104", "x", "SHARE", ["t"], "operation", "index", "fk-not-valid")
    with pytest.raises(ValueError, match="unknown hazard code"):
        Hazard("MD999", "x")


def test_only_the_catalogue_and_the_rules_name_codes():
    """Order, summary, colours and docs go through the catalogue, so a new code touches no other module."""
    naming = set()
    for path in sorted((ROOT / "modeldiff").rglob("*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.Constant) and isinstance(n.value, str) and re.fullmatch(r"MD\d{3}", n.value) for n in ast.walk(tree)):
            naming.add(path.relative_to(ROOT).as_posix())
    assert naming == {"modeldiff/plan/hazards.py", "modeldiff/plan/rules.py"}


# --------------------------------------------------------------------------- the plan derives from it


def test_plan_orders_steps_by_catalogue_rank():
    examples = [c for code in CATALOGUE for c in EXAMPLES[code][0] if code != "MD107"]  # MD107 needs PostgreSQL < 12
    plan = plan_of([replace(c, table=c.table and f"{c.table}_{i}") for i, c in enumerate(examples)])
    order = [(not s.costly, s.severity) for s in plan.steps]
    assert order == sorted(order) and len({s.severity for s in plan.steps}) > 5
    for step in plan.steps:
        assert step.severity == min(CATALOGUE[h.code].rank for h in step.hazards)


def test_summary_has_a_line_per_group_and_colours_come_from_the_catalogue():
    assert set(_SUMMARY_GROUPS) == set(GROUPS) - {"lock"}  # locks get their own lines (per table, with durations)
    drop = EXAMPLES["MD201"][0][0]
    narrow = EXAMPLES["MD202"][0][0]
    plan = plan_of([drop, replace(narrow, table="u")])
    summary = "\n".join(plan.summary())
    assert "1 operation deletes data: t.c" in summary
    assert "1 operation may fail on existing data: u.c" in summary
    assert "1 operation breaks the previous release while it still runs: t.c" in summary
    text = render_plan_text(plan)
    for code in ("MD101", "MD102", "MD201", "MD202", "MD301"):
        assert f"[{CATALOGUE[code].colour}]! {code}:" in text


# --------------------------------------------------------------------------- generated text agrees with it


def test_readme_table_and_docs_page_are_generated_from_the_catalogue():
    readme = (ROOT / "README.md").read_text()
    assert hazard_docs.readme_table() in readme, "README.md's hazard table is stale: run scripts/hazard_docs"
    assert (ROOT / "docs" / "hazards.md").read_text() == hazard_docs.docs_page(), "docs/hazards.md is stale: run scripts/hazard_docs"
    assert hazard_docs.main(["--check", str(ROOT)]) == 0
    page = hazard_docs.docs_page()
    for code, h in CATALOGUE.items():
        section = page.split(f"## {code}\n", 1)[1].split("\n## ", 1)[0]
        assert h.title in section and h.severity in section and h.fix in section, code
        assert all(f"`{r}`" in section for r in h.recipes) and all(url in section for url in h.references), code
        assert all(note.text in section for note in h.notes), code
        assert f"[{code}](docs/hazards.md#{code.lower()})" in readme


def test_check_reports_a_stale_file_and_write_fixes_it(tmp_path):
    readme = (ROOT / "README.md").read_text()
    (tmp_path / "README.md").write_text(readme.replace("| critical |", "| severe |", 1))
    assert hazard_docs.main(["--check", str(tmp_path)]) == 1
    assert hazard_docs.main([str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text() == readme
    assert (tmp_path / "docs" / "hazards.md").read_text() == hazard_docs.docs_page()


def test_cli_lists_and_explains_every_code():
    runner = CliRunner()
    listing = runner.invoke(main, ["hazards"])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    for code, h in CATALOGUE.items():
        assert any(line.split()[:3] == [code, h.severity, h.name] for line in lines), code
    explained = runner.invoke(main, ["hazards", "md104"])
    assert explained.exit_code == 0
    out = explained.output
    assert out.startswith("MD104 index-build-blocks-writes:") and "SHARE, whole operation (blocks writes)" in out
    assert "PostgreSQL >= 14.0, < 14.4: avoid CONCURRENTLY" in out and "create-index-concurrently:" in out
