"""What PostgreSQL stores beyond columns, compared from its catalogs (compare/catalog.py),
on the catalogshop sample: v1.0 -> v1.1 changes every such object once, v1.2 is v1.1
spelled differently. Every change is reported exactly, drafted, and round-tripped."""

from __future__ import annotations

import pytest

from conftest import diff_json, run_cli

EXPECTED = {
    ("add_sequence", None, "audit_seq"),
    ("remove_sequence", None, "legacy_seq"),
    ("modify_sequence", None, "invoice_number_seq"),
    ("modify_sequence", None, "invoices_id_seq"),
    ("modify_identity", "accounts", "id"),
    ("modify_collation", "accounts", "code"),
    ("modify_comment", "accounts", "name"),
    ("modify_table_comment", "accounts", None),
    ("modify_index", "accounts", "ix_accounts_code"),
    ("modify_index", "accounts", "ix_accounts_active_email"),
    ("modify_index", "accounts", "ix_accounts_lower_email"),
    ("modify_index", "accounts", "ix_accounts_name_pattern"),
    ("add_constraint", "accounts", "ck_accounts_rating"),
    ("remove_constraint", "accounts", "ck_accounts_status"),
    ("modify_constraint", "accounts", "ck_accounts_email"),
    ("add_constraint", "bookings", "ex_bookings_during"),
    ("modify_type", "invoices", "id"),
    ("modify_identity", "invoices", "ticket"),
    ("modify_nullable", "items", "account_id"),
    ("modify_generated", "items", "discounted"),
    ("modify_generated", "items", "total"),
    ("modify_constraint", "items", "ck_items_qty"),
    ("modify_fk", "items", "fk_items_account"),
    ("modify_fk", "items", "fk_items_parent"),
    # functions and triggers the models' DDL events create
    ("add_function", None, "invoices_log()"),
    ("add_function", None, "ledger_balance()"),
    ("remove_function", None, "items_touch()"),
    ("modify_function", None, "accounts_search_update()"),
    ("modify_trigger", "accounts", "accounts_search"),
    ("add_trigger", "invoices", "invoices_log"),
    ("remove_trigger", "items", "items_touch"),
    ("add_table", "ledger", None),
    ("add_trigger", "ledger", "ledger_balance"),
}


@pytest.fixture(scope="module")
def shop(build_sample):
    return str(build_sample("catalogshop"))


@pytest.fixture(scope="module")
def changes(shop):
    return {(c["kind"], c["table"], c.get("column") or c.get("name")): c for c in diff_json(shop, "v1.0", "v1.1")["changes"]}


def test_every_catalog_change_is_reported_exactly(changes):
    assert set(changes) == EXPECTED
    assert changes[("modify_index", "accounts", "ix_accounts_active_email")]["new"] == "USING btree (email) WHERE ((status)::text <> 'closed'::text)"
    assert changes[("modify_index", "accounts", "ix_accounts_lower_email")]["new"] == "USING btree (lower((email)::text) DESC NULLS LAST)"
    assert changes[("modify_index", "accounts", "ix_accounts_name_pattern")]["new"] == "USING btree (name varchar_pattern_ops)"
    # alembic sees this one too, as a remove + add under one name: one change, old and new
    code = changes[("modify_index", "accounts", "ix_accounts_code")]
    assert (code["old"], code["new"]) == ("USING btree (code)", "USING btree (code DESC)")
    assert changes[("modify_constraint", "items", "ck_items_qty")]["old"] == "CHECK ((qty >= 0))"
    assert changes[("modify_constraint", "items", "ck_items_qty")]["new"] == "CHECK ((qty > 0))"
    assert changes[("remove_constraint", "accounts", "ck_accounts_status")]["detail"]["type"] == "check"
    assert changes[("add_constraint", "bookings", "ex_bookings_during")]["detail"]["definition"] == "EXCLUDE USING gist (during WITH &&)"
    fk = changes[("modify_fk", "items", "fk_items_account")]
    assert (fk["old"].endswith("ON DELETE CASCADE"), fk["new"].endswith("ON DELETE SET NULL"), fk["detail"]["how"]) == (True, True, "actions")
    assert changes[("modify_fk", "items", "fk_items_parent")]["detail"]["how"] == "deferrability"
    serial = changes[("modify_sequence", None, "invoices_id_seq")]
    assert (serial["old"]["type"], serial["new"]["type"], serial["new"]["owned_by"]) == ("integer", "bigint", "invoices.id")
    assert changes[("modify_sequence", None, "invoice_number_seq")]["new"]["increment"] == 10
    assert changes[("modify_identity", "accounts", "id")]["new"]["generated"] == "always"
    assert (changes[("modify_identity", "invoices", "ticket")]["old"]["start"], changes[("modify_identity", "invoices", "ticket")]["new"]["start"]) == (1, 100)
    assert changes[("modify_generated", "items", "discounted")]["old"] is None
    assert changes[("modify_generated", "items", "total")]["new"] == "((price * (qty)::numeric) * 1.2)"
    assert (changes[("modify_collation", "accounts", "code")]["old"], changes[("modify_collation", "accounts", "code")]["new"]) == ("C", "POSIX")
    assert changes[("modify_table_comment", "accounts", None)]["old"] == "customer accounts"
    search = changes[("modify_trigger", "accounts", "accounts_search")]
    assert search["new"] == "CREATE TRIGGER accounts_search BEFORE INSERT OR UPDATE OF name, email ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_search_update()"
    assert search["detail"] == {"function": "accounts_search_update()"}
    function = changes[("modify_function", None, "accounts_search_update()")]
    assert function["old"].startswith("CREATE OR REPLACE FUNCTION accounts_search_update()\n RETURNS trigger\n LANGUAGE plpgsql")
    assert "coalesce(NEW.email, '')" in function["new"] and "coalesce(NEW.email, '')" not in function["old"]
    # one % in PostgreSQL's text: DDL("...%%...") is one %, RAISE's %% stays two
    assert "RAISE NOTICE 'invoice % (100%% sure): %', NEW.id, '{\"kind\":1}'::jsonb;" in changes[("add_function", None, "invoices_log()")]["new"]
    assert changes[("remove_function", None, "items_touch()")]["new"] is None


