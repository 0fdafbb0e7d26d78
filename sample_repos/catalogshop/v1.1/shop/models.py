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
