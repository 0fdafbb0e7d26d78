import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import declarative_base

Base = declarative_base()

# Increment changed; legacy_seq dropped; audit_seq new.
invoice_number_seq = sa.Sequence("invoice_number_seq", start=1000, increment=10, metadata=Base.metadata)
audit_seq = sa.Sequence("audit_seq", metadata=Base.metadata)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        sa.CheckConstraint("char_length(email) > 5", name="ck_accounts_email"),
        sa.CheckConstraint("rating BETWEEN 0 AND 5", name="ck_accounts_rating"),
    )
    id = sa.Column(sa.BigInteger, sa.Identity(always=True), primary_key=True)
    email = sa.Column(sa.String(200), nullable=False)
    name = sa.Column(sa.String(100), comment="shown on invoices")
    code = sa.Column(sa.String(20, collation="POSIX"))
    status = sa.Column(sa.String(20), nullable=False, server_default="active")
    rating = sa.Column(sa.Float, server_default=sa.text("5.0"))
    weight = sa.Column(sa.Float, server_default=sa.text("5.2"))


sa.Index("ix_accounts_active_email", Account.email, postgresql_where=sa.text("status <> 'closed'"))
sa.Index("ix_accounts_lower_name", sa.func.lower(Account.name).desc())
sa.Index("ix_accounts_lower_email", sa.func.lower(Account.email).desc().nulls_last())
sa.Index("ix_accounts_name_pattern", Account.name, postgresql_ops={"name": "varchar_pattern_ops"})
sa.Index("ix_accounts_code", Account.code.desc().nulls_first())


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (sa.CheckConstraint("qty > 0", name="ck_items_qty"),)
    id = sa.Column(sa.Integer, primary_key=True)
    account_id = sa.Column(sa.BigInteger, sa.ForeignKey("accounts.id", ondelete="SET NULL", name="fk_items_account"), nullable=True)
    parent_id = sa.Column(sa.Integer, sa.ForeignKey("items.id", name="fk_items_parent", deferrable=True, initially="DEFERRED"))
    price = sa.Column(sa.Numeric(10, 2), nullable=False)
    qty = sa.Column(sa.Integer, nullable=False)
    total = sa.Column(sa.Numeric(12, 2), sa.Computed("price * qty * 1.2"))
    discounted = sa.Column(sa.Numeric(12, 2), sa.Computed("price * qty * 0.9"))


class Invoice(Base):
    __tablename__ = "invoices"
    id = sa.Column(sa.BigInteger, primary_key=True)
    number = sa.Column(sa.Integer, invoice_number_seq, server_default=invoice_number_seq.next_value())
    ticket = sa.Column(sa.Integer, sa.Identity(start=100, increment=1))


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        postgresql.ExcludeConstraint((sa.column("during"), "&&"), using="gist", name="ex_bookings_during"),
    )
    id = sa.Column(sa.Integer, primary_key=True)
    room = sa.Column(sa.Integer, nullable=False)
    during = sa.Column(postgresql.TSRANGE, nullable=False)


# Full-text search kept up by a trigger (now over email too); items_touch gone; invoices
# logged (a `%%` in a DDL event is one `%` in PostgreSQL, and RAISE prints `%%` as one;
# the JSON's `":` is no bind parameter); a new ledger table with its own trigger.
Account.__table__.append_column(sa.Column("search", postgresql.TSVECTOR))
Item.__table__.append_column(sa.Column("updated_at", sa.DateTime))
sa.event.listen(
    Account.__table__,
    "after_create",
    sa.DDL(
        """CREATE FUNCTION accounts_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search := to_tsvector('simple', coalesce(NEW.name, '') || ' ' || coalesce(NEW.email, ''));
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_search BEFORE INSERT OR UPDATE OF name, email ON %(table)s FOR EACH ROW EXECUTE FUNCTION accounts_search_update()"""
    ),
)
sa.event.listen(
    Invoice.__table__,
    "after_create",
    sa.DDL(
        """CREATE FUNCTION invoices_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'invoice %% (100%%%% sure): %%', NEW.id, '{"kind":1}'::jsonb;
    RETURN NEW;
END $$;
CREATE TRIGGER invoices_log AFTER INSERT ON %(table)s FOR EACH ROW EXECUTE FUNCTION invoices_log()"""
    ),
)


class Ledger(Base):
    __tablename__ = "ledger"
    id = sa.Column(sa.Integer, primary_key=True)
    amount = sa.Column(sa.Numeric(12, 2), nullable=False)
    balance = sa.Column(sa.Numeric(12, 2))


sa.event.listen(
    Ledger.__table__,
    "after_create",
    sa.DDL(
        """CREATE FUNCTION ledger_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.balance := coalesce((SELECT sum(amount) FROM ledger), 0) + NEW.amount;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_balance BEFORE INSERT ON %(table)s FOR EACH ROW EXECUTE FUNCTION ledger_balance()"""
    ),
)
