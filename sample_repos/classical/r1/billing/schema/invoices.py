from sqlalchemy import Column, ForeignKey, Integer, Numeric, String, Table

from core.schema.tables import metadata

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("total", Numeric(12, 2), nullable=False),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Column("description", String(200), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
)
