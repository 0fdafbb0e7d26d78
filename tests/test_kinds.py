"""Every change kind is handled by every layer: a new kind fails here until each layer has
registered a handler for it (or said, with `Dispatch.nothing`, that it has nothing to do)."""

from __future__ import annotations

import importlib

import pytest

from modeldiff.values import KIND_ORDER, VERIFY_KINDS, Dispatch

LAYERS = {
    "compare.schemas": KIND_ORDER,  # the change built from alembic's diff (or our own detectors)
    "compare.facts": KIND_ORDER,  # facts read from the scratch databases
    "plan.rules": KIND_ORDER,  # hazards
    "plan.statements": KIND_ORDER,  # the runbook's statement
    "plan.recipes": KIND_ORDER,  # the recipes' placeholders
    "render.text": KIND_ORDER + VERIFY_KINDS,  # one line of text
}


def _registries() -> dict[str, Dispatch]:
    for layer in LAYERS:
        importlib.import_module(f"modeldiff.{layer}")
    return {d.layer: d for d in Dispatch.layers}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_kind_has_a_handler_in_every_layer(layer):
    registry = _registries()[layer]
    assert registry.kinds == LAYERS[layer]
    assert registry.missing() == []
    assert set(registry.handlers) <= set(LAYERS[layer])  # no handler for a kind nobody makes


def test_no_layer_registry_is_left_out_of_this_test():
    assert set(_registries()) == set(LAYERS)


def test_a_kind_registered_twice_is_an_error():
    registry = Dispatch("test.twice")
    try:
        registry.register("add_table")(Dispatch.nothing)
        with pytest.raises(ValueError, match="add_table registered twice"):
            registry.register("add_table")(lambda change: None)
    finally:
        Dispatch.layers.remove(registry)


_SEQ = {"type": "integer", "start": 1, "increment": 1, "min": 1, "max": 2147483647, "cache": 1, "cycle": False, "owned_by": None}


def test_every_kind_has_a_statement_and_a_description():
    from modeldiff.plan.statements import statement_for
    from modeldiff.render.text import describe
    from modeldiff.values import Change

    samples = {
        "add_enum": Change("add_enum", None, name="status", new=["a", "b"]),
        "remove_enum": Change("remove_enum", None, name="status", old=["a"]),
        "modify_enum": Change("modify_enum", None, name="status", old=["a"], new=["a", "b"]),
        "modify_primary_key": Change("modify_primary_key", "grant", name="grant_pkey", old=["id"], new=["id", "user"]),
        "add_fk": Change("add_fk", "grant", name="fk", detail={"columns": ["user"], "referred_table": "audit.users", "referred_columns": ["id"]}),
        "remove_fk": Change("remove_fk", "grant", name="fk", detail={"columns": ["user"], "referred_table": "users", "referred_columns": ["id"]}),
        **{kind: Change(kind, None, name="grant_seq", old=seq, new=seq2) for kind, seq, seq2 in [
            ("add_sequence", None, _SEQ), ("remove_sequence", _SEQ, None), ("modify_sequence", _SEQ, {**_SEQ, "type": "bigint"})]},
        "modify_identity": Change("modify_identity", "grant", column="id", old=None, new={"generated": "always", "start": 1, "increment": 1}),
        "modify_generated": Change("modify_generated", "grant", column="total", old="a", new="a * 2", detail={"type": "integer"}),
        "modify_collation": Change("modify_collation", "grant", column="user", old=None, new="C", detail={"type": "text"}),
        "modify_index": Change("modify_index", "grant", name="ix", old="USING btree (a)", new="USING btree (a DESC)", detail={"unique": False}),
        "modify_constraint": Change("modify_constraint", "grant", name="ck", old="CHECK ((a > 0))", new="CHECK ((a > 1))", detail={"type": "check"}),
        "modify_fk": Change("modify_fk", "grant", name="fk", old="FOREIGN KEY (a) REFERENCES t(id)", new="FOREIGN KEY (a) REFERENCES t(id) ON DELETE CASCADE", detail={"columns": ["a"], "how": "actions"}),
    }
    for kind in KIND_ORDER:
        change = samples.get(kind) or Change(kind, "grant", column="user", name="distinct", old="a", new="b", detail={"columns": ["user"], "type": "check", "condition": "true"})
        assert not statement_for(change).startswith(f"-- {kind}"), kind
        assert describe(change) != f"{kind} {change.name or ''}".strip(), kind