def test_hazards_of_catalog_changes(changes):
    codes = {(kind, name): {h["code"] for h in c.get("hazards", [])} for (kind, _, name), c in changes.items()}
    assert codes[("modify_collation", "code")] == {"MD108"}
    assert codes[("modify_constraint", "ck_items_qty")] == {"MD103", "MD205"}
    assert codes[("modify_fk", "fk_items_account")] == {"MD101", "MD106"}
    assert codes[("modify_fk", "fk_items_parent")] == {"MD101"}
    assert codes[("modify_generated", "discounted")] == {"MD102", "MD201"}
    assert codes[("modify_index", "ix_accounts_active_email")] == {"MD101", "MD104"}
    assert codes[("modify_index", "ix_accounts_code")] == {"MD101", "MD104"}
    assert codes[("modify_trigger", "accounts_search")] == codes[("add_trigger", "invoices_log")] == codes[("remove_trigger", "items_touch")] == {"MD109"}
    assert codes[("add_trigger", "ledger_balance")] == set()  # on a table created by the same upgrade
    assert codes[("remove_function", "items_touch()")] == {"MD301"}


def test_an_index_changed_under_its_name_is_drafted_as_drop_and_create(shop):
    revision = run_cli("revision", shop, "v1.0", "v1.1", "--rev-id", "abc", "--create-date", "2024-01-01").stdout
    upgrade, downgrade = revision.split("def downgrade")
    assert "op.execute('DROP INDEX ix_accounts_code')" in upgrade and "op.execute('CREATE INDEX ix_accounts_code ON accounts USING btree (code DESC)')" in upgrade
    assert "op.execute('CREATE INDEX ix_accounts_code ON accounts USING btree (code)')" in downgrade
    assert "op.create_index('ix_accounts_code'" not in revision and "op.drop_index('ix_accounts_code'" not in revision


@pytest.mark.parametrize("a,b", [("v1.1", "v1.2"), ("v1.0", "v1.0"), ("v1.1", "v1.1"), ("v1.2", "v1.2")])
def test_same_schema_spelled_differently_or_itself_is_no_change(shop, a, b):
    # v1.2: BETWEEN vs >= AND <=, 5.0 vs 5.00, (qty > 0) vs qty > 0, VARCHAR vs String.
    assert diff_json(shop, a, b)["changes"] == []


