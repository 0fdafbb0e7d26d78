from sqlalchemy import Column, DateTime, ForeignKey, Integer, Numeric, String, Table, func

from core.schema.tables import metadata

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("total", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False, server_default="EUR"),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False),
    Column("description", String(200), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("paid_at", DateTime, nullable=False, server_default=func.now()),
)
