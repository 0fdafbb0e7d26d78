from sqlalchemy import Column, ForeignKey, Integer, Numeric, Table

from portal.model import metadata

invoice_table = Table(
    "invoice",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("user.id"), nullable=False),
    Column("total", Numeric(12, 2), nullable=False),
)