def test_functions_and_triggers_are_drafted_in_order(shop):
    revision = run_cli("revision", shop, "v1.0", "v1.1", "--rev-id", "abc", "--create-date", "2024-01-01").stdout
    upgrade, downgrade = revision.split("def downgrade")
    lines = [line.strip() for line in upgrade.splitlines() if line.strip().startswith("op.")]
    at = lambda text: next(i for i, line in enumerate(lines) if text in line)  # noqa: E731
    # functions first, the ledger table, then its trigger; the old trigger before its function goes
    assert at("FUNCTION ledger_balance()") < at("op.create_table('ledger'") < at("CREATE TRIGGER ledger_balance")
    assert at("DROP TRIGGER items_touch ON items") < at("DROP FUNCTION items_touch()")
    assert at("DROP TRIGGER accounts_search ON accounts") < at("CREATE TRIGGER accounts_search BEFORE INSERT OR UPDATE OF name, email")
    # a ":1" in a function's body escaped for op.execute's text(); the % as PostgreSQL has it
    assert "RAISE NOTICE \\'invoice % (100%% sure): %\\', NEW.id, \\'{\"kind\"\\\\:1}\\'::jsonb;" in upgrade
    assert "DROP TRIGGER ledger_balance ON ledger" in downgrade and "DROP FUNCTION ledger_balance()" in downgrade


@pytest.mark.parametrize("a,b", [("v1.0", "v1.1"), ("v1.1", "v1.0")])
def test_drafted_revision_round_trips(shop, a, b):
    proc = run_cli("verify", shop, a, b)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "upgrade   pass" in proc.stdout and "downgrade pass" in proc.stdout


def test_defaults_equal_in_value_are_not_changes_but_real_ones_are(tmp_path):
    from conftest import make_repo

    model = '''
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class T(Base):
    __tablename__ = "t"
    id = sa.Column(sa.Integer, sa.Identity(), primary_key=True)
    f = sa.Column(sa.Float, server_default=sa.text("{f}"))
    n = sa.Column(sa.Integer, server_default=sa.text("{n}"))
    g = sa.Column(sa.Integer, sa.Computed("n * 2"))
'''
    repo = make_repo(tmp_path / "r", {"a": {"m/models.py": model.format(f="5", n="1")}, "b": {"m/models.py": model.format(f="'5.0'::double precision", n="2")}})
    found = [(c["kind"], c["column"], c["old"], c["new"]) for c in diff_json(str(repo), "a", "b")["changes"]]
    assert found == [("modify_default", "n", "1", "2")]


GENERATED_V1 = '''
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class T(Base):
    __tablename__ = "t"
    id = sa.Column(sa.Integer, primary_key=True)
    n = sa.Column(sa.Integer)
'''
GENERATED_V2 = GENERATED_V1 + '''    doubled = sa.Column(sa.Integer, sa.Computed("n * 2"))
    seq = sa.Column(sa.BigInteger, sa.Identity(always=True))
class U(Base):
    __tablename__ = "u"
    id = sa.Column(sa.BigInteger, sa.Identity(start=10), primary_key=True)
    b = sa.Column(sa.Integer, sa.Computed("id + 1"))
'''


def test_identity_and_generated_columns_added_are_told_drafted_and_round_trip(tmp_path):
    from conftest import make_repo

    repo = str(make_repo(tmp_path / "r", {"v1": {"m/models.py": GENERATED_V1}, "v2": {"m/models.py": GENERATED_V2}}))
    changes = {(c["kind"], c["table"], c.get("column")): c for c in diff_json(repo, "v1", "v2")["changes"]}
    assert set(changes) == {("add_column", "t", "doubled"), ("add_column", "t", "seq"), ("add_table", "u", None)}
    assert changes[("add_column", "t", "doubled")]["detail"] == {"nullable": True, "generated": "stored", "expression": "(n * 2)"}
    assert changes[("add_column", "t", "seq")]["detail"] == {"nullable": False, "identity": "always"}
    text = run_cli("diff", repo, "v1", "v2").stdout
    assert "column doubled INTEGER GENERATED ALWAYS AS ((n * 2)) STORED" in text and " object at 0x" not in text
    for a, b in (("v1", "v2"), ("v2", "v1")):
        proc = run_cli("verify", repo, a, b)
        assert proc.returncode == 0 and "downgrade pass" in proc.stdout, proc.stdout + proc.stderr



TIMES = '''
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class T(Base):
    __tablename__ = "t"
    id = sa.Column(sa.Integer, primary_key=True)
    created = sa.Column(sa.DateTime, server_default=sa.text("{created}"))
    stamped = sa.Column(sa.DateTime(timezone=True), server_default=sa.text("{stamped}"))
    day = sa.Column(sa.Date, server_default=sa.text("{day}"))
    token = sa.Column(sa.Float, server_default=sa.text("{token}"))
    label = sa.Column(sa.String(20), server_default=sa.text("{label}"))
'''


