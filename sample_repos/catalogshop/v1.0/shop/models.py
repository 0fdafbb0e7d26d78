import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import declarative_base

Base = declarative_base()

invoice_number_seq = sa.Sequence("invoice_number_seq", start=1000, metadata=Base.metadata)
legacy_seq = sa.Sequence("legacy_seq", metadata=Base.metadata)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        sa.CheckConstraint("char_length(email) > 3", name="ck_accounts_email"),
        sa.CheckConstraint("status IN ('active', 'closed')", name="ck_accounts_status"),
        {"comment": "customer accounts"},
    )
    id = sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    email = sa.Column(sa.String(200), nullable=False)
    name = sa.Column(sa.String(100), comment="display name")
    code = sa.Column(sa.String(20, collation="C"))
    status = sa.Column(sa.String(20), nullable=False, server_default="active")
    rating = sa.Column(sa.Float, server_default=sa.text("5"))
    weight = sa.Column(sa.Float, server_default=sa.text("'5.2'::double precision"))


sa.Index("ix_accounts_active_email", Account.email, postgresql_where=sa.text("status = 'active'"))
sa.Index("ix_accounts_lower_name", sa.func.lower(Account.name).desc())
sa.Index("ix_accounts_lower_email", sa.func.lower(Account.email))
sa.Index("ix_accounts_name_pattern", Account.name)
sa.Index("ix_accounts_code", Account.code)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (sa.CheckConstraint("qty >= 0", name="ck_items_qty"),)
    id = sa.Column(sa.Integer, primary_key=True)
    account_id = sa.Column(sa.BigInteger, sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_items_account"), nullable=False)
    parent_id = sa.Column(sa.Integer, sa.ForeignKey("items.id", name="fk_items_parent"))
    price = sa.Column(sa.Numeric(10, 2), nullable=False)
    qty = sa.Column(sa.Integer, nullable=False)
    total = sa.Column(sa.Numeric(12, 2), sa.Computed("price * qty"))
    discounted = sa.Column(sa.Numeric(12, 2))


class Invoice(Base):
    __tablename__ = "invoices"
    id = sa.Column(sa.Integer, primary_key=True)
    number = sa.Column(sa.Integer, invoice_number_seq, server_default=invoice_number_seq.next_value())
    ticket = sa.Column(sa.Integer, sa.Identity(start=1, increment=1))


class Booking(Base):
    __tablename__ = "bookings"
    id = sa.Column(sa.Integer, primary_key=True)
    room = sa.Column(sa.Integer, nullable=False)
    during = sa.Column(postgresql.TSRANGE, nullable=False)


# Full-text search kept up by a trigger, and an updated-at stamp: functions and triggers that
# the models' own DDL events create (compared from pg_proc and pg_trigger).
Account.__table__.append_column(sa.Column("search", postgresql.TSVECTOR))
Item.__table__.append_column(sa.Column("updated_at", sa.DateTime))
sa.event.listen(
    Account.__table__,
    "after_create",
    sa.DDL(
        """CREATE FUNCTION accounts_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search := to_tsvector('simple', coalesce(NEW.name, ''));
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_search BEFORE INSERT OR UPDATE ON %(table)s FOR EACH ROW EXECUTE FUNCTION accounts_search_update()"""
    ),
)
sa.event.listen(
    Item.__table__,
    "after_create",
    sa.DDL(
        """CREATE FUNCTION items_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER items_touch BEFORE UPDATE ON %(table)s FOR EACH ROW EXECUTE FUNCTION items_touch()"""
    ),
)