def test_defaults_calling_functions_are_decided_by_the_server_when_that_is_sound(tmp_path):
    from conftest import make_repo

    a = TIMES.format(created="now()", stamped="now()", day="CURRENT_DATE", token="random()", label="lower('AB')")
    b = TIMES.format(
        created="CURRENT_TIMESTAMP",  # the same value: both are the transaction's start
        stamped="statement_timestamp()",  # not the same: the statement's start
        day="(now() AT TIME ZONE 'UTC')::date",  # the same only where the session's zone is UTC
        token="random() * 1",  # volatile: never decided by evaluating it
        label="'ab'",  # immutable: the same value
    )
    repo = str(make_repo(tmp_path / "r", {"a": {"m/models.py": a}, "b": {"m/models.py": b}}))
    found = {c["column"]: (c["kind"], c["old"], c["new"]) for c in diff_json(repo, "a", "b")["changes"]}
    assert found == {
        "stamped": ("modify_default", "now()", "statement_timestamp()"),
        "day": ("modify_default", "CURRENT_DATE", "((now() AT TIME ZONE 'UTC'::text))::date"),
        "token": ("modify_default", "random()", "(random() * (1)::double precision)"),
    }
    for ref in ("a", "b"):
        assert diff_json(repo, ref, ref)["changes"] == []


METADATA_TRIGGER = '''
import sqlalchemy as sa
metadata = sa.MetaData()
notes = sa.Table("notes", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text), sa.Column("words", sa.Integer))
# on the MetaData, not the table: its after_create runs once every table exists
sa.event.listen(metadata, "before_create", sa.DDL("""CREATE FUNCTION count_words(body text) RETURNS {returns} LANGUAGE sql IMMUTABLE AS $$ SELECT array_length(regexp_split_to_array(trim(body), '\\\\s+'), 1) $$"""))
sa.event.listen(metadata, "after_create", sa.DDL("""CREATE FUNCTION notes_words() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.words := count_words(NEW.body); RETURN NEW; END $$;
CREATE TRIGGER notes_words BEFORE INSERT{events} ON notes FOR EACH ROW EXECUTE FUNCTION notes_words()"""))
'''


def test_a_metadatas_after_create_trigger_is_created_compared_and_round_trips(tmp_path):
    from conftest import make_repo

    v1 = METADATA_TRIGGER.format(returns="integer", events="")
    v2 = METADATA_TRIGGER.format(returns="bigint", events=" OR UPDATE OF body")
    repo = str(make_repo(tmp_path / "r", {"v1": {"m/models.py": v1}, "v2": {"m/models.py": v2}}))
    result = diff_json(repo, "v1", "v2")
    assert not result.get("not_compared") and not [w for w in result["warnings"] if w["code"] in ("rejected-ddl", "not-compared")]
    found = {(c["kind"], c["table"], c["name"]): c for c in result["changes"]}
    assert set(found) == {("modify_function", None, "count_words(body text)"), ("modify_trigger", "notes", "notes_words")}
    assert found[("modify_function", None, "count_words(body text)")]["detail"] == {"returns": "bigint", "returned": "integer"}
    assert diff_json(repo, "v1", "v1")["changes"] == []
    for a, b in (("v1", "v2"), ("v2", "v1")):
        proc = run_cli("verify", repo, a, b)
        assert proc.returncode == 0 and "downgrade pass" in proc.stdout, proc.stdout + proc.stderr


def test_a_ddl_event_postgresql_rejects_leaves_its_table_out_in_one_line(tmp_path):
    from conftest import make_repo

    model = '''
import sqlalchemy as sa
metadata = sa.MetaData()
t = sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True))
sa.event.listen(t, "after_create", sa.DDL("""CREATE FUNCTION t_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NEW; END $$;
CREATE TRIGGER t_stamp BEFORE INSERT ON %(table)s FOR EACH ROW EXECUTE FUNCTION {function}()"""))
'''
    repo = str(make_repo(tmp_path / "r", {"v1": {"m/models.py": model.format(function="t_stamp")}, "v2": {"m/models.py": model.format(function="missing")}}))
    proc = run_cli("diff", repo, "v1", "v2", "--format", "json")
    assert proc.returncode == 2 and "--keep-going" in proc.stderr, proc.stderr
    result = diff_json(repo, "v1", "v2", "--keep-going")
    assert [(n["table"], n["ref"], n["reason"]) for n in result["not_compared"]] == [
        ("t", "v2", "CREATE FUNCTION t_stamp() RETURNS trigger LANGUAGE plpgsql AS $$: function missing() does not exist")
    ]
    assert result["partial"] is True and result["changes"] == []
